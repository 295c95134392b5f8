"""Fuzzy-logic loss on the task's CNF: the log-product loss of the product t-norm.

The relaxation of Logic Tensor Networks' product real logic (Badreddine et al., AIJ 2022) and
pylon's product t-norm solver (Ahmed et al., 2022) with the log-product aggregation that van
Krieken, Acar, van Harmelen ("Analyzing differentiable fuzzy logic operators", AIJ 2022)
recommend: each atom gets a truth degree in [0, 1], a clause's is the product t-conorm of its
literals (¬a = 1 - a), t_j = 1 - prod(1 - l), and the loss is -log of the product t-norm over the
clauses, -sum_j log t_j, per example; the batch loss is the mean over examples, times ``w_fuzzy``.

Truth degrees (:mod:`harness.atoms`): neural atoms take their softmax (categorical) or sigmoid
(bernoulli) probability; derived conjunction atoms (``Constraint.derived``, stages of
``derived_ops``) the t-norm of their components ("or" stages: the t-conorm); atoms fixed by the
evidence 1 or 0; every other atom 0.

The Goedel and Lukasiewicz variants are the ``ltn`` method's, on LTNtorch (``tnorm=godel`` or
``lukasiewicz``, ``clauses=and``, ``p=1``, ``stable=false``: 1 - min_j t_j and min(1, sum_j (1 - t_j)) per example,
the same values; tests/test_ltn.py). LTN has no log-product aggregator, so this loss stays here.
:func:`truth_degrees` still serves all three t-norms (a helper for plug-ins).
"""

from __future__ import annotations

import torch

from harness.api import Batch, Constraint, Method
from harness.atoms import AtomLayout, atom_values
from harness.errors import UserError
from harness.registry import register_method

TNORMS = ("product", "godel", "lukasiewicz")
EPS = 1e-12


def _and(x: torch.Tensor, tnorm: str) -> torch.Tensor:
    """t-norm over the last dimension."""
    if tnorm == "product":
        return x.prod(-1)
    if tnorm == "godel":
        return x.min(-1).values
    return (x.sum(-1) - (x.shape[-1] - 1)).clamp(min=0.0)


def _or(x: torch.Tensor, tnorm: str) -> torch.Tensor:
    """t-conorm over the last dimension (padding slots must hold 0)."""
    if tnorm == "product":
        return 1 - (1 - x).prod(-1)
    if tnorm == "godel":
        return x.max(-1).values
    return x.sum(-1).clamp(max=1.0)


def _layout_truth(layout: AtomLayout, outputs: dict[str, torch.Tensor], g: torch.Tensor, tnorm: str) -> torch.Tensor:
    """(B, n) truth degrees in the layout's order; ``g`` is the evidence in that order."""
    return layout.evaluate(outputs, g, lambda x: _and(x, tnorm), lambda x: _or(x, tnorm))


def truth_degrees(
    constraint: Constraint, outputs: dict[str, torch.Tensor], evidence: torch.Tensor, tnorm: str
) -> torch.Tensor:
    """(B, n) truth degree of every atom, in CNF column order (see the module docstring)."""
    return atom_values(constraint, outputs, evidence, lambda x: _and(x, tnorm), lambda x: _or(x, tnorm))


@register_method
class Fuzzy(Method):
    """Product t-norm relaxation of the CNF; loss = w_fuzzy * mean over examples of -sum_j log t_j."""

    key = "fuzzy"
    version = 1
    hparam_choices = {"tnorm": TNORMS}
    hparams = {
        "tnorm": "product",  # product (log-product loss); godel and lukasiewicz are the ltn method's
        "w_fuzzy": 1.0,  # weight of the fuzzy loss
    }

    def __init__(self, **hp):
        super().__init__(**hp)
        tn = self.hp["tnorm"]
        if tn != "product":  # a user error when the method is built, before any run starts
            raise UserError(
                f"method fuzzy: tnorm={tn} is the ltn method's (the same loss: --method ltn "
                f"--hp tnorm={tn} --hp clauses=and --hp p=1 --hp stable=false)"
            )

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        self.layout_ = AtomLayout(constraint, constraint.cnf.n_atoms, device)
        idx, self.sign_ = constraint.cnf.padded(device)  # (m, k)
        self.idx_ = self.layout_.pos[idx]  # clause atoms as positions in the layout order

    def clause_truths(self, outputs: dict[str, torch.Tensor], evidence: torch.Tensor) -> torch.Tensor:
        """(B, m): each clause's product t-conorm of its literals, per example."""
        g = evidence.to(torch.float32)[:, self.layout_.order]
        t = _layout_truth(self.layout_, outputs, g, "product")  # (B, n), layout order
        tv = t[:, self.idx_]  # (B, m, k)
        lit = torch.where(self.sign_ > 0, tv, torch.where(self.sign_ < 0, 1 - tv, torch.zeros_like(tv)))
        return _or(lit, "product")

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        per_example = -torch.log(self.clause_truths(outputs, batch.evidence).clamp(min=EPS)).sum(-1)
        return self.hp["w_fuzzy"] * per_example.mean()
