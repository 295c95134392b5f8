"""MNIST addition: two N-digit numbers written as MNIST images, labelled only with their sum.

Task of DeepProbLog (Manhaeve et al. 2018) and of the CL-STE paper (docs/method.md "The paper's settings"). An example
is
2N images: the N digits of the first number (most significant first), then those of the second.
The label is the sum. The network (the LeNet of docs/method.md "The paper's settings") classifies each image; it never
sees a
digit label unless the method is the supervised ceiling.

Encoding ``paper`` (docs/method.md "Encodings", ``mnistAdd*.cnf``): atoms ``digit(i,k)`` for the network's
outputs, one derived conjunction atom ``aux(d_0..d_2N-1)`` per combination of digit values (the
reference's ``aux``/``predict``), and ``sum(r)``; for each r one clause
``-sum(r) | OR of aux(combination) whose numbers add up to r``. It has 10^(2N) atoms: it is listed
for N <= 2; for N = 3 and 4 its clauses are generated per example (:mod:`tasks.mnist_add_paper`:
an example's own sum's clause holds at most 10^N combinations); N > 4 is refused.

Encoding ``compact`` (:func:`compact_encoding`): column addition with carry atoms, linear in N
(134 atoms / 60 clauses at N = 1, 2,010 / 1,222 at N = 15); the evidence is the sum's N+1
decimal digits. ``auto`` (default) takes ``paper`` for N <= 2, to reproduce the paper, and
``compact`` above.

Encoding ``column`` (:mod:`tasks.mnist_add_encodings`): also linear in N, one clause per column that
fixes the column's total through derived "carry-in AND digit pair" atoms, and no clause on a carry
alone; the one CL-STE learns from at every N (docs/mnist-add-scaling.md says why).

``top_epochs=E`` (column encoding only) gives, in the first E training epochs, only the top column's
total as evidence (the sum's two leading digits), the other columns' clauses then unused: a curriculum
under which CL-STE learns the digits from the one column that tells them apart before it sees the
columns whose clauses are mod 10 (docs/mnist-add-scaling.md). ``top_until=A`` ends that phase by what
training shows instead of a count of epochs, so that one setting serves every N: the phase lasts until
an epoch in which the argmax digits got the top column's total right on a fraction A of the training
sums (read from the training evidence, never from a digit label); rows record that fraction
(``train_top_acc``) and the phase (``top_phase``) per epoch.

``holdout=K`` keeps K training digits (one fixed draw) out of training and scores on them instead of
the test set: the validation split for tuning.

Data (the field's protocol at every N): training examples are drawn per seed as a random permutation
of the training digits cut into consecutive groups of 2N, each digit image used once: floor(60000 / 2N)
training sums on full MNIST (30,000 at N = 1, 300 at N = 100), and floor(10000 / 2N) test sums (50 at
N = 100: one test sum is 2 points of accuracy), or read from the paper's index files (``pairs_file``: rows ``i_1 .. i_2N
sum`` indexing
the full MNIST training set, e.g. ``mnistAdd_train.txt``; ``pairs_file=paper`` reads
``mnistAdd_train.txt``, ``mnistAdd2_train.txt`` or ``mnistAdd3_train.txt`` from ``--data-dir
clste``). Test examples: the test digits in a
fixed permutation (seed 12345) cut into groups of 2N, the same for every run.

Metrics: ``digit_acc`` on every test digit, ``sum_acc`` on the test examples (the sum of the
numbers read from the predicted digits equals the true sum).
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import torch

from harness.api import Batch, Constraint, NeuralGroup, Program, Task, shuffled_batches
from harness.cnf import CNF, CNFBuilder
from harness.errors import UserError
from harness.registry import register_task

from ._files import read_int_rows
from .asp_programs import mnist_add_asp
from .mnist_add_encodings import column_encoding, column_targets
from .mnist_add_paper import check_size, sparse_paper_constraint
from .mnist_data import load_mnist
from .mnist_data import to_float as _to_float
from .nets import LeNet, PerImage

MAX_PAPER_DIGITS = 2  # the paper encoding is listed up to here, generated per example beyond
MAX_DIGITS = 500  # N beyond this leaves full MNIST's 10,000 test digits fewer than 10 test sums


#: the most digits whose numbers fit an int64 place value (10^18); only small-N helpers use them
INT64_DIGITS = 18


def number_weights(n_digits: int) -> np.ndarray:
    """Place values of the 2N images: [10^(N-1) .. 1, 10^(N-1) .. 1], int64, for N <= 18 only
    (the paper encoding's enumeration and small hand-worked cases; sums are added as digits)."""
    if n_digits > INT64_DIGITS:
        raise ValueError(f"number_weights: 10^{n_digits - 1} does not fit an int64; add digits with add_numbers")
    w = 10 ** np.arange(n_digits - 1, -1, -1)
    return np.concatenate([w, w]).astype(np.int64)


def add_numbers(digits: torch.Tensor) -> torch.Tensor:
    """Column addition, exact at any N: (B, 2N) digits of two numbers (each most significant first,
    the first number's N digits then the second's) -> (B, N+1) digits of their sum, least
    significant first. No number is formed, so nothing overflows."""
    n = digits.shape[-1] // 2
    a, b = digits[..., :n].flip(-1), digits[..., n:].flip(-1)  # least significant first
    out = torch.empty(*digits.shape[:-1], n + 1, dtype=torch.long, device=digits.device)
    carry = torch.zeros(digits.shape[:-1], dtype=torch.long, device=digits.device)
    for j in range(n):
        t = a[..., j] + b[..., j] + carry
        out[..., j] = t % 10
        carry = t // 10
    out[..., n] = carry
    return out


def digits_to_ints(digits: torch.Tensor) -> list[int]:
    """(B, K) decimal digits, least significant first -> B Python integers (exact at any K)."""
    rows = digits.flip(-1).cpu().numpy().astype(np.uint8) + ord("0")
    return [int(r.tobytes().decode()) for r in rows] if rows.shape[-1] else [0] * len(rows)


def sum_digits(sums, n_digits: int) -> torch.Tensor:
    """Sums (B,), Python integers or an integer tensor -> (B, N+1) decimal digits, least significant
    first, on the tensor's device. Exact at any N; a sum outside 0 .. 2 (10^N - 1) is a ValueError."""
    device = sums.device if isinstance(sums, torch.Tensor) else None
    vals = [int(v) for v in (sums.tolist() if isinstance(sums, torch.Tensor) else sums)]
    top = 2 * (10**n_digits - 1)
    bad = [v for v in vals if not 0 <= v <= top]
    if bad:
        raise ValueError(f"sum {bad[0]} is not the sum of two {n_digits}-digit numbers (0 .. {top})")
    text = "".join(str(v).zfill(n_digits + 1)[::-1] for v in vals).encode()
    out = torch.frombuffer(bytearray(text), dtype=torch.uint8).long() - ord("0") if vals else torch.zeros(0)
    return out.reshape(len(vals), n_digits + 1).to(device or "cpu")


def paper_encoding(n_digits: int) -> tuple[CNF, torch.Tensor, torch.Tensor, np.ndarray]:
    """The paper's encoding. Returns (cnf, digit atoms (2N, 10), derived rows, sum atom columns)."""
    if n_digits > MAX_PAPER_DIGITS:
        raise UserError(
            f"mnist-add: the paper encoding has 10^(2N) atoms ({10 ** (2 * n_digits):,} at N={n_digits}); "
            f"it is limited to N <= {MAX_PAPER_DIGITS}"
        )
    n_img = 2 * n_digits
    names = [f"digit({i},{k})" for i in range(n_img) for k in range(10)]
    digit_atoms = torch.arange(n_img * 10).reshape(n_img, 10)
    combos = np.array(list(itertools.product(range(10), repeat=n_img)), dtype=np.int64)  # (10^2N, 2N)
    aux0 = len(names)
    names += ["aux(" + ",".join(map(str, c)) + ")" for c in combos]
    n_sums = 2 * (10**n_digits - 1) + 1
    sum0 = len(names)
    names += [f"sum({r})" for r in range(n_sums)]
    values = combos @ number_weights(n_digits)
    clauses = []
    for r in range(n_sums):
        members = np.flatnonzero(values == r)
        clauses.append(tuple([-(sum0 + r + 1)] + [int(aux0 + j + 1) for j in members]))
    derived = torch.cat(
        [torch.arange(aux0, aux0 + len(combos)).unsqueeze(1), torch.as_tensor(combos + 10 * np.arange(n_img))], dim=1
    )
    cnf = CNF(len(names), clauses, names)
    return cnf, digit_atoms, derived, np.arange(sum0, sum0 + n_sums)


def compact_encoding(n_digits: int) -> tuple[CNF, torch.Tensor, torch.Tensor, list, np.ndarray]:
    """The compact encoding: column addition with carries; its size grows linearly in N.

    Position j = 0..N-1 counts from the least significant digit; its images are a_j = N-1-j (first
    number) and b_j = 2N-1-j (second). Atoms, in this order:

    - ``digit(i,k)`` (2N x 10): the network's outputs;
    - ``pair(j,d1,d2)`` (100 N): derived, digit(a_j,d1) AND digit(b_j,d2) (``Constraint.derived``);
    - ``big(j)`` (j < N): derived "or" of the pairs with d1 + d2 >= 10; ``nine(j)`` (0 < j < N): of
      those with d1 + d2 = 9; ``carry(j)`` (1 <= j <= N), the carry into position j: carry(1) = big(0),
      carry(j+1) = big(j) OR t(j); ``t(j)`` (0 < j < N) = nine(j) AND carry(j)  (``derived_ops``);
    - ``sdig(j,s)``: digit j of the sum (s in 0..9 for j < N; s in {0,1} for j = N), the evidence.

    Clauses: the definitions of big, nine, t and carry as equivalences (so that the latent atoms are
    functions of the digits and a model count over them is exact; the pair atoms' definitions are
    left out as in the paper encoding, methods substitute or compute them), and per position
    ``-sdig(0,s) | OR pair(0,d1,d2) with d1+d2 = s mod 10``; for j >= 1 and carry-in x in {0,1},
    ``-sdig(j,s) | [carry(j) != x] | OR pair(j,d1,d2) with d1+d2+x = s mod 10``; and
    ``-sdig(N,1) | carry(N)``, ``-sdig(N,0) | -carry(N)``. On one-hot digits and the label's sum
    digits it holds exactly when the numbers add up to the label.

    Returns (cnf, digit atoms (2N, 10), derived pair rows (100N, 3), derived_ops, sum-digit columns
    (N+1, 10), -1 where a digit value does not exist).
    """
    N = n_digits
    b = CNFBuilder()
    b.atoms(f"digit({i},{k})" for i in range(2 * N) for k in range(10))
    digit_atoms = torch.arange(2 * N * 10).reshape(2 * N, 10)

    def col(name):  # 0-based column
        return b.atom(name) - 1

    pair_rows = []
    for j in range(N):
        a_img, b_img = N - 1 - j, 2 * N - 1 - j
        for d1 in range(10):
            for d2 in range(10):
                pair_rows.append((col(f"pair({j},{d1},{d2})"), 10 * a_img + d1, 10 * b_img + d2))
    ors, chain = [], []

    def pairs(j, pred):
        return [f"pair({j},{d1},{d2})" for d1 in range(10) for d2 in range(10) if pred(d1 + d2)]

    def define(kind, name, comps):
        """name <-> and/or(comps) as clauses; returns the derived row."""
        b.define(kind, name, comps)
        return [col(name)] + [col(c) for c in comps]

    for j in range(N):
        ors.append(define("or", f"big({j})", pairs(j, lambda s: s >= 10)))
        if j > 0:
            ors.append(define("or", f"nine({j})", pairs(j, lambda s: s == 9)))
    chain.append(("or", [define("or", "carry(1)", ["big(0)"])]))
    for j in range(1, N):
        chain.append(("and", [define("and", f"t({j})", [f"nine({j})", f"carry({j})"])]))
        chain.append(("or", [define("or", f"carry({j + 1})", [f"big({j})", f"t({j})"])]))
    sum_cols = np.full((N + 1, 10), -1, dtype=np.int64)
    for j in range(N + 1):
        for s_ in range(10 if j < N else 2):
            sum_cols[j, s_] = col(f"sdig({j},{s_})")
    for j in range(N):
        for s_ in range(10):
            if j == 0:
                b.clause(f"-sdig(0,{s_})", *pairs(0, lambda t, s_=s_: t % 10 == s_))
            else:
                b.clause(f"-sdig({j},{s_})", f"carry({j})", *pairs(j, lambda t, s_=s_: t % 10 == s_))
                b.clause(f"-sdig({j},{s_})", f"-carry({j})", *pairs(j, lambda t, s_=s_: (t + 1) % 10 == s_))
    b.clause(f"-sdig({N},1)", f"carry({N})")
    b.clause(f"-sdig({N},0)", f"-carry({N})")
    width = max(len(r) for r in ors)
    ops = [("or", [r + [-1] * (width - len(r)) for r in ors])] + chain
    return b.build(), digit_atoms, torch.tensor(pair_rows), ops, sum_cols


def compact_blocks(cnf: CNF, n_digits: int) -> list[list[int]]:
    """The compact encoding's columns, least significant first, as atom columns: per position j
    its two digits, big, nine, t, the carry out of it and its sum digit; then the last sum digit.
    A compiler can follow the carry chain with it (``Constraint.hints["var_blocks"]``)."""
    N, names = n_digits, set(cnf.names)
    blocks = []
    for j in range(N + 1):
        want = [f"digit({img},{k})" for img in ((N - 1 - j, 2 * N - 1 - j) if j < N else ()) for k in range(10)]
        want += [f"big({j})", f"nine({j})", f"t({j})", f"carry({j + 1})"] + [f"sdig({j},{s})" for s in range(10)]
        blocks.append([cnf.index(a) - 1 for a in want if a in names])
    return blocks


def problog_program(n_digits: int, n_values: int = 10) -> str:
    """The DeepProbLog program for N-digit addition, in the style of DeepProbLog's own MNIST examples:
    a number is a list of digit images read most significant first (``number/3`` accumulates
    10 * Acc + digit), ``multi_addition(X, Y, Z)`` adds two such lists; the query's entry point
    ``addition(X_0, ..., X_2N-1, Z)`` passes the first N images and the last N as the two lists.
    Neural predicate digit/2 with the values 0 .. n_values - 1 (10; fewer make small test cases)."""
    n_img = 2 * n_digits
    args = ", ".join(f"X{i}" for i in range(n_img))
    a = ",".join(f"X{i}" for i in range(n_digits))
    b = ",".join(f"X{i}" for i in range(n_digits, n_img))
    values = ",".join(map(str, range(n_values)))
    lines = [
        f"nn(mnist_net,[X],Y,[{values}]) :: digit(X,Y).",
        "",
        "number([],Result,Result).",
        "number([H|T],Acc,Result) :- digit(H,Nr), Acc2 is Nr+10*Acc, number(T,Acc2,Result).",
        "number(X,Y) :- number(X,0,Y).",
        "",
        "multi_addition(X,Y,Z) :- number(X,X2), number(Y,Y2), Z is X2+Y2.",
        f"addition({args},Z) :- multi_addition([{a}],[{b}],Z).",
    ]
    return "\n".join(lines) + "\n"


@register_task
class MnistAdd(Task):
    key = "mnist-add"
    version = 1
    params = {
        "digits": 1,  # N: digits per number
        "n_pairs": 0,  # training examples; 0 = all (train digits // 2N: 30,000 on full MNIST at N=1)
        # the paper's index file (rows i_1..i_2N sum), or "paper" (--data-dir clste), read instead of drawing pairs
        "pairs_file": "",
        "holdout": 0,  # > 0: hold out this many training digits (fixed draw) and score on them, not on the test set
        "encoding": "auto",  # paper (10^(2N) atoms, N <= 4), compact or column (linear in N), auto: paper if N <= 2
        "top_epochs": 0,  # column encoding: the first E epochs give only the top column's total (a curriculum)
        # column encoding: only the top column's total until an epoch's argmax digits get it right this often
        "top_until": 0.0,
    }
    train_defaults = {"epochs": 1, "batch_size": 16, "lr": 1e-3}
    #: N up to 500: beyond, full MNIST's 10,000 test digits make fewer than 10 test sums
    param_bounds = {
        "digits": (1, MAX_DIGITS),
        "n_pairs": (0, None),
        "holdout": (0, None),
        "top_epochs": (0, None),
        "top_until": (0.0, 1.0),
    }
    main_metric = "sum_acc"
    size_param = "digits"
    tiny_params = {"n_pairs": 32}

    def __init__(self, data_dirs=None, **tp):
        super().__init__(data_dirs, **tp)
        n = self.tp["digits"]
        enc = self.tp["encoding"]
        if enc not in ("auto", "paper", "compact", "column"):
            raise UserError(f"mnist-add: unknown encoding {enc!r}; available: auto, paper, compact, column")
        if enc == "paper":
            check_size(n)
        if self.tp["pairs_file"] == "paper":
            self._pairs_path()  # a missing --data-dir clste is reported before any run starts
        self.encoding = enc if enc != "auto" else ("paper" if n <= MAX_PAPER_DIGITS else "compact")
        if self.tp["top_epochs"] and self.encoding != "column":  # (its bounds: param_bounds)
            raise UserError(f"mnist-add: top_epochs={self.tp['top_epochs']} needs encoding=column")
        until = self.tp["top_until"]
        if until and (self.encoding != "column" or self.tp["top_epochs"]):
            raise UserError(f"mnist-add: top_until={until} needs encoding=column and no top_epochs")
        self.n_img = 2 * n
        self._constraint = None

    # ---- constraint -----------------------------------------------------------------------
    def constraint(self) -> Constraint:
        if self._constraint is None:
            n = self.tp["digits"]
            ops = []
            hints = {"encoding": self.encoding}
            # the ProbLog query of an example: addition(images..., sum)
            programs = {"problog": Program(problog_program(n), "addition", range(2 * (10**n - 1) + 1))}
            if self.encoding == "paper" and n > MAX_PAPER_DIGITS:  # clauses generated per example
                self._constraint, self.sum_cols_ = sparse_paper_constraint(n, programs=programs, hints=hints)
                return self._constraint
            if self.encoding != "column":
                programs["asp"] = Program(mnist_add_asp(n, self.encoding))
            if self.encoding == "paper":
                cnf, digit_atoms, derived, sum_cols = paper_encoding(n)
            elif self.encoding == "column":
                cnf, digit_atoms, derived, ops, sum_cols = column_encoding(n)
            else:
                cnf, digit_atoms, derived, ops, sum_cols = compact_encoding(n)
            self.sum_cols_ = torch.as_tensor(sum_cols)
            self._constraint = Constraint(
                cnf,
                [NeuralGroup("digit", digit_atoms)],
                derived=derived,
                derived_ops=ops,
                hints=hints,
                programs=programs,
            )
            if self.encoding == "compact":
                self._constraint.hints["var_blocks"] = compact_blocks(cnf, n)
        return self._constraint

    def evidence_for(self, sums, top_only: bool = False) -> torch.Tensor:
        """(B,) sums (Python integers or an integer tensor) -> (B, n) evidence; see
        :meth:`evidence_from_digits`."""
        return self.evidence_from_digits(sum_digits(sums, self.tp["digits"]), top_only)

    def evidence_from_digits(self, digits: torch.Tensor, top_only: bool = False) -> torch.Tensor:
        """(B, N+1) sum digits, least significant first -> (B, n) evidence: sum(s) = 1 (paper),
        sdig(j, s_j) = 1 for each digit s_j of the sum (compact), or the columns' digits and the
        top column's total (column); every other atom unknown (as the reference). ``top_only``
        (column encoding): only the top column's total, the sum's lower digits unknown."""
        c = self.constraint()
        ev = torch.zeros(len(digits), c.n_atoms, device=digits.device)
        cols = self.sum_cols_.to(digits.device)
        rows = torch.arange(len(digits), device=digits.device)
        if self.encoding == "paper":  # N <= 4 (check_size): the sum is an index of a few digits
            place = 10 ** torch.arange(digits.shape[1], device=digits.device)
            ev[rows, cols[(digits * place).sum(1)]] = 1.0
        elif self.encoding == "column":  # sdig(j, s_j) for j < N-1, top(s_N-1 + 10 s_N)
            targets = column_targets(digits)  # (B, N)
            for j in range(targets.shape[1] - 1 if top_only else 0, targets.shape[1]):
                ev[rows, cols[j][targets[:, j]]] = 1.0
        else:
            for j in range(digits.shape[1]):
                ev[rows, cols[j][digits[:, j]]] = 1.0
        return ev

    def network(self) -> torch.nn.Module:
        return PerImage(LeNet(10, xavier=True), "digit")

    # ---- data ---------------------------------------------------------------------------------
    def _read_pairs_file(self, path: str, n_train: int, labels: np.ndarray) -> np.ndarray:
        """(P, 2N) image indices of a pairs file, each row's sum checked against its digits' labels
        (as Python integers: exact at any N)."""
        rows = read_int_rows(path, self.n_img + 1, f"mnist-add digits={self.tp['digits']} (i_1..i_{self.n_img} sum)")
        bad = [k for k, r in enumerate(rows) if any(not 0 <= v < n_train for v in r[:-1])]
        if bad:
            raise UserError(
                f"{path}, row {bad[0] + 1}: image index outside the {n_train} training digits "
                "(the paper's files index the full MNIST; pass --mnist-dir)"
            )
        idx = np.asarray([r[:-1] for r in rows], dtype=np.int64)
        true = digits_to_ints(add_numbers(torch.as_tensor(labels[idx], dtype=torch.long)))
        bad = [k for k, (r, t) in enumerate(zip(rows, true)) if r[-1] != t]
        if bad:
            raise UserError(
                f"{path}, row {bad[0] + 1}: sum {rows[bad[0]][-1]} disagrees with the digits' labels ({true[bad[0]]})"
            )
        return idx

    def _pairs_path(self) -> str:
        """``pairs_file``: a path, or ``paper`` for the paper's file of this N in ``--data-dir clste``."""
        if self.tp["pairs_file"] != "paper":
            return self.tp["pairs_file"]
        n = self.tp["digits"]
        if n > 3 or "clste" not in self.data_dirs:
            raise UserError(
                f"mnist-add: pairs_file=paper reads mnistAdd{n if n > 1 else ''}_train.txt from "
                "--data-dir clste=DIR" + (" (the paper has files for N <= 3 only)" if n > 3 else "")
            )
        return os.path.join(self.data_dirs["clste"], f"mnistAdd{n if n > 1 else ''}_train.txt")

    def _split(self, data):
        """(train_x, train_y, test_x, test_y): the MNIST splits, or with ``holdout`` a validation split
        of the training digits (drawn once, seed 54321, never trained on) in place of the test set."""
        n_train = len(data.train_y)
        held = self.tp["holdout"]
        if not held:
            return data.train_x, data.train_y, data.test_x, data.test_y
        if self.tp["pairs_file"] or not 0 < held < n_train // 2:
            raise UserError(f"mnist-add: holdout={held} needs 0 < holdout < {n_train // 2} and no pairs_file")
        perm = np.random.default_rng(54321).permutation(n_train)
        keep, val = np.sort(perm[held:]), np.sort(perm[:held])
        return data.train_x[keep], data.train_y[keep], data.train_x[val], data.train_y[val]

    def _train_pairs(self, data, train_y, seed: int) -> np.ndarray:
        """(P, 2N) training image indices: the pairs file's rows, or pairs drawn from the seed."""
        n_train = len(train_y)
        if self.tp["pairs_file"]:
            pairs = self._read_pairs_file(self._pairs_path(), n_train, train_y)
        else:
            rng = np.random.default_rng(seed)
            avail = n_train // self.n_img
            pairs = rng.permutation(n_train)[: avail * self.n_img].reshape(avail, self.n_img)
        if self.tp["n_pairs"]:
            if self.tp["n_pairs"] > len(pairs):
                raise UserError(
                    f"mnist-add: n_pairs={self.tp['n_pairs']} but only {len(pairs)} examples are "
                    f"available from {data.source} MNIST; lower n_pairs or use --mnist-dir"
                )
            pairs = pairs[: self.tp["n_pairs"]]
        return pairs

    def validate(self) -> None:
        """The MNIST files and the pairs file (read and checked as ``setup`` does), and that the
        digits make at least one training and one test sum of 2N images."""
        data = load_mnist(self.data_dirs.get("mnist"))
        _, train_y, _, test_y = self._split(data)
        n_test = len(self._test_pairs(len(test_y)))
        if len(train_y) < self.n_img or n_test < 1:
            raise UserError(
                f"mnist-add: N = {self.tp['digits']} needs {self.n_img} digits per sum; {data.source} MNIST "
                f"has {len(train_y)} training and {len(test_y)} scoring digits; lower digits"
                + ("" if data.source.startswith("full") else " or pass --mnist-dir")
            )
        self._train_pairs(data, train_y, 0)

    def setup(self, seed: int, device: torch.device) -> None:
        data = load_mnist(self.data_dirs.get("mnist"))
        self.source_ = data.source
        train_x, train_y, test_x, test_y = self._split(data)
        pairs = self._train_pairs(data, train_y, seed)
        self.train_images_ = _to_float(train_x).to(device)  # (N, 1, 28, 28)
        self.train_labels_ = torch.as_tensor(train_y).to(device)
        self.pairs_ = torch.as_tensor(pairs, dtype=torch.long).to(device)  # (P, 2N)
        self.pair_sum_digits_ = add_numbers(self.train_labels_[self.pairs_].long())  # (P, N+1), exact
        self.pair_sums_ = digits_to_ints(self.pair_sum_digits_)  # P Python integers: the labels
        self.test_images_ = _to_float(test_x).to(device)
        self.test_labels_ = torch.as_tensor(test_y).to(device)
        self.test_pairs_ = torch.as_tensor(self._test_pairs(len(test_y))).to(device)  # (T, 2N)
        self.counted_epoch_ = 0  # the epoch whose training sums top_right_ / top_seen_ count
        self.top_phase_ = self.tp["top_until"] > 0  # the curriculum's top-column phase, until the switch
        self.top_right_, self.top_seen_ = 0, 0
        self.constraint()

    def _test_pairs(self, n_test_digits: int) -> np.ndarray:
        """(T, 2N) test image indices: the test digits in a fixed permutation (seed 12345) cut into
        floor(n / 2N) groups, each digit used once, the same for every run."""
        n_test = n_test_digits // self.n_img
        return (
            np.random.default_rng(12345).permutation(n_test_digits)[: n_test * self.n_img].reshape(n_test, self.n_img)
        )

    def describe(self) -> dict:
        return {
            "mnist": getattr(self, "source_", None),
            "n_train_examples": int(len(self.pairs_)),
            "scored_on": f"{self.tp['holdout']} held-out training digits" if self.tp["holdout"] else "test",
            "n_test_examples": int(len(self.test_pairs_)),
            "protocol": ("pairs file" if self.tp["pairs_file"] else "each digit image used once")
            + f": {len(self.pairs_)} training sums, {len(self.test_pairs_)} test sums of 2N = "
            f"{self.n_img} images" + (f" (n_pairs={self.tp['n_pairs']})" if self.tp["n_pairs"] else ""),
        }

    def train_batches(self, batch_size: int, generator: torch.Generator, epoch: int = 1):
        """One epoch's batches; within the curriculum's top-column phase the evidence holds only the
        top column's total (docs/mnist-add-scaling.md: the only column whose clause tells the digits
        apart on an untrained network). The phase is the first ``top_epochs`` epochs, or with
        ``top_until`` = A every epoch until one in which the argmax digits got the top column's total
        right on at least a fraction A of the training sums (:meth:`observe`). ``target``: the sums
        as Python integers."""
        if self.tp["top_until"]:
            if epoch != self.counted_epoch_:  # a new epoch: did the last one reach the bar?
                if self.top_phase_ and self.top_seen_ and self.top_right_ >= self.tp["top_until"] * self.top_seen_:
                    self.top_phase_ = False
                self.top_right_, self.top_seen_, self.counted_epoch_ = 0, 0, epoch
            top_only = self.top_phase_
        else:
            top_only = epoch <= self.tp["top_epochs"]
        for o in shuffled_batches(len(self.pairs_), batch_size, generator, self.pairs_.device):
            sel = self.pairs_[o]  # (B, 2N)
            yield Batch(
                x=self.train_images_[sel],
                evidence=self.evidence_from_digits(self.pair_sum_digits_[o], top_only),
                labels={"digit": self.train_labels_[sel]},
                target=[self.pair_sums_[i] for i in o.tolist()],
            )

    def observe(self, outputs: dict[str, torch.Tensor], batch: Batch) -> None:
        """Under ``top_until``: count the training sums whose top column's total
        (the sum's two leading digits, read from the batch's evidence) the argmax digits get right,
        carries from the lower columns included. No digit label is read."""
        if not self.tp["top_until"]:
            return
        n = self.tp["digits"]
        top_cols = self.sum_cols_[n - 1].to(batch.evidence.device)
        top_cols = top_cols[top_cols >= 0]  # top(t), t = 0 .. 19
        true_top = batch.evidence[:, top_cols].argmax(1)  # (B,)
        pred = add_numbers(outputs["digit"].argmax(-1))  # (B, N+1)
        self.top_right_ += int(((pred[:, n - 1] + 10 * pred[:, n]) == true_top).sum())
        self.top_seen_ += len(true_top)

    @torch.no_grad()
    def evaluate(self, net: torch.nn.Module, device: torch.device) -> dict[str, float]:
        preds = []
        for start in range(0, len(self.test_images_), 2000):
            x = self.test_images_[start : start + 2000].unsqueeze(1)  # (b, 1, 1, 28, 28)
            preds.append(net(x)["digit"].squeeze(1).argmax(-1))
        pred = torch.cat(preds)
        digit_acc = (pred == self.test_labels_).float().mean().item()
        true_sum = add_numbers(self.test_labels_[self.test_pairs_].long())  # (T, N+1) digits: exact at any N
        pred_sum = add_numbers(pred[self.test_pairs_].long())
        sum_acc = (pred_sum == true_sum).all(1).float().mean().item()
        out = {"digit_acc": 100.0 * digit_acc, "sum_acc": 100.0 * sum_acc}
        if self.tp["top_until"]:  # the curriculum, read from the epoch just trained (training sums only)
            out["train_top_acc"] = 100.0 * self.top_right_ / max(self.top_seen_, 1)
            out["top_phase"] = float(self.top_phase_)
        return out
