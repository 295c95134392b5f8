"""CL-STE's binarizations b_p(x) and b(x) with their straight-through estimators (docs/method.md).

Forward, each maps a probability (b_p) or a logit (b) to {0, 1}; backward, iSTE passes the
gradient unchanged and sSTE only where the logit lies in [-1, 1] (the reference code's ``B``,
``Bi`` and ``Bs``).
"""
from __future__ import annotations

import torch

STES = ("bp-iste", "b-iste", "b-sste")


class _BinarizeProb(torch.autograd.Function):
    """b_p(x) = 1[x >= 0.5] on probabilities, identity STE (the reference's ``B``)."""

    @staticmethod
    def forward(ctx, x):
        return (x >= 0.5).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _BinarizeLogitI(torch.autograd.Function):
    """b(x) = 1[x >= 0] on logits, identity STE (the reference's ``Bi``)."""

    @staticmethod
    def forward(ctx, x):
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _BinarizeLogitS(torch.autograd.Function):
    """b(x) = 1[x >= 0] on logits, saturated STE: grad * 1[-1 <= x <= 1] (the reference's ``Bs``)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def bp_iste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeProb.apply(x)


def b_iste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeLogitI.apply(x)


def b_sste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeLogitS.apply(x)


BINARIZE = {"bp-iste": bp_iste, "b-iste": b_iste, "b-sste": b_sste}
