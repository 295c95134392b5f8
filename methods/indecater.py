"""IndeCateR: the gradient of P(constraint AND evidence) with an exact sum over each categorical
variable's values and the other variables sampled.

De Smet, Sansone, Zuidberg Dos Martires, "Differentiable Sampling of Categorical Distributions
Using the CatLog-Derivative Trick", NeurIPS 2023 (the "Independent Categorical REINFORCE"
estimator). For independent categorical variables X_1..X_V,

    grad E[f(X)] = sum_d sum_k grad p_d(k) E_{X_-d}[f(X_d = k, X_-d)],

so per example, S worlds are drawn (:meth:`harness.worlds.WorldCheck.sample`), and for every sample
s, variable d and value k the world "sample s with X_d set to k" is checked (S * V * K worlds,
:meth:`harness.worlds.WorldCheck.evaluate_changed`: per variable, only the clauses it touches):

    F_dk = (1/S) sum_s f(X_d = k, X^s_-d),
    grad_est P = sum_d sum_k grad p_d(k) F_dk,     P_b = (1/V) sum_d sum_k p_d(k) F_dk.

Each F_dk is an unbiased estimate of E[f | X_d = k], and the p_d(k) are exact, so the gradient
estimate is unbiased (each variable's term has the variance of a conditional expectation only);
each d gives an unbiased estimate of P, and P_b is their mean. ``objective`` (methods/_sampling.py)
chooses -log P (default) or 1 - P as the loss. A bernoulli atom is a variable of two values.

What it cannot do: its cost is S * V * K checks per example (at mnist-add N = 15, 300 per sample);
where no world near the samples satisfies the constraint (one value changed at a time), F is 0
and so is the gradient (Sudoku from random outputs).

Version history: v1, first release.
"""

from __future__ import annotations

import torch

from harness.registry import register_method

from ._sampling import SamplingMethod


@register_method
class IndeCateR(SamplingMethod):
    """Exact expectation over each variable's values, the others sampled (De Smet et al., 2023)."""

    key = "indecater"
    version = 1
    conformance_exempt = {
        "violated_positive_differentiable@sudoku": "no board one cell away from a sampled one satisfies the "
        "Sudoku constraint: every F is 0, so the estimate is 0",
        "violated_positive_differentiable@apply2x2": "no world one operator away from a sampled one satisfies "
        "the constraint: every F is 0, so the estimate is 0",
    }
    hparams = {
        "samples": 10,  # S, samples of the other variables per example
        "objective": "log",  # log: -log P; prob: 1 - P (methods/_sampling.py)
        "sample_seed": -1,  # seed of the method's sampling stream (-1: the run's seed)
    }

    def prepare(self, constraint, device) -> None:
        super().prepare(constraint, device)
        K = self.check_.k_max
        self.values_ = torch.arange(K, device=device)
        # (V, K): value k exists for variable d (a bernoulli variable beside a categorical group has 2)
        self.valid_ = self.values_.unsqueeze(0) < self.check_.n_values.unsqueeze(1)
        self.k_set_ = torch.where(self.valid_, self.values_, 0)  # (V, K) the value set in each column

    def estimate(self, log_probs: torch.Tensor, evidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        S = int(self.hp["samples"])
        B, V, K = log_probs.shape
        w = self.check_.sample(log_probs, S, self.gen_)  # (B, S, V)
        # f[b, s, d, k]: sample s with variable d set to k (a padded value k is set to 0 and masked below)
        f = self.check_.evaluate_changed(w, evidence, self.k_set_).to(log_probs.dtype)  # (B, S, V, K)
        self.worlds_ += f.numel()
        F = f.mean(1) * self.valid_  # (B, V, K)
        p = log_probs.exp()  # (B, V, K), differentiable; 0 at padded values
        surrogate = (p * F).sum((1, 2))
        p_hat = (p.detach() * F).sum(2).mean(1)
        return p_hat, surrogate

    def describe(self) -> dict:
        return {"worlds_per_example": int(self.hp["samples"]) * int(self.valid_.sum()), "variables": self.check_.n_vars}
