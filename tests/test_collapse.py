"""The collapse diagnostic: a network whose test predictions fall into one class for a group is
recorded in the rows (``collapsed``), whatever the task's evaluate does with the outputs."""

import torch

from harness.diagnostics import CollapseWatch


class _Fixed(torch.nn.Module):
    """Digits of two images: class ``k`` always, or random classes (``k`` None); one edge bit."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        b = x.shape[0]
        digit = (
            torch.randn(b, 2, 10)
            if self.k is None
            else torch.nn.functional.one_hot(torch.full((b, 2), self.k), 10).float()
        )
        return {"digit": digit, "edge": torch.randn(b, 3, 1)}


def test_one_class_for_every_image_is_found_and_a_spread_is_not():
    torch.manual_seed(0)
    for k, expected in ((0, {"digit": 0}), (7, {"digit": 7}), (None, {})):
        net = _Fixed(k)
        with CollapseWatch(net) as watch:
            for _ in range(3):  # evaluate's batches add up
                net(torch.zeros(4, 1))
        assert watch.collapsed() == expected
        assert not net._forward_hooks  # the hook is gone after evaluation


def test_too_few_predictions_say_nothing():
    net = _Fixed(0)
    with CollapseWatch(net) as watch:
        net(torch.zeros(2, 1))  # 4 digit predictions
    assert watch.collapsed() == {}
