"""Compare the finished runs of two results folders run by run (e.g. one suite on the local executor
and on Ray): every run id in both, whether its status and final metrics are equal, and the Ray
rows' start times.

    python scripts/compare_runs.py results/runs/smoke-local results/runs/smoke-ray
"""

from __future__ import annotations

import glob
import json
import os
import re
import statistics
import sys


def finals(results: str) -> dict[str, list[dict]]:
    """run id -> the rows of its published file."""
    out = {}
    for path in glob.glob(os.path.join(results, "**", "*.jsonl"), recursive=True):
        if re.fullmatch(r"[0-9a-f]{16}\.jsonl", os.path.basename(path)):
            rows = [json.loads(line) for line in open(path) if line.strip()]
            if rows:
                out[rows[-1]["run_id"]] = rows
    return out


def main(a: str, b: str) -> int:
    ra, rb = finals(a), finals(b)
    both = sorted(set(ra) & set(rb))
    differ = 0
    for rid in both:
        la, lb = ra[rid][-1], rb[rid][-1]
        same = (la["status"], la.get("metrics")) == (lb["status"], lb.get("metrics"))
        differ += not same
        print(
            f"{rid} {la['task']:13s} {la['method']:13s} seed {la['seed']} {la['status']:8s} "
            f"{'same' if same else 'DIFFERENT'}" + ("" if same else f": {la.get('metrics')} vs {lb.get('metrics')}")
        )
    only = sorted(set(ra) ^ set(rb))
    print(f"{len(both)} runs in both, {differ} differ; {len(only)} in one folder only")
    for name, runs in ((a, ra), (b, rb)):
        q = [
            r["ray_queue_seconds"] for rows in runs.values() for r in rows[:1] if r.get("ray_queue_seconds") is not None
        ]
        f = [
            r["ray_first_row_seconds"]
            - (r.get("data_seconds") or 0)
            - (r.get("setup_seconds") or 0)
            - (r.get("train_seconds") or 0)
            - (r.get("eval_seconds") or 0)
            for rows in runs.values()
            for r in rows
            if r.get("ray_first_row_seconds") is not None
        ]
        shared = sum(1 for rows in runs.values() for r in rows if (r.get("concurrent_runs") or 1) > 1)
        if q:
            print(
                f"{name}: Ray queue (submission to the worker's start) median {statistics.median(q):.2f} s; worker "
                f"start to the first epoch's row less its data, set-up, train and eval: median "
                f"{statistics.median(f):.2f} s over {len(f)} runs; {shared} rows timed on a shared node"
            )
    return 1 if differ or only else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
