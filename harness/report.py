"""Comparison reports: pandas reads the result rows, tabulate renders Markdown.

One table per task (and task parameters): one row per method configuration (and source version:
rows of changed method code are never pooled with older ones; a table holding two versions of a
method names each by its source hash, ``cl-ste-v1 @1a2b3c4``), with mean ± std over
seeds of each final metric, the median seconds per training epoch (epochs after the first when a
run has several: the first pays warm-up), set-up seconds, the ratio of time per epoch to the
reference method (``supervised``) measured on the same device, and counts of runs by outcome.
Times from different devices are never pooled: the device is part of each row's key.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pandas as pd
from tabulate import tabulate

from . import records
from .errors import UserError

REFERENCE_METHOD = "supervised"


def load_rows(results_dir: str) -> pd.DataFrame:
    if not os.path.isdir(results_dir):
        raise UserError(f"results directory not found: {results_dir}; run 'nesybench run' or 'bench' first")
    rows = list(records.iter_rows(results_dir))
    if not rows:
        raise UserError(f"no result rows under {results_dir}")
    return pd.DataFrame(rows)


def _compact(d) -> str:
    if not isinstance(d, dict) or not d:
        return ""
    return " ".join(f"{k}={v}" for k, v in sorted(d.items()))


def _fmt(mean: float, std: float, n: int) -> str:
    if pd.isna(mean):
        return "—"
    return f"{mean:.2f} ± {std:.2f}" if n > 1 else f"{mean:.2f}"


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, tp, method, hp, epochs, batch, lr, device); see the module docstring."""
    df = df.copy()
    df["tp_s"] = df["tp"].map(_compact)
    df["hp_s"] = df["hp"].map(_compact)
    for col in ("timeout_phase",):
        if col not in df:
            df[col] = None
    if "method_hash" not in df:
        df["method_hash"] = ""
    df["method_hash"] = df["method_hash"].fillna("")
    # the method's source hash is part of the key: rows of changed code never pool with older ones
    keys = ["task_key", "tp_s", "method_key", "method_hash", "hp_s", "epochs", "batch_size", "lr", "device_name"]
    out = []
    for gkey, g in df.groupby(keys, dropna=False, sort=True):
        rec = dict(zip(keys, gkey))
        # outcome per run: the published attempt if there is one, else the latest attempt
        outcomes = {}
        finals = []
        errors = []  # the notes: the errors of each run's outcome (not of attempts a later one replaced)
        for run_id, r in g.groupby("run_id"):
            done = r[(r["file_state"] == "done")]
            attempt = done if len(done) else r[r["started_at"] == r["started_at"].max()]
            last = attempt.iloc[-1]
            status = last["status"]
            if status == "ok" and last.get("file_state") != "done":
                status = "incomplete"
            outcomes[run_id] = status
            if status == "ok":
                finals.append(last)
            elif pd.notna(last.get("error")):
                errors.append(str(last["error"]))
        ok = g[(g["status"] == "ok") & g["run_id"].isin([k for k, s in outcomes.items() if s == "ok"])]
        counts = pd.Series(list(outcomes.values())).value_counts().to_dict()
        rec["runs_ok"] = counts.get("ok", 0)
        rec["failed"] = counts.get("failed", 0)
        rec["timeout"] = counts.get("timeout", 0)
        rec["skipped"] = counts.get("skipped", 0)
        rec["incomplete"] = counts.get("incomplete", 0) + counts.get("killed", 0)
        notes = list(dict.fromkeys(errors))[:2]
        rec["notes"] = "; ".join(notes)
        metrics = pd.DataFrame([f["metrics"] for f in finals]) if finals else pd.DataFrame()
        for m in metrics.columns:
            rec[f"m:{m}"] = (metrics[m].mean(), metrics[m].std(ddof=1) if len(metrics) > 1 else 0.0, len(metrics))
        if len(ok):
            later = ok[ok["epoch"] > 1]
            rec["s_per_epoch"] = float((later if len(later) else ok)["train_seconds"].median())
            rec["setup_s"] = float(ok["setup_seconds"].median())
            rec["eval_s"] = float(ok["eval_seconds"].median())
        out.append(rec)
    summ = pd.DataFrame(out)
    if "s_per_epoch" in summ:
        ref = summ[summ["method_key"].str.startswith(REFERENCE_METHOD + "-v")]
        ref_t = ref.groupby(["task_key", "tp_s", "batch_size", "device_name"])["s_per_epoch"].median()
        summ["x_ref"] = [
            r["s_per_epoch"] / ref_t.get((r["task_key"], r["tp_s"], r["batch_size"], r["device_name"]), float("nan"))
            for _, r in summ.iterrows()
        ]
    return summ


def render(df: pd.DataFrame, title: str = "nesybench report") -> str:
    summ = summarize(df)
    first = df.iloc[-1]
    versions = first.get("versions") or {}
    devices = sorted({f"{d} ({t})" for d, t in zip(df["device_name"], df["device"])})
    commits = sorted({str(c)[:10] + ("+dirty" if dirty else "") for c, dirty in zip(df["git_commit"], df["git_dirty"])})
    lines = [f"# {title}", "",
             f"- generated: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
             f"- commits: {', '.join(commits)}",
             f"- devices: {', '.join(devices)}; torch threads: {sorted(set(df['threads'].dropna().astype(int)))}",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
             *(["- **rows were measured on different devices: compare times only between rows of one "
                "device**"] if len(devices) > 1 else []),
             "- metrics: mean ± sample std over seeds of the final epoch; s/epoch: median training seconds "
             "per epoch (after the first epoch when runs have several); x ref: s/epoch divided by the "
             f"`{REFERENCE_METHOD}` method's on the same task, batch size and device.",
             ""]
    for (task, tp), g in summ.groupby(["task_key", "tp_s"], sort=True):
        lines.append(f"## {task}" + (f" ({tp})" if tp else ""))
        lines.append("")
        metric_cols = [c for c in g.columns if c.startswith("m:") and g[c].notna().any()]
        table = []
        n_versions = g.groupby("method_key")["method_hash"].nunique()
        for _, r in g.iterrows():
            # several code versions of one method in a table: name each by its source hash
            label = r["method_key"] + (f" @{r['method_hash'][:7]}" if n_versions[r["method_key"]] > 1 else "")
            row = {"method": label, "hp": r["hp_s"],
                   "epochs × batch, lr": f"{r['epochs']} × {r['batch_size']}, {r['lr']:g}",
                   "device": r["device_name"]}
            for c in metric_cols:
                v = r[c]
                row[c[2:]] = _fmt(*v) if isinstance(v, tuple) else "—"
            row["s/epoch"] = f"{r['s_per_epoch']:.2f}" if pd.notna(r.get("s_per_epoch")) else "—"
            row["x ref"] = f"{r['x_ref']:.2f}" if pd.notna(r.get("x_ref")) else "—"
            row["setup s"] = f"{r['setup_s']:.2f}" if pd.notna(r.get("setup_s")) else "—"
            row["runs ok/fail/timeout/skip/incompl."] = (f"{r['runs_ok']}/{r['failed']}/{r['timeout']}/"
                                                         f"{r['skipped']}/{r['incomplete']}")
            if r["notes"]:
                row["notes"] = r["notes"]
            table.append(row)
        lines.append(tabulate(pd.DataFrame(table).fillna(""), headers="keys", tablefmt="github", showindex=False))
        lines.append("")
    return "\n".join(lines)


def _main_metric(task_key: str, metrics: list[str]) -> str | None:
    from .registry import get_task

    try:
        m = get_task(task_key.rsplit("-v", 1)[0]).main_metric
    except Exception:  # a task no longer registered: fall back on its first metric
        m = ""
    return m if m in metrics else (sorted(metrics)[0] if metrics else None)


def plot(df: pd.DataFrame, out_dir: str, stem: str) -> dict[str, list[str]]:
    """PNG plots per task: main metric against epoch and against cumulative training seconds (mean
    over seeds per method configuration and device), and seconds per epoch against the task's
    size parameter where runs cover several sizes. Returns {task_key: [file names]}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = df[(df["status"] == "ok") & df["epoch"].notna()].copy()
    if ok.empty:
        return {}
    ok["hp_s"] = ok["hp"].map(_compact)
    ok["label"] = ok["method_key"] + " " + ok["hp_s"].str.slice(0, 40) + " [" + ok["device_name"] + "]"
    ok = ok.sort_values(["run_id", "epoch"])
    ok["cum_s"] = ok.groupby("run_id")["train_seconds"].cumsum()
    files: dict[str, list[str]] = {}
    for task, g in ok.groupby("task_key"):
        metric = _main_metric(task, sorted({k for m in g["metrics"] for k in m}))
        if metric is None:
            continue
        g = g.assign(value=g["metrics"].map(lambda m: m.get(metric)))
        safe = task.replace("/", "_")
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for (label, tp), h in g.groupby(["label", g["tp"].map(_compact)]):
            curve = h.groupby("epoch").agg(value=("value", "mean"), cum_s=("cum_s", "mean"))
            name = label if g["tp"].map(_compact).nunique() == 1 else f"{label} {tp}"
            axes[0].plot(curve.index, curve["value"], marker="o", label=name)
            axes[1].plot(curve["cum_s"], curve["value"], marker="o", label=name)
        axes[0].set(xlabel="epoch", ylabel=metric, title=f"{task}: {metric} by epoch")
        axes[1].set(xlabel="cumulative training seconds", ylabel=metric, title=f"{task}: {metric} by wall-clock")
        axes[1].set_xscale("log")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        f1 = f"{stem}-{safe}-accuracy.png"
        fig.savefig(os.path.join(out_dir, f1), dpi=90)
        plt.close(fig)
        files[task] = [f1]
        size = g["size_param"].dropna().unique() if "size_param" in g else []
        if len(size):
            sp = size[0]
            g = g.assign(size=g["tp"].map(lambda d: d.get(sp)))
            if g["size"].nunique() > 1:
                fig, ax = plt.subplots(figsize=(6, 4.5))
                for label, h in g.groupby("label"):
                    pts = h.groupby("size")["train_seconds"].median()
                    ax.plot(pts.index, pts.values, marker="o", label=label)
                ax.set(xlabel=sp, ylabel="seconds per epoch (median)", title=f"{task}: time per epoch by {sp}")
                ax.set_yscale("log")
                ax.legend(fontsize=7)
                fig.tight_layout()
                f2 = f"{stem}-{safe}-time-by-{sp}.png"
                fig.savefig(os.path.join(out_dir, f2), dpi=90)
                plt.close(fig)
                files[task].append(f2)
    return files


def write_report(results_dir: str, out: str, title: str = "nesybench report", plots: bool = True) -> str:
    df = load_rows(results_dir)
    text = render(df, title)
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    if plots:
        stem = os.path.splitext(os.path.basename(out))[0]
        figs = plot(df, out_dir, stem)
        if figs:
            text += "\n## Plots\n\n" + "\n".join(f"![{f}]({f})" for fs in figs.values() for f in fs) + "\n"
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    return text


def publish(results_dir: str, suite: str, dest_root: str, title: str | None = None) -> str:
    """Copy a report, its plots and every result row into ``<dest_root>/<date>-<suite>/``."""
    import shutil
    import time

    folder = os.path.join(dest_root, f"{time.strftime('%Y-%m-%d')}-{suite}")
    if os.path.exists(folder):
        raise UserError(f"{folder} exists already; published reports are never rewritten (remove it or wait a day)")
    tmp = folder + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    write_report(results_dir, os.path.join(tmp, "report.md"), title or f"nesybench report: suite {suite}")
    with open(os.path.join(tmp, "rows.jsonl"), "w") as f:
        for row in records.iter_rows(results_dir):
            f.write(json.dumps(row, default=str) + "\n")
    os.replace(tmp, folder)
    return folder
