"""Run a suite's runs in J parallel child processes (``nesybench bench`` runs them one at a time).

Each run is the same isolated child process as ``nesybench bench`` starts (budgets, timeouts and
resume alike: finished runs are skipped), so the rows are the same; only the order and overlap
differ. Runs that share the CPU measure longer epochs: compare times within one invocation.
Afterwards the suite's report is written, and for mnist-add suites the scaling table.

    PYTHONPATH=. python scripts/bench_parallel.py --suite scaling --jobs 3 --results results/runs/scaling \
        --mnist-dir DIR --data-dir clste=DIR
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from harness import scaling_table
from harness.bench import plan
from harness.config import data_dirs
from harness.report import write_report
from harness.runner import BenchOptions, RunSpec, final_row, run_isolated
from harness.suites import get_suite


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--results", required=True)
    ap.add_argument("--mnist-dir", default=None)
    ap.add_argument("--data-dir", action="append")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--memory-gb", type=float, default=16.0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    opts = BenchOptions(
        suite=args.suite,
        results=args.results,
        device=args.device,
        threads=args.threads,
        mnist_dir=args.mnist_dir,
        data_dir=args.data_dir,
        quiet=args.quiet,
        memory_gb=args.memory_gb,
    )
    todo = [
        (e, c)
        for e, c in plan(get_suite(opts.suite).entries, opts, data_dirs(opts))
        if final_row(c, opts.results) is None
    ]
    lock = threading.Lock()

    def say(msg):
        with lock:
            print(msg, flush=True)

    def one(item):
        entry, cfg = item
        say(f"start {cfg.task} {cfg.method} {cfg.tp} seed {cfg.seed}")
        outcome = run_isolated(RunSpec.of(entry, cfg, opts), say, opts.memory_gb)
        say(f"end {cfg.task} {cfg.method} {cfg.tp} seed {cfg.seed}: {outcome}")
        return outcome

    print(f"{len(todo)} runs to do with {args.jobs} jobs", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(one, todo))
    write_report(args.results, os.path.join(args.results, "report.md"), title=f"nesybench report: suite {args.suite}")
    scaling_table.main([args.results, "--out", os.path.join(args.results, "scaling.md")])
    return 1 if any(o in ("failed", "user-error") for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
