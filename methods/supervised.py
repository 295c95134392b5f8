"""Supervised ceiling: cross-entropy on the hidden labels of the neural variables.

Same network, same data and same batches as the constraint methods, but it reads the gold symbols
(e.g. each digit's class) that they never see: the accuracy ceiling and the speed reference (the
"physical limit" of an epoch: the network alone). In a semi-supervised run (a task's labelled
fraction below one) it trains on the labelled examples only (``labelled_only``).
"""

from __future__ import annotations

import torch

from harness.api import Batch, Method, supervised_loss
from harness.registry import register_method


@register_method
class Supervised(Method):
    """Cross-entropy (categorical) or binary cross-entropy (bernoulli) on the gold labels."""

    key = "supervised"
    version = 1
    conformance_exempt = {"evidence_respected": "reads the gold labels, not the constraint's evidence"}
    labelled_only = True  # in a semi-supervised run: trained on the labelled examples only
    hparams: dict = {}

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        return supervised_loss(outputs, batch)
