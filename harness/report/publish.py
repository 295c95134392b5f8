"""Publishing: a report with its figures and every result row in ``results/reports/<date>-<suite>[-N]/``.

A published folder is never overwritten: a second publish of one suite on one day gets ``-2``, a
third ``-3``, and so on. The report is built in a hidden temporary folder beside the destination
and renamed into place in one step; when anything fails on the way the temporary folder is removed,
so a failed publish leaves nothing behind. The folder's README states the commit, the devices and
the commands that made it.
"""
from __future__ import annotations

import glob
import os
import shlex
import shutil
import tempfile
import time

from ..errors import UserError


def next_folder(dest_root: str, suite: str, date: str | None = None) -> str:
    date = date or time.strftime("%Y-%m-%d")
    base = os.path.join(dest_root, f"{date}-{suite}")
    if not os.path.exists(base):
        return base
    n = 2
    while os.path.exists(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"


def _readme(folder: str, results_dir: str, suite: str, report, argv: list[str] | None) -> str:
    prov = dict(report.provenance)
    cmd = "nesybench " + " ".join(shlex.quote(a) for a in (argv or ["publish", "--results", results_dir,
                                                                    "--suite", suite]))
    lines = [f"# nesybench report: suite {suite}", "",
             f"Report of suite `{suite}`: [report.md](report.md), [report.html](report.html) (opens offline), "
             "[report.tex](report.tex) (the summary table, booktabs); every result row under `rows/` (the results directory's files as they were).", "",
             f"- commit: {prov.get('commits', 'unknown')}",
             f"- devices: {prov.get('devices', 'unknown')}; machines: {prov.get('machines', 'unknown')}",
             f"- torch threads: {prov.get('torch threads', '')}",
             f"- rows made by: {prov.get('made by', '(not recorded in the results directory)')}",
             f"- this folder made by: `{cmd}`",
             f"- published: {prov.get('generated', '')}", "",
             "Regenerate the report from the rows with "
             f"`nesybench report --results <this folder>/rows --suite {suite} --out DIR/report.md`.", ""]
    return "\n".join(lines)


def copy_rows(results_dir: str, dest: str) -> int:
    """Copy every row file (finished, set aside or in progress) with its relative path, so that the
    copy reads exactly as the original (a file's name says whether its run finished)."""
    n = 0
    paths = sorted({p for pat in ("**/*.jsonl", "**/*.jsonl.part")
                    for p in glob.glob(os.path.join(results_dir, pat), recursive=True)})
    for path in paths:
        rel = os.path.relpath(path, results_dir)
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(path, os.path.join(dest, rel))
        n += 1
    return n


def publish(results_dir: str, suite: str, dest_root: str, title: str | None = None,
            argv: list[str] | None = None) -> str:
    """Write ``<dest_root>/<date>-<suite>[-N]/`` (report in every format, figures, rows, README)."""
    from . import build as build_mod
    from . import write_report
    from .cells import load_rows

    df = load_rows(results_dir)  # user errors (no rows) before anything is created
    os.makedirs(dest_root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".publish-{suite}-", dir=dest_root)
    try:
        write_report(results_dir, os.path.join(tmp, "report.md"), title or f"nesybench report: suite {suite}",
                     suite=suite)
        copy_rows(results_dir, os.path.join(tmp, "rows"))
        report = build_mod.Report("", df, [], [], [], build_mod.provenance(df, results_dir))
        with open(os.path.join(tmp, "README.md"), "w") as f:
            f.write(_readme(tmp, results_dir, suite, report, argv))
        for _ in range(100):
            folder = next_folder(dest_root, suite)
            try:
                os.rename(tmp, folder)  # fails if another publish took the name meanwhile
                return folder
            except OSError:
                if not os.path.exists(folder):
                    raise
        raise UserError(f"could not find a free folder name for {folder}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
