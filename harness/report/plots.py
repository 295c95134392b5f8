"""Figures of a report, each written as PNG and SVG.

Per task:
- ``<stem>-<task>-curves``: the headline metric against epoch and against cumulative training
  seconds, one row of axes per task setting (sizes never share axes), the mean over seeds as a line
  with a ± std band; settings whose runs have a single epoch have no curve and are left out;
- ``<stem>-<task>-scaling`` (tasks run at two or more sizes): the headline metric and seconds per
  epoch against the size parameter, mean ± std over seeds, timeouts drawn as markers at their
  budget; a line never joins two sizes across a size the method did not finish.

Labels are method names plus the hyper-parameters that differ from their defaults, the legend sits
outside the axes, integer axes get integer ticks, and a time axis is logarithmic where its values
span a decade or more.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

_PCT_METRICS_MAX = 100.0


def _metric_limits(ax, values: list[float]) -> None:
    """A percentage axis with at least a 10-point span inside [0, 100] (an all-zero metric reads
    as 0 on a 0..10 axis, not as noise around it)."""
    vals = [v for v in values if v == v]
    if not vals or min(vals) < 0 or max(vals) > _PCT_METRICS_MAX:
        return
    lo, hi = min(vals), max(vals)
    pad = max((hi - lo) * 0.1, 1.0)
    lo, hi = max(0.0, lo - pad), min(100.0, hi + pad)
    if hi - lo < 10:
        hi = min(100.0, lo + 10) if lo + 10 <= 100 else hi
        lo = hi - 10 if hi - 10 >= 0 else 0.0
    span = hi - lo  # a little room so that a curve on 0 or 100 is not hidden by the frame
    ax.set_ylim(lo - 0.02 * span if lo <= 0 else lo, hi + 0.02 * span if hi >= 100 else hi)


def _log_if_decades(ax, values, axis: str = "y") -> None:
    """A log scale, with plain-number tick labels (0.1, 1, 10), where the values span a decade."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    vals = [v for v in values if v == v and v > 0]
    if vals and max(vals) / min(vals) >= 10:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        a = ax.yaxis if axis == "y" else ax.xaxis
        a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        a.set_minor_formatter(NullFormatter())


def _colors(labels: list[str]) -> dict[str, tuple]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {lab: cmap(i % 10) for i, lab in enumerate(labels)}


def _save(fig, out_dir: str, name: str) -> list[str]:
    files = []
    for ext in ("png", "svg"):
        f = f"{name}.{ext}"
        fig.savefig(os.path.join(out_dir, f), dpi=110, bbox_inches="tight")
        files.append(f)
    return files


def _curve(df: pd.DataFrame, c: dict, metric: str) -> pd.DataFrame | None:
    ok_ids = [k for k, s in c["outcomes"].items() if s == "ok"]
    r = df[df["run_id"].isin(ok_ids) & (df["status"] == "ok") & df["epoch"].notna()].copy()
    if r.empty or r["epoch"].max() <= 1:
        return None
    r = r[r["file_state"] == "done"] if (r["file_state"] == "done").any() else r
    r = r.sort_values(["run_id", "epoch"])
    r["value"] = r["metrics"].map(lambda m: (m or {}).get(metric))
    r["cum_s"] = r.groupby("run_id")["train_seconds"].cumsum()
    g = r.groupby("epoch").agg(mean=("value", "mean"), std=("value", "std"), cum_s=("cum_s", "mean"))
    return g.fillna({"std": 0.0})


def curves(df: pd.DataFrame, grid, task: str, color: dict, out_dir: str, stem: str) -> list[str]:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows: dict[str, list[tuple[str, dict, pd.DataFrame]]] = {}
    for row in grid.rows:
        for col in grid.columns:
            c = grid.cells.get((row, col))
            if c is None or c["task_key"] != task or not c["main_metric"]:
                continue
            cur = _curve(df, c, grid.metric[row])
            if cur is not None:
                rows.setdefault(row, []).append((col, c, cur))
    if not rows:
        return []
    order = list(rows)
    fig, axes = plt.subplots(len(order), 2, figsize=(11, 3.6 * len(order)), squeeze=False)
    handles = {}
    for i, row in enumerate(order):
        ax_e, ax_t = axes[i]
        metric = grid.metric[row]
        values, times = [], []
        for col, c, cur in rows[row]:
            x, m, sd = cur.index.to_numpy(float), cur["mean"].to_numpy(float), cur["std"].to_numpy(float)
            mk = "o" if len(x) <= 15 else None
            (h,) = ax_e.plot(x, m, marker=mk, ms=3, color=color[col], label=col)
            ax_e.fill_between(x, m - sd, m + sd, color=color[col], alpha=0.2, lw=0)
            ax_t.plot(cur["cum_s"], m, marker=mk, ms=3, color=color[col])
            ax_t.fill_between(cur["cum_s"].to_numpy(float), m - sd, m + sd, color=color[col], alpha=0.2, lw=0)
            handles[col] = h
            values += list(m - sd) + list(m + sd)
            times += list(cur["cum_s"])
        n = max(len(cur) for _, _, cur in rows[row])
        seeds = sorted({c["n_ok"] for _, c, _ in rows[row]})
        spread = f"mean ± std over {'/'.join(map(str, seeds))} seed{'s' if seeds != [1] else ''}"
        ax_e.set(xlabel=f"epoch ({spread})", ylabel=metric)
        ax_e.set_title(row, loc="left", fontsize=10, fontweight="bold")
        ax_e.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(n, 10)))
        ax_t.set(xlabel="cumulative training seconds", ylabel=metric)
        _log_if_decades(ax_t, times, "x")
        for ax in (ax_e, ax_t):
            _metric_limits(ax, values)
            ax.grid(alpha=0.3)
        if values and all(v == 0 for v in values):  # coinciding curves: say so rather than hide one
            ax_e.text(
                0.5,
                0.5,
                f"every run above scores 0 on {metric}",
                transform=ax_e.transAxes,
                ha="center",
                color="0.35",
                fontsize=9,
            )
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="upper left",
        bbox_to_anchor=(1.0, 0.98),
        fontsize=8,
        frameon=False,
        title="method",
    )
    fig.tight_layout()
    files = _save(fig, out_dir, f"{stem}-{task}-curves")
    plt.close(fig)
    return files


def scaling(grid, task: str, color: dict, out_dir: str, stem: str) -> list[str]:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    tc = [(k, c) for k, c in grid.cells.items() if c["task_key"] == task and c["size_param"]]
    if not tc:
        return []
    sp = tc[0][1]["size_param"]
    sizes = sorted({c["tp"].get(sp) for _, c in tc if isinstance(c["tp"].get(sp), (int, float))})
    if len(sizes) < 2:
        return []
    metric = next((grid.metric[r] for (r, _), _ in tc), None)
    series: dict[str, dict] = {}
    for (row, col), c in tc:
        # one series per column and setting besides the size (shortest path's two encodings)
        rest = [p for p in row.split(" ")[1:] if not p.startswith(f"{sp}=")]
        series.setdefault(col + (f" ({' '.join(rest)})" if rest else ""), {})[c["tp"].get(sp)] = ((row, col), c)
    fig, (ax_m, ax_t) = plt.subplots(1, 2, figsize=(11, 4))
    times, values = [], []
    marks = {"T/O": False, "note": False}
    timeouts: dict = {}
    styles = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D")]
    used: dict = {}  # colour -> series drawn with it: a method's second setting gets another line style
    for lab, by_size in series.items():
        colr = color[lab.split(" (")[0]] if lab.split(" (")[0] in color else color.setdefault(lab, "0.3")
        ls, mk = styles[used.get(colr, 0) % len(styles)]
        used[colr] = used.get(colr, 0) + 1
        m, sd, t, tsd = (np.full(len(sizes), np.nan) for _ in range(4))
        for j, x in enumerate(sizes):
            if x not in by_size:
                continue
            key, c = by_size[x]
            v = c["metrics"].get(metric) if c["n_ok"] else None
            if v:
                m[j], sd[j] = v[0], v[1]
            runs = c["s_per_epoch_runs"]
            if runs:
                t[j] = float(np.mean(runs))
                tsd[j] = float(np.std(runs, ddof=1)) if len(runs) > 1 else 0.0
            if c["status"] == "T/O":
                b = max([b for b in c["budgets"] if b is not None] or [np.nan])
                if b == b:
                    timeouts.setdefault(x, []).append((b, colr))
            if any(n for n in grid.notes.get(key, []) if grid.footnotes[n - 1].startswith("run with")) and v:
                ax_m.plot([x], [v[0]], marker="o", ms=11, mfc="none", mec=colr, ls="none")
                marks["note"] = True
        ax_m.plot(sizes, m, marker=mk, ls=ls, color=colr, label=lab)
        ax_m.fill_between(sizes, m - sd, m + sd, color=colr, alpha=0.2, lw=0)
        ax_t.plot(sizes, t, marker=mk, ls=ls, color=colr)
        ax_t.fill_between(sizes, np.maximum(t - tsd, t * 0.05), t + tsd, color=colr, alpha=0.2, lw=0)
        values += list(m - sd) + list(m + sd)
        times += [v for v in t if v == v]
    log_x = sizes[-1] / max(sizes[0], 1e-9) >= 10
    for x, marks_x in timeouts.items():  # side by side where several methods timed out at one size
        for k, (b, colr) in enumerate(marks_x):
            dx = (k - (len(marks_x) - 1) / 2) * 0.06
            ax_t.plot(
                [x * (1 + dx) if log_x else x + dx * 2],
                [b],
                marker="X",
                ms=9,
                ls="none",
                color=colr,
                mec="black",
                mew=0.6,
            )
            times.append(b)
            marks["T/O"] = True
    name = tc[0][1]["task"]
    ax_m.set(xlabel=sp, ylabel=metric, title=f"{name}: {metric} by {sp}")
    ax_t.set(xlabel=sp, ylabel="training seconds per epoch", title=f"{name}: time per epoch by {sp}")
    _metric_limits(ax_m, values)
    _log_if_decades(ax_t, times, "y")
    if times:  # room above the highest point (a timeout marker at its budget is often the highest)
        lo, hi = ax_t.get_ylim()
        ax_t.set_ylim(lo, hi * 1.6 if ax_t.get_yscale() == "log" else hi + 0.08 * (hi - lo))
    for ax in (ax_m, ax_t):
        if log_x:
            ax.set_xscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels([f"{s:g}" for s in sizes])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    handles, labels = ax_m.get_legend_handles_labels()
    if marks["T/O"]:
        handles.append(Line2D([], [], marker="X", ls="none", color="0.5", mec="black", ms=9))
        labels.append("timeout, drawn at its budget (s)")
    if marks["note"]:
        handles.append(Line2D([], [], marker="o", ls="none", mfc="none", mec="0.3", ms=11))
        labels.append("run with another setting (summary notes)")
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=8, frameon=False, title="method")
    fig.text(
        0.0,
        -0.02,
        "mean ± std over seeds; a line joins only neighbouring sizes that both finished",
        fontsize=7,
        color="0.35",
    )
    fig.tight_layout()
    files = _save(fig, out_dir, f"{stem}-{task}-scaling")
    plt.close(fig)
    return files


def plot_all(df: pd.DataFrame, grid, out_dir: str, stem: str) -> dict[str, list[str]]:
    """Every figure of a report from its summary grid (rows, columns and notes as the table shows
    them); returns {task key: [file names]} (PNG and SVG of each figure)."""
    import matplotlib

    matplotlib.use("Agg")
    color = _colors(grid.columns)
    out = {}
    for task in sorted({c["task_key"] for c in grid.cells.values()}):
        files = curves(df, grid, task, color, out_dir, stem) + scaling(grid, task, color, out_dir, stem)
        if files:
            out[task] = files
    return out
