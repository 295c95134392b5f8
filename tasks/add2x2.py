"""add2x2, a NeuroLog task of the CL-STE paper (shared base: :mod:`tasks._neurolog`).

``add2x2``: a 2x2 grid of MNIST digits [o0 o1; o2 o3] labelled with its row and column sums.
  Atoms: ``digit(i,k)`` (40), ``aux(p,d1,d2)`` (4 x 100, derived: the conjunction of the pair's
  digits, pairs (o0,o1), (o2,o3), (o0,o2), (o1,o3)), ``sum(p,l)`` (4 x 19); per pair and l one clause
  ``-sum(p,l) | OR aux(p,d1,d2) with d1 + d2 = l``: 516 atoms, 76 clauses (``add2x2_UEC.cnf``'s
  atoms; its 184 exactly-one clauses are CL-STE's own for the b(x) variants, uec=auto).

DeepProbLog: ``add2x2(X_0..X_3, R1, R2, C1, C2)`` over the four sums (one compiled query per
distinct label of the training rows).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from harness.api import Constraint, NeuralGroup, Program
from harness.cnf import CNFBuilder
from harness.registry import register_task

from ._neurolog import DIGIT_NN, N_TRAIN, _NeuroLogTask
from .asp_programs import add2x2_asp

# each sum is checked as soon as its digits are chosen, so grounding a query visits at most 100 branches
ADD2X2_PROBLOG = (
    DIGIT_NN + "\n"
    "add2x2(X0,X1,X2,X3,R1,R2,C1,C2) :- digit(X0,D0), digit(X1,D1), R1 is D0+D1, digit(X2,D2), "
    "C1 is D0+D2, digit(X3,D3), R2 is D2+D3, C2 is D1+D3.\n"
)


@register_task
class Add2x2(_NeuroLogTask):
    key = "add2x2"
    version = 1
    params = {
        "n_train": N_TRAIN,  # training examples (the paper: 3,000); 0 = every row of data_file
        "data_file": "",  # add2x2_train.txt (rows i1 i2 i3 i4 r1 r2 c1 c2); "paper": in --data-dir clste; "": generate
    }
    n_images, n_fields, paper_file = 4, 8, "add2x2_train.txt"
    PAIRS = ((0, 1), (2, 3), (0, 2), (1, 3))  # r1, r2, c1, c2

    def setup(self, seed: int, device: torch.device) -> None:
        super().setup(seed, device)
        # DeepProbLog compiles one query per label: those of the training rows, not all 19^4
        self.constraint().programs["problog"].targets = sorted({tuple(r) for r in self.target_.tolist()})

    def build_constraint(self) -> Constraint:
        b = CNFBuilder()
        b.atoms(f"digit({i},{k})" for i in range(4) for k in range(10))
        derived = []
        for p, (i, j) in enumerate(self.PAIRS):
            for d1, d2 in itertools.product(range(10), repeat=2):
                derived.append((b.atom(f"aux({p},{d1},{d2})") - 1, 10 * i + d1, 10 * j + d2))
        b.atoms(f"sum({p},{l})" for p in range(4) for l in range(19))
        for p in range(4):
            for l in range(19):
                b.clause(f"-sum({p},{l})", *[f"aux({p},{d1},{l - d1})" for d1 in range(10) if 0 <= l - d1 <= 9])
        cnf = b.build()
        self.sum0_ = cnf.index("sum(0,0)") - 1
        return Constraint(
            cnf,
            [NeuralGroup("digit", torch.arange(40).reshape(4, 10))],
            derived=derived,
            programs={
                "problog": Program(ADD2X2_PROBLOG, "add2x2", []),  # targets: set by setup
                "asp": Program(add2x2_asp(self.PAIRS)),
            },
            hints={"encoding": "paper (add2x2.cnf)"},
        )

    def generate(self, rng, labels):
        idx = rng.integers(0, len(labels), (self.tp["n_train"], 4))
        return np.concatenate([idx, self.targets_from_digits(labels[idx], None)], 1)

    def targets_from_digits(self, d, rows):
        return np.stack([d[:, i] + d[:, j] for i, j in self.PAIRS], 1)

    def evidence_rows(self, rows):
        c = self.constraint()
        ev = torch.zeros(len(rows), c.n_atoms)
        for p in range(4):
            ev[torch.arange(len(rows)), torch.as_tensor(self.sum0_ + 19 * p + rows[:, 4 + p])] = 1.0
        return ev
