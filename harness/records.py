"""Result rows: one JSON line per run per epoch, appended and flushed as each epoch ends.

Layout: ``<results>/<task>/<method>/<run_id>.jsonl``. While a run trains its file is
``<run_id>.jsonl.part``; the finished run is published atomically with ``os.replace``. A run found
finished is never rewritten. A ``.part`` left by a killed run is kept (renamed
``<run_id>.<time>.killed.jsonl``) with every epoch it finished, and the run starts again.
Every file is plain JSON lines that ``pandas.read_json(lines=True)`` reads.

This module owns the row schema: :class:`RunWriter` writes rows, and every reader (the report,
resume, the suite runner) reads them through :func:`read_rows` / :func:`iter_rows`, which check
each row's ``schema_version``: an older row is upgraded (:func:`upgrade_row`), a row newer than
this code is refused with a one-line :class:`~harness.errors.UserError`.

Schema history: 1, first release; 2 adds ``train_loss`` (mean training loss per epoch),
``method_file`` / ``task_file`` (the file defining each plug-in) and ``method_modules`` /
``task_modules`` (the local modules hashed into ``method_hash`` / ``task_hash``, which from 2 on
cover every local module the plug-in imports); 3 adds ``lr_schedule``; 4 adds ``loop_hash`` and
``loop_modules`` (the training loop's code and the local modules it imports, part of every run id
from 4 on, as are task and method hashes of code without comments and docstrings) and
``load_avg_1m`` (the machine's load as each epoch ends); 5 adds what a report needs
without the task's and method's code (``main_metric``, ``tp_defaults``, ``param_applies``,
``hp_defaults``), ``collapsed`` (output groups predicted as one class on the test set), and on a
run's closing row ``error_at`` and ``traceback`` (a crash), ``timeout_budget`` and
``budget_source`` (a timeout), ``suite`` (the suite that ran it).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import re
import socket
import subprocess
import time
from typing import Any, Iterable, NamedTuple

from .errors import UserError

SCHEMA_VERSION = 5
#: fields added by each schema version, with the value an upgraded older row gets
_ADDED = {
    2: {"train_loss": None, "method_file": None, "task_file": None, "method_modules": None, "task_modules": None},
    3: {"lr_schedule": "constant"},
    4: {"loop_hash": None, "loop_modules": None, "load_avg_1m": None},
    5: {"main_metric": None, "tp_defaults": None, "param_applies": None, "hp_defaults": None, "collapsed": None},
}
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config_id(config: dict[str, Any]) -> str:
    """Deterministic id of a run configuration (same config and code version -> same id)."""
    blob = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def git_info() -> dict[str, Any]:
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=_REPO, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or None
        )
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=_REPO,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"git_commit": commit, "git_dirty": dirty}


#: every installed distribution a run's numbers can depend on (None in a row: not installed there)
_RECORDED_PACKAGES = (
    "nesybench",
    "torch",
    "numpy",
    "scipy",
    "pandas",
    "mlxtend",
    "pysdd",
    "problog",
    "deepproblog",
    "numba",
    "klaycircuits",
    "clingo",
    "LTNtorch",
    "ray",
    "deepstochlog",
    "pyswip",
)


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in _RECORDED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def host_info() -> dict[str, Any]:
    return {"host": socket.gethostname(), "platform": platform.platform(), "cpu_count": os.cpu_count()}


class RunWriter:
    """Appends rows of one run to ``<run_id>.jsonl.part`` and publishes it when the run ends."""

    def __init__(self, results_dir: str, task: str, method: str, run_id: str):
        self.dir = os.path.join(results_dir, task, method)
        self.final = os.path.join(self.dir, f"{run_id}.jsonl")
        self.part = self.final + ".part"
        # "host pid since" of the process writing the .part, outside the run folders (which hold rows only)
        self.lock = os.path.join(results_dir, ".locks", f"{task}.{method}.{run_id}")
        self._f = None

    def writer_alive(self) -> str | None:
        """Who is writing this run now ("process P on H since T"), or None. A lock left by a process
        that has ended on this host (or by this process itself) is stale; one of another host cannot
        be checked from here and counts as alive."""
        try:
            with open(self.lock) as f:
                host, pid, since = f.read().split(maxsplit=2)
            pid = int(pid)
        except (OSError, ValueError):
            return None
        if host == socket.gethostname():
            if pid == os.getpid():
                return None
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            except PermissionError:
                pass
            try:  # a killed process its parent has not yet reaped (a zombie) writes nothing more
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return None
            except (OSError, IndexError):
                pass
        return f"process {pid} on {host} since {since.strip()}"

    def check_free(self) -> None:
        """UserError when another live process is writing this run (two invocations of one run into
        one results directory would set each other's rows aside)."""
        who = self.writer_alive()
        if who:
            raise UserError(
                f"run {os.path.basename(self.final)[:-6]} is being written by {who} into "
                f"{self.dir}; wait for it to end or use another --results directory (if no such run "
                f"is going on, delete {self.lock})"
            )

    def _release(self) -> None:
        if self.writer_alive() is None and os.path.exists(self.lock):
            try:
                os.unlink(self.lock)
            except FileNotFoundError:
                pass

    def finished(self) -> bool:
        return os.path.exists(self.final)

    def _aside(self, status: str) -> str:
        """A free name for an attempt kept aside: ``<run_id>.<time>.<status>.jsonl``, with ``-2``,
        ``-3``... after the time when another attempt was kept aside in the same second."""
        stem = self.final[: -len(".jsonl")] + "." + time.strftime("%Y%m%dT%H%M%S")
        dest, k = f"{stem}.{status}.jsonl", 1
        while os.path.exists(dest):
            k += 1
            dest = f"{stem}-{k}.{status}.jsonl"
        return dest

    def set_aside(self, status: str) -> str | None:
        """Keep an unfinished attempt's rows (the ``.part`` file) as ``<run_id>.<time>.<status>.jsonl``
        (never rewritten, not counted as finished on resume); returns its path (None: no ``.part``)."""
        if not os.path.exists(self.part):
            return None
        kept = self._aside(status)
        os.replace(self.part, kept)
        return kept

    def set_aside_final(self, status: str) -> str:
        """Keep the published file of an earlier attempt as ``<run_id>.<time>.<status>.jsonl`` (a
        damaged file, or a timeout under a smaller budget) so the run can run again; returns its path."""
        kept = self._aside(status)
        os.replace(self.final, kept)
        return kept

    def interrupted(self) -> list[str]:
        """Files of earlier attempts of this run that were interrupted (Ctrl-C, a kill), oldest first."""
        stem = self.final[: -len(".jsonl")]
        return sorted(glob.glob(glob.escape(stem) + ".*.killed.jsonl"))

    def open(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        self.check_free()
        os.makedirs(os.path.dirname(self.lock), exist_ok=True)
        with open(self.lock, "w") as f:
            f.write(f"{socket.gethostname()} {os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        self.set_aside("killed")  # a .part left by a killed run: keep its epochs aside
        self._f = open(self.part, "a")

    def discard(self) -> None:
        """Drop the rows of this attempt (a user error: not a result of a valid run)."""
        self.close()
        if os.path.exists(self.part):
            os.unlink(self.part)

    def append(self, row: dict[str, Any]) -> None:
        self._f.write(json.dumps(row, default=str) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def publish(self) -> None:
        self._f.close()
        self._f = None
        os.replace(self.part, self.final)
        self._release()

    def publish_with(self, row: dict[str, Any]) -> None:
        """Append a closing row to the attempt's epochs (those of a process that died without one)
        and publish the file."""
        os.makedirs(self.dir, exist_ok=True)
        with open(self.part, "a") as f:
            f.write(json.dumps(row, default=str) + "\n")
        os.replace(self.part, self.final)
        self._release()  # the lock of the process that died

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        self._release()


def upgrade_row(row: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``row`` in the current schema: older rows get the fields added since (with their defaults of
    ``_ADDED``); a row of a newer schema than this code is a UserError."""
    v = row.get("schema_version", 1)
    if not isinstance(v, int) or v < 1:
        raise UserError(
            f"{where or 'a result row'}: schema_version {v!r} is not a version number; "
            "the file is not a nesybench result"
        )
    if v > SCHEMA_VERSION:
        raise UserError(
            f"{where or 'a result row'}: written with row schema {v}, this nesybench reads up to "
            f"{SCHEMA_VERSION}; update nesybench or use another --results directory"
        )
    for version in range(v + 1, SCHEMA_VERSION + 1):
        for k, default in _ADDED.get(version, {}).items():
            row.setdefault(k, default)
    row["schema_version"] = SCHEMA_VERSION
    return row


_SET_ASIDE = re.compile(r"\.\d{8}T\d{6}(?:-\d+)?\.([a-z]+)\.jsonl$")


def file_state(path: str) -> str:
    """done (published), running (``.part``), or the status an attempt was set aside with
    (``<run_id>.<time>.<status>.jsonl``: killed, failed, timeout: a timeout under a smaller budget
    than a later attempt's, damaged: a published file found damaged on resume)."""
    if path.endswith(".part"):
        return "running"
    m = _SET_ASIDE.search(path)
    return m.group(1) if m else "done"


class FileDamage(NamedTuple):
    """A row file that cannot count as it is: its path and what is wrong, in words."""

    path: str
    what: str

    def line(self) -> str:
        return f"{self.path}: {self.what}"


def read_file(path: str) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of one result file, upgraded to the current schema (:func:`upgrade_row`), and what
    is wrong with the file (None when nothing is).

    A run counts only with its final row: a published file (``<run_id>.jsonl``) whose last line is
    cut off, that holds a line that is not a result row, or whose last row is not its run's final
    row is damaged, and its rows come back without the final row they lack, so that no reader takes
    an early epoch for the run's result. In the file of a run that was killed or is still running
    (``.killed.jsonl``, ``.part``) a last line cut by the kill is expected and not a damage; any
    other line that is not a result row is. A row of a newer schema than this code is a
    :class:`~harness.errors.UserError`."""
    state = file_state(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = [(n, line.strip()) for n, line in enumerate(f, start=1) if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        return [], f"cannot be read ({type(e).__name__}: {e}); the runs in it do not count"
    out, damage = [], None
    for i, (lineno, line) in enumerate(lines):
        last = i == len(lines) - 1
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if last and state in ("running", "killed", "damaged"):
                break  # the line a kill cut mid-write
            damage = damage or (f"line {lineno} is cut off (not JSON)" if last and i else f"line {lineno} is not JSON")
            continue
        if isinstance(row, dict):
            row = upgrade_row(row, f"{path}, line {lineno}")  # a newer schema is refused before anything else
        if not isinstance(row, dict) or "run_id" not in row or "status" not in row:
            damage = damage or f"line {lineno} is not a result row (a JSON object with run_id and status)"
            continue
        out.append(row)
    if state == "damaged":  # set aside as damaged when found (and said so then): its rows never count
        for r in out:
            r["damage"] = "its file was found damaged and set aside"
        return out, None
    if state in ("done", "failed", "timeout") and not damage:
        if not out:
            damage = "holds no result row"
        elif out[-1].get("final") is not True:
            r = out[-1]
            damage = (
                f"ends at epoch {r.get('epoch')} of {r.get('epochs')} without the run's final row"
                if r.get("epoch") is not None
                else "ends without the run's final row"
            )
    if damage:
        if state == "done" and out:
            for r in out:
                r["damage"] = damage
            damage += "; the run does not count"
        else:
            damage += "; its rows are left out"
            out = []
    return out, damage


def read_rows(path: str) -> list[dict[str, Any]]:
    """The rows of one result file (:func:`read_file`), whatever is wrong with it."""
    return read_file(path)[0]


def last_row(path: str) -> dict[str, Any] | None:
    """The final row of a result file; None when it has none (no file, a damaged file)."""
    if not os.path.exists(path):
        return None
    rows, damage = read_file(path)
    return rows[-1] if rows and not damage else None


def row_files(results_dir: str) -> list[str]:
    """Every row file under a results directory (finished, set aside, in progress), sorted."""
    return sorted(
        {
            p
            for pat in ("**/*.jsonl", "**/*.jsonl.part")
            for p in glob.glob(os.path.join(results_dir, pat), recursive=True)
        }
    )


def scan(results_dir: str) -> tuple[list[dict[str, Any]], list[FileDamage]]:
    """Every row under a results directory, each with ``file_state`` (:func:`file_state`), in the
    current schema, and every damaged file (:func:`read_file`): a reader reports those, it never
    drops them silently."""
    rows, damaged = [], []
    for path in row_files(results_dir):
        state = file_state(path)
        got, damage = read_file(path)
        if damage:
            damaged.append(FileDamage(path, damage))
        for row in got:
            row["file_state"] = state
            rows.append(row)
    return rows, damaged


def iter_rows(results_dir: str, damaged: list[FileDamage] | None = None) -> Iterable[dict[str, Any]]:
    """The rows of :func:`scan`; the damaged files are appended to ``damaged`` when it is given."""
    rows, found = scan(results_dir)
    if damaged is not None:
        damaged.extend(found)
    yield from rows
