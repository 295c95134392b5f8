"""Semantic loss: -log of the exact probability that the network's outputs satisfy the constraint.

Xu, Zhang, Friedman, Liang, Van den Broeck. "A Semantic Loss Function for Deep Learning with
Symbolic Knowledge", ICML 2018.

L_sl = w_sl * mean over the batch of -log P(constraint AND evidence), the probability under the
network's distribution (a categorical per softmax group, independent Bernoullis per sigmoid atom)
computed exactly by weighted model counting on an SDD:

- ``prepare`` compiles the task's CNF once with PySDD (timed as the run's ``setup_seconds``, under
  the run's set-up budget; ``max_compile_seconds`` adds a limit of its own on the same clock,
  :func:`harness.budget.limit`), with derived
  conjunction atoms substituted by their components, exactly-one conjoined per categorical
  variable, and the hidden atoms (neither neural nor derived) existentially quantified where an
  example's evidence leaves them unknown, conditioned where it fixes them. The full semantics and
  the construction that serves every evidence pattern with one circuit are in ``methods/_sdd/``.
  Default vtree ``auto``: ``blocks`` where the task states its structure as blocks of atoms
  (``Constraint.hints["var_blocks"]``; mnist-add's compact encoding, one block per column of the
  addition: a vtree along the carry chain, linear in N, ``methods/_sdd/vtrees.py``), else
  ``split`` (the root separates the network's atoms from the hidden atoms' evidence variables,
  each side balanced); no dynamic minimisation. The circuit's size and compile time are recorded
  in every row (``method_describe``).
- ``loss`` evaluates the circuit for the whole batch at once on the run's device (linear space on
  normalised weights, a hand-written backward; examples whose probability is too small for that
  are redone in log space): on a GPU with tensor operations, two per level; on CPU as one compiled
  loop for the forward and one for the backward (numba, ``methods/_sdd/cpu.py``; compiled in
  ``prepare``). Evidence enters as literal weights. No PySDD call happens in the training step.
  ``engine=klay`` evaluates the same compiled circuit with KLay's layers instead
  (``methods/_sdd/klay.py``; same values and gradients; docs/baselines.md compares the engines).

For mnist-add (evidence sum(s) = 1, other sums unknown) the value is -log P(d1 + d2 = s).
A task's own supervised loss (``w_label``) is added by the harness where the task has labels.
"""

from __future__ import annotations

import torch

from harness.api import Batch, Constraint, Method
from harness.errors import UserError
from harness.registry import register_method

from ._sdd import VTREES, FlatCircuit, compile_constraint, literal_log_weights

ENGINES = ("flat", "klay")  # who evaluates the compiled circuit (docs/baselines.md, "Circuit engines")


@register_method
class SemanticLoss(Method):
    """Semantic loss (Xu et al., ICML 2018): L = w_sl * mean(-log WMC(SDD | evidence))."""

    key = "semantic-loss"
    version = 2
    hparam_choices = {"vtree": tuple(VTREES), "engine": ENGINES}
    # compiling these tasks' CNFs (tiny instances included: the CNF does not shrink with the data)
    # takes longer than the checks' 10 CPU seconds; in a run it is a set-up timeout
    conformance_exempt = {
        "task:add2x2": "its 4 x 19 sum clauses over 400 conjunctions compile in more than the check budget",
        "task:apply2x2": "its 42,388 clauses do not compile within the check budget",
        "task:sudoku": "its 8,991 clauses do not compile within the check budget",
    }
    hparams = {
        "w_sl": 1.0,  # weight of the semantic loss
        "vtree": "auto",  # auto, blocks, split, balanced, right or vertical (methods/_sdd/compile.py)
        "minimize": False,  # PySDD's dynamic vtree minimisation while compiling
        "max_compile_seconds": 0.0,  # over it, the run is a timeout (0: only the run's set-up budget)
        "engine": "flat",  # flat (FlatCircuit: numba loops on CPU, tensor ops elsewhere) or klay (KLay's layers)
    }

    def __init__(self, **hp):
        super().__init__(**hp)  # vtree and engine: hparam_choices
        if self.hp["max_compile_seconds"] < 0:
            raise UserError("method semantic-loss: max_compile_seconds must be >= 0 (0: no limit of its own)")

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        # on the run's budget clock: past its set-up budget or max_compile_seconds, BudgetExceeded
        self.compiled_ = compile_constraint(
            constraint, self.hp["vtree"], bool(self.hp["minimize"]), float(self.hp["max_compile_seconds"])
        )
        if self.hp["engine"] == "klay":
            from ._sdd.klay import KlayCircuit

            self.circuit_ = KlayCircuit(self.compiled_.manager, self.compiled_.root, self.compiled_.n_vars, device)
        else:
            self.circuit_ = FlatCircuit(self.compiled_.manager, self.compiled_.root, self.compiled_.n_vars, device)
        self.circuit_.warm_up()
        derived = self.compiled_.derived_cols
        self.derived_cols_ = torch.as_tensor(derived, device=device) if len(derived) else None
        self.info_ = {
            "sdd_size": self.compiled_.size,
            "sdd_nodes": int(self.compiled_.root.count()),
            "sdd_vars": self.compiled_.n_vars,
            "vtree": self.compiled_.vtree,
            "compile_seconds": self.compiled_.seconds,
        }
        if self.hp["engine"] == "klay":
            self.info_["klay_layers"] = self.circuit_.n_layers
        else:
            self.info_.update(decision_nodes=self.circuit_.n_decisions, levels=len(self.circuit_.levels))

    def describe(self) -> dict:
        """The compiled circuit, recorded in every row: SDD size (edges) and nodes, variables, the
        vtree used, decision nodes and levels of the flattened circuit, compile seconds."""
        return dict(self.info_)

    def log_probability(self, outputs: dict[str, torch.Tensor], evidence: torch.Tensor) -> torch.Tensor:
        """log P(constraint AND evidence) per example, (B,)."""
        ev = evidence.to(next(iter(outputs.values())).dtype)
        if self.derived_cols_ is not None:
            # derived atoms are substituted, not variables: evidence on them has no meaning here
            # (an async assert: no host synchronisation on a GPU)
            torch._assert_async(
                (ev[:, self.derived_cols_] == 0).all(), "semantic-loss: the evidence fixes a derived atom"
            )
        pos, neg = literal_log_weights(self.compiled_, outputs, self.constraint_, ev)
        return self.circuit_.log_wmc(pos, neg)

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        return self.hp["w_sl"] * (-self.log_probability(outputs, batch.evidence)).mean()
