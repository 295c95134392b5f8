"""Time per training step of two methods on the same task, interleaved block by block.

The speed target compares CL-STE's epoch with the supervised method's on the same network
and images. On a shared VM whole-epoch times drift by up to 40 % between back-to-back runs, more
than the difference being measured; this script alternates blocks of ``--block`` training steps
of each method (the same batches, each method with its own network and optimizer, both built
exactly as the harness's loop builds them) for ``--rounds`` rounds, after a warm-up block of
each, and prints the median time per step of each method and the ratio of the medians (with the
ratio's range over rounds). Load that changes during the run falls on both methods alike.

    .venv/bin/python scripts/step_ratio.py --mnist-dir MNIST --threads 1
    (defaults: mnist-add, cl-ste b_p + iSTE with w_cnf 3 and w_bound 0.4 against supervised,
    batch 16, lr 0.001, 20 rounds of 100 steps)
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time

import torch

from harness.config import kv
from harness.errors import UserError
from harness.loop import make_optimizer, seed_everything, train_step
from harness.registry import get_method, get_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="mnist-add")
    ap.add_argument("--tp", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--methods", nargs=2, default=["cl-ste", "supervised"])
    ap.add_argument(
        "--hp",
        action="append",
        default=["w_cnf=3", "w_bound=0.4", "ste=bp-iste"],
        metavar="KEY=VALUE",
        help="hyper-parameters of the first method (default: the mnist-add preset of CL-STE)",
    )
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mnist-dir", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dirs = {"mnist": a.mnist_dir} if a.mnist_dir else {}
    task = get_task(a.task)(dirs, **kv(a.tp, "--tp"))
    task.setup(0, torch.device("cpu"))
    constraint = task.constraint()
    need = (a.rounds + 1) * a.block
    batches = []
    gen = torch.Generator().manual_seed(0)
    while len(batches) < need:
        batches += list(task.train_batches(a.batch_size, gen))
    runners = []
    for i, key in enumerate(a.methods):
        method = get_method(key)(**(kv(a.hp, "--hp") if i == 0 else {}))
        method.prepare(constraint, torch.device("cpu"))
        seed_everything(0)
        net = task.network()
        opt = make_optimizer(list(net.parameters()) + list(method.trainable()), a.lr)
        w_label = float(method.hp.get("w_label", 0.0))
        net.train()
        runners.append((key, functools.partial(train_step, task, method, net, opt, w_label=w_label)))
    times = {key: [] for key, _ in runners}
    for r in range(a.rounds + 1):
        block = batches[r * a.block : (r + 1) * a.block]
        for key, step in runners if r % 2 == 0 else runners[::-1]:  # alternate who goes first
            t0 = time.perf_counter()
            for b in block:
                step(b)
            if r:  # round 0 is the warm-up
                times[key].append((time.perf_counter() - t0) / len(block))
    k0, k1 = a.methods
    ratios = [x / y for x, y in zip(times[k0], times[k1])]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"task {a.task}, batch {a.batch_size}, {a.rounds} rounds of {a.block} steps, {a.threads} thread(s)")
    for k in a.methods:
        print(
            f"  {k}: median {1e3 * med[k]:.3f} ms/step (min {1e3 * min(times[k]):.3f}, max {1e3 * max(times[k]):.3f})"
        )
    print(
        f"  ratio {k0}/{k1}: {med[k0] / med[k1]:.3f} (median of per-round ratios {statistics.median(ratios):.3f}, "
        f"range {min(ratios):.3f}-{max(ratios):.3f})"
    )


if __name__ == "__main__":
    try:
        main()
    except UserError as e:  # a wrong task, method, parameter or data directory: one line, non-zero exit
        sys.exit(f"step_ratio: {e}")
