"""The Markdown report: provenance, the summary table (and the suite's views) with the published
numbers beside them, detail tables per task, and the figures."""

from __future__ import annotations

from tabulate import tabulate

from .summary import Grid, cell_parts, column_name, legend, settings_lines

PUBLISHED_LEGEND = (
    "Numbers the cited papers or their repositories state on the same task, setting, data "
    "(the full MNIST or the source's own files) and headline metric as a row above: mean ± std "
    "(runs). What differs is the training: each source's own protocol (epochs, batch, "
    "network; in the notes) against this report's row setting. They were not run here and are "
    "never pooled with the measured cells."
)


def grid_rows(grid: Grid, bold=lambda s: f"**{s}**", sup=lambda s: s, tied=lambda s: f"*{s}*") -> list[dict]:
    """The grid as rows of strings: task, metric, one column per method configuration (headed by
    :func:`.summary.column_name`)."""
    out = []
    for row in grid.rows:
        rec = {"task": row, "metric": grid.metric[row]}
        for col in grid.columns:
            value, detail, ref = cell_parts(grid, (row, col))
            if (row, col) in grid.best:
                value = bold(value)
            elif (row, col) in grid.tied:
                value = tied(value)
            rec[column_name(grid, col)] = " ".join(p for p in (value, detail) if p) + (sup(ref) if ref else "")
        out.append(rec)
    return out


def _table(rows: list[dict]) -> str:
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def grid_md(grid: Grid, level: str = "##") -> list[str]:
    lines = [f"{level} {grid.title}", "", legend(grid), "", _table(grid_rows(grid)), ""]
    lines += [f"[{i}] {t}  " for i, t in enumerate(grid.footnotes, start=1)]
    lines += ["", "Settings (each row's usual one; a cell run otherwise has a note):", ""]
    return lines + [f"- {s}" for s in settings_lines(grid)] + [""]


def frontier_md(report) -> list[str]:
    """The frontier table (harness/report/frontier.py) with its legend, notes and figure."""
    from .frontier import LEGEND

    t = report.frontier
    lines = ["## MNIST addition at the frontier", "", LEGEND, "", _table(t["rows"]), ""]
    lines += [f"- {n}" for n in t["notes"]] + ([""] if t["notes"] else [])
    if any(len(p) > 1 and list(p.values())[1] for p in t["published"]):
        lines += [_table(t["published"]), ""]
    for png in (f for f in report.figures.get("frontier", []) if f.endswith(".png")):
        lines += [f"![frontier]({png})", ""]
    return lines


def peers_md(report) -> list[str]:
    """The "published vs run here" table of the peer baselines (harness/peers.py) with its notes."""
    from ..peers import LEGEND, table

    rows, notes = table(report.peers)
    lines = ["## Published vs run here", "", LEGEND, "", _table(rows), ""]
    return lines + [f"[{i}] {n}  " for i, n in enumerate(notes, start=1)] + ([""] if notes else [])


def render(report) -> str:
    lines = [f"# {report.title}", ""]
    lines += [f"- {k}: {v}" for k, v in report.provenance] + [""]
    if report.frontier and report.frontier["rows"]:
        lines += frontier_md(report)
    if report.peers:
        lines += peers_md(report)
    for grid, lit in report.tables:
        lines += grid_md(grid)
        if lit is not None:
            lines += [
                f"### {lit.title}",
                "",
                PUBLISHED_LEGEND,
                "",
                _table([{**ln, "source": f"[{ln['source']}]"} for ln in lit.lines]),
                "",
            ]
            lines += [f"[{i}] {t}  " for i, t in enumerate(lit.footnotes, start=1)] + [""]
    if report.targets:
        from .targets import LEGEND

        lines += ["## Targets", "", LEGEND, "", _table(report.targets), ""]
    lines += [
        "## Details per task",
        "",
        "Hyper-parameters and task parameters are listed only where they differ from the defaults "
        "(a method's defaults on a task include the task's presets, `harness/presets.py`); "
        f"each row's full configuration is in [{report.configs_file}]({report.configs_file}) under its "
        "`config` id. s/epoch: median training seconds per epoch (after the first epoch when runs have "
        "several); x ref: s/epoch over the `supervised` method's on the same task setting, batch size and "
        "device; setup s: data and symbolic set-up.",
        "",
    ]
    for d in report.details:
        lines += [
            f"### {d.task}",
            "",
            tabulate(d.frame.to_dict("records"), headers="keys", tablefmt="github", disable_numparse=True),
            "",
        ]
        lines += [f"- {n}" for n in d.notes] + ([""] if d.notes else [])
    if report.figures:
        lines += ["## Figures", ""]
        for task, files in report.figures.items():
            if task == "frontier":
                continue
            for png in (f for f in files if f.endswith(".png")):
                svg = png[:-4] + ".svg"
                lines += [f"![{task}]({png})", "", f"({task}; vector: [{svg}]({svg}))", ""]
    return "\n".join(lines)
