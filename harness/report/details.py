"""Detail tables, one per task: a row per configuration with every final metric, times and runs.

Only what tells the rows apart is listed: the hyper-parameters that differ from the method's
defaults on the task, the task parameters that apply and differ from the task's defaults, the
training settings and the device (``cpu`` or the GPU's name). The full configuration of each row
is in the report's ``-configs.json`` file under the row's id. A metric column equal to another one
in every row (shortest path's ``shortest`` and ``valid_path`` on data with one shortest path per
map) is shown once, with a note.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import pandas as pd

from .cells import compact, config_json, train_text
from .summary import fmt_seconds


@dataclass
class Detail:
    task: str
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def config_id(c: dict) -> str:
    return hashlib.sha256(json.dumps(config_json(c), sort_keys=True, default=str).encode()).hexdigest()[:8]


def _runs(c: dict) -> str:
    counts = c["counts"]
    parts = [f"{counts[k]} {k}" for k in ("ok", "T/O", "OOM", "failed", "n/a", "incomplete") if counts.get(k)]
    return ", ".join(parts)


def tables(cells: list[dict]) -> list[Detail]:
    out = []
    for task in sorted({c["task_key"] for c in cells}):
        tc = sorted((c for c in cells if c["task_key"] == task), key=lambda c: (c["order"], c["method"]))
        main = next((c["main_metric"] for c in tc if c["main_metric"]), None)
        names = sorted({m for c in tc for m in c["metrics"]}, key=lambda m: (m != main, m))
        hashes = {}
        for c in tc:
            hashes.setdefault(c["method_key"], set()).add(c["method_hash"])
        rows = []
        for c in tc:
            label = c["method"] + (f" @{str(c['method_hash'])[:7]}" if len(hashes[c["method_key"]]) > 1 else "")
            row = {
                "method": label,
                "hp (not default)": compact(c["hp_diff"]),
                "task params (not default)": compact(c["tp_diff"]),
                "epochs × batch, lr": train_text(c),
                "device": c["device"],
            }
            for m in names:
                v = c["metrics"].get(m)
                row[m] = (f"{v[0]:.2f} ± {v[1]:.2f}" if v[2] > 1 else f"{v[0]:.2f}") if v else "—"
            row["s/epoch"] = fmt_seconds(c["s_per_epoch"])
            row["x ref"] = f"{c['x_ref']:.2f}" if c["x_ref"] == c["x_ref"] else "—"
            row["setup s"] = fmt_seconds(c["setup_s"])
            row["runs"] = _runs(c)
            row["config"] = config_id(c)
            rows.append(row)
        frame = pd.DataFrame(rows)
        notes = []
        for i, a in enumerate(names):  # a metric column equal to an earlier one in every row: once
            for b in names[:i]:
                if a in frame and b in frame and (frame[a] == frame[b]).all() and (frame[a] != "—").any():
                    frame = frame.drop(columns=[a])
                    notes.append(f"{a} equals {b} in every row: shown once")
                    break
        frame = frame[[col for col in frame.columns if not (frame[col] == "").all()]]
        for c in tc:
            for kind, reason in dict.fromkeys(c["reasons"]):
                notes.append(f"{c['method']} ({config_id(c)}), {kind}: {reason}")
        out.append(Detail(task, frame, list(dict.fromkeys(notes))))
    return out


def configs(cells: list[dict]) -> dict:
    """{config id: full configuration} of every cell, for the linked JSON file."""
    return {config_id(c): config_json(c) for c in cells}
