"""Publishing: a report with its figures and every result row in ``results/reports/<date>-<suite>[-N]/``.

A published folder is never overwritten: a second publish of one suite on one day gets ``-2``, a
third ``-3``, and so on. The report is built in a hidden temporary folder beside the destination
and renamed into place in one step; when anything fails on the way the temporary folder is removed,
so a failed publish leaves nothing behind. The folder's README states the commit, the devices and
the commands that made it.
"""

from __future__ import annotations

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


def _readme(
    folder: str,
    results_dir: str,
    suite: str,
    report,
    argv: list[str] | None,
    forced: list[str] | None = None,
    plugins: list[tuple[str, str]] | None = None,
) -> str:
    prov = dict(report.provenance)
    cmd = "nesybench " + " ".join(
        shlex.quote(a) for a in (argv or ["publish", "--results", results_dir, "--suite", suite])
    )
    lines = [
        f"# nesybench report: suite {suite}",
        "",
        f"Report of suite `{suite}`: [report.md](report.md), [report.html](report.html) (opens offline), "
        "[report.tex](report.tex) (the summary table, booktabs); every result row under `rows/` "
        "(the results directory's files as they were).",
        "",
        f"- commit: {prov.get('commits', 'unknown')}",
        f"- devices: {prov.get('devices', 'unknown')}; machines: {prov.get('machines', 'unknown')}",
        f"- torch threads: {prov.get('torch threads', '')}",
        f"- rows made by: {prov.get('made by', '(not recorded in the results directory)')}",
        f"- this folder made by: `{cmd}`",
        f"- published: {prov.get('generated', '')}",
        "",
        "Regenerate the report from the rows with "
        f"`nesybench report --results <this folder>/rows --suite {suite} --out DIR/report.md"
        + "".join(f" --plugin <this folder>/{copy}" for copy, _ in plugins or [])
        + "`.",
        "",
    ]
    if plugins:
        lines += ["Plug-in files the rows came from, copied here as they were when this folder was made:", ""]
        lines += [f"- [{copy}]({copy}) (from `{src}`)" for copy, src in plugins] + [""]
    if forced:
        lines += ["**Published with `--force`**: " + "; ".join(forced) + ".", ""]
    return "\n".join(lines)


def copy_plugins(df, dest: str) -> list[tuple[str, str]]:
    """Copy each plug-in file the rows came from (a ``method_file`` / ``task_file`` outside the
    repository) into ``dest``; returns [(its path in the folder, the original path)]."""
    seen, out = set(), []
    for col in ("method_file", "task_file"):
        for path in df.get(col, []):
            if not isinstance(path, str) or not os.path.isabs(path) or path in seen:
                continue
            seen.add(path)
            if not os.path.isfile(path):
                raise UserError(
                    f"the rows came from the plug-in file {path}, which no longer exists; restore it to "
                    "publish it with them"
                )
            os.makedirs(dest, exist_ok=True)
            name = os.path.basename(path)
            stem, ext = os.path.splitext(name)
            n = 2
            while os.path.exists(os.path.join(dest, name)):
                name, n = f"{stem}-{n}{ext}", n + 1
            shutil.copy2(path, os.path.join(dest, name))
            out.append((os.path.join(os.path.basename(dest), name), path))
    return out


def _user_mode(path: str) -> None:
    """Give a folder made by ``mkdtemp`` (mode 0700) the mode the user's umask gives a new folder."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o777 & ~mask)


def copy_rows(results_dir: str, dest: str) -> int:
    """Copy every row file (finished, set aside or in progress) with its relative path, so that the
    copy reads exactly as the original (a file's name says whether its run finished)."""
    from ..records import row_files

    n = 0
    for path in row_files(results_dir):
        rel = os.path.relpath(path, results_dir)
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(path, os.path.join(dest, rel))
        n += 1
    return n


def publish(
    results_dir: str,
    suite: str,
    dest_root: str,
    title: str | None = None,
    argv: list[str] | None = None,
    force: bool = False,
) -> str:
    """Write ``<dest_root>/<date>-<suite>[-N]/`` (report in every format, figures, rows, the
    plug-in files the rows came from, README). Refused in one line, before anything is made: a
    damaged row file, an unknown suite name or runs that are not the suite's
    (:mod:`.membership`; ``force`` publishes those anyway and the README says so)."""
    from . import build as build_mod
    from . import write_report
    from .cells import load_rows
    from .membership import check_suite

    df = load_rows(results_dir, strict=True)  # user errors (no rows, a damaged file) before anything is made
    forced = check_suite(df, suite, force)
    if os.path.exists(dest_root) and not os.path.isdir(dest_root):
        raise UserError(f"--dest {dest_root}: is a file, not a directory; give the folder of published reports")
    os.makedirs(dest_root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".publish-{suite}-", dir=dest_root)
    try:
        _user_mode(tmp)
        write_report(
            results_dir,
            os.path.join(tmp, "report.md"),
            title or f"nesybench report: suite {suite}",
            suite=suite,
            strict=True,
        )
        copy_rows(results_dir, os.path.join(tmp, "rows"))
        plugins = copy_plugins(df, os.path.join(tmp, "plugins"))
        report = build_mod.Report("", df, [], [], [], build_mod.provenance(df, results_dir))
        with open(os.path.join(tmp, "README.md"), "w") as f:
            f.write(_readme(tmp, results_dir, suite, report, argv, forced, plugins))
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
