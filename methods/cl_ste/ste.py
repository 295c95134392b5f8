"""CL-STE's binarizations b_p(x) and b(x) with their straight-through estimators (docs/method.md).

Forward, each maps a probability (b_p) or a logit (b) to {0, 1}; backward, iSTE passes the
gradient unchanged and sSTE only where the logit lies in [-1, 1] (the reference code's ``B``,
``Bi`` and ``Bs``).
"""

from __future__ import annotations

import torch

STES = ("bp-iste", "b-iste", "b-sste")


class _BinarizeI(torch.autograd.Function):
    """1[x >= threshold], identity STE: b_p on probabilities (threshold 0.5, the reference's ``B``)
    and b on logits (threshold 0, the reference's ``Bi``)."""

    @staticmethod
    def forward(ctx, x, threshold):
        return (x >= threshold).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


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
    return _BinarizeI.apply(x, 0.5)


def b_iste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeI.apply(x, 0)


def b_sste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeLogitS.apply(x)


BINARIZE = {"bp-iste": bp_iste, "b-iste": b_iste, "b-sste": b_sste}
