"""Textual 9x9 Sudoku with Park's CNN (PAPER.md 4.4): the network fills in the board.

Input: the quiz as one channel of digits 0..9 (0 blank), shape (B, 1, 9, 9), as the reference.
Network (Park 2018, the reference ``Sudoku_CNN``): Conv 1->W (3x3), ``depth - 1`` x Conv W->W
(3x3), Conv W->9 (1x1), BatchNorm after each (``bn``) and ReLU after all but the last; the paper's
is W = 512, depth = 9. Output: {"cell": (B, 81, 9)} logits, one categorical variable per cell.

Encoding (PAPER.md 2, ``sudoku.cnf``, 729 atoms and 8,991 clauses): atom ``a(r,c,n)`` (column
81r + 9c + n, 0-based); for each (column, value), (row, value) and (box, value) one existence
clause and 36 pairwise uniqueness clauses. The per-cell exactly-one clauses are omitted, as in the
paper (the softmax enforces them). Evidence: the given digits, ``a(r,c,n) = 1`` for a clue n at
(r, c), every other atom 0 (unknown), as the reference. The solutions are training labels
(``has_labels``) for the supervised method; CL-STE's default here uses none (w_label 0).

Data: generated puzzles with a unique solution (``tasks/_sudoku_gen.py``, ``givens`` clues, seeded
by ``data_seed``, cached), the first ``n_train`` for training and the next ``n_test`` for testing;
or a ``quiz,solution`` CSV file (``data_file``, Kaggle/Palm format) split 80/20 with a generator
seeded 0 (as the reference's Park split), capped at ``n_train``/``n_test``.

Metrics (every cell of the board counts, as the reference's ``testNN`` and ``inference_trick.py``):
``cell_acc`` / ``board_acc`` one-shot (the argmax of every cell), and ``cell_acc_trick`` /
``board_acc_trick`` with the inference trick (PAPER.md 1.9), batched over puzzles: each round
fills, in every unfinished puzzle at once, the blank whose most probable digit is most probable.
``trick_test`` > 0 evaluates the trick on the first ``trick_test`` test puzzles only (it costs a
forward pass per blank). :meth:`Sudoku.evaluate_file` scores a network on any CSV file.

Version history: v1, first release.
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


class ParkCNN(nn.Module):
    """Park's Sudoku CNN with width W and ``depth`` 3x3 conv layers (the paper: 512 and 9)."""

    def __init__(self, width: int, depth: int, bn: bool):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for _ in range(depth):
            layers.append(nn.Conv2d(c_in, width, kernel_size=3, padding=1))
            if bn:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
            c_in = width
        layers.append(nn.Conv2d(width, 9, kernel_size=1))
        if bn:
            layers.append(nn.BatchNorm2d(9))
        self.nn = nn.Sequential(*layers)
        for m in self.modules():  # the reference's init: xavier uniform, zero bias
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, 1, 9, 9) digits 0..9 -> {"cell": (B, 81, 9)}."""
        y = self.nn(x)  # (B, 9, 9, 9): value channel first
        return {"cell": y.permute(0, 2, 3, 1).reshape(x.shape[0], 81, 9)}


@torch.no_grad()
def trick_solve(net: nn.Module, quizzes: torch.Tensor) -> torch.Tensor:
    """The inference trick (PAPER.md 1.9), batched: quizzes (B, 81) long, 0 blank -> (B, 81)
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
        "n_train": 5000,  # training puzzles (the paper: 56,000)
        "n_test": 500,  # test puzzles (the paper: 14,000)
        "data_seed": 0,  # seed of the generated puzzles
        "data_file": "",  # a quiz,solution CSV file to split 80/20 instead of generating
        "width": 512,  # CNN channels (the paper: 512)
        "depth": 9,  # 3x3 conv layers (the paper: 9)
        "bn": True,  # BatchNorm (the paper: --bn)
        "trick_test": 0,  # test puzzles scored with the inference trick; 0 = all
    }
    # PAPER.md 4.4: lr 5e-4, batch 1, 30 epochs (GPU)
    train_defaults = {"epochs": 30, "batch_size": 1, "lr": 5e-4}
    # CL-STE: L_cnf + 0.1 L_bound on the full CNF, no solution labels (PAPER.md 4.4)
    method_defaults = {"cl-ste": {"w_cnf": 1.0, "w_bound": 0.1, "filter_clauses": False, "w_label": 0.0}}
    main_metric = "board_acc_trick"
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
        if t["trick_test"] < 0:
            raise UserError("sudoku: trick_test must be >= 0 (0: every test puzzle)")
        if not t["data_file"] and not 17 <= t["givens"] <= 80:
            raise UserError(f"sudoku: givens must be in 17..80, got {t['givens']}")
        self._constraint = None

    def constraint(self) -> Constraint:
        if self._constraint is None:
            self._constraint = Constraint(sudoku_cnf(), [NeuralGroup("cell", torch.arange(729).reshape(81, 9))],
                                          meta={"encoding": "paper"})
        return self._constraint

    def network(self) -> nn.Module:
        return ParkCNN(self.tp["width"], self.tp["depth"], self.tp["bn"])

    # ---- data -------------------------------------------------------------------------------
    def setup(self, seed: int, device: torch.device) -> None:
        t = self.tp
        if t["data_file"]:
            q, s = gen.read_csv(t["data_file"])
            n_tr = int(0.8 * len(q))
            tr, te = torch.utils.data.random_split(range(len(q)), [n_tr, len(q) - n_tr],
                                                   generator=torch.Generator().manual_seed(0))
            tr, te = np.asarray(tr.indices)[: t["n_train"]], np.asarray(te.indices)[: t["n_test"]]
            self.source_ = os.path.abspath(t["data_file"])
        else:
            q, s, path = gen.cached_generate(t["n_train"] + t["n_test"], t["givens"], t["data_seed"])
            tr, te = np.arange(t["n_train"]), np.arange(t["n_train"], t["n_train"] + t["n_test"])
            self.source_ = f"generated(givens={t['givens']}, seed={t['data_seed']})"
        self.train_q_ = torch.as_tensor(q[tr], dtype=torch.long).to(device)  # (P, 81), 0 blank
        self.train_s_ = torch.as_tensor(s[tr], dtype=torch.long).to(device)  # (P, 81), 1..9
        self.test_q_ = torch.as_tensor(q[te], dtype=torch.long).to(device)
        self.test_s_ = torch.as_tensor(s[te], dtype=torch.long).to(device)
        self.constraint()

    def describe(self) -> dict:
        return {"source": getattr(self, "source_", None), "n_train_examples": int(len(self.train_q_)),
                "n_test_examples": int(len(self.test_q_)),
                "mean_givens_test": float((self.test_q_ > 0).sum(1).float().mean())}

    @staticmethod
    def evidence_for(quizzes: torch.Tensor) -> torch.Tensor:
        """(B, 81) quizzes -> (B, 729) evidence: 1 for a(r,c,n) of each clue, else 0."""
        one_hot = torch.nn.functional.one_hot(quizzes, num_classes=10)[..., 1:]  # (B, 81, 9)
        return one_hot.reshape(len(quizzes), 729).float()

    def train_batches(self, batch_size: int, generator: torch.Generator):
        for sel in shuffled_batches(len(self.train_q_), batch_size, generator, self.train_q_.device):
            q = self.train_q_[sel]
            yield Batch(x=q.view(-1, 1, 9, 9).float(), evidence=self.evidence_for(q),
                        labels={"cell": self.train_s_[sel] - 1})

    # ---- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def score(self, net: nn.Module, quizzes: torch.Tensor, solutions: torch.Tensor, n_trick: int = 0,
              chunk: int = 1000) -> dict[str, float]:
        """The four metrics (percent) on (N, 81) quizzes and solutions; ``n_trick`` > 0 limits the
        trick to the first n_trick puzzles."""
        one_cell, one_board, tr_cell, tr_board = 0.0, 0.0, 0.0, 0.0
        n_t = len(quizzes) if n_trick <= 0 else min(n_trick, len(quizzes))
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
        return {"cell_acc": 100.0 * one_cell / (81 * n), "board_acc": 100.0 * one_board / n,
                "cell_acc_trick": 100.0 * tr_cell / (81 * n_t), "board_acc_trick": 100.0 * tr_board / n_t}

    @torch.no_grad()
    def evaluate(self, net: nn.Module, device: torch.device) -> dict[str, float]:
        return self.score(net, self.test_q_, self.test_s_, self.tp["trick_test"])

    @torch.no_grad()
    def evaluate_file(self, net: nn.Module, path: str, device: torch.device, limit: int = 0) -> dict[str, float]:
        """The four metrics on a ``quiz,solution`` CSV file (every puzzle, trick included)."""
        q, s = gen.read_csv(path, limit)
        net.eval()
        out = self.score(net, torch.as_tensor(q, dtype=torch.long).to(device),
                         torch.as_tensor(s, dtype=torch.long).to(device))
        return {**out, "n_puzzles": float(len(q))}
