"""Published results (``harness/data/literature.csv``), shown beside the measured ones, never pooled.

Each line of the file is one number a paper or its repository states: method, task (a task key
here), setting (``key=value`` task parameters, ``;``-separated, that a row must have), metric (a
metric name here), value (or ``T/O``), std, n (runs), protocol, source, status (``confirmed``:
stated by the source; ``derived``: computed from its result files; ``log``: from its run logs) and
minutes (total training time the source states, on its own hardware; empty where it states none).
A report shows, for the rows of its summary table, the published numbers on the same task,
setting, data and headline metric, in lines of their own marked "published, not run here", each with
its source and protocol. Every published number is on its source's full data (the full MNIST, the
CL-STE paper's files): rows run on the 5,000 embedded digits or on data generated here get none.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field

from .cells import _same
from .summary import Grid

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "literature.csv")
FIELDS = ["method", "task", "setting", "metric", "value", "std", "n", "protocol", "source", "status", "minutes"]


def load(path: str = PATH) -> list[dict]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != FIELDS:
            raise ValueError(f"{path}: expected columns {FIELDS}, got {reader.fieldnames}")
        out = []
        for i, r in enumerate(reader, start=2):
            if not r["source"].strip():
                raise ValueError(f"{path} line {i}: a published number needs its source")
            setting = dict(kv.split("=", 1) for kv in r["setting"].split(";") if kv.strip())
            out.append(
                {
                    **r,
                    "setting": setting,
                    "value": _num(r["value"]),
                    "std": _num(r["std"]),
                    "n": int(r["n"]) if r["n"].strip() else None,
                    "minutes": _num(r["minutes"]),
                }
            )
        return out


def _num(s: str):
    s = (s or "").strip()
    if not s:
        return float("nan")
    try:
        return float(s)
    except ValueError:
        return s  # an outcome such as T/O


@dataclass
class Published:
    """Published numbers for the rows of one summary table, one line per (row, system)."""

    title: str
    lines: list[dict] = field(default_factory=list)  # task, metric, system, published, source (note number)
    footnotes: list[str] = field(default_factory=list)


def _value(e: dict) -> str:
    v, sd, n = e["value"], e["std"], e["n"]
    if isinstance(v, str):
        return v
    return f"{v:.2f}" + (f" ± {sd:.2f}" if sd == sd else "") + (f" ({n})" if n else "")


def _data(summary: Grid, row: str) -> set[str]:
    """The data sources of a row's runs; a row of runs that ended before loading their data (set-up
    timeouts) takes those of its task's other rows."""
    known = {c.get("data", "full") for (r, _), c in summary.cells.items() if r == row} - {"unknown"}
    if not known:
        task = next(c["task"] for (r, _), c in summary.cells.items() if r == row)
        known = {c.get("data", "full") for c in summary.cells.values() if c["task"] == task} - {"unknown"}
    return known


def grid_for(summary: Grid, entries: list[dict] | None = None) -> Published | None:
    """Published numbers on the task, setting and headline metric of the rows of a summary grid,
    each line labelled by the task and the setting the source states, or None when the file has
    none."""
    entries = load() if entries is None else entries
    out = Published(f"{summary.title}: published, not run here")
    seen = set()
    for row in summary.rows:
        cells = [c for (r, _), c in summary.cells.items() if r == row]
        if not cells:
            continue
        first, metric = cells[0], summary.metric[row]
        if _data(summary, row) != {"full"}:  # the embedded digits or generated data: not the sources'
            continue
        for e in entries:
            if e["task"] != first["task"] or e["metric"] != metric:
                continue
            if not all(k in first["tp"] and _same(first["tp"][k], v) for k, v in e["setting"].items()):
                continue
            # labelled by the published setting, once: rows that differ in a parameter the source does
            # not fix (an encoding) share its number
            label = " ".join([e["task"]] + [f"{k}={v}" for k, v in e["setting"].items()])
            if (label, metric, e["method"], _value(e)) in seen:
                continue
            seen.add((label, metric, e["method"], _value(e)))
            note = f"{e['source']} [{e['status']}]; {e['protocol']}"
            if note not in out.footnotes:
                out.footnotes.append(note)
            out.lines.append(
                {
                    "task": label,
                    "metric": metric,
                    "system": e["method"],
                    "published": _value(e),
                    "source": out.footnotes.index(note) + 1,
                }
            )
    return out if out.lines else None
