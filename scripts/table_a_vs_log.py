"""Compare CL-STE's Table A runs with the reference's logged runs, cell by cell.

    .venv/bin/python scripts/table_a_vs_log.py RESULTS_DIR [RESULTS_DIR ...] [--cells member3-b-sste ...]

Reads the final rows of every ``cl-ste`` run on add2x2, apply2x2 and member(n) with the paper's
protocol (``data_file=paper``, 3,000 rows, the full MNIST; batch 1, lr 5e-4, 3 epochs, member(5)
b(x) 10) under the result directories (e.g. results/runs/table-a and results/runs/table-a-rep) and prints, per cell: the
seeds,
mean ± sample std, the logged 10 runs' mean ± std (the reference's logs/testBenchmark.txt, per-run accuracies of
``logs/testBenchmark.txt``), the difference, Welch's t test and the Mann-Whitney U test against the
logged runs, the share of runs under 65 %, and how often a 10-seed mean drawn from these runs
(bootstrap, 100,000 draws) reaches the bar of the logged mean - 3 points.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import numpy as np

# per-run test accuracies of the reference's logs/testBenchmark.txt (apply2x2: all 100.00)
LOGGED = {
    "add2x2-bp-iste": [98.15, 98.09, 97.82, 97.74, 98.37, 97.88, 98.21, 98.11, 97.75, 97.99],
    "add2x2-b-iste": [96.20, 95.05, 94.23, 96.15, 95.72, 95.79, 95.46, 94.81, 95.11, 96.56],
    "add2x2-b-sste": [96.15, 96.46, 96.20, 94.88, 95.96, 95.59, 95.57, 95.10, 95.65, 95.88],
    "apply2x2-bp-iste": [100.0] * 10,
    "apply2x2-b-iste": [100.0] * 10,
    "apply2x2-b-sste": [100.0] * 10,
    "member3-bp-iste": [95.24, 95.08, 96.04, 96.11, 94.38, 96.32, 94.79, 95.99, 95.01, 95.76],
    "member3-b-iste": [78.89, 70.71, 80.34, 67.13, 57.52, 90.35, 65.49, 71.33, 75.84, 74.84],
    "member3-b-sste": [77.59, 70.84, 83.26, 92.20, 89.42, 69.47, 79.77, 91.49, 88.10, 89.39],
    "member5-bp-iste": [94.49, 94.97, 94.89, 94.18, 95.36, 95.45, 95.35, 95.33, 95.52, 94.52],
    "member5-b-iste": [55.65, 11.35, 68.15, 90.07, 40.90, 54.16, 61.40, 68.51, 10.32, 50.98],
    "member5-b-sste": [88.62, 92.77, 84.00, 93.43, 74.21, 92.70, 88.49, 94.82, 77.91, 93.03],
}


def fail(msg: str) -> None:
    print(f"table_a_vs_log: error: {msg}", file=sys.stderr)
    sys.exit(2)


def read_cells(dirs: list[str]) -> dict[str, dict[int, float]]:
    cells: dict[str, dict[int, float]] = {}
    for d in dirs:
        for path in glob.glob(os.path.join(d, "**", "*.jsonl"), recursive=True):
            with open(path) as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except json.JSONDecodeError:
                        fail(f"{path}: a line is not JSON; is this a nesybench results directory?")
                    if r.get("method") != "cl-ste" or not r.get("final") or r.get("status") != "ok":
                        continue
                    tp, desc = r.get("tp") or {}, r.get("describe") or {}
                    if (
                        tp.get("data_file") != "paper"
                        or tp.get("n_train") != 3000
                        or str(desc.get("mnist", "full")).split(":")[0] != "full"
                    ):
                        continue  # not the paper's protocol (its files, 3,000 rows, the full MNIST)
                    task = r.get("task")
                    if task == "member":
                        task = f"member{r['tp'].get('n', 3)}"
                    key = f"{task}-{r['hp']['ste']}"
                    epochs = 10 if key in ("member5-b-iste", "member5-b-sste") else 3
                    if (r.get("epochs"), r.get("batch_size"), r.get("lr")) != (epochs, 1, 5e-4):
                        continue  # not the paper's settings
                    if key in LOGGED:
                        metric = "op_acc" if task == "apply2x2" else "digit_acc"
                        cells.setdefault(key, {})[int(r["seed"])] = float(r["metrics"][metric])
    return cells


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="nesybench results directories")
    p.add_argument("--cells", nargs="+", metavar="CELL", help=f"only these cells ({', '.join(LOGGED)})")
    args = p.parse_args(argv)
    for d in args.results:
        if not os.path.isdir(d):
            fail(f"{d}: no such directory; give the results directories of scripts/table_a.sh")
    unknown = [c for c in args.cells or [] if c not in LOGGED]
    if unknown:
        fail(f"unknown cell {unknown[0]!r}; known: {', '.join(LOGGED)}")
    try:
        from scipy import stats
    except ImportError:
        stats = None
    cells = read_cells(args.results)
    if not cells:
        fail(
            "no finished CL-STE run of add2x2, apply2x2 or member with the paper's protocol under "
            + ", ".join(args.results)
            + " (scripts/table_a.sh makes them)"
        )
    rng = np.random.default_rng(0)
    for key in args.cells or LOGGED:
        if key not in cells:
            continue
        runs, log = cells[key], np.array(LOGGED[key])
        x = np.array([runs[s] for s in sorted(runs)])
        sd = x.std(ddof=1) if len(x) > 1 else float("nan")
        print(
            f"{key}: {len(x)} seeds ({min(runs)}..{max(runs)}): {x.mean():.2f} ± {sd:.2f}; logged "
            f"{log.mean():.2f} ± {log.std(ddof=1):.2f}; difference {x.mean() - log.mean():+.2f}"
        )
        if stats is not None and len(x) > 1 and log.std() > 0:
            t = stats.ttest_ind(x, log, equal_var=False)
            u = stats.mannwhitneyu(x, log, alternative="two-sided")
            print(f"  Welch t {t.statistic:.2f} (p {t.pvalue:.3f}); Mann-Whitney p {u.pvalue:.3f}")
        bar = log.mean() - 3
        boot = rng.choice(x, (100_000, 10)).mean(1)
        print(
            f"  under 65 %: {int((x < 65).sum())} of {len(x)} (logged {int((log < 65).sum())} of 10); "
            f"a 10-seed mean >= {bar:.2f} (logged - 3) in {100 * (boot >= bar).mean():.1f} % of bootstrap draws"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
