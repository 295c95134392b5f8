"""Textual 9x9 Sudoku with Park's CNN (PAPER.md 4.4) or Palm's RRN (PAPER.md 4.5): the network
fills in the board.

Input: the quiz as one channel of digits 0..9 (0 blank), shape (B, 1, 9, 9), as the reference;
``input=onehot`` gives the CNN 10 channels instead (blank, 1..9), which a narrow CPU-scale CNN
learns from far faster than from a digit's magnitude.
Network (Park 2018, the reference ``Sudoku_CNN``): Conv 1->W (3x3), ``depth - 1`` x Conv W->W
(3x3), Conv W->9 (1x1), BatchNorm after each (``bn``) and ReLU after all but the last; the paper's
is W = 512, depth = 9. Output: {"cell": (B, 81, 9)} logits, one categorical variable per cell.

``net=rrn``: the recurrent relational network of Palm et al. 2018 (:class:`RRN`, as DGL's
re-implementation that the paper used): digit, row and column embeddings (``embed``) through an
MLP give each cell its input x; ``steps`` rounds of message passing over the Sudoku graph (each cell
receives from its 20 peers: 1,620 directed edges), a message being an MLP of (sender, receiver)
states with edge dropout (``edge_drop``), summed per receiver and fed with x into an LSTM cell
(``hidden``); a linear layer reads 9 logits per cell after every step. Its outputs are the final
step's ``{"cell"}`` plus every step's under ``harness.api.STEPS``: the supervised loss averages
over the steps, CL-STE takes L_cnf on step 0 and L_bound and L_cont over all steps (the paper's
``--loss cross cont cnf bound --idx 0``, the defaults of ``cl-ste`` with ``net=rrn``). All puzzles
of a batch and all edges are computed at once (gathers and one sum per step).

Semi-supervised (``labelled_fraction`` < 1): a fixed subset of the training puzzles (drawn with
``data_seed``, the same for every run seed and method) is labelled; batches carry the mask
(``Batch.labelled``) and the supervised loss, hence CL-STE's ``w_label`` term, reads only those,
while L_cnf, L_bound and L_cont see every puzzle. The supervised method trains on the labelled
puzzles alone (``select_labelled``). With a fraction of 1 every puzzle is labelled, as before.

Encoding (PAPER.md 2, ``sudoku.cnf``, 729 atoms and 8,991 clauses): atom ``a(r,c,n)`` (column
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
``board_acc_trick`` with the inference trick (PAPER.md 1.9), batched over puzzles: each round
fills, in every unfinished puzzle at once, the blank whose most probable digit is most probable.
``trick_test`` > 0 evaluates the trick on the first ``trick_test`` test puzzles only (it costs a
forward pass per blank), -1 leaves the trick (and its two metrics) out. Palm's RRN is scored
one-shot at its final step (``board_acc``). :meth:`Sudoku.evaluate_file` scores a network on any
CSV file.

Version history: v1, first release; ``net=rrn``, ``labelled_fraction``, ``givens_max`` and
``trick_test=-1`` and ``input`` added, whose defaults leave the task as it was.
"""
from __future__ import annotations

import itertools
import os

import numpy as np
import torch
from torch import nn

from harness.api import STEPS, Batch, Constraint, NeuralGroup, Task, shuffled_batches
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


def sudoku_units() -> dict[str, list[list[int]]]:
    """The 9 rows, 9 columns and 9 boxes as lists of cell indices (row-major, 0..80)."""
    return {"row": [[9 * r + c for c in range(9)] for r in range(9)],
            "col": [[9 * r + c for r in range(9)] for c in range(9)],
            "box": [[9 * r + c for r in range(br, br + 3) for c in range(bc, bc + 3)]
                    for br in (0, 3, 6) for bc in (0, 3, 6)]}


def exactly_one_sets() -> list[torch.Tensor]:
    """Per unit kind (rows, columns, boxes), the (81, 9) atoms a(r,c,n) of each (unit, digit):
    exactly one is true (the CNF's existence and uniqueness clauses)."""
    return [torch.tensor([[9 * cell + n for cell in unit] for unit in units for n in range(9)])
            for units in sudoku_units().values()]


def sudoku_edges() -> tuple[torch.Tensor, torch.Tensor]:
    """(src, dst) of the Sudoku graph's 1,620 directed edges: each cell receives from the 20 other
    cells of its row, column and box. Sorted by dst (then src), so the 20 edges into cell j are
    positions 20j..20j+19."""
    peers = [set() for _ in range(81)]
    for units in sudoku_units().values():
        for unit in units:
            for i in unit:
                peers[i].update(c for c in unit if c != i)
    dst = [j for j in range(81) for _ in sorted(peers[j])]
    src = [i for j in range(81) for i in sorted(peers[j])]
    return torch.tensor(src), torch.tensor(dst)


def _mlp(d_in: int, hidden: int, layers: int) -> nn.Sequential:
    """``layers`` linear layers to ``hidden`` with ReLU between them (none after the last)."""
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Linear(d_in if i == 0 else hidden, hidden))
        if i < layers - 1:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


class RRN(nn.Module):
    """Palm et al.'s recurrent relational network for Sudoku (DGL's ``SudokuNN``, PAPER.md 4.5).

    Input: digit (0 blank), row and column embeddings of size ``embed``, an MLP of ``mlp_layers``
    layers to x (B, 81, H). State: h starts at x, the LSTM's (hidden, cell) at 0. Each step: on every
    edge i -> j the message MLP of [h_i, h_j] (the first layer applied per cell, then gathered for
    the senders and broadcast for the receivers: the same product with 20 times fewer rows), edge
    dropout, the sum over j's 20 incoming edges m_j, and the LSTM cell (no bias, as DGL) on
    [x_j, m_j]; h is its new hidden state; 9 logits per cell.

    The edge tensors are (puzzles, 1620, H): the message MLP runs on blocks of ``edge_chunk``
    puzzles (about 4 MiB per tensor; every edge of a block at once). Blocks keep the working set in
    cache and away from the allocator's fresh-page (mmap) path that tensors over 32 MiB take, which
    made one step at batch 64 cost 3x more per puzzle than at batch 1 on a CPU
    (``scripts/rrn_step_timing.py``); the result is the same.
    """

    def __init__(self, steps: int = 32, hidden: int = 96, embed: int = 16, edge_drop: float = 0.4,
                 mlp_layers: int = 4):
        super().__init__()
        self.steps, self.hidden, self.edge_drop = steps, hidden, edge_drop
        self.digit_embed = nn.Embedding(10, embed)
        self.row_embed = nn.Embedding(9, embed)
        self.col_embed = nn.Embedding(9, embed)
        self.input_mlp = _mlp(3 * embed, hidden, mlp_layers)
        self.msg_src = nn.Linear(hidden, hidden)  # the message MLP's first layer, split by input half
        self.msg_dst = nn.Linear(hidden, hidden, bias=False)
        self.msg_rest = nn.Sequential(nn.ReLU(), *_mlp(hidden, hidden, mlp_layers - 1)) if mlp_layers > 1 else nn.Identity()
        self.edge_chunk = max(1, (4 << 20) // (1620 * hidden * 4))
        self.lstm = nn.LSTMCell(2 * hidden, hidden, bias=False)
        self.out = nn.Linear(hidden, 9)
        src, dst = sudoku_edges()
        self.register_buffer("src", src, persistent=False)
        self.register_buffer("dst", dst, persistent=False)
        self.register_buffer("row", torch.arange(81) // 9, persistent=False)
        self.register_buffer("col", torch.arange(81) % 9, persistent=False)

    def messages(self, h: torch.Tensor) -> torch.Tensor:
        """(B, 81, H) states -> (B, 81, H) summed incoming messages (one message-passing step)."""
        a, b = self.msg_src(h), self.msg_dst(h)  # the first layer's two halves, per cell
        if len(h) <= self.edge_chunk:
            return self._edge_sum(a, b)
        return torch.cat([self._edge_sum(a[i : i + self.edge_chunk], b[i : i + self.edge_chunk])
                          for i in range(0, len(h), self.edge_chunk)])

    def _edge_sum(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        B, H = a.shape[0], a.shape[2]
        # edges sorted by dst, 20 per receiving cell: W [h_i, h_j] + bias = a_i + b_j, (B, 81, 20, H)
        e = a.index_select(1, self.src).view(B, 81, 20, H) + b.unsqueeze(2)
        e = self.msg_rest(e)
        if self.edge_drop > 0:
            e = nn.functional.dropout(e, self.edge_drop, self.training)
        return e.sum(2)

    def step(self, x: torch.Tensor, h: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        """One step: (x, h, (lstm hidden, cell)) -> (new h, new state); tensors (B, 81, H)."""
        B, H = x.shape[0], self.hidden
        m = self.messages(h)
        hh, cc = self.lstm(torch.cat([x, m], -1).view(B * 81, 2 * H), (state[0].view(B * 81, H), state[1].view(B * 81, H)))
        hh, cc = hh.view(B, 81, H), cc.view(B, 81, H)
        return hh, (hh, cc)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 9, 9) or (B, 81) digits 0..9 -> input states x (B, 81, H)."""
        q = x.reshape(x.shape[0], 81).long()
        emb = torch.cat([self.digit_embed(q), self.row_embed(self.row).expand(len(q), -1, -1),
                         self.col_embed(self.col).expand(len(q), -1, -1)], -1)
        return self.input_mlp(emb)

    def forward(self, x: torch.Tensor) -> dict:
        """x (B, 1, 9, 9) digits -> {"cell": final (B, 81, 9), STEPS: [{"cell": ...} per step]}."""
        xs = self.encode(x)
        h = xs
        state = (torch.zeros_like(xs), torch.zeros_like(xs))
        steps = []
        for _ in range(self.steps):
            h, state = self.step(xs, h, state)
            steps.append({"cell": self.out(h)})
        return {"cell": steps[-1]["cell"], STEPS: steps}


class ParkCNN(nn.Module):
    """Park's Sudoku CNN with width W and ``depth`` 3x3 conv layers (the paper: 512 and 9)."""

    def __init__(self, width: int, depth: int, bn: bool, onehot: bool = False):
        super().__init__()
        self.onehot = onehot
        layers: list[nn.Module] = []
        c_in = 10 if onehot else 1
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
        if self.onehot:  # one channel per symbol (blank, 1..9) instead of the digit's value
            x = torch.nn.functional.one_hot(x[:, 0].long(), 10).permute(0, 3, 1, 2).to(self.nn[0].weight.dtype)
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
    # PAPER.md 4.4: lr 5e-4, batch 1, 30 epochs (GPU)
    train_defaults = {"epochs": 30, "batch_size": 1, "lr": 5e-4}
    # CL-STE: L_cnf + 0.1 L_bound on the full CNF, no solution labels (PAPER.md 4.4)
    # RRN (PAPER.md 4.5): cross-entropy on every step (w_label 1), L_cnf on step 0 with
    # sudoku_gnn's normalisation, L_cont and 0.1 L_bound over all steps; Adam lr 1e-4, batch 16,
    # 100 epochs (the paper's weight decay 1e-4 is not applied: the harness's Adam has none)
    method_defaults = {
        "cl-ste": {"w_cnf": 1.0, "w_bound": 0.1, "filter_clauses": False, "w_label": 0.0},
        "cl-ste|net=rrn": {"w_label": 1.0, "cnf_step": 0, "cnf_norm": "all", "w_cont": 1.0,
                           "_train": {"epochs": 100, "batch_size": 16, "lr": 1e-4}},
        "supervised|net=rrn": {"_train": {"epochs": 100, "batch_size": 16, "lr": 1e-4}},
    }
    main_metric = "board_acc_trick"
    # parameters one network reads and the other ignores (reports list them only where they apply)
    param_applies = {**{k: "net=cnn" for k in ("width", "depth", "bn", "input")},
                     **{k: "net=rrn" for k in ("steps", "hidden", "embed", "edge_drop", "mlp_layers")}}
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
            self._constraint = Constraint(sudoku_cnf(), [NeuralGroup("cell", torch.arange(729).reshape(81, 9))],
                                          meta={"encoding": "paper"}, exactly_one=exactly_one_sets())
        return self._constraint

    def network(self) -> nn.Module:
        t = self.tp
        if t["net"] == "rrn":
            return RRN(t["steps"], t["hidden"], t["embed"], t["edge_drop"], t["mlp_layers"])
        return ParkCNN(t["width"], t["depth"], t["bn"], t["input"] == "onehot")

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
        return {"source": getattr(self, "source_", None), "n_train_examples": int(len(self.train_q_)),
                "n_labelled": n_lab,
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
                        labels={"cell": self.train_s_[sel] - 1},
                        labelled=None if self.train_lab_ is None else self.train_lab_[sel])

    # ---- evaluation -------------------------------------------------------------------------
    @torch.no_grad()
    def score(self, net: nn.Module, quizzes: torch.Tensor, solutions: torch.Tensor, n_trick: int = 0,
              chunk: int = 0) -> dict[str, float]:
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
        out = self.score(net, torch.as_tensor(q, dtype=torch.long).to(device),
                         torch.as_tensor(s, dtype=torch.long).to(device))
        return {**out, "n_puzzles": float(len(q))}
