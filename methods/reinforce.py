"""REINFORCE with a leave-one-out baseline: the score-function estimator of the gradient of
P(constraint AND evidence).

Williams, "Simple statistical gradient-following algorithms for connectionist reinforcement
learning", Machine Learning 1992; the leave-one-out baseline of Kool, van Hoof, Welling, "Buy 4
REINFORCE samples, get a baseline for free!", ICLR workshop 2019 (RLOO). The sampling family that
A-NeSI, IndeCateR, ISED and EXAL compare against.

Per example, S worlds w_1..w_S are drawn from the network's distribution
(:meth:`harness.worlds.WorldCheck.sample`), each checked against the constraint and the example's
evidence (f_s in {0, 1}, :class:`harness.worlds.WorldCheck`), and

    P_b = (1/S) sum_s f_s,
    grad_est P = (1/S) sum_s (f_s - b_s) grad log p(w_s),   b_s = (1/(S-1)) sum_{j != s} f_j.

b_s does not depend on w_s, so the baseline adds no bias: the estimate is unbiased for grad P.
``objective`` (methods/_sampling.py) chooses -log P (default) or 1 - P as the loss. All S worlds of
the whole batch are checked in one tensor pass.

What it cannot do: where no sampled world satisfies the constraint (a low P: early training on a
constraint with few models, e.g. Sudoku), every f_s is 0 and the gradient is 0.

Version history: v1, first release.
"""

from __future__ import annotations

import torch

from harness.registry import register_method

from ._sampling import SamplingMethod


@register_method
class Reinforce(SamplingMethod):
    """Score function with a leave-one-out baseline over S samples per example."""

    key = "reinforce"
    version = 1
    min_samples = 2
    conformance_exempt = {
        "violated_positive_differentiable@sudoku": "no sampled board of the violating outputs satisfies the "
        "Sudoku constraint: every f is 0, so the estimate is 0",
        "violated_positive_differentiable@apply2x2": "no sampled world of the violating outputs satisfies the "
        "constraint: every f is 0, so the estimate is 0",
    }
    hparams = {
        "samples": 100,  # S, worlds drawn per example
        "objective": "log",  # log: -log P; prob: 1 - P (methods/_sampling.py)
        "sample_seed": -1,  # seed of the method's sampling stream (-1: the run's seed)
    }

    def estimate(self, log_probs: torch.Tensor, evidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        S = int(self.hp["samples"])
        w = self.check_.sample(log_probs, S, self.gen_)  # (B, S, V)
        f = self.check_.evaluate(w, evidence).to(log_probs.dtype)  # (B, S)
        self.worlds_ += f.numel()
        # log p(w_s) = sum over the variables of the drawn value's log-probability
        logp = log_probs.unsqueeze(1).expand(-1, S, -1, -1).gather(-1, w.unsqueeze(-1)).squeeze(-1).sum(-1)  # (B, S)
        baseline = (f.sum(1, keepdim=True) - f) / (S - 1)
        return f.mean(1), ((f - baseline) * logp).mean(1)

    def describe(self) -> dict:
        return {"worlds_per_example": int(self.hp["samples"]), "variables": self.check_.n_vars}
