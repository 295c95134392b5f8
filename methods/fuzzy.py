"""Fuzzy-logic loss on the task's CNF: product, Goedel or Lukasiewicz t-norms.

The relaxation used by Logic Tensor Networks (Badreddine et al., AIJ 2022) and pylon (Ahmed et al.,
2022, its t-norm solvers): each atom gets a truth degree in [0, 1] and the CNF's satisfaction is
computed with a t-norm (and) and its t-conorm (or); the loss is how far it is from true.

Truth degrees (:mod:`harness.atoms`): neural atoms take their softmax (categorical) or sigmoid
(bernoulli) probability; derived conjunction atoms (``Constraint.derived``, stages of
``derived_ops``) the t-norm of their components ("or" stages: the t-conorm); atoms fixed by the
evidence 1 or 0; every other atom 0.

Per clause, the t-conorm of its literals (¬a = 1 - a); per example, the t-norm over its clauses:
- ``product``: P = prod_j t_j, loss -log P = -sum_j log t_j (log-product, as LTN's aggregation);
- ``godel``:   min_j t_j with t_j = max over literals, loss 1 - min_j t_j;
- ``lukasiewicz``: max(0, sum_j t_j - (m - 1)) with t_j = min(1, sum of literals), loss
  1 - that = min(1, sum_j (1 - t_j)).
The batch loss is the mean over examples, times ``w_fuzzy``.

Version history: v1, first release.
"""
from __future__ import annotations

import torch

from harness.api import Batch, Constraint, Method
from harness.errors import UserError
from harness.registry import register_method
from harness.atoms import AtomLayout, atom_values

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


def truth_degrees(constraint: Constraint, outputs: dict[str, torch.Tensor], evidence: torch.Tensor,
                  tnorm: str) -> torch.Tensor:
    """(B, n) truth degree of every atom, in CNF column order (see the module docstring)."""
    return atom_values(constraint, outputs, evidence, lambda x: _and(x, tnorm), lambda x: _or(x, tnorm))


@register_method
class Fuzzy(Method):
    """Fuzzy relaxation of the CNF (LTN / pylon t-norms); loss = w_fuzzy * (1 - truth) per example."""

    key = "fuzzy"
    version = 1
    hparam_choices = {"tnorm": TNORMS}
    hparams = {
        "tnorm": "product",  # product (log-product loss), godel or lukasiewicz
        "w_fuzzy": 1.0,  # weight of the fuzzy loss
    }

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        if self.hp["tnorm"] not in TNORMS:
            raise UserError(f"method fuzzy: tnorm={self.hp['tnorm']!r} unknown; choose one of {', '.join(TNORMS)}")
        self.layout_ = AtomLayout(constraint, constraint.cnf.n_atoms, device)
        idx, self.sign_ = constraint.cnf.padded(device)  # (m, k)
        self.idx_ = self.layout_.pos[idx]  # clause atoms as positions in the layout order

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        tn = self.hp["tnorm"]
        g = batch.evidence.to(torch.float32)[:, self.layout_.order]
        t = _layout_truth(self.layout_, outputs, g, tn)  # (B, n), layout order
        tv = t[:, self.idx_]  # (B, m, k)
        lit = torch.where(self.sign_ > 0, tv, torch.where(self.sign_ < 0, 1 - tv, torch.zeros_like(tv)))
        clause = _or(lit, tn)  # (B, m)
        if tn == "product":
            per_example = -torch.log(clause.clamp(min=EPS)).sum(-1)
        elif tn == "godel":
            per_example = 1 - clause.min(-1).values
        else:
            per_example = (1 - clause).sum(-1).clamp(max=1.0)
        return self.hp["w_fuzzy"] * per_example.mean()
