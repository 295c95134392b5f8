"""Methods that break the contract in the ways a plug-in author does (tests of the messages)."""

from harness.api import Method
from harness.registry import register_method


@register_method
class MissingKey(Method):
    """``prepare`` looks up a key that is not there."""

    key = "missing-key"

    def prepare(self, constraint, device):
        super().prepare(constraint, device)
        table = {"present": 1}
        self.value_ = table["no_such_key"]


@register_method
class FloatLoss(Method):
    """``loss`` returns a Python float."""

    key = "float-loss"

    def loss(self, outputs, batch):
        return 0.5


@register_method
class PerExampleLoss(Method):
    """``loss`` returns one value per example instead of their mean."""

    key = "per-example-loss"

    def loss(self, outputs, batch):
        return outputs["digit"].softmax(-1)[..., 0].sum(-1)
