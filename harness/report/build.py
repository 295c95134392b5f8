"""Everything a report shows, computed once from the result rows; the renderers only format it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd

from . import cells as cells_mod
from . import details, literature, summary
from .summary import Grid

COMMANDS_FILE = "commands.log"  # one line per suite command that wrote into a results directory


@dataclass
class Report:
    title: str
    df: pd.DataFrame
    cells: list[dict]
    tables: list[tuple[Grid, "literature.Published | None"]]  # (summary or view, its published numbers)
    details: list[details.Detail]
    provenance: list[tuple[str, str]]
    figures: dict[str, list[str]] = field(default_factory=dict)
    configs_file: str = ""
    targets: list[dict] = field(default_factory=list)  # harness.report.targets.evaluate
    frontier: dict | None = None  # harness.report.frontier.table, for the suites that ask for it
    peers: list[dict] | None = None  # harness.peers.published_vs_run, for the suites that ask for it


def commands(results_dir: str) -> list[str]:
    path = os.path.join(results_dir, COMMANDS_FILE)
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return list(dict.fromkeys(line.strip() for line in f if line.strip()))


def provenance(df: pd.DataFrame, results_dir: str | None) -> list[tuple[str, str]]:
    first = df.iloc[-1]
    versions = first.get("versions") if isinstance(first.get("versions"), dict) else {}
    dev = df.get("device", pd.Series(["cpu"] * len(df)))
    names = df.get("device_name", pd.Series([""] * len(df)))
    devices = sorted({cells_mod.device_label(d, n) for d, n in zip(dev, names)})
    cpus = sorted(
        {
            f"{p} ({int(n)} cores)" if n == n else str(p)
            for p, n in zip(
                df.get("platform", pd.Series(["?"] * len(df))), df.get("cpu_count", pd.Series([float("nan")] * len(df)))
            )
        }
    )
    commits = sorted(
        {
            (str(c)[:10] if c else "unknown") + ("+dirty" if d is True else "")
            for c, d in zip(df.get("git_commit", [None] * len(df)), df.get("git_dirty", [None] * len(df)))
        }
    )
    threads = sorted({int(t) for t in df.get("threads", pd.Series([], dtype=float)).dropna()})
    out = [
        ("generated", datetime.now(timezone.utc).isoformat(timespec="seconds")),
        ("commits", ", ".join(commits)),
        (
            "devices",
            ", ".join(devices) + (" (compare times only between cells of one device)" if len(devices) > 1 else ""),
        ),
        ("machines", "; ".join(cpus)),
        ("torch threads", ", ".join(map(str, threads))),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)),
        ("runs", f"{df['run_id'].nunique()} runs, {len(df)} rows"),
    ]
    cmds = commands(results_dir) if results_dir else []
    if cmds:
        out.append(("made by", "; ".join(f"`{c}`" for c in cmds)))
    return out


def mark_ablations(cs: list[dict], views: list) -> None:
    """Mark the cells that a view's ablation columns select (``ablation``: the summary leaves them
    out; their view shows them)."""
    for view in views:
        for col in view.columns:
            if col[0] not in getattr(view, "ablations", ()):
                continue
            _, method, hp, *tp = col
            tp = tp[0] if tp else {}
            for c in cs:
                if (
                    (view.tasks is None or c["task"] in view.tasks)
                    and c["method"] == method
                    and all(str(c["tp"].get(k)) == str(v) for k, v in getattr(view, "where", {}).items())
                    and all(str(c["hp"].get(k)) == str(v) for k, v in hp.items())
                    and all(str(c["tp"].get(k)) == str(v) for k, v in tp.items())
                ):
                    c["ablation"] = True


def build(
    df: pd.DataFrame, title: str, suite: str | None = None, results_dir: str | None = None, stat: str = "mean"
) -> Report:
    from ..suites import SUITES
    from .targets import evaluate

    cs = cells_mod.cells(df)
    declared = SUITES.get(suite or "")
    views = declared.views if declared else []
    mark_ablations(cs, views)
    entries = literature.load()
    main = summary.build(cs, "Summary", stat=stat)
    tables = [(main, literature.grid_for(main, entries))]
    for view in views:
        g = summary.build(cs, view.title, view, stat=stat)
        if g.rows:
            tables.append((g, literature.grid_for(g, entries)))
    report = Report(
        title,
        df,
        cs,
        tables,
        details.tables(cs),
        provenance(df, results_dir),
        targets=evaluate(cs, declared.targets if declared else []),
    )
    if declared is not None and declared.frontier_table:
        from . import frontier

        report.frontier = frontier.table(cs, entries)
    if declared is not None and declared.peers_table:
        from ..peers import published_vs_run

        report.peers = published_vs_run(cs)
    return report
