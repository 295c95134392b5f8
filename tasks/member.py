"""member(n), a NeuroLog task of the CL-STE paper (shared base: :mod:`tasks._neurolog`).

``member``: n MNIST images (task parameter ``n``: 3 or 5) and a digit d; the label says whether d
  is among them. Atoms ``digit(i,k)`` (10n) and ``in(d,b)`` (20); clauses per d:
  ``-in(d,1) | digit(0,d) | ... | digit(n-1,d)`` and ``-in(d,0) | -digit(i,d)`` for each i:
  10(1+n) clauses (``member3.cnf``: 50 atoms, 40 clauses; ``member5.cnf``: 70, 60).

DeepProbLog: ``member(X_0..X_{n-1}, D, L)`` with ``has(.., D)`` true when some image is D and
``L = 0`` through negation as failure (20 queries, compiled in ``prepare``).
"""

from __future__ import annotations

import numpy as np
import torch

from harness.api import Constraint, NeuralGroup, Program
from harness.cnf import CNFBuilder
from harness.errors import UserError
from harness.registry import register_task

from ._neurolog import DIGIT_NN, N_TRAIN, _NeuroLogTask
from .asp_programs import member_asp


def member_problog(n: int) -> str:
    """member(n) for DeepProbLog: ``member(X_0..X_{n-1}, D, 1)`` iff some image shows D, ``.., D, 0)``
    otherwise (negation as failure)."""
    xs = ",".join(f"X{i}" for i in range(n))
    lines = [DIGIT_NN] + [f"has({xs},D) :- digit(X{i},D)." for i in range(n)]
    lines += [f"member({xs},D,1) :- has({xs},D).", f"member({xs},D,0) :- \\+has({xs},D)."]
    return "\n".join(lines) + "\n"


@register_task
class Member(_NeuroLogTask):
    key = "member"
    version = 1
    params = {
        "n": 3,  # images per example (the paper: 3 or 5)
        "n_train": N_TRAIN,  # training examples (the paper: 3,000); 0 = every row of data_file
        "data_file": "",  # member{n}_train.txt (rows i_1..i_n d label); "paper": in --data-dir clste; "": generate
        "p_positive": 0.75,  # generated data: share of positive examples (the paper's files: 0.75)
    }
    size_param = "n"
    param_bounds = {"n": (1, 9), "n_train": (0, None), "p_positive": (0.0, 1.0)}  # n: the paper's 3 or 5

    def __init__(self, data_dirs=None, **tp):
        super().__init__(data_dirs, **tp)
        self.n_images = self.tp["n"]
        self.n_fields = self.n_images + 2
        self.paper_file = f"member{self.n_images}_train.txt"

    def build_constraint(self) -> Constraint:
        n = self.n_images
        b = CNFBuilder()
        b.atoms(f"digit({i},{k})" for i in range(n) for k in range(10))
        b.atoms(f"in({d},{v})" for d in range(10) for v in (0, 1))
        for d in range(10):
            b.clause(f"-in({d},1)", *[f"digit({i},{d})" for i in range(n)])
            for i in range(n):
                b.clause(f"-in({d},0)", f"-digit({i},{d})")
        cnf = b.build()
        self.in0_ = cnf.index("in(0,0)") - 1
        return Constraint(
            cnf,
            [NeuralGroup("digit", torch.arange(10 * n).reshape(n, 10))],
            programs={
                "problog": Program(member_problog(n), "member", [(d, lab) for d in range(10) for lab in (0, 1)]),
                "asp": Program(member_asp(n)),
            },
            hints={"encoding": f"paper (member{n}.cnf)"},
        )

    def generate(self, rng, labels):
        n, P = self.n_images, self.tp["n_train"]
        idx = rng.integers(0, len(labels), (P, n))
        d = labels[idx]
        pos = rng.random(P) < self.tp["p_positive"]
        query = np.empty(P, dtype=np.int64)
        for e in range(P):
            present = np.unique(d[e])
            choices = present if pos[e] else np.setdiff1d(np.arange(10), present)
            query[e] = rng.choice(choices)
        return np.concatenate([idx, query[:, None], pos[:, None].astype(np.int64)], 1)

    def targets_from_digits(self, d, rows):
        q = rows[:, self.n_images]
        return np.stack([q, (d == q[:, None]).any(1).astype(np.int64)], 1)

    def evidence_rows(self, rows):
        c = self.constraint()
        q, label = rows[:, self.n_images], rows[:, self.n_images + 1]
        if q.min() < 0 or q.max() > 9:
            raise UserError(f"member: query digits must be in 0..9, found {int(q.min())}..{int(q.max())}")
        ev = torch.zeros(len(rows), c.n_atoms)
        ev[torch.arange(len(rows)), torch.as_tensor(self.in0_ + 2 * q + label)] = 1.0
        return ev
