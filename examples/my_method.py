"""An out-of-tree method, complete: ``nesybench check`` passes every check on it.

``clause-hinge``: per example and clause, the largest truth degree of one of the clause's literals
(atom values from :func:`harness.atoms.atom_values`: probabilities of the network's atoms and of
derived atoms, the evidence's facts, 0 elsewhere); the loss is the mean over examples of
sum_j max(0, margin - best_j): a clause whose best literal is above the margin costs nothing.

  nesybench check --plugin examples/my_method.py --method clause-hinge --task mnist-add
  nesybench bench --suite smoke --plugin examples/my_method.py --add-method clause-hinge
"""

import torch

from harness.api import Batch, Constraint, Method
from harness.atoms import atom_values
from harness.registry import register_method


@register_method
class ClauseHinge(Method):
    """Hinge on each clause's best literal: L = w_hinge * mean_b sum_j max(0, margin - best_bj)."""

    key = "clause-hinge"
    version = 1
    hparams = {"margin": 0.9, "w_hinge": 1.0}  # the truth a clause must reach; the loss's weight

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)  # keeps constraint_ and device_
        self.idx_, self.sign_ = constraint.cnf.padded(device)  # (m, k) atoms and signs, once

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        t = atom_values(self.constraint_, outputs, batch.evidence)  # (B, n), differentiable
        tv = t[:, self.idx_]  # (B, m, k) value of each clause's atoms
        lit = torch.where(self.sign_ > 0, tv, torch.where(self.sign_ < 0, 1 - tv, torch.zeros_like(tv)))
        best = lit.max(-1).values  # (B, m) the clause's most true literal
        return self.hp["w_hinge"] * (self.hp["margin"] - best).clamp(min=0).sum(-1).mean()
