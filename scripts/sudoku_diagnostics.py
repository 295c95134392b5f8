"""What a kept Sudoku network has learned of the rules, on the first N test puzzles of its run.

For networks kept by ``nesybench run --task sudoku ... --save-models DIR`` (any method): one-shot
accuracy on the blank cells; the share of blank-cell predictions that repeat a clue of the same
row, column or box (a broken rule a single look at the clues shows); accuracy on the blanks that
are naked singles (one digit left by the clues); and how often the inference trick's first fill
(the most confident blank) is right. Board accuracy with the trick needs every fill right.

    .venv/bin/python scripts/sudoku_diagnostics.py results/models/sudoku-cpu2/*.pt [--n 200]
"""

import argparse
import sys

import torch

from harness.errors import UserError
from harness.evaluate import load_network
from tasks.sudoku import sudoku_edges

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("models", nargs="+")
ap.add_argument("--n", type=int, default=200)
args = ap.parse_args()
torch.set_num_threads(1)
cpu = torch.device("cpu")
peer = torch.zeros(81, 81)  # peer[i, j] = 1: cells i and j share a row, column or box
peer[sudoku_edges()] = 1.0
for path in args.models:
    try:
        cfg, task, net = load_network(path, cpu)
        if cfg.task != "sudoku":
            raise UserError(f"--model {path}: a {cfg.task} network; give networks of sudoku runs")
        task.setup(cfg.seed, cpu)
    except UserError as e:
        sys.exit(f"sudoku_diagnostics: {e}")
    q, s = task.test_q_[: args.n], task.test_s_[: args.n]
    n = len(q)
    with torch.no_grad():
        logits = net(q.float().reshape(-1, 1, 9, 9))["cell"]
    p = logits.softmax(-1)
    pred = p.argmax(-1) + 1
    blank = q == 0
    acc_blank = (pred == s)[blank].float().mean().item()
    onehot = torch.nn.functional.one_hot(q, 10)[..., 1:].float()  # (P, 81, 9) clues
    seen = (peer @ onehot) > 0  # (P, 81, 9): digit present among the cell's peers' clues
    conflict = seen.gather(-1, (pred - 1).unsqueeze(-1)).squeeze(-1)
    conf_rate = conflict[blank].float().mean().item()
    single = blank & ((~seen).sum(-1) == 1)  # naked singles: exactly one digit not seen
    acc_single = (pred == s)[single].float().mean().item()
    first = p.max(-1).values.masked_fill(~blank, -1).argmax(-1)  # the trick's first fill
    ok_first = (pred.gather(1, first[:, None]) == s.gather(1, first[:, None])).float().mean().item()
    print(
        f"{cfg.method} seed {cfg.seed}: blank acc {100 * acc_blank:.1f}%, blank predictions repeating a peer "
        f"clue {100 * conf_rate:.1f}%, naked-single blanks ({single.sum().item() / n:.1f}/puzzle) right "
        f"{100 * acc_single:.1f}%, trick's first fill right {100 * ok_first:.1f}%"
    )
