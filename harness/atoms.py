"""Evaluation of derived atoms: the value of every atom of a constraint, from the network's
outputs and the evidence. Every method that needs atom values uses this module (CL-STE binarizes
them, the fuzzy loss takes t-norms, the conformance checks test gold symbols against the CNF).

The values of one batch are a (B, n) tensor over the CNF's n atoms:

- a **neural** atom (``Constraint.groups``) takes its softmax (categorical group) or sigmoid
  (bernoulli group) probability;
- a **derived** atom (``Constraint.derived``: conjunctions of neural atoms; then each stage of
  ``Constraint.derived_ops``, "and" or "or") takes ``and_fn`` / ``or_fn`` of its components' values
  (by default the product, the probability of a conjunction of independent images, and the sum,
  the probability of a disjunction of mutually exclusive events, capped at 1);
- an atom the evidence fixes takes 1 (evidence 1) or 0 (evidence -1);
- every other atom takes 0 (the convention of CL-STE's v, under which the clauses of unobserved
  labels are trivially true).

:func:`atom_values` gives them in CNF column order. Methods that evaluate every batch prepare an
:class:`AtomLayout` once and work in its order (neural atoms, derived atoms stage by stage, the
others), which needs no scatter per batch.
"""

from __future__ import annotations

from typing import Callable

import torch

from .api import Constraint

Reduce = Callable[[torch.Tensor], torch.Tensor]  # (B, rows, k) -> (B, rows)


def cols(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x[:, idx] for x (B, n) and an index tensor of any shape: (B, *idx.shape). ``index_select``
    on the flattened index, a third of the cost of advanced indexing here (and its backward is an
    ``index_add``, not an accumulating ``index_put``)."""
    return x.index_select(1, idx.reshape(-1)).view(x.shape[0], *idx.shape)


class AtomLayout:
    """Where each atom's value lives in the vector a method builds per batch (prepared once).

    The vector is ``[1, 0, neural atoms (group order), derived atoms (stage order), other atoms]``:
    two constant slots (padding of "and" / "or" components), then values produced by concatenation,
    so a batch needs no scatter into the n atoms. ``order[j]`` is the CNF column at position
    ``j + 2``; ``pos[col]`` the reverse; clause indices are remapped with ``pos`` at prepare time.
    """

    def __init__(self, constraint: Constraint, n_atoms: int, device=None):
        cols = [grp.atoms.reshape(-1) for grp in constraint.groups]
        stages = []
        if constraint.derived is not None and len(constraint.derived):
            stages.append(("and", constraint.derived))
        stages += list(getattr(constraint, "derived_ops", []) or [])
        placed = (
            torch.cat(cols + [rows[:, 0] for _, rows in stages])
            if (cols or stages)
            else torch.zeros(0, dtype=torch.long)
        )
        if len(torch.unique(placed)) != len(placed):
            raise ValueError("an atom is both neural and derived, or derived twice")
        rest = torch.ones(n_atoms, dtype=torch.bool)
        rest[placed] = False
        self.order = torch.cat([placed, rest.nonzero().squeeze(1)]).to(device)  # (n,)
        self.pos = torch.empty(n_atoms, dtype=torch.long)
        self.pos[self.order.cpu()] = torch.arange(n_atoms)
        self.pos = self.pos.to(device)
        self.n_rest = int(rest.sum())
        self.groups = [(grp.name, grp.kind) for grp in constraint.groups]
        # component indices of each stage, as positions in the working vector (+2: constant slots)
        self.stages = []
        for kind, rows in stages:
            comps = rows[:, 1:].to(device)
            pad = 0 if kind == "and" else 1
            self.stages.append(
                (kind, torch.where(comps < 0, torch.full_like(comps, pad), self.pos[comps.clamp(min=0)] + 2))
            )
        # without padded components the constant slots are not needed: positions shifted by 2
        self.direct = all(bool((c >= 2).all()) for _, c in self.stages)
        self.direct_stages = [(kind, c - 2) for kind, c in self.stages] if self.direct else []

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, n_neural): softmax (categorical) or sigmoid (bernoulli) of each group, layout order."""
        B = outputs[self.groups[0][0]].shape[0]
        parts = [
            (torch.sigmoid(outputs[name]) if kind == "bernoulli" else torch.softmax(outputs[name], dim=-1)).reshape(
                B, -1
            )
            for name, kind in self.groups
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def derive(self, neural: torch.Tensor, and_fn, or_fn, pad: bool = True) -> torch.Tensor:
        """(B, n) values in layout order: the neural values, then each derived stage's atoms from
        their components (``and_fn``/``or_fn`` over the last dimension of (B, rows, k)), then 0
        for every other atom (``pad=False``: without those, (B, n - n_rest))."""
        B = neural.shape[0]
        if self.direct:
            w, stages = neural, self.direct_stages
        else:  # constant slots first
            w, stages = torch.cat([neural.new_tensor([1.0, 0.0]).expand(B, 2), neural], 1), self.stages
        for kind, comps in stages:
            g = cols(w, comps)  # (B, rows, k)
            w = torch.cat([w, and_fn(g) if kind == "and" else or_fn(g)], 1)
        v = w if self.direct else w[:, 2:]
        return torch.cat([v, v.new_zeros(B, self.n_rest)], 1) if self.n_rest and pad else v

    def evaluate(
        self, outputs: dict[str, torch.Tensor], g: torch.Tensor, and_fn: Reduce, or_fn: Reduce
    ) -> torch.Tensor:
        """(B, n) atom values in layout order (module docstring); ``g`` (B, n) is the evidence in
        layout order (``evidence[:, self.order]``)."""
        t = self.derive(self.probabilities(outputs), and_fn, or_fn)
        return torch.where(g != 0, (g == 1).to(t.dtype), t)


def product(x: torch.Tensor) -> torch.Tensor:
    """Probability of a conjunction of independent components: the product over the last dimension."""
    return x.prod(-1)


def exclusive_sum(x: torch.Tensor) -> torch.Tensor:
    """Probability of a disjunction of mutually exclusive components: their sum, capped at 1."""
    return x.sum(-1).clamp(max=1.0)


def atom_values(
    constraint: Constraint,
    outputs: dict[str, torch.Tensor],
    evidence: torch.Tensor,
    and_fn: Reduce = product,
    or_fn: Reduce = exclusive_sum,
) -> torch.Tensor:
    """(B, n) value of every atom of ``constraint``, in CNF column order (see the module docstring).

    outputs: {group: logits (B, G, K)}; evidence: (B, n) in {-1, 0, 1}. Differentiable in the
    outputs. For a method called every batch, prepare an :class:`AtomLayout` once instead.
    """
    layout = AtomLayout(constraint, evidence.shape[1], evidence.device)
    g = evidence.to(torch.float32)[:, layout.order]
    return layout.evaluate(outputs, g, and_fn, or_fn)[:, layout.pos]
