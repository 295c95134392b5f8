"""The compiled SDD evaluated by KLay (``klaycircuits``): the semantic loss's ``engine=klay``.

KLay (Maene, Derkinderen, Zuidberg Dos Martires, "KLay: Accelerating Arithmetic Circuits for
Neurosymbolic AI", ICLR 2025) turns a circuit into layers of index-and-segment-reduce operations
(a torch module): one layer for the products (additions in log space) and one for the sums
(log-sum-exp) per level of the circuit. It reads the PySDD node that ``methods/_sdd/compile.py`` compiles,
so the function counted is the same F* (see that module's docstring); only the evaluation differs
from :class:`methods._sdd.circuit.FlatCircuit`.

How the literal weights are fed. KLay's module takes, in the log semiring, one tensor of positive
literal log weights and one of negative ones, (B, n_vars) for a batch (variable v in column v - 1;
column 0 of our (B, n_vars + 1) layout is dropped), and returns (B, roots). It does not smooth: a
variable that an SDD element does not mention contributes nothing, where the weighted model count
over all the manager's variables (PySDD's) multiplies by its w + w_bar. So the weights are
normalised first, as FlatCircuit does: with ls = log(w + w_bar) per variable, KLay evaluates the
circuit on lw - ls (every variable's two normalised weights sum to 1, so a missing variable counts
1) and sum(ls) is added to its root. A variable whose two weights are both 0 (ls = -inf) gives
-inf, as in PySDD. The evidence's -inf weights (0 in linear space) are exact: KLay's log-sum-exp
subtracts each node's maximum and maps the -inf - (-inf) of an all-zero node to a zero gradient.

Gradients are torch's autograd through KLay's layers. KLay's ``torch.compile`` wrapper (CUDA-graph
capture) is not used: on a CPU it compiles C++ at the first call of every batch shape, and on a GPU
nesybench has not measured it (docs/baselines.md, "Circuit engines").
"""

from __future__ import annotations

import importlib.util

import torch

from harness.errors import SkipRun

HAVE_KLAY = importlib.util.find_spec("klay") is not None


def klay_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("klaycircuits")
    except PackageNotFoundError:
        return "not installed"


class KlayCircuit:
    """A compiled SDD as a KLay torch module, with :class:`methods._sdd.circuit.FlatCircuit`'s interface.

    manager, root: the PySDD manager and root node (``CompiledConstraint``); n_vars: the manager's
    variables; compile: wrap the module in torch.compile as KLay's ``to_torch_module(compile=True)``
    does (CUDA-graph capture). ``log_wmc(lw_pos, lw_neg)`` takes (B, n_vars + 1) literal log weights (column 0
    unused) and returns the log weighted model count (B,).
    """

    def __init__(self, manager, root, n_vars: int, device: torch.device | str = "cpu", compile: bool = False):
        if not HAVE_KLAY:
            raise SkipRun("semantic-loss: engine=klay needs the klaycircuits package (pip install klaycircuits)")
        from klay import Circuit

        self.n_vars = n_vars
        circuit = Circuit()
        circuit.add_sdd(root)
        module = circuit.to_torch_module(semiring="log", compile=False)
        self.n_layers = len(module.layers)
        # compile: KLay's torch.compile wrapper (scripts/bench_sdd.py --klay-compile times it)
        self.module = (
            torch.compile(module, options={"triton.cudagraphs": True, "triton.autotune_pointwise": False})
            if compile
            else module
        )
        self.to(device)

    def to(self, device) -> "KlayCircuit":
        self.device = torch.device(device)
        self.module = self.module.to(self.device)
        return self

    def warm_up(self) -> None:
        """Nothing to compile ahead (eager layers); kept for FlatCircuit's interface."""

    def log_wmc(self, lw_pos: torch.Tensor, lw_neg: torch.Tensor) -> torch.Tensor:
        """Log weighted model count per example (B,), from literal log weights (B, n_vars + 1)."""
        p, n = lw_pos[:, 1:], lw_neg[:, 1:]
        ls = torch.logaddexp(p, n)  # log(w + w_bar) per variable
        lsf = torch.where(torch.isfinite(ls), ls, torch.zeros_like(ls))
        root = self.module(p - lsf, n - lsf)[:, 0]  # the count on normalised weights
        return root + ls.sum(1)
