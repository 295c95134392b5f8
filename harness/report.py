"""Comparison reports: pandas reads the result rows, tabulate renders Markdown.

One table per task (and task parameters): one row per method configuration, with mean ± std over
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
    keys = ["task_key", "tp_s", "method_key", "hp_s", "epochs", "batch_size", "lr", "device_name"]
    out = []
    for gkey, g in df.groupby(keys, dropna=False, sort=True):
        rec = dict(zip(keys, gkey))
        # outcome per run: the published attempt if there is one, else the latest attempt
        outcomes = {}
        finals = []
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
        ok = g[(g["status"] == "ok") & g["run_id"].isin([k for k, s in outcomes.items() if s == "ok"])]
        counts = pd.Series(list(outcomes.values())).value_counts().to_dict()
        rec["runs_ok"] = counts.get("ok", 0)
        rec["failed"] = counts.get("failed", 0)
        rec["timeout"] = counts.get("timeout", 0)
        rec["skipped"] = counts.get("skipped", 0)
        rec["incomplete"] = counts.get("incomplete", 0) + counts.get("killed", 0)
        notes = [str(e) for e in g.loc[g["status"] != "ok", "error"].dropna().unique()][:2]
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
             f"- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
             "- metrics: mean ± sample std over seeds of the final epoch; s/epoch: median training seconds "
             "per epoch (after the first epoch when runs have several); x ref: s/epoch divided by the "
             f"`{REFERENCE_METHOD}` method's on the same task, batch size and device.",
             ""]
    for (task, tp), g in summ.groupby(["task_key", "tp_s"], sort=True):
        lines.append(f"## {task}" + (f" ({tp})" if tp else ""))
        lines.append("")
        metric_cols = [c for c in g.columns if c.startswith("m:") and g[c].notna().any()]
        table = []
        for _, r in g.iterrows():
            row = {"method": r["method_key"], "hp": r["hp_s"],
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


def write_report(results_dir: str, out: str, title: str = "nesybench report") -> str:
    df = load_rows(results_dir)
    text = render(df, title)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    return text


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
