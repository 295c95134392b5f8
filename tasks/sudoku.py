"""Textual 9x9 Sudoku with Park's CNN (docs/method.md "The paper's settings") or Palm's RRN (docs/method.md "The paper's
settings"): the network
fills in the board.

Input: the quiz as one channel of digits 0..9 (0 blank), shape (B, 1, 9, 9), as the reference;
``input=onehot`` gives the CNN 10 channels instead (blank, 1..9), which a narrow CPU-scale CNN
learns from far faster than from a digit's magnitude.
Networks (:mod:`tasks.sudoku_nets`): Park's CNN (``net=cnn``; the paper's is 512 wide, 9 layers)
or Palm's recurrent relational network (``net=rrn``), whose per-step outputs come under
``harness.api.StepOutputs``: the supervised loss averages over the steps, CL-STE takes L_cnf on step 0
and L_bound and L_cont over all steps (the presets of ``cl-ste`` with ``net=rrn``). Output:
{"cell": (B, 81, 9)} logits, one categorical variable per cell.

Semi-supervised (``labelled_fraction`` < 1): a fixed subset of the training puzzles (drawn with
``data_seed``, the same for every run seed and method) is labelled; batches carry the mask
(``Batch.labelled``) and the supervised loss, hence CL-STE's ``w_label`` term, reads only those,
while L_cnf, L_bound and L_cont see every puzzle. The supervised method trains on the labelled
puzzles alone (``select_labelled``). With a fraction of 1 every puzzle is labelled, as before.

Encoding (docs/method.md "Encodings", ``sudoku.cnf``, 729 atoms and 8,991 clauses): atom ``a(r,c,n)`` (column
81r + 9c + n, 0-based); for each (column, value), (row, value) and (box, value) one existence
clause and 36 pairwise uniqueness clauses. The per-cell exactly-one clauses are omitted, as in the
paper (the softmax enforces them). Evidence: the given digits, ``a(r,c,n) = 1`` for a clue n at
(r, c), every other atom 0 (unknown), as the reference. The solutions are training labels
(``has_labels``) for the supervised method; CL-STE's default here uses none (w_label 0).

Data: generated puzzles with a unique solution (``tasks/_sudoku_gen.py``, ``givens`` clues, or a
number drawn per puzzle from ``givens``..``givens_max`` for harder mixed sets, seeded by
``data_seed``, cached), the first ``n_train`` for training and the next ``n_test`` for testing;
or a ``quiz,solution`` CSV file (``data_file``, Kaggle/Palm format) split 80/20 with a generator
seeded 0 (as the reference's Park split), capped at ``n_train``/``n_test``.

Metrics (every cell of the board counts, as the reference's ``testNN`` and ``inference_trick.py``):
``cell_acc`` / ``board_acc`` one-shot (the argmax of every cell), and ``cell_acc_trick`` /
``board_acc_trick`` with the inference trick (docs/method.md "The inference trick (Sudoku)"), batched over puzzles: each
round
fills, in every unfinished puzzle at once, the blank whose most probable digit is most probable.
``trick_test`` > 0 evaluates the trick on the first ``trick_test`` test puzzles only (it costs a
forward pass per blank), -1 leaves the trick (and its two metrics) out. Palm's RRN is scored
one-shot at its final step (``board_acc``). :meth:`Sudoku.evaluate_file` scores a network on any
CSV file.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import torch
from torch import nn

from harness.api import Batch, Constraint, NeuralGroup, Task, shuffled_batches
from harness.cnf import CNF
from harness.errors import UserError
from harness.registry import register_task

from . import _sudoku_gen as gen
from .sudoku_nets import RRN, ParkCNN, sudoku_edges, sudoku_units  # noqa: F401 (sudoku_edges: re-exported)


def sudoku_cnf() -> CNF:
    """The paper's ``sudoku.cnf``, clause order as the reference generator (columns, rows, boxes)."""
    a = lambda r, c, n: 81 * r + 9 * c + n + 1  # noqa: E731  (1-based DIMACS atom)
    names = [f"a({r + 1},{c + 1},{n + 1})" for r in range(9) for c in range(9) for n in range(9)]
    units = [[(r, c) for r in range(9)] for c in range(9)]
    units += [[(r, c) for c in range(9)] for r in range(9)]
    boxes = [[(r, c) for r in range(br, br + 3) for c in range(bc, bc + 3)] for br in (0, 3, 6) for bc in (0, 3, 6)]
    clauses: list[tuple[int, ...]] = []
    for i, unit in enumerate(units):  # the reference loops value inside column/row
        for n in range(9):
            atoms = [a(r, c, n) for r, c in unit]
            clauses.append(tuple(atoms))
            clauses += [(-x, -y) for x, y in itertools.combinations(atoms, 2)]
    for n in range(9):  # ... and box inside value
        for unit in boxes:
            atoms = [a(r, c, n) for r, c in unit]
            clauses.append(tuple(atoms))
            clauses += [(-x, -y) for x, y in itertools.combinations(atoms, 2)]
    return CNF(729, clauses, names)


def exactly_one_sets() -> list[torch.Tensor]:
    """Per unit kind (rows, columns, boxes), the (81, 9) atoms a(r,c,n) of each (unit, digit):
    exactly one is true (the CNF's existence and uniqueness clauses)."""
    return [
        torch.tensor([[9 * cell + n for cell in unit] for unit in units for n in range(9)])
        for units in sudoku_units().values()
    ]


@torch.no_grad()
def trick_solve(net: nn.Module, quizzes: torch.Tensor) -> torch.Tensor:
    """The inference trick (docs/method.md "The inference trick (Sudoku)"), batched: quizzes (B, 81) long, 0 blank ->
    (B, 81)
    filled boards (digits 1..9). Each round runs the network once on every unfinished board and
    fills, per board, the one blank whose top probability is highest."""
    board = quizzes.clone()
    idx = torch.arange(len(board), device=board.device)
    while True:
        open_ = (board == 0).any(1)
        if not bool(open_.any()):
            return board
        sub = board[open_]  # (b, 81)
        p = torch.softmax(net(sub.view(-1, 1, 9, 9).float())["cell"], dim=-1)  # (b, 81, 9)
        conf, val = p.max(-1)
        conf = conf.masked_fill(sub != 0, -1.0)
        cell = conf.argmax(-1)  # (b,)
        rows = idx[open_]
        board[rows, cell] = val[torch.arange(len(sub), device=board.device), cell] + 1


@register_task
class Sudoku(Task):
    key = "sudoku"
    version = 1
    params = {
        "givens": 36,  # clues per generated puzzle (Park's "easy" set: about 36)
        "givens_max": 0,  # > givens: clues drawn per puzzle from givens..givens_max (Palm: 17..34)
        "n_train": 5000,  # training puzzles (the paper: 56,000)
        "n_test": 500,  # test puzzles (the paper: 14,000)
        "data_seed": 0,  # seed of the generated puzzles
        "data_file": "",  # a quiz,solution CSV file to split 80/20 instead of generating
        "width": 512,  # CNN channels (the paper: 512)
        "depth": 9,  # 3x3 conv layers (the paper: 9)
        "bn": True,  # BatchNorm (the paper: --bn)
        "input": "digits",  # CNN input: digits (one channel of values 0..9, the paper) or onehot (10 channels)
        "trick_test": 0,  # test puzzles scored with the inference trick; 0 = all, -1 = none
        "net": "cnn",  # cnn (Park's CNN) or rrn (Palm's recurrent relational network)
        "steps": 32,  # RRN message-passing steps (the paper: 32)
        "hidden": 96,  # RRN hidden size (the paper: 96)
        "embed": 16,  # RRN digit/row/column embedding size (the paper: 16)
        "edge_drop": 0.4,  # RRN edge dropout (the paper: 0.4)
        "mlp_layers": 4,  # layers of the RRN's input and message MLPs (the paper: 4)
        "labelled_fraction": 1.0,  # fraction of training puzzles with a solution label (fixed by data_seed)
    }
    # docs/method.md "The paper's settings": lr 5e-4, batch 1, 30 epochs (GPU)
    train_defaults = {"epochs": 30, "batch_size": 1, "lr": 5e-4}
    main_metric = "board_acc_trick"
    # parameters one network reads and the other ignores (reports list them only where they apply)
    param_applies = {
        **{k: "net=cnn" for k in ("width", "depth", "bn", "input")},
        **{k: "net=rrn" for k in ("steps", "hidden", "embed", "edge_drop", "mlp_layers")},
    }
    has_labels = True
    # the conformance checks' instance: a few puzzles, a small CNN
    tiny_params = {"n_train": 16, "n_test": 4, "width": 8, "depth": 2, "givens": 40}

    def __init__(self, data_dirs=None, **tp):
        super().__init__(data_dirs, **tp)
        t = self.tp
        if t["n_train"] < 1 or t["n_test"] < 1:
            raise UserError("sudoku: n_train and n_test must be >= 1")
        if t["width"] < 1 or t["depth"] < 1:
            raise UserError("sudoku: width and depth must be >= 1")
        if t["trick_test"] < -1:
            raise UserError("sudoku: trick_test must be >= -1 (0: every test puzzle, -1: no inference trick)")
        if not t["data_file"]:
            gen.check_givens(t["givens"], t["givens_max"])
        if t["input"] not in ("digits", "onehot"):
            raise UserError(f"sudoku: input={t['input']!r} unknown; choose digits or onehot")
        if t["net"] not in ("cnn", "rrn"):
            raise UserError(f"sudoku: net={t['net']!r} unknown; choose cnn or rrn")
        if t["steps"] < 1 or t["hidden"] < 1 or t["embed"] < 1 or t["mlp_layers"] < 1:
            raise UserError("sudoku: steps, hidden, embed and mlp_layers must be >= 1")
        if not 0 <= t["edge_drop"] < 1:
            raise UserError(f"sudoku: edge_drop must be in [0, 1), got {t['edge_drop']}")
        if not 0 < t["labelled_fraction"] <= 1:
            raise UserError(f"sudoku: labelled_fraction must be in (0, 1], got {t['labelled_fraction']}")
        self._constraint = None

    def constraint(self) -> Constraint:
        if self._constraint is None:
            self._constraint = Constraint(
                sudoku_cnf(),
                [NeuralGroup("cell", torch.arange(729).reshape(81, 9))],
                hints={"encoding": "paper", "exactly_one": exactly_one_sets()},
            )
        return self._constraint

    def network(self) -> nn.Module:
        t = self.tp
        if t["net"] == "rrn":
            return RRN(t["steps"], t["hidden"], t["embed"], t["edge_drop"], t["mlp_layers"])
        return ParkCNN(t["width"], t["depth"], t["bn"], t["input"] == "onehot")

    # ---- data -------------------------------------------------------------------------------
    def validate(self) -> None:
        """The quiz,solution file, when one is given (read and checked as ``setup`` does)."""
        if self.tp["data_file"]:
            gen.read_csv(self.tp["data_file"])

    def setup(self, seed: int, device: torch.device) -> None:
        t = self.tp
        if t["data_file"]:
            q, s = gen.read_csv(t["data_file"])
            n_tr = int(0.8 * len(q))
            tr, te = torch.utils.data.random_split(
                range(len(q)), [n_tr, len(q) - n_tr], generator=torch.Generator().manual_seed(0)
            )
            tr, te = np.asarray(tr.indices)[: t["n_train"]], np.asarray(te.indices)[: t["n_test"]]
            self.source_ = os.path.abspath(t["data_file"])
        else:
            q, s, path = gen.cached_generate(t["n_train"] + t["n_test"], t["givens"], t["data_seed"], t["givens_max"])
            tr, te = np.arange(t["n_train"]), np.arange(t["n_train"], t["n_train"] + t["n_test"])
            g = f"{t['givens']}..{t['givens_max']}" if t["givens_max"] > t["givens"] else str(t["givens"])
            self.source_ = f"generated(givens={g}, seed={t['data_seed']})"
        self.train_q_ = torch.as_tensor(q[tr], dtype=torch.long).to(device)  # (P, 81), 0 blank
        self.train_s_ = torch.as_tensor(s[tr], dtype=torch.long).to(device)  # (P, 81), 1..9
        self.test_q_ = torch.as_tensor(q[te], dtype=torch.long).to(device)
        self.test_s_ = torch.as_tensor(s[te], dtype=torch.long).to(device)
        self.train_lab_ = None  # (P,) bool, which training puzzles are labelled; None: all
        if t["labelled_fraction"] < 1:
            P = len(self.train_q_)
            k = max(1, round(t["labelled_fraction"] * P))
            chosen = np.random.default_rng(t["data_seed"]).permutation(P)[:k]
            lab = torch.zeros(P, dtype=torch.bool)
            lab[torch.as_tensor(chosen)] = True
            self.train_lab_ = lab.to(device)
        self.constraint()

    def select_labelled(self) -> None:
        """Keep only the labelled training puzzles (the supervised method's training set)."""
        if self.train_lab_ is not None:
            self.train_q_, self.train_s_ = self.train_q_[self.train_lab_], self.train_s_[self.train_lab_]
            self.train_lab_ = None

    def describe(self) -> dict:
        n_lab = len(self.train_q_) if self.train_lab_ is None else int(self.train_lab_.sum())
        return {
            "source": getattr(self, "source_", None),
            "n_train_examples": int(len(self.train_q_)),
            "n_labelled": n_lab,
            "n_test_examples": int(len(self.test_q_)),
            "mean_givens_test": float((self.test_q_ > 0).sum(1).float().mean()),
        }

    @staticmethod
    def evidence_for(quizzes: torch.Tensor) -> torch.Tensor:
        """(B, 81) quizzes -> (B, 729) evidence: 1 for a(r,c,n) of each clue, else 0."""
        one_hot = torch.nn.functional.one_hot(quizzes, num_classes=10)[..., 1:]  # (B, 81, 9)
        return one_hot.reshape(len(quizzes), 729).float()

    def train_batches(self, batch_size: int, generator: torch.Generator, epoch: int = 1):
        for sel in shuffled_batches(len(self.train_q_), batch_size, generator, self.train_q_.device):
            q = self.train_q_[sel]
            yield Batch(
                x=q.view(-1, 1, 9, 9).float(),
                evidence=self.evidence_for(q),
                labels={"cell": self.train_s_[sel] - 1},
                labelled=None if self.train_lab_ is None else self.train_lab_[sel],
            )

    # ---- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def score(
        self, net: nn.Module, quizzes: torch.Tensor, solutions: torch.Tensor, n_trick: int = 0, chunk: int = 0
    ) -> dict[str, float]:
        """The four metrics (percent) on (N, 81) quizzes and solutions; ``n_trick`` > 0 limits the
        trick to the first n_trick puzzles, -1 leaves it (and its metrics) out. ``chunk``: puzzles
        per forward pass (0: 1,000, or 250 for the RRN, whose edge tensors are 20 times larger)."""
        chunk = chunk or (250 if isinstance(net, RRN) else 1000)
        one_cell, one_board, tr_cell, tr_board = 0.0, 0.0, 0.0, 0.0
        n_t = len(quizzes) if n_trick == 0 else 0 if n_trick < 0 else min(n_trick, len(quizzes))
        for start in range(0, len(quizzes), chunk):
            q, s = quizzes[start : start + chunk], solutions[start : start + chunk]
            pred = net(q.view(-1, 1, 9, 9).float())["cell"].argmax(-1) + 1
            ok = pred == s
            one_cell += ok.float().sum().item()
            one_board += ok.all(1).float().sum().item()
            if start < n_t:
                q, s = q[: n_t - start], s[: n_t - start]
                ok = trick_solve(net, q) == s
                tr_cell += ok.float().sum().item()
                tr_board += ok.all(1).float().sum().item()
        n = len(quizzes)
        out = {"cell_acc": 100.0 * one_cell / (81 * n), "board_acc": 100.0 * one_board / n}
        if n_t:
            out.update(cell_acc_trick=100.0 * tr_cell / (81 * n_t), board_acc_trick=100.0 * tr_board / n_t)
        return out

    @torch.no_grad()
    def evaluate(self, net: nn.Module, device: torch.device) -> dict[str, float]:
        return self.score(net, self.test_q_, self.test_s_, self.tp["trick_test"])

    @torch.no_grad()
    def evaluate_file(self, net: nn.Module, path: str, device: torch.device, limit: int = 0) -> dict[str, float]:
        """The four metrics on a ``quiz,solution`` CSV file (every puzzle, trick included)."""
        q, s = gen.read_csv(path, limit)
        net.eval()
        out = self.score(
            net, torch.as_tensor(q, dtype=torch.long).to(device), torch.as_tensor(s, dtype=torch.long).to(device)
        )
        return {**out, "n_puzzles": float(len(q))}
