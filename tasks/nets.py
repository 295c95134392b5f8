"""Networks shared by tasks."""

from __future__ import annotations

import torch
from torch import nn


class LeNet(nn.Module):
    """The MNIST network of the CL-STE and DeepProbLog papers (docs/method.md "The paper's settings").

    Conv(1->6,5) -> MaxPool2 -> ReLU -> Conv(6->16,5) -> MaxPool2 -> ReLU -> FC 256->120 -> ReLU
    -> FC 120->84 -> ReLU -> FC 84->K. ``side`` 28 gives FC 256 (MNIST); 32 gives FC 400 (HASY).
    ``xavier``: the reference's mnistAdd init (drawn from the run's seed here, where the reference
    re-seeds 64 for every layer, so that seeds vary the initialisation).
    """

    def __init__(self, n_classes: int = 10, side: int = 28, xavier: bool = False):
        super().__init__()
        s = ((side - 4) // 2 - 4) // 2
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(6, 16, 5),
            nn.MaxPool2d(2),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * s * s, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, n_classes),
        )
        if xavier:  # the CL-STE reference's init for mnistAdd: xavier_uniform weights, zero biases
            for mod in self.modules():
                if isinstance(mod, (nn.Linear, nn.Conv2d)):
                    nn.init.xavier_uniform_(mod.weight)
                    nn.init.zeros_(mod.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 1, side, side) -> logits (N, K)."""
        return self.classifier(self.features(x).flatten(1))


class PerImage(nn.Module):
    """Applies an image classifier to every image of an example: (B, G, 1, H, W) -> {name: (B, G, K)}."""

    def __init__(self, classifier: nn.Module, group: str):
        super().__init__()
        self.classifier = classifier
        self.group = group

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        B, G = x.shape[:2]
        logits = self.classifier(x.reshape(B * G, *x.shape[2:]))
        return {self.group: logits.reshape(B, G, -1)}
