"""What the sampling-based gradient estimators share (``reinforce``, ``indecater``): the objective,
the sampling stream, and the loss whose gradient is the estimate.

Both estimate the gradient of P(constraint AND evidence) = E_{w ~ p}[f(w)], where p is the
network's distribution over its neural variables and f the check of a world
(:class:`harness.worlds.WorldCheck`: the semantics of the semantic loss, so the exact value of the
same P is the semantic loss's circuit). Each returns, per example b, an estimate P_b of P and a
surrogate s_b whose gradient in the outputs is the estimate of grad P (its value is meaningless).

Objectives (``objective``):

- ``log`` (default): L = mean_b -log max(P_b, 1e-12), the semantic loss's objective, with the
  gradient -grad_est P_b / P_b (the estimate of grad P divided by the estimate of P: consistent as
  the samples grow, biased for a finite number; an example with P_b = 0 gives no gradient);
- ``prob``: L = mean_b (1 - P_b), with the gradient -grad_est P_b: an unbiased estimate of
  -grad P (tests/test_sampling.py checks it against the circuit's exact gradient).

The loss value is the objective at the estimate; its gradient is the estimator's (the surrogate
enters as ``s - s.detach()``, which adds 0 to the value).

Sampling stream: a generator of the method's own, on the run's device, seeded in ``prepare`` with
``sample_seed`` (-1: the run's seed, :func:`torch.initial_seed`), so that a run's draws depend on
its seed only and a check's are the same every time.
"""

from __future__ import annotations

import torch

from harness.api import Batch, Constraint, Method
from harness.errors import UserError
from harness.worlds import WorldCheck

OBJECTIVES = ("log", "prob")
EPS = 1e-12


class SamplingMethod(Method):
    """Base of the sampling estimators: subclasses implement :meth:`estimate`."""

    hparam_choices = {"objective": OBJECTIVES}
    #: the checks draw a fixed stream (the same outcome on every call)
    conformance_hp = {"sample_seed": 0}
    #: at least this many samples per example (REINFORCE's leave-one-out baseline needs two)
    min_samples = 1

    def __init__(self, **hp):
        super().__init__(**hp)
        if self.hp["samples"] < self.min_samples:
            raise UserError(f"method {self.key}: samples must be >= {self.min_samples}, got {self.hp['samples']}")

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        self.check_ = WorldCheck(constraint, device)  # SkipRun for a constraint it cannot check
        seed = int(self.hp["sample_seed"])
        self.gen_ = torch.Generator(device=device).manual_seed(torch.initial_seed() if seed < 0 else seed)
        self.worlds_ = 0  # worlds checked over the run, for describe()

    def estimate(self, log_probs: torch.Tensor, evidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(P_b, s_b), each (B,): the estimate of P (no gradient) and the surrogate whose gradient
        estimates grad P, from log_probs (B, V, k_max) (:meth:`WorldCheck.log_probs`)."""
        raise NotImplementedError

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        lp = self.check_.log_probs(outputs)
        ev = batch.evidence.to(lp.dtype)
        p_hat, surrogate = self.estimate(lp, ev)
        if self.hp["objective"] == "log":
            value = -torch.log(p_hat.clamp(min=EPS))
            grad_part = -surrogate / p_hat.clamp(min=EPS)
        else:
            value = 1.0 - p_hat
            grad_part = -surrogate
        return (value + grad_part - grad_part.detach()).mean()
