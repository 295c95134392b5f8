"""apply2x2, a NeuroLog task of the CL-STE paper (shared base: :mod:`tasks._neurolog`).

``apply2x2``: three given digits d1, d2, d3 and a 2x2 grid of operator images (+, -, x); the
  labels are the rows' and columns' results of ``(d1 op d2) op d3``, left to right. The reference
  evaluates its CNF (9 ``operators(o0,o1)`` + 10,597 ``apply(d0,d1,d2,r)`` atoms for d in 0..10,
  one clause ``-apply(d0,d1,d2,r) | OR operators(o0,o1) giving r`` per apply atom) once per row and
  column, each on its own two images; here the four copies form one CNF over 8 operator slots
  (row 1: o1 o2, row 2: o3 o4, column 1: o1 o3, column 2: o2 o4; the network's 4 outputs are
  repeated into the slots), so each slot has its own exactly-one clauses as in
  ``apply2x2_UEC.cnf``. One difference remains: the reference sums four L_cnf, one per row, while
  this one CNF takes L_unsat and L_sat as means over the four rows' clauses together (L_deduce and
  L_bound are the same).

Operator images come from ``--data-dir operators=DIR`` (HASY as in the paper, or another set;
:mod:`tasks.operators`) or, by default, from a *synthetic* procedural set, normalised as the
reference's HASY images ((x - 0.5) / 0.5). DeepProbLog has no program for it (its network's slots
repeat the four images, which a program over the slots would treat as eight independent
operators): DeepProbLog skips it.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import torch

from harness.api import Batch, Constraint, NeuralGroup, shuffled_batches
from harness.cnf import CNFBuilder
from harness.errors import UserError
from harness.registry import register_task

from ._neurolog import N_TRAIN, _Grid, _NeuroLogTask
from .nets import LeNet
from .operators import SIDE, load_operators


def _apply(d0, o0, d1, o1, d2):
    """(d0 o0 d1) o1 d2, left to right; operators 0 +, 1 -, 2 x (numpy arrays or ints)."""

    def op(a, o, b):
        return np.where(o == 0, a + b, np.where(o == 1, a - b, a * b))

    return op(op(d0, o0, d1), o1, d2)


@register_task
class Apply2x2(_NeuroLogTask):
    key = "apply2x2"
    version = 1
    params = {
        "n_train": N_TRAIN,  # training examples (the paper: 3,000); 0 = every row of data_file
        "data_file": "",  # apply2x2_train.txt (rows d1 d2 d3 o1 o2 o3 o4 r1 r2 c1 c2; o index the HASY
        # training folder in ImageFolder order); "paper": the file and hasy/ in --data-dir clste; "": generate
    }
    main_metric = "op_acc"
    n_images, n_fields, paper_file = 4, 11, "apply2x2_train.txt"
    SLOTS = [0, 1, 2, 3, 0, 2, 1, 3]  # (o1,o2) -> r1, (o3,o4) -> r2, (o1,o3) -> c1, (o2,o4) -> c2
    DIGITS = 11  # the reference's CNF covers digits 0..10

    def build_constraint(self) -> Constraint:
        b = CNFBuilder()
        b.atoms(f"operator({s},{o})" for s in range(8) for o in range(3))
        derived = []
        for row in range(4):
            for o0, o1 in itertools.product(range(3), repeat=2):
                derived.append((b.atom(f"operators({row},{o0},{o1})") - 1, 3 * (2 * row) + o0, 3 * (2 * row + 1) + o1))
        # one apply atom per (d0, d1, d2, r) reachable with some operator pair, as the reference
        ops = {}
        for d in itertools.product(range(self.DIGITS), repeat=3):
            for o0, o1 in itertools.product(range(3), repeat=2):
                r = int(_apply(d[0], o0, d[1], o1, d[2]))
                ops.setdefault((*d, r), []).append((o0, o1))
        self.apply_index_ = {key: i for i, key in enumerate(ops)}
        self.apply0_ = []
        for row in range(4):
            self.apply0_.append(len(b.names))
            b.atoms(f"apply({row},{a},{c},{e},{r})" for (a, c, e, r) in ops)
            for i, (key, pairs) in enumerate(ops.items()):
                b.clause(-(self.apply0_[row] + i + 1), *[f"operators({row},{o0},{o1})" for o0, o1 in pairs])
        return Constraint(
            b.build(),
            [NeuralGroup("op", torch.arange(24).reshape(8, 3))],
            derived=derived,
            hints={"encoding": "paper (apply2x2.cnf), one copy per row and column"},
        )

    def network(self) -> torch.nn.Module:
        return _Grid(LeNet(3, side=SIDE), "op", self.SLOTS)

    def _operators(self):
        op_dir = self.data_dirs.get("operators")
        if not op_dir and self.tp["data_file"] == "paper" and "clste" in self.data_dirs:
            op_dir = os.path.join(self.data_dirs["clste"], "hasy")  # the folder the paper's file indexes
        return load_operators(op_dir)

    def validate(self) -> None:
        """The operator images and the data file (read and checked as ``setup`` does)."""
        ops = self._operators()
        if self.tp["data_file"]:
            self._checked_rows(0, ops)

    def _checked_rows(self, seed: int, ops):
        """(rows, operator image indices): the data file's chosen rows, or rows drawn from the seed,
        checked against the operator images' classes."""
        if self.tp["data_file"]:
            rows = self._file_rows()
        else:
            rng = np.random.default_rng(seed)
            P = self.tp["n_train"]
            rows = np.concatenate(
                [
                    rng.integers(0, 10, (P, 3)),
                    rng.integers(0, len(ops.train_y), (P, 4)),
                    np.zeros((P, 4), dtype=np.int64),
                ],
                1,
            )
            rows[:, 7:] = self._results(rows[:, :3], ops.train_y[rows[:, 3:7]])
        idx = rows[:, 3:7]
        self.check_indices(idx, len(ops.train_y), "operator training images")
        if rows[:, :3].min() < 0 or rows[:, :3].max() >= self.DIGITS:
            raise UserError(f"apply2x2: digits must be in 0..{self.DIGITS - 1}")
        gold = self._results(rows[:, :3], ops.train_y[idx])
        bad = np.flatnonzero((gold != rows[:, 7:]).any(1))
        if len(bad):
            raise UserError(
                f"apply2x2: data_file row {bad[0] + 1} (of the chosen subset): results "
                f"{rows[bad[0], 7:].tolist()} disagree with the operator images' classes (expected "
                f"{gold[bad[0]].tolist()}); is the operators folder the one the file indexes?"
            )
        return rows, idx

    def setup(self, seed: int, device: torch.device) -> None:
        ops = self._operators()
        self.op_source_ = ops.source
        rows, idx = self._checked_rows(seed, ops)
        c = self.constraint()
        ev = torch.zeros(len(rows), c.n_atoms)
        for k in range(4):
            cols = [self.apply0_[k] + self.apply_index_[(*map(int, r[:3]), int(r[7 + k]))] for r in rows]
            ev[torch.arange(len(rows)), torch.as_tensor(cols)] = 1.0
        self.evidence_ = ev.to(device)
        self.idx_ = torch.as_tensor(idx).to(device)
        self.train_images_ = _ops_float(ops.train_x).to(device)
        self.train_labels_ = torch.as_tensor(ops.train_y).to(device)
        self.test_images_ = _ops_float(ops.test_x).to(device)
        self.test_labels_ = torch.as_tensor(ops.test_y).to(device)

    @staticmethod
    def _results(d, o):
        """d (P, 3) digits, o (P, 4) operator classes of o1..o4 -> (P, 4) results r1 r2 c1 c2."""
        return np.stack(
            [_apply(d[:, 0], o[:, a], d[:, 1], o[:, b], d[:, 2]) for a, b in ((0, 1), (2, 3), (0, 2), (1, 3))], 1
        )

    def describe(self) -> dict:
        return {
            "operators": getattr(self, "op_source_", None),
            "n_train_examples": int(len(self.idx_)),
            "n_test_images": int(len(self.test_labels_)),
            "data_file": self.tp["data_file"] or "generated",
        }

    def train_batches(self, batch_size: int, generator: torch.Generator, epoch: int = 1):
        slots = torch.tensor(self.SLOTS, device=self.idx_.device)
        for o in shuffled_batches(len(self.idx_), batch_size, generator, self.idx_.device):
            sel = self.idx_[o]  # (B, 4)
            yield Batch(
                x=self.train_images_[sel], evidence=self.evidence_[o], labels={"op": self.train_labels_[sel][:, slots]}
            )

    @torch.no_grad()
    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        logits = net.inner.classifier(self.test_images_)  # (N, 3)
        acc = (logits.argmax(-1) == self.test_labels_).float().mean().item()
        return {"op_acc": 100.0 * acc}


def _ops_float(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32) -> float (N, 1, 32, 32), normalised as the reference ((x - 0.5) / 0.5)."""
    x = torch.as_tensor(images, dtype=torch.float32).div_(255.0)
    return x.sub_(0.5).div_(0.5).unsqueeze(1)
