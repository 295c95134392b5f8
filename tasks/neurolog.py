"""The NeuroLog benchmarks of the CL-STE paper: add2x2, apply2x2 and member(n).

Tasks of NeuroLog (Tsamoura et al., AAAI 2021) as run by CL-STE (Yang, Lee, Park, ICML 2022;
PAPER.md 4.2), with the paper's encodings (PAPER.md section 2, ``cnf/*.cnf`` of the reference):

- ``add2x2``: a 2x2 grid of MNIST digits [o0 o1; o2 o3] labelled with its row and column sums.
  Atoms: ``digit(i,k)`` (40), ``aux(p,d1,d2)`` (4 x 100, derived: the conjunction of the pair's
  digits, pairs (o0,o1), (o2,o3), (o0,o2), (o1,o3)), ``sum(p,l)`` (4 x 19); per pair and l one clause
  ``-sum(p,l) | OR aux(p,d1,d2) with d1 + d2 = l``: 516 atoms, 76 clauses (``add2x2_UEC.cnf``'s
  atoms; its 184 exactly-one clauses are CL-STE's own for the b(x) variants, uec=auto).
- ``apply2x2``: three given digits d1, d2, d3 and a 2x2 grid of operator images (+, -, x); the
  labels are the rows' and columns' results of ``(d1 op d2) op d3``, left to right. The reference
  evaluates its CNF (9 ``operators(o0,o1)`` + 10,597 ``apply(d0,d1,d2,r)`` atoms for d in 0..10,
  one clause ``-apply(d0,d1,d2,r) | OR operators(o0,o1) giving r`` per apply atom) once per row and
  column, each on its own two images; here the four copies form one CNF over 8 operator slots
  (row 1: o1 o2, row 2: o3 o4, column 1: o1 o3, column 2: o2 o4; the network's 4 outputs are
  repeated into the slots), so each slot has its own exactly-one clauses as in
  ``apply2x2_UEC.cnf``. One difference remains: the reference sums four L_cnf, one per row, while
  this one CNF takes L_unsat and L_sat as means over the four rows' clauses together (L_deduce and
  L_bound are the same).
- ``member``: n MNIST images (task parameter ``n``: 3 or 5) and a digit d; the label says whether d
  is among them. Atoms ``digit(i,k)`` (10n) and ``in(d,b)`` (20); clauses per d:
  ``-in(d,1) | digit(0,d) | ... | digit(n-1,d)`` and ``-in(d,0) | -digit(i,d)`` for each i:
  10(1+n) clauses (``member3.cnf``: 50 atoms, 40 clauses; ``member5.cnf``: 70, 60).

Data: ``n_train`` training examples (3,000, as the paper) taken from the paper's file when
``data_file`` is given (a path, or ``paper``: the file in ``--data-dir clste=DIR``, and for apply2x2
its ``hasy/`` folder unless ``--data-dir operators=DIR`` is given) (rows chosen with ``np.random.seed(1); np.random.choice(rows, 3000,
replace=False)``, the reference's ``main.py``, so the same in every run), or generated per seed
from the training digits (add2x2, member: positives with probability 0.75 as in the paper's files;
apply2x2: digits 0..9 and operator images drawn uniformly). Test: every MNIST test digit (operator
test image for apply2x2): ``digit_acc`` / ``op_acc``, the paper's metric. Operator images come from
``--data-dir operators=DIR`` (HASY as in the paper, or another set; :mod:`tasks.operators`) or, by
default, from a *synthetic* procedural set.

Defaults are the paper's (PAPER.md 4.2): batch 1, lr 0.0005, 3 epochs; CL-STE weights (w_cnf,
w_bound) = (1, 0.1) for b_p + iSTE and per task for b(x): add2x2 and apply2x2 (1, 5), member(3)
(0.1, 0.1), member(5) (1, 0.4) with 10 epochs.

MNIST is normalised as the reference's (mean 0.1307, std 0.3081); the HASY operators as
(x - 0.5) / 0.5. Known difference from the reference: the apply2x2 L_cnf pooling above.

DeepProbLog programs (``Constraint.problog``; the query's last arguments are the label, the batch's
``target``): member(n) ``member(X_0..X_{n-1}, D, L)`` with ``has(.., D)`` true when some image is D
and ``L = 0`` through negation as failure (20 queries, compiled in ``prepare``); add2x2
``add2x2(X_0..X_3, R1, R2, C1, C2)`` over the four sums (one compiled query per distinct label of
the training rows). apply2x2 has none (its network's slots repeat the four images, which a program
over the slots would treat as eight independent operators): DeepProbLog skips it.

Version history: v1, first release.
"""
from __future__ import annotations

import itertools
import os

import numpy as np
import torch

from harness.api import Batch, Constraint, NeuralGroup, Task, shuffled_batches
from harness.cnf import CNFBuilder
from harness.errors import UserError
from harness.registry import register_task

from ._files import read_rows
from .asp_programs import add2x2_asp, member_asp
from .mnist_add import _to_float
from .mnist_data import load_mnist
from .nets import LeNet, PerImage
from .operators import SIDE, load_operators

N_TRAIN = 3000
PAPER_TRAIN = {"epochs": 3, "batch_size": 1, "lr": 5e-4}
BP = {"w_cnf": 1.0, "w_bound": 0.1}


DIGIT_NN = "nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y)."
# each sum is checked as soon as its digits are chosen, so grounding a query visits at most 100 branches
ADD2X2_PROBLOG = (DIGIT_NN + "\n"
                  "add2x2(X0,X1,X2,X3,R1,R2,C1,C2) :- digit(X0,D0), digit(X1,D1), R1 is D0+D1, digit(X2,D2), "
                  "C1 is D0+D2, digit(X3,D3), R2 is D2+D3, C2 is D1+D3.\n")


def member_problog(n: int) -> str:
    """member(n) for DeepProbLog: ``member(X_0..X_{n-1}, D, 1)`` iff some image shows D, ``.., D, 0)``
    otherwise (negation as failure)."""
    xs = ",".join(f"X{i}" for i in range(n))
    lines = [DIGIT_NN] + [f"has({xs},D) :- digit(X{i},D)." for i in range(n)]
    lines += [f"member({xs},D,1) :- has({xs},D).", f"member({xs},D,0) :- \\+has({xs},D)."]
    return "\n".join(lines) + "\n"


def resolve_data_file(task: Task, name: str) -> str:
    """``data_file``: a path, or "paper" for the paper's file ``name`` in ``--data-dir clste=DIR``."""
    path = task.tp["data_file"]
    if path == "paper":
        if "clste" not in task.data_dirs:
            raise UserError(f"{task.key}: data_file=paper reads {name} from the paper's data directory; pass "
                            "--data-dir clste=DIR (or give data_file=PATH)")
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

    def __init__(self, data_dirs=None, **tp):
        super().__init__(data_dirs, **tp)
        if self.tp["n_train"] < 0:
            raise UserError(f"{self.key}: n_train must be >= 0 (0 = every row of data_file), got {self.tp['n_train']}")
        if self.tp["n_train"] == 0 and not self.tp["data_file"]:
            raise UserError(f"{self.key}: n_train=0 (all rows) needs a data_file")
        self._constraint = None

    def constraint(self) -> Constraint:
        if self._constraint is None:
            self._constraint = self.build_constraint()
        return self._constraint

    def network(self) -> torch.nn.Module:
        return PerImage(LeNet(10), "digit")

    def _digits(self, seed: int, device: torch.device):
        data = load_mnist(self.data_dirs.get("mnist"))
        self.source_ = data.source
        if self.tp["data_file"]:
            rows = read_rows(resolve_data_file(self, self.paper_file), self.n_fields, self.key)
            rows = rows[paper_subset(len(rows), self.tp["n_train"])]
        else:
            rows = self.generate(np.random.default_rng(seed), data.train_y)
        self.train_images_ = _to_float(data.train_x).to(device)
        self.train_labels_ = torch.as_tensor(data.train_y).to(device)
        self.test_images_ = _to_float(data.test_x).to(device)
        self.test_labels_ = torch.as_tensor(data.test_y).to(device)
        return rows, data

    def check_indices(self, idx: np.ndarray, n: int, what: str) -> None:
        if idx.min() < 0 or idx.max() >= n:
            bad = int(np.flatnonzero((idx < 0).any(1) | (idx >= n).any(1))[0])
            raise UserError(f"{self.key}: data_file row {bad + 1} (of the chosen subset) indexes outside the {n} "
                            f"{what} (the paper's files index the full MNIST / the HASY folder: pass --mnist-dir "
                            "or --data-dir operators=DIR)")

    def setup(self, seed: int, device: torch.device) -> None:
        rows, data = self._digits(seed, device)
        k = self.n_images
        idx = rows[:, :k]
        self.check_indices(idx, len(data.train_y), "training digits")
        target = rows[:, k:]
        gold = self.targets_from_digits(data.train_y[idx], rows)
        bad = np.flatnonzero((gold != target).any(1))
        if len(bad):
            raise UserError(f"{self.key}: data_file row {bad[0] + 1} (of the chosen subset): labels {target[bad[0]].tolist()} "
                            f"disagree with the digits' classes (expected {gold[bad[0]].tolist()}); wrong MNIST?")
        self.idx_ = torch.as_tensor(idx).to(device)
        self.evidence_ = self.evidence_rows(rows).to(device)
        self.target_ = torch.as_tensor(target).to(device)  # the label, DeepProbLog's query arguments
        self.constraint()

    def describe(self) -> dict:
        return {"mnist": getattr(self, "source_", None), "n_train_examples": int(len(self.idx_)),
                "data_file": self.tp["data_file"] or "generated"}

    def train_batches(self, batch_size: int, generator: torch.Generator):
        for o in shuffled_batches(len(self.idx_), batch_size, generator, self.idx_.device):
            sel = self.idx_[o]
            yield Batch(x=self.train_images_[sel], evidence=self.evidence_[o],
                        labels={"digit": self.train_labels_[sel]}, target=self.target_[o])

    @torch.no_grad()
    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        preds = []
        for start in range(0, len(self.test_images_), 2000):
            x = self.test_images_[start : start + 2000].unsqueeze(1)  # (b, 1, 1, 28, 28)
            preds.append(net(x)["digit"][:, 0].argmax(-1))
        acc = (torch.cat(preds) == self.test_labels_).float().mean().item()
        return {"digit_acc": 100.0 * acc}


@register_task
class Add2x2(_NeuroLogTask):
    key = "add2x2"
    version = 1
    params = {
        "n_train": N_TRAIN,  # training examples (the paper: 3,000); 0 = every row of data_file
        "data_file": "",  # add2x2_train.txt (rows i1 i2 i3 i4 r1 r2 c1 c2); "paper": in --data-dir clste; "": generate
    }
    method_defaults = {"cl-ste": dict(BP), "cl-ste|ste=b-iste": {"w_cnf": 1.0, "w_bound": 5.0},
                       "cl-ste|ste=b-sste": {"w_cnf": 1.0, "w_bound": 5.0}}
    n_images, n_fields, paper_file = 4, 8, "add2x2_train.txt"
    PAIRS = ((0, 1), (2, 3), (0, 2), (1, 3))  # r1, r2, c1, c2

    def setup(self, seed: int, device: torch.device) -> None:
        super().setup(seed, device)
        # DeepProbLog compiles one query per label: those of the training rows, not all 19^4
        self.constraint().meta["problog_targets"] = sorted({tuple(r) for r in self.target_.tolist()})

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
        return Constraint(cnf, [NeuralGroup("digit", torch.arange(40).reshape(4, 10))], derived=derived,
                          problog=ADD2X2_PROBLOG, asp=add2x2_asp(self.PAIRS),
                          meta={"encoding": "paper (add2x2.cnf)", "problog_query": "add2x2",
                                "problog_targets": []})  # set by setup from the training rows

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
    method_defaults = {"cl-ste": dict(BP),
                       "cl-ste|ste=b-iste|n=3": {"w_cnf": 0.1, "w_bound": 0.1},
                       "cl-ste|ste=b-sste|n=3": {"w_cnf": 0.1, "w_bound": 0.1},
                       "cl-ste|ste=b-iste|n=5": {"w_cnf": 1.0, "w_bound": 0.4, "_train": {"epochs": 10}},
                       "cl-ste|ste=b-sste|n=5": {"w_cnf": 1.0, "w_bound": 0.4, "_train": {"epochs": 10}}}
    size_param = "n"

    def __init__(self, data_dirs=None, **tp):
        super().__init__(data_dirs, **tp)
        if not 1 <= self.tp["n"] <= 9:
            raise UserError(f"member: n must be in 1..9 (the paper: 3 or 5), got {self.tp['n']}")
        if not 0.0 <= self.tp["p_positive"] <= 1.0:
            raise UserError(f"member: p_positive must be in [0, 1], got {self.tp['p_positive']}")
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
        return Constraint(cnf, [NeuralGroup("digit", torch.arange(10 * n).reshape(n, 10))],
                          problog=member_problog(n), asp=member_asp(n),
                          meta={"encoding": f"paper (member{n}.cnf)", "problog_query": "member",
                                "problog_targets": [(d, lab) for d in range(10) for lab in (0, 1)]})

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
    method_defaults = {"cl-ste": dict(BP), "cl-ste|ste=b-iste": {"w_cnf": 1.0, "w_bound": 5.0},
                       "cl-ste|ste=b-sste": {"w_cnf": 1.0, "w_bound": 5.0}}
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
        return Constraint(b.build(), [NeuralGroup("op", torch.arange(24).reshape(8, 3))], derived=derived,
                          meta={"encoding": "paper (apply2x2.cnf), one copy per row and column"})

    def network(self) -> torch.nn.Module:
        return _Grid(LeNet(3, side=SIDE), "op", self.SLOTS)

    def setup(self, seed: int, device: torch.device) -> None:
        op_dir = self.data_dirs.get("operators")
        if not op_dir and self.tp["data_file"] == "paper" and "clste" in self.data_dirs:
            op_dir = os.path.join(self.data_dirs["clste"], "hasy")  # the folder the paper's file indexes
        ops = load_operators(op_dir)
        self.op_source_ = ops.source
        if self.tp["data_file"]:
            rows = read_rows(resolve_data_file(self, self.paper_file), self.n_fields, self.key)
            rows = rows[paper_subset(len(rows), self.tp["n_train"])]
        else:
            rng = np.random.default_rng(seed)
            P = self.tp["n_train"]
            rows = np.concatenate([rng.integers(0, 10, (P, 3)), rng.integers(0, len(ops.train_y), (P, 4)),
                                   np.zeros((P, 4), dtype=np.int64)], 1)
            rows[:, 7:] = self._results(rows[:, :3], ops.train_y[rows[:, 3:7]])
        idx = rows[:, 3:7]
        self.check_indices(idx, len(ops.train_y), "operator training images")
        if rows[:, :3].min() < 0 or rows[:, :3].max() >= self.DIGITS:
            raise UserError(f"apply2x2: digits must be in 0..{self.DIGITS - 1}")
        gold = self._results(rows[:, :3], ops.train_y[idx])
        bad = np.flatnonzero((gold != rows[:, 7:]).any(1))
        if len(bad):
            raise UserError(f"apply2x2: data_file row {bad[0] + 1} (of the chosen subset): results "
                            f"{rows[bad[0], 7:].tolist()} disagree with the operator images' classes (expected "
                            f"{gold[bad[0]].tolist()}); is the operators folder the one the file indexes?")
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
        return np.stack([_apply(d[:, 0], o[:, a], d[:, 1], o[:, b], d[:, 2])
                         for a, b in ((0, 1), (2, 3), (0, 2), (1, 3))], 1)

    def describe(self) -> dict:
        return {"operators": getattr(self, "op_source_", None), "n_train_examples": int(len(self.idx_)),
                "n_test_images": int(len(self.test_labels_)), "data_file": self.tp["data_file"] or "generated"}

    def train_batches(self, batch_size: int, generator: torch.Generator):
        slots = torch.tensor(self.SLOTS, device=self.idx_.device)
        for o in shuffled_batches(len(self.idx_), batch_size, generator, self.idx_.device):
            sel = self.idx_[o]  # (B, 4)
            yield Batch(x=self.train_images_[sel], evidence=self.evidence_[o],
                        labels={"op": self.train_labels_[sel][:, slots]})

    @torch.no_grad()
    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        logits = net.inner.classifier(self.test_images_)  # (N, 3)
        acc = (logits.argmax(-1) == self.test_labels_).float().mean().item()
        return {"op_acc": 100.0 * acc}


def _ops_float(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32) -> float (N, 1, 32, 32), normalised as the reference ((x - 0.5) / 0.5)."""
    x = torch.as_tensor(images, dtype=torch.float32).div_(255.0)
    return x.sub_(0.5).div_(0.5).unsqueeze(1)
