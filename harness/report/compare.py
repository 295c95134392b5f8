"""``nesybench compare A B``: two result folders side by side, cell by cell.

Cells are matched on what defines an experiment (task and its parameters, method and its
hyper-parameters, epochs, batch size, lr), not on where or when it ran, so A and B can be two
commits, two devices or two machines. For each matched cell: the headline metric in A and in B
(mean ± std (n)), the difference B - A, the seconds per epoch in A and B and their ratio B / A.

A difference is marked only where it exceeds the seeds' spread (as ``asv compare`` marks only
significant changes):
- metric: ``worse`` / ``better`` when the intervals mean ± std of A and B do not overlap (both need
  two or more seeds; with fewer the mark is ``?``: no spread to compare with);
- time: judged only with at least :data:`MIN_TIMINGS` timed epochs a side (epochs after a run's
  first where runs have several, over all seeds; otherwise ``too few timings``), and marked
  ``slower`` / ``faster`` only when the ratio of the medians is beyond ``--factor`` (default 1.1)
  and the two sides' spreads do not meet: every epoch of B slower than every epoch of A, or
  faster. Swapping A and B swaps the marks; noise between two runs of the same code marks nothing.

Exit status 0 with the table; with ``--fail-on-regression``, 1 when a cell is worse or slower.
"""

from __future__ import annotations

import numpy as np
from tabulate import tabulate

from .cells import cells as make_cells
from .cells import compact, load_rows, train_text
from .summary import fmt_seconds

_KEY = ("task_key", "tp_s", "method_key", "hp_s", "epochs", "batch_size", "lr", "lr_schedule")


def _index(results_dir: str, strict: bool = False) -> tuple[dict, list]:
    df = load_rows(results_dir, strict=strict)
    out = {}
    for c in make_cells(df):
        out.setdefault(tuple(str(c[k]) for k in _KEY), []).append(c)
    devices = sorted({c["device"] for v in out.values() for c in v})
    commits = sorted({str(x)[:10] for x in df.get("git_commit", []) if x})
    return out, [", ".join(devices), ", ".join(commits) or "unknown"]


def _metric(c: dict, m: str):
    return c["metrics"].get(m) if c and c["n_ok"] else None


def _fmt(v) -> str:
    if v is None:
        return "—"
    return f"{v[0]:.2f} ± {v[1]:.2f} ({v[2]})" if v[2] > 1 else f"{v[0]:.2f} (1)"


def metric_mark(a, b) -> str:
    if a is None or b is None:
        return ""
    if a[2] < 2 or b[2] < 2:
        return "?" if abs(b[0] - a[0]) > 1e-9 else ""
    if b[0] + b[1] < a[0] - a[1]:
        return "worse"
    if b[0] - b[1] > a[0] + a[1]:
        return "better"
    return ""


#: timed epochs a side below which ``compare`` does not judge time
MIN_TIMINGS = 3
TOO_FEW = "too few timings"


def time_mark(a: list[float], b: list[float], factor: float) -> tuple[float, str]:
    """(median ratio B / A, mark): see the module docstring."""
    if not a or not b:
        return float("nan"), ""
    ratio = float(np.median(b) / np.median(a))
    if min(len(a), len(b)) < MIN_TIMINGS:
        return ratio, TOO_FEW
    if ratio > factor and min(b) > max(a):
        return ratio, "slower"
    if ratio < 1 / factor and max(b) < min(a):
        return ratio, "faster"
    return ratio, ""


def compare(a_dir: str, b_dir: str, factor: float = 1.1, strict: bool = False) -> tuple[list[dict], list[str]]:
    """Rows of the comparison table and the two folders' provenance lines (damaged row files are
    listed on standard error; with ``strict`` they are a UserError)."""
    a, pa = _index(a_dir, strict)
    b, pb = _index(b_dir, strict)
    rows = []
    for key in sorted(set(a) | set(b)):
        ca, cb = (a.get(key) or [None])[0], (b.get(key) or [None])[0]
        c = ca or cb
        metric = c["main_metric"] or ""
        va, vb = _metric(ca, metric), _metric(cb, metric)
        ratio, tmark = time_mark(ca["epoch_seconds"] if ca else [], cb["epoch_seconds"] if cb else [], factor)
        status = "" if ca and cb else ("only in A" if ca else "only in B")
        rows.append(
            {
                "task": c["task"] + (f" {compact(c['tp_diff'])}" if c["tp_diff"] else ""),
                "method": c["method"] + (f" {compact(c['hp_diff'])}" if c["hp_diff"] else ""),
                "train": train_text(c),
                "metric": metric,
                "A": _fmt(va) if ca else "—",
                "B": _fmt(vb) if cb else "—",
                "B - A": f"{vb[0] - va[0]:+.2f}" if va and vb else "",
                "metric change": metric_mark(va, vb) or status or ("" if va and vb else _outcomes(ca, cb)),
                "s/epoch A": fmt_seconds(ca["s_per_epoch"]) if ca else "—",
                "s/epoch B": fmt_seconds(cb["s_per_epoch"]) if cb else "—",
                "ratio B/A": f"{ratio:.2f}" if ratio == ratio else "",
                "time change": tmark,
            }
        )
    return rows, [f"A: {a_dir} (devices {pa[0]}; commits {pa[1]})", f"B: {b_dir} (devices {pb[0]}; commits {pb[1]})"]


def _outcomes(ca, cb) -> str:
    return f"A {ca['status'] if ca else '—'}, B {cb['status'] if cb else '—'}"


def main(args) -> int:
    rows, head = compare(args.a, args.b, args.factor, strict=args.strict)
    print("\n".join(head))
    print(
        f"marks: metric worse/better where mean ± std of A and B do not overlap (? : fewer than 2 seeds); "
        f"time slower/faster where the ratio is beyond {args.factor:g} and every timed epoch of one side is "
        f"beyond every one of the other ({TOO_FEW}: under {MIN_TIMINGS} timed epochs a side)\n"
    )
    print(tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True))
    worse = [r for r in rows if r["metric change"] == "worse" or r["time change"] == "slower"]
    print(
        f"\n{len(rows)} cells: {len(worse)} worse or slower in B, "
        f"{sum(r['metric change'] == 'better' or r['time change'] == 'faster' for r in rows)} better or faster"
    )
    return 1 if worse and args.fail_on_regression else 0
