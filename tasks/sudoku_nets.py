"""The networks of the Sudoku task (:mod:`tasks.sudoku`) and the board geometry they share.

Network (Park 2018, the reference ``Sudoku_CNN``): Conv 1->W (3x3), ``depth - 1`` x Conv W->W
(3x3), Conv W->9 (1x1), BatchNorm after each (``bn``) and ReLU after all but the last; the paper's
is W = 512, depth = 9. Output: {"cell": (B, 81, 9)} logits, one categorical variable per cell.

``net=rrn``: the recurrent relational network of Palm et al. 2018 (:class:`RRN`, as DGL's
re-implementation that the paper used): digit, row and column embeddings (``embed``) through an
MLP give each cell its input x; ``steps`` rounds of message passing over the Sudoku graph (each cell
receives from its 20 peers: 1,620 directed edges), a message being an MLP of (sender, receiver)
states with edge dropout (``edge_drop``), summed per receiver and fed with x into an LSTM cell
(``hidden``); a linear layer reads 9 logits per cell after every step. Its outputs are the final
step's ``{"cell"}`` as a ``harness.api.StepOutputs`` with every step's: the supervised loss averages
over the steps, CL-STE takes L_cnf on step 0 and L_bound and L_cont over all steps (the paper's
``--loss cross cont cnf bound --idx 0``, the defaults of ``cl-ste`` with ``net=rrn``). All puzzles
of a batch and all edges are computed at once (gathers and one sum per step).
"""

from __future__ import annotations

import torch
from torch import nn

from harness.api import StepOutputs


def sudoku_units() -> dict[str, list[list[int]]]:
    """The 9 rows, 9 columns and 9 boxes as lists of cell indices (row-major, 0..80)."""
    return {
        "row": [[9 * r + c for c in range(9)] for r in range(9)],
        "col": [[9 * r + c for r in range(9)] for c in range(9)],
        "box": [
            [9 * r + c for r in range(br, br + 3) for c in range(bc, bc + 3)] for br in (0, 3, 6) for bc in (0, 3, 6)
        ],
    }


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
    """Palm et al.'s recurrent relational network for Sudoku (DGL's ``SudokuNN``, docs/method.md "The paper's
    settings").

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

    def __init__(self, steps: int = 32, hidden: int = 96, embed: int = 16, edge_drop: float = 0.4, mlp_layers: int = 4):
        super().__init__()
        self.steps, self.hidden, self.edge_drop = steps, hidden, edge_drop
        self.digit_embed = nn.Embedding(10, embed)
        self.row_embed = nn.Embedding(9, embed)
        self.col_embed = nn.Embedding(9, embed)
        self.input_mlp = _mlp(3 * embed, hidden, mlp_layers)
        self.msg_src = nn.Linear(hidden, hidden)  # the message MLP's first layer, split by input half
        self.msg_dst = nn.Linear(hidden, hidden, bias=False)
        self.msg_rest = (
            nn.Sequential(nn.ReLU(), *_mlp(hidden, hidden, mlp_layers - 1)) if mlp_layers > 1 else nn.Identity()
        )
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
        return torch.cat(
            [
                self._edge_sum(a[i : i + self.edge_chunk], b[i : i + self.edge_chunk])
                for i in range(0, len(h), self.edge_chunk)
            ]
        )

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
        hh, cc = self.lstm(
            torch.cat([x, m], -1).view(B * 81, 2 * H), (state[0].view(B * 81, H), state[1].view(B * 81, H))
        )
        hh, cc = hh.view(B, 81, H), cc.view(B, 81, H)
        return hh, (hh, cc)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 9, 9) or (B, 81) digits 0..9 -> input states x (B, 81, H)."""
        q = x.reshape(x.shape[0], 81).long()
        emb = torch.cat(
            [
                self.digit_embed(q),
                self.row_embed(self.row).expand(len(q), -1, -1),
                self.col_embed(self.col).expand(len(q), -1, -1),
            ],
            -1,
        )
        return self.input_mlp(emb)

    def forward(self, x: torch.Tensor) -> dict:
        """x (B, 1, 9, 9) digits -> StepOutputs: {"cell": final (B, 81, 9)}, steps [{"cell": ...} per step]."""
        xs = self.encode(x)
        h = xs
        state = (torch.zeros_like(xs), torch.zeros_like(xs))
        steps = []
        for _ in range(self.steps):
            h, state = self.step(xs, h, state)
            steps.append({"cell": self.out(h)})
        return StepOutputs(steps)


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
