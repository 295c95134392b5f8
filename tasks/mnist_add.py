"""MNIST addition: two N-digit numbers written as MNIST images, labelled only with their sum.

Task of DeepProbLog (Manhaeve et al. 2018) and of the CL-STE paper (PAPER.md 4.1). An example is
2N images: the N digits of the first number (most significant first), then those of the second.
The label is the sum. The network (the LeNet of PAPER.md 4) classifies each image; it never sees a
digit label unless the method is the supervised ceiling.

Encoding ``paper`` (PAPER.md section 2, ``mnistAdd*.cnf``): atoms ``digit(i,k)`` for the network's
outputs, one derived conjunction atom ``aux(d_0..d_2N-1)`` per combination of digit values (the
reference's ``aux``/``predict``), and ``sum(r)``; for each r one clause
``-sum(r) | OR of aux(combination) whose numbers add up to r``. It has 10^(2N) atoms, so it is
refused for N > 2.

Data: training examples are drawn per seed as a random permutation of the training digits cut into
consecutive groups of 2N (each digit used once; 30,000 pairs on full MNIST at N = 1, as in the
paper), or read from the paper's index files (``pairs_file``: rows ``i_1 .. i_2N sum`` indexing
the full MNIST training set, e.g. ``mnistAdd_train.txt``). Test examples: the test digits in a
fixed permutation (seed 12345) cut into groups of 2N, the same for every run.

Metrics: ``digit_acc`` on every test digit, ``sum_acc`` on the test examples (the sum of the
numbers read from the predicted digits equals the true sum).

Version history: v1, first release (paper encoding, N <= 2).
"""
from __future__ import annotations

import itertools
import os

import numpy as np
import torch

from harness.api import Batch, Constraint, NeuralGroup, Task
from harness.cnf import CNF
from harness.errors import UserError
from harness.registry import register_task

from .mnist_data import load_mnist
from .nets import LeNet, PerImage

MAX_PAPER_DIGITS = 2


def number_weights(n_digits: int) -> np.ndarray:
    """Place values of the 2N images: [10^(N-1) .. 1, 10^(N-1) .. 1]."""
    w = 10 ** np.arange(n_digits - 1, -1, -1)
    return np.concatenate([w, w]).astype(np.int64)


def paper_encoding(n_digits: int) -> tuple[CNF, torch.Tensor, torch.Tensor, np.ndarray]:
    """The paper's encoding. Returns (cnf, digit atoms (2N, 10), derived rows, sum atom columns)."""
    if n_digits > MAX_PAPER_DIGITS:
        raise UserError(f"mnist-add: the paper encoding has 10^(2N) atoms ({10 ** (2 * n_digits):,} at N={n_digits}); "
                        f"it is limited to N <= {MAX_PAPER_DIGITS}")
    n_img = 2 * n_digits
    names = [f"digit({i},{k})" for i in range(n_img) for k in range(10)]
    digit_atoms = torch.arange(n_img * 10).reshape(n_img, 10)
    combos = np.array(list(itertools.product(range(10), repeat=n_img)), dtype=np.int64)  # (10^2N, 2N)
    aux0 = len(names)
    names += ["aux(" + ",".join(map(str, c)) + ")" for c in combos]
    n_sums = 2 * (10 ** n_digits - 1) + 1
    sum0 = len(names)
    names += [f"sum({r})" for r in range(n_sums)]
    values = combos @ number_weights(n_digits)
    clauses = []
    for r in range(n_sums):
        members = np.flatnonzero(values == r)
        clauses.append(tuple([-(sum0 + r + 1)] + [int(aux0 + j + 1) for j in members]))
    derived = torch.cat([torch.arange(aux0, aux0 + len(combos)).unsqueeze(1),
                         torch.as_tensor(combos + 10 * np.arange(n_img))], dim=1)
    cnf = CNF(len(names), clauses, names)
    return cnf, digit_atoms, derived, np.arange(sum0, sum0 + n_sums)


def problog_program(n_digits: int) -> str:
    """The standard DeepProbLog program for N-digit addition (neural predicate digit/2)."""
    n_img = 2 * n_digits
    lines = ["nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).", "",
             "number([],Result,Result).",
             "number([H|T],Acc,Result) :- digit(H,Nr), Acc2 is Nr+10*Acc, number(T,Acc2,Result).",
             "number(X,Y) :- number(X,0,Y).", ""]
    args = ", ".join(f"X{i}" for i in range(n_img))
    a = ",".join(f"X{i}" for i in range(n_digits))
    b = ",".join(f"X{i}" for i in range(n_digits, n_img))
    lines.append(f"addition({args},Z) :- number([{a}],N1), number([{b}],N2), Z is N1+N2.")
    return "\n".join(lines) + "\n"


@register_task
class MnistAdd(Task):
    key = "mnist-add"
    version = 1
    params = {
        "digits": 1,  # N: digits per number
        "n_pairs": 0,  # training examples; 0 = all (train digits // 2N: 30,000 on full MNIST at N=1)
        "pairs_file": "",  # the paper's index file (rows i_1..i_2N sum), read instead of drawing pairs
        "encoding": "paper",  # paper: one atom per combination of digit values (N <= 2)
    }
    train_defaults = {"epochs": 1, "batch_size": 16, "lr": 1e-3}
    # The reference README's batch-16 setting and testBenchmark.sh's weights (PAPER.md 4.1).
    method_defaults = {"cl-ste": {"w_cnf": 3.0, "w_bound": 0.4}}
    main_metric = "sum_acc"

    def __init__(self, data_dirs=None, **tp):
        super().__init__(data_dirs, **tp)
        n = self.tp["digits"]
        if n < 1:
            raise UserError(f"mnist-add: digits must be >= 1, got {n}")
        if self.tp["encoding"] != "paper":
            raise UserError(f"mnist-add: unknown encoding {self.tp['encoding']!r}; available: paper")
        if self.tp["n_pairs"] < 0:
            raise UserError(f"mnist-add: n_pairs must be >= 0, got {self.tp['n_pairs']}")
        self.n_img = 2 * n
        self._constraint = None

    # ---- constraint -----------------------------------------------------------------------
    def constraint(self) -> Constraint:
        if self._constraint is None:
            cnf, digit_atoms, derived, sum_cols = paper_encoding(self.tp["digits"])
            self.sum_cols_ = torch.as_tensor(sum_cols)
            self._constraint = Constraint(cnf, [NeuralGroup("digit", digit_atoms)], derived=derived,
                                          problog=problog_program(self.tp["digits"]),
                                          meta={"encoding": "paper"})
        return self._constraint

    def evidence_for(self, sums: torch.Tensor) -> torch.Tensor:
        """(B,) sums -> (B, n) evidence: sum(s) = 1, every other atom unknown (as the reference)."""
        c = self.constraint()
        ev = torch.zeros(len(sums), c.n_atoms, device=sums.device)
        ev[torch.arange(len(sums), device=sums.device), self.sum_cols_.to(sums.device)[sums]] = 1.0
        return ev

    def network(self) -> torch.nn.Module:
        return PerImage(LeNet(10), "digit")

    # ---- data ---------------------------------------------------------------------------------
    def _read_pairs_file(self, path: str, n_train: int, labels: np.ndarray) -> np.ndarray:
        if not os.path.isfile(path):
            raise UserError(f"mnist-add: pairs_file not found: {path}")
        rows = []
        weights = number_weights(self.tp["digits"])
        with open(path) as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    vals = [int(t) for t in line.split()]
                except ValueError:
                    raise UserError(f"{path}, line {lineno}: non-integer field") from None
                if len(vals) != self.n_img + 1:
                    raise UserError(f"{path}, line {lineno}: expected {self.n_img + 1} fields "
                                    f"(i_1..i_{self.n_img} sum) for digits={self.tp['digits']}, got {len(vals)}")
                idx, s = np.array(vals[:-1]), vals[-1]
                if idx.min() < 0 or idx.max() >= n_train:
                    raise UserError(f"{path}, line {lineno}: image index outside the {n_train} training digits "
                                    "(the paper's files index the full MNIST; pass --mnist-dir)")
                if int(labels[idx] @ weights) != s:
                    raise UserError(f"{path}, line {lineno}: sum {s} disagrees with the digits' labels")
                rows.append(idx)
        if not rows:
            raise UserError(f"{path}: no examples")
        return np.stack(rows)

    def setup(self, seed: int, device: torch.device) -> None:
        data = load_mnist(self.data_dirs.get("mnist"))
        self.source_ = data.source
        n_train = len(data.train_y)
        if self.tp["pairs_file"]:
            pairs = self._read_pairs_file(self.tp["pairs_file"], n_train, data.train_y)
        else:
            rng = np.random.default_rng(seed)
            avail = n_train // self.n_img
            pairs = rng.permutation(n_train)[: avail * self.n_img].reshape(avail, self.n_img)
        if self.tp["n_pairs"]:
            if self.tp["n_pairs"] > len(pairs):
                raise UserError(f"mnist-add: n_pairs={self.tp['n_pairs']} but only {len(pairs)} examples are "
                                f"available from {data.source} MNIST; lower n_pairs or use --mnist-dir")
            pairs = pairs[: self.tp["n_pairs"]]
        weights = torch.as_tensor(number_weights(self.tp["digits"]))
        self.train_images_ = _to_float(data.train_x).to(device)  # (N, 1, 28, 28)
        self.train_labels_ = torch.as_tensor(data.train_y).to(device)
        self.pairs_ = torch.as_tensor(pairs, dtype=torch.long).to(device)  # (P, 2N)
        self.pair_sums_ = (self.train_labels_[self.pairs_] * weights.to(device)).sum(1)
        self.test_images_ = _to_float(data.test_x).to(device)
        self.test_labels_ = torch.as_tensor(data.test_y).to(device)
        n_test = len(data.test_y) // self.n_img
        test_perm = np.random.default_rng(12345).permutation(len(data.test_y))[: n_test * self.n_img]
        self.test_pairs_ = torch.as_tensor(test_perm.reshape(n_test, self.n_img)).to(device)
        self.weights_ = weights.to(device)
        self.constraint()

    def describe(self) -> dict:
        return {"mnist": getattr(self, "source_", None), "n_train_examples": int(len(self.pairs_)),
                "n_test_examples": int(len(self.test_pairs_))}

    def train_batches(self, batch_size: int, generator: torch.Generator):
        P = len(self.pairs_)
        order = torch.randperm(P, generator=generator).to(self.pairs_.device)
        for start in range(0, P, batch_size):
            sel = self.pairs_[order[start : start + batch_size]]  # (B, 2N)
            sums = self.pair_sums_[order[start : start + batch_size]]
            yield Batch(x=self.train_images_[sel], evidence=self.evidence_for(sums),
                        labels={"digit": self.train_labels_[sel]}, target=sums)

    @torch.no_grad()
    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        preds = []
        for start in range(0, len(self.test_images_), 2000):
            x = self.test_images_[start : start + 2000].unsqueeze(1)  # (b, 1, 1, 28, 28)
            preds.append(net(x)["digit"].squeeze(1).argmax(-1))
        pred = torch.cat(preds)
        digit_acc = (pred == self.test_labels_).float().mean().item()
        w = self.weights_
        true_sum = (self.test_labels_[self.test_pairs_] * w).sum(1)
        pred_sum = (pred[self.test_pairs_] * w).sum(1)
        sum_acc = (pred_sum == true_sum).float().mean().item()
        return {"digit_acc": 100.0 * digit_acc, "sum_acc": 100.0 * sum_acc}


def _to_float(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) normalised as DeepProbLog's MNIST ((x - 0.5) / 0.5)."""
    x = torch.as_tensor(images, dtype=torch.float32).div_(255.0)
    return x.sub_(0.5).div_(0.5).unsqueeze(1)
