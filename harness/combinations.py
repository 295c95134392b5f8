"""Constraints whose clauses are generated per example instead of listed.

Some encodings have one *combination atom* per tuple of values of the neural variables and, per
label value r, one clause

    -label(r)  OR  OR_{c in combos(r)} combination(c),   combination(c) = AND_i  var_i = c_i,

e.g. mnist-add's paper encoding (Yang, Lee, Park 2022; docs/method.md): 10^(2N) combination atoms
and one clause per sum. Listed, the CNF has 10^6 atoms at N = 3, and a method that evaluates every
atom per example touches a 10^6-wide row per step. A method that keeps only the clauses of each
example's true label (CL-STE's clause filtering) reads only combos(label), at most 10^N tuples;
:class:`CombinationClauses` hands out exactly those, for a batch of labels.

:class:`CombinationConstraint` carries such a description; its ``cnf`` is an :class:`ImplicitCNF`
that holds the explicit atoms (the neural ones and the labels, so evidence rows stay small) but no
clause list. A method that needs the list (the semantic loss's compilation, the fuzzy relaxation)
reads ``cnf.clauses`` and gets :class:`~harness.errors.SkipRun` with the reason: a ``skipped`` row,
never a loss over an empty CNF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .api import Constraint
from .cnf import CNF, CNFError
from .errors import SkipRun


@dataclass
class CombinationClauses:
    """Clause r: ``-label(r) | OR of the combinations in combos(r)``, generated on demand.

    group: the neural group whose G variables a combination assigns (outputs (B, G, K));
    label_atoms: (R,) 0-based CNF columns of label(0..R-1);
    combos: label values r (E,) long -> (values (E, Kc, G) long in 0..K-1, valid (E, Kc) bool), the
    combinations of each clause padded to the longest (padding slots are not valid);
    n_combinations: how many combination atoms the listed encoding would have (for messages).
    """

    group: str
    label_atoms: torch.Tensor
    combos: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    n_combinations: int


class ImplicitCNF(CNF):
    """The explicit atoms of an encoding whose clauses are generated (no clause list).

    ``n_atoms`` and ``names`` describe the atoms that exist as columns (neural and label atoms);
    reading ``clauses`` (or ``n_clauses``) raises SkipRun with ``reason``."""

    def __init__(self, n_atoms: int, names: list[str] | None, reason: str):
        if n_atoms < 0:
            raise CNFError(f"a CNF needs a non-negative number of atoms, got {n_atoms}")
        if names is not None and len(names) != n_atoms:
            raise CNFError(f"{len(names)} atom names given for {n_atoms} atoms")
        self.n_atoms, self.names, self.reason = n_atoms, names, reason

    @property
    def clauses(self):
        raise SkipRun(self.reason)

    def __repr__(self) -> str:
        return f"ImplicitCNF(n_atoms={self.n_atoms})"


@dataclass
class CombinationConstraint(Constraint):
    """A :class:`~harness.api.Constraint` whose clauses are :class:`CombinationClauses` (its ``cnf``
    an :class:`ImplicitCNF`); its ``always_keep`` hint defaults to no clause (there is no clause list to
    size it)."""

    combination: CombinationClauses | None = None

    def __post_init__(self):
        self.hints.setdefault("always_keep", torch.zeros(0, dtype=torch.bool))
        super().__post_init__()
        if self.combination is None:
            raise ValueError("a CombinationConstraint needs its CombinationClauses")
        if not any(g.name == self.combination.group for g in self.groups):
            raise ValueError(f"combination group {self.combination.group!r} is not a neural group")
