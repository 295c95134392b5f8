"""Comparison reports from result rows: Markdown, a self-contained HTML page and LaTeX.

- :mod:`.cells`: rows -> one record per run configuration (outcomes, mean ± std, times);
- :mod:`.summary`: the summary table (tasks down, methods across) and a suite's named views;
- :mod:`.stats`: the test behind a row's best cell (scipy's Mann-Whitney U) and quartiles;
- :mod:`.literature`: published numbers beside the measured ones, never pooled;
- :mod:`.details`: detail tables per task and the full configurations (JSON);
- :mod:`.plots`: figures (PNG and SVG);
- :mod:`.markdown`, :mod:`.html`, :mod:`.tex`: the three formats;
- :mod:`.compare`: two result folders side by side (``nesybench compare``);
- :mod:`.publish`: a report folder under ``results/reports/`` that is never overwritten.
"""

from __future__ import annotations

import os

from ..errors import UserError
from .cells import load_rows
from .publish import publish

FORMATS = ("md", "html", "tex")

__all__ = ["FORMATS", "load_rows", "parse_formats", "publish", "write_report"]


def parse_formats(text: str | None) -> tuple[str, ...]:
    """``"md,html"`` -> ("md", "html"); unknown names are a user error."""
    names = tuple(dict.fromkeys(f.strip().lower() for f in (text or ",".join(FORMATS)).split(",") if f.strip()))
    bad = [f for f in names if f not in FORMATS]
    if bad or not names:
        raise UserError(
            f"--format {text!r}: unknown format {bad[0] if bad else '(none)'!r}; "
            f"give a comma-separated list of {', '.join(FORMATS)}"
        )
    return names


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_report(
    results_dir: str,
    out: str,
    title: str = "nesybench report",
    plots: bool = True,
    formats: tuple[str, ...] = FORMATS,
    suite: str | None = None,
    strict: bool = False,
    stat: str = "mean",
) -> str:
    """Write the report of the rows under ``results_dir``: ``out`` names the Markdown file; the
    HTML and LaTeX files, the configurations JSON and the figures go beside it with the same stem;
    ``stat``: the cells' centre and spread, "mean" (± std) or "median" (and quartiles).
    Damaged row files are listed on standard error (with ``strict``: a UserError, before anything
    is written). Returns the Markdown text."""
    from . import build, cells, details, markdown
    from . import plots as plots_mod

    df = load_rows(results_dir, strict=strict)
    stem_path = os.path.splitext(os.path.abspath(out))[0]
    out_dir, stem = os.path.dirname(stem_path), os.path.basename(stem_path)
    os.makedirs(out_dir, exist_ok=True)
    report = build.build(df, title, suite, results_dir, stat)
    report.configs_file = f"{stem}-configs.json"
    _write(os.path.join(out_dir, report.configs_file), cells.dumps(details.configs(report.cells)))
    if plots:
        report.figures = plots_mod.plot_all(df, report.tables[0][0], out_dir, stem)
        if report.frontier and report.frontier["rows"]:
            from . import frontier, literature

            report.figures["frontier"] = frontier.plot(report.cells, literature.load(), out_dir, stem)
    text = markdown.render(report)
    if "md" in formats:
        _write(stem_path + ".md", text)
    if "html" in formats:
        from . import html

        _write(stem_path + ".html", html.render(report, out_dir))
    if "tex" in formats:
        from . import tex

        _write(stem_path + ".tex", tex.render(report))
    return text
