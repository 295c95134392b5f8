"""An out-of-tree method, as written from the README's guide ("Adding a method").

``clause-hinge``: for each clause, the truth degree of its best literal (the largest probability
that one of its literals is true, atoms' probabilities from the network as in the fuzzy method);
the loss is the mean over examples of sum_j max(0, margin - best_j). A clause whose best literal
is already above the margin costs nothing.

Run it in a suite and through the conformance checks without touching the repository:
  nesybench check --plugin examples/my_method.py --method clause-hinge --task mnist-add
  nesybench bench --suite smoke --plugin examples/my_method.py --add-method clause-hinge
"""
import torch

from harness.api import Batch, Constraint, Method
from harness.registry import register_method
from methods.fuzzy import truth_degrees


@register_method
class ClauseHinge(Method):
    key = "clause-hinge"
    version = 1
    hparams = {"margin": 0.9, "w_hinge": 1.0}

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        self.idx_, self.sign_ = constraint.cnf.padded(device)  # one-off: (m, k) clause view

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        t = truth_degrees(self.constraint_, outputs, batch.evidence, "godel")  # (B, n)
        tv = t[:, self.idx_]  # (B, m, k)
        lit = torch.where(self.sign_ > 0, tv, torch.where(self.sign_ < 0, 1 - tv, torch.zeros_like(tv)))
        best = lit.max(-1).values  # (B, m)
        return self.hp["w_hinge"] * (self.hp["margin"] - best).clamp(min=0).sum(-1).mean()
