"""The network's outputs as CL-STE's binarized atom values, derived atoms included (docs/method.md)."""

from __future__ import annotations

import torch

from harness.api import Constraint
from harness.atoms import AtomLayout

from .formula import _prod
from .ste import BINARIZE


class ValueLayout(AtomLayout):
    """The atom layout of :mod:`harness.atoms` with CL-STE's binarized values (prepared once)."""

    def values(self, outputs: dict[str, torch.Tensor], ste: str, pad: bool = True) -> torch.Tensor:
        """(B, n) binarized values in layout order (other atoms 0; ``pad=False``: without them)."""
        binarize = BINARIZE[ste]
        if ste == "bp-iste":
            # derived atoms from probabilities: product ("and": independent images) or sum ("or":
            # mutually exclusive events); every value is b_p of its probability, in one call
            p = self.derive(self.probabilities(outputs), _prod, lambda g: g.sum(-1).clamp(max=1.0), pad)
            return binarize(p)  # b_p(0) = 0 for the other atoms
        # b(x) variants: binarize the logits, then derived atoms as Boolean functions written
        # arithmetically so the STE gradient passes: and = product, or = 1 - prod(1 - x)
        B = outputs[self.groups[0][0]].shape[0]
        parts = [outputs[name].reshape(B, -1) for name, _ in self.groups]
        logits = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
        return self.derive(binarize(logits), _prod, lambda g: 1 - _prod(1 - g), pad)


def neural_values(constraint: Constraint, outputs: dict[str, torch.Tensor], ste: str, n_atoms: int):
    """Binarized values of the neural and derived atoms, (B, n) in CNF column order, zero elsewhere.

    b_p variant: b_p of softmax (categorical) or sigmoid (bernoulli) probabilities, and each derived
    conjunction atom is b_p of the *product of probabilities* of its components (reference ``aux``).
    b(x) variants: b of the logits, and a derived atom is the product of binarized components.
    Further stages of ``constraint.derived_ops`` follow in order: an "or" atom is b_p of the sum of
    its (mutually exclusive) components' probabilities, or 1 - prod(1 - b) for the b(x) variants.
    """
    first = next(iter(outputs.values()))
    layout = ValueLayout(constraint, n_atoms, first.device)
    return layout.values(outputs, ste)[:, layout.pos]
