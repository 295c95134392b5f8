"""What a run's rows say about the trained network beyond its metrics.

:class:`CollapseWatch` finds a *collapsed* network: one whose predictions on the test set fall into
a single class for some output group (every image read as the digit 0). The harness owns the
network's forward pass, so it watches every call the task's ``evaluate`` makes, whatever the task:
a forward hook counts the predicted class of every variable of every group (the argmax of a
categorical group's K logits, the sign of a bernoulli group's logit), summed on the device with no
synchronisation per batch. The row records ``collapsed``: {group: the one class} for each group
whose predictions (at least :data:`MIN_PREDICTIONS` of them) all fell into one class.
"""

from __future__ import annotations

import torch

#: fewer predictions of a group than this say nothing about collapse
MIN_PREDICTIONS = 10


class CollapseWatch:
    """Counts the classes a network predicts while it is watched (a context manager)."""

    def __init__(self, net: torch.nn.Module):
        self.net = net
        self.counts: dict[str, torch.Tensor] = {}
        self._handle = None

    def _hook(self, module, inputs, outputs) -> None:
        if not isinstance(outputs, dict):
            return
        for name, logits in outputs.items():  # a StepOutputs holds its final step
            if not isinstance(logits, torch.Tensor) or logits.dim() < 2 or logits.numel() == 0:
                continue
            k = logits.shape[-1]
            pred = logits.argmax(-1) if k > 1 else (logits[..., 0] > 0).long()
            counts = torch.bincount(pred.detach().flatten(), minlength=max(k, 2))
            if name in self.counts and self.counts[name].shape == counts.shape:
                self.counts[name] += counts
            else:
                self.counts[name] = counts

    def __enter__(self) -> "CollapseWatch":
        self._handle = self.net.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def collapsed(self) -> dict[str, int]:
        """{group: class} for every watched group predicted as one class only."""
        out = {}
        for name, counts in self.counts.items():
            c = counts.cpu()
            if int(c.sum()) >= MIN_PREDICTIONS and int((c > 0).sum()) == 1:
                out[name] = int(c.argmax())
        return out
