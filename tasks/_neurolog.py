"""The shared base of the NeuroLog tasks (add2x2, member, apply2x2): MNIST digits from
:mod:`tasks.mnist_data`, the paper's data files and subset, batching and the digit accuracy.

The tasks are NeuroLog's (Tsamoura et al., AAAI 2021) as run by CL-STE (Yang, Lee, Park, ICML
2022), with the paper's encodings (docs/method.md "Encodings", ``cnf/*.cnf`` of the reference);
each has its module: :mod:`tasks.add2x2`, :mod:`tasks.member`, :mod:`tasks.apply2x2`.

Data: ``n_train`` training examples (3,000, as the paper) taken from the paper's file when
``data_file`` is given (a path, or ``paper``: the file in ``--data-dir clste=DIR``, and for apply2x2
its ``hasy/`` folder unless ``--data-dir operators=DIR`` is given) (rows chosen with ``np.random.seed(1);
np.random.choice(rows, 3000,
replace=False)``, the reference's ``main.py``, so the same in every run), or generated per seed
from the training digits (add2x2, member: positives with probability 0.75 as in the paper's files;
apply2x2: digits 0..9 and operator images drawn uniformly). Test: every MNIST test digit (operator
test image for apply2x2): ``digit_acc`` / ``op_acc``, the paper's metric. Operator images come from
``--data-dir operators=DIR`` (HASY as in the paper, or another set; :mod:`tasks.operators`) or, by
default, from a *synthetic* procedural set.

Defaults are the paper's (docs/method.md "The paper's settings"): batch 1, lr 0.0005, 3 epochs; CL-STE weights (w_cnf,
w_bound) = (1, 0.1) for b_p + iSTE and per task for b(x): add2x2 and apply2x2 (1, 5), member(3)
(0.1, 0.1), member(5) (1, 0.4) with 10 epochs.

MNIST is normalised as the reference's (mean 0.1307, std 0.3081); the HASY operators as
(x - 0.5) / 0.5. Known difference from the reference: the apply2x2 L_cnf pooling above.

The DeepProbLog programs (``Constraint.programs["problog"]``) take the label as the query's last arguments
(the batch's ``target``); each task module has its own.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from harness.api import Batch, Constraint, Task, shuffled_batches
from harness.errors import UserError

from ._files import read_rows
from .mnist_data import load_mnist, to_float
from .nets import LeNet, PerImage

N_TRAIN = 3000
PAPER_TRAIN = {"epochs": 3, "batch_size": 1, "lr": 5e-4}


DIGIT_NN = "nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y)."


def resolve_data_file(task: Task, name: str) -> str:
    """``data_file``: a path, or "paper" for the paper's file ``name`` in ``--data-dir clste=DIR``."""
    path = task.tp["data_file"]
    if path == "paper":
        if "clste" not in task.data_dirs:
            raise UserError(
                f"{task.key}: data_file=paper reads {name} from the paper's data directory; pass "
                "--data-dir clste=DIR (or give data_file=PATH)"
            )
        path = os.path.join(task.data_dirs["clste"], name)
    return path


def paper_subset(n_rows: int, n: int) -> np.ndarray:
    """The reference's subset: np.random.seed(1); np.random.choice(n_rows, n, replace=False)."""
    if n == 0 or n >= n_rows:
        return np.arange(n_rows)
    return np.random.RandomState(1).choice(n_rows, n, replace=False)


class _Grid(torch.nn.Module):
    """Applies a classifier to each image and repeats the logits into slots:
    x (B, I, 1, H, W) -> {group: (B, len(slots), K)}."""

    def __init__(self, classifier: torch.nn.Module, group: str, slots: list[int]):
        super().__init__()
        self.inner = PerImage(classifier, group)
        self.group = group
        self.register_buffer("slots", torch.tensor(slots), persistent=False)

    def forward(self, x):
        return {self.group: self.inner(x)[self.group][:, self.slots]}


class _NeuroLogTask(Task):
    """What the three tasks share: MNIST loading, paper subset, batching, digit accuracy."""

    train_defaults = dict(PAPER_TRAIN)
    main_metric = "digit_acc"
    n_fields = 0
    tiny_params = {"n_train": 32}  # the conformance checks' instance
    param_bounds = {"n_train": (0, None)}  # 0: every row of data_file

    def __init__(self, data_dirs=None, **tp):
        super().__init__(data_dirs, **tp)
        if self.tp["n_train"] == 0 and not self.tp["data_file"]:
            raise UserError(f"{self.key}: n_train=0 (all rows) needs a data_file")
        self._constraint = None

    def constraint(self) -> Constraint:
        if self._constraint is None:
            self._constraint = self.build_constraint()
        return self._constraint

    def network(self) -> torch.nn.Module:
        return PerImage(LeNet(10), "digit")

    def _file_rows(self) -> np.ndarray:
        """The chosen rows of ``data_file`` (the reference's subset of ``n_train`` rows)."""
        rows = read_rows(resolve_data_file(self, self.paper_file), self.n_fields, self.key)
        return rows[paper_subset(len(rows), self.tp["n_train"])]

    def validate(self) -> None:
        """The MNIST files and the data file (read and checked as ``setup`` does)."""
        data = load_mnist(self.data_dirs.get("mnist"))
        if self.tp["data_file"]:
            rows = self._file_rows()
            self._check_rows(rows, data)
            self.evidence_rows(rows)

    def _digits(self, seed: int, device: torch.device):
        data = load_mnist(self.data_dirs.get("mnist"))
        self.source_ = data.source
        if self.tp["data_file"]:
            rows = self._file_rows()
        else:
            rows = self.generate(np.random.default_rng(seed), data.train_y)
        self.train_images_ = to_float(data.train_x).to(device)
        self.train_labels_ = torch.as_tensor(data.train_y).to(device)
        self.test_images_ = to_float(data.test_x).to(device)
        self.test_labels_ = torch.as_tensor(data.test_y).to(device)
        return rows, data

    def check_indices(self, idx: np.ndarray, n: int, what: str) -> None:
        if idx.min() < 0 or idx.max() >= n:
            bad = int(np.flatnonzero((idx < 0).any(1) | (idx >= n).any(1))[0])
            raise UserError(
                f"{self.key}: data_file row {bad + 1} (of the chosen subset) indexes outside the {n} "
                f"{what} (the paper's files index the full MNIST / the HASY folder: pass --mnist-dir "
                "or --data-dir operators=DIR)"
            )

    def _check_rows(self, rows: np.ndarray, data) -> tuple[np.ndarray, np.ndarray]:
        """(image indices, labels) of the rows, checked against the MNIST training digits."""
        k = self.n_images
        idx = rows[:, :k]
        self.check_indices(idx, len(data.train_y), "training digits")
        target = rows[:, k:]
        gold = self.targets_from_digits(data.train_y[idx], rows)
        bad = np.flatnonzero((gold != target).any(1))
        if len(bad):
            raise UserError(
                f"{self.key}: data_file row {bad[0] + 1} (of the chosen subset): labels {target[bad[0]].tolist()} "
                f"disagree with the digits' classes (expected {gold[bad[0]].tolist()}); wrong MNIST?"
            )
        return idx, target

    def setup(self, seed: int, device: torch.device) -> None:
        rows, data = self._digits(seed, device)
        idx, target = self._check_rows(rows, data)
        self.idx_ = torch.as_tensor(idx).to(device)
        self.evidence_ = self.evidence_rows(rows).to(device)
        self.target_ = torch.as_tensor(target).to(device)  # the label, DeepProbLog's query arguments
        self.constraint()

    def describe(self) -> dict:
        return {
            "mnist": getattr(self, "source_", None),
            "n_train_examples": int(len(self.idx_)),
            "data_file": self.tp["data_file"] or "generated",
        }

    def train_batches(self, batch_size: int, generator: torch.Generator, epoch: int = 1):
        for o in shuffled_batches(len(self.idx_), batch_size, generator, self.idx_.device):
            sel = self.idx_[o]
            yield Batch(
                x=self.train_images_[sel],
                evidence=self.evidence_[o],
                labels={"digit": self.train_labels_[sel]},
                target=self.target_[o],
            )

    @torch.no_grad()
    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        preds = []
        for start in range(0, len(self.test_images_), 2000):
            x = self.test_images_[start : start + 2000].unsqueeze(1)  # (b, 1, 1, 28, 28)
            preds.append(net(x)["digit"][:, 0].argmax(-1))
        acc = (torch.cat(preds) == self.test_labels_).float().mean().item()
        return {"digit_acc": 100.0 * acc}
