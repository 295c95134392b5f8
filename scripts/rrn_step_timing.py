"""Time one message-passing step of the Sudoku RRN (tasks/sudoku.py) at several batch sizes.

One step = the messages on all 1,620 edges of every puzzle, their sum per cell and the LSTM cell
(``RRN.step``), at the paper's size (hidden 96, 4-layer message MLP) on one CPU thread. Printed:
the median over repeats of a forward step and of a forward + backward step, per batch and per
puzzle, and the time relative to batch 1. Vectorised means the time grows less than linearly
with the batch (the per-puzzle time falls).

    .venv/bin/python scripts/rrn_step_timing.py [--batches 1 16 64] [--hidden 96] [--repeats 30]

Run it alone on the machine (``flock /tmp/nesybench-bench.lock``): other processes skew it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tasks.sudoku import RRN  # noqa: E402


def time_step(net: RRN, batch: int, repeats: int, backward: bool) -> float:
    """Median seconds of one step (forward, or forward + backward) for ``batch`` puzzles."""
    g = torch.Generator().manual_seed(batch)
    quiz = torch.randint(0, 10, (batch, 1, 9, 9), generator=g).float()
    with torch.no_grad():
        x = net.encode(quiz)
    h = torch.randn(x.shape, generator=g)
    state = (torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g))
    times = []
    for i in range(repeats + 3):  # 3 warm-up repeats
        if backward:
            hh = h.clone().requires_grad_(True)
            t0 = time.perf_counter()
            out, _ = net.step(x, hh, state)
            out.sum().backward()
        else:
            t0 = time.perf_counter()
            with torch.no_grad():
                net.step(x, h, state)
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = RRN(steps=1, hidden=args.hidden, edge_drop=0.0).train()
    rows = []
    for b in args.batches:
        rows.append((b, time_step(net, b, args.repeats, False), time_step(net, b, args.repeats, True)))
    b0, f0, fb0 = rows[0]
    print(
        f"RRN message-passing step, hidden {args.hidden}, 1,620 edges per puzzle, torch {torch.__version__}, "
        f"{args.threads} thread(s), median of {args.repeats}"
    )
    print()
    print("| batch | forward ms | per puzzle ms | x batch 1 | fwd+bwd ms | per puzzle ms | x batch 1 |")
    print("|---|---|---|---|---|---|---|")
    for b, f, fb in rows:
        print(
            f"| {b} | {1e3 * f:.2f} | {1e3 * f / b:.3f} | {f / f0:.1f} "
            f"| {1e3 * fb:.2f} | {1e3 * fb / b:.3f} | {fb / fb0:.1f} |"
        )
    last_b, last_f, last_fb = rows[-1]
    sub = last_f / f0 < last_b / b0 and last_fb / fb0 < last_b / b0
    print()
    print(
        f"batch {b0} -> {last_b} ({last_b // b0}x puzzles): forward {last_f / f0:.1f}x, forward+backward "
        f"{last_fb / fb0:.1f}x the time: {'less than linear' if sub else 'NOT less than linear'}"
    )


if __name__ == "__main__":
    main()
