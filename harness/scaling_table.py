"""The scaling table of N-digit MNIST addition: N down, methods across.

Each cell is the main metric's mean ± std over seeds (and the seed count) with the median seconds
per training epoch, or ``T/O`` with the budget that the run overran (its phase: set-up or run) and
the seconds it had reached. A method column is the method with the task's encoding where it has
one (``cl-ste paper``, ``cl-ste column``), so two formulations of one method sit side by side; a
column also names the top-column curriculum, a batch other than 16 and a learning-rate schedule. The
plot draws seconds per epoch against N per column on a log scale and marks each timeout with a
cross at its budget.

    python -m harness.scaling_table RESULTS_DIR --out report.md [--task mnist-add]
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections import defaultdict

from . import records
from .errors import UserError


def _column(row: dict) -> str:
    """The method, its encoding, and what sets its training apart: the top column first, a batch
    other than 16, a learning-rate schedule (two such configurations never share a cell)."""
    tp = row.get("tp") or {}
    enc = tp.get("encoding")
    parts = [row["method"]] + ([enc] if enc and enc != "auto" else [])
    if tp.get("top_epochs"):
        parts.append(f"top-first {tp['top_epochs']}")
    if row.get("batch_size") not in (None, 16):
        parts.append(f"b{row['batch_size']}")
    if row.get("lr_schedule") not in (None, "constant"):
        parts.append(row["lr_schedule"])
    return " ".join(parts)


def collect(results_dir: str, task: str = "mnist-add", metric: str = "sum_acc") -> dict:
    """{(size, column): {"values": [...], "seconds": [...], "timeouts": [row, ...], "other": [row, ...]}}
    from the final rows of every run (its per-epoch rows give the seconds per epoch)."""
    if not os.path.isdir(results_dir):
        raise UserError(f"results directory not found: {results_dir}")
    epochs, finals = defaultdict(list), {}
    for row in records.iter_rows(results_dir):
        if row.get("task") != task:
            continue
        if row.get("status") == "ok" and row.get("epoch") is not None:
            epochs[row["run_id"]].append(row)
        if row.get("final"):
            finals[row["run_id"]] = row
    cells: dict = defaultdict(lambda: {"values": [], "seconds": [], "timeouts": [], "other": []})
    for run_id, row in finals.items():
        size = (row.get("tp") or {}).get(row.get("size_param") or "digits")
        cell = cells[(size, _column(row))]
        eps = sorted(epochs.get(run_id, []), key=lambda r: r["epoch"])
        timed = eps[1:] if len(eps) > 1 else eps  # the first epoch pays warm-up
        cell["seconds"] += [r["train_seconds"] for r in timed if r.get("train_seconds") is not None]
        if row.get("status") == "ok" and metric in (row.get("metrics") or {}):
            cell["values"].append(row["metrics"][metric])
        elif row.get("status") == "timeout":
            cell["timeouts"].append(row)
        else:
            cell["other"].append(row)
    return dict(cells)


def _cell_text(cell: dict) -> str:
    parts = []
    v = cell["values"]
    if v:
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        parts.append(f"{statistics.mean(v):.1f} ± {sd:.1f} (n={len(v)})")
    if cell["seconds"]:
        parts.append(f"{statistics.median(cell['seconds']):.0f} s/ep")
    for t in cell["timeouts"][:1]:
        budget = t.get("budget_seconds")
        parts.append(f"T/O {t.get('timeout_phase', '')} {budget:g} s" if budget else "T/O")
    if cell["other"]:
        parts.append(", ".join(sorted({r.get("status", "?") for r in cell["other"]})))
    return "; ".join(parts) if parts else ""


def render(cells: dict, metric: str = "sum_acc", title: str = "mnist-add scaling") -> str:
    sizes = sorted({s for s, _ in cells})
    cols = sorted({c for _, c in cells})
    lines = [
        f"# {title}",
        "",
        f"{metric}: mean ± std over seeds (n seeds); s/ep: median seconds per training "
        "epoch; T/O: timeout, with the phase and the budget it overran.",
        "",
        "| N | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for s in sizes:
        lines.append(
            f"| {s} | " + " | ".join(_cell_text(cells[(s, c)]) if (s, c) in cells else "" for c in cols) + " |"
        )
    return "\n".join(lines) + "\n"


def plot(cells: dict, path: str, title: str = "mnist-add: time per epoch by N") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, col in enumerate(sorted({c for _, c in cells})):
        pts = sorted(
            (s, statistics.median(c["seconds"]))
            for (s, cc), c in cells.items()
            if cc == col and c["seconds"] and not c["timeouts"]
        )
        color = f"C{k}"
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=color, label=col)
        tos = sorted(
            (s, c["timeouts"][0].get("budget_seconds"))
            for (s, cc), c in cells.items()
            if cc == col and c["timeouts"] and c["timeouts"][0].get("budget_seconds")
        )
        if tos:
            ax.scatter(
                [t[0] for t in tos],
                [t[1] for t in tos],
                marker="x",
                s=80,
                color=color,
                label=f"{col}: timeout (at its budget)",
            )
    ax.set(xlabel="N (digits per number)", ylabel="seconds per epoch (timeouts: the budget)", title=title)
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xticks(sorted({s for s, _ in cells}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--out", required=True, help="Markdown file; the plot goes beside it (.png)")
    ap.add_argument("--task", default="mnist-add")
    ap.add_argument("--metric", default="sum_acc")
    args = ap.parse_args(argv)
    cells = collect(args.results, args.task, args.metric)
    if not cells:
        raise SystemExit(f"no {args.task} rows under {args.results}")
    png = os.path.splitext(args.out)[0] + "-time-by-n.png"
    plot(cells, png)
    text = render(cells, args.metric) + f"\n![time per epoch by N]({os.path.basename(png)})\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(f"scaling table written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
