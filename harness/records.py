"""Result rows: one JSON line per run per epoch, appended and flushed as each epoch ends.

Layout: ``<results>/<task>/<method>/<run_id>.jsonl``. While a run trains its file is
``<run_id>.jsonl.part``; the finished run is published atomically with ``os.replace``. A run found
finished is never rewritten. A ``.part`` left by a killed run is kept (renamed
``<run_id>.<time>.killed.jsonl``) with every epoch it finished, and the run starts again.
Every file is plain JSON lines that ``pandas.read_json(lines=True)`` reads.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import socket
import subprocess
import time
from typing import Any, Iterable

SCHEMA_VERSION = 1
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config_id(config: dict[str, Any]) -> str:
    """Deterministic id of a run configuration (same config and code version -> same id)."""
    blob = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def git_info() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_REPO, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=_REPO,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"git_commit": commit, "git_dirty": dirty}


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("nesybench", "torch", "numpy", "pandas", "pysdd", "problog", "deepproblog"):
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
        os.makedirs(self.dir, exist_ok=True)
        self.final = os.path.join(self.dir, f"{run_id}.jsonl")
        self.part = self.final + ".part"
        self._f = None

    def finished(self) -> bool:
        return os.path.exists(self.final)

    def set_aside(self, status: str) -> None:
        """Keep an unfinished attempt's rows as ``<run_id>.<time>.<status>.jsonl`` (never rewritten,
        not counted as finished on resume)."""
        if os.path.exists(self.part):
            stamp = time.strftime("%Y%m%dT%H%M%S")
            os.replace(self.part, self.final[: -len(".jsonl")] + f".{stamp}.{status}.jsonl")

    def open(self) -> None:
        self.set_aside("killed")  # a .part left by a killed run: keep its epochs aside
        self._f = open(self.part, "a")

    def append(self, row: dict[str, Any]) -> None:
        self._f.write(json.dumps(row, default=str) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def publish(self) -> None:
        self._f.close()
        self._f = None
        os.replace(self.part, self.final)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def iter_rows(results_dir: str) -> Iterable[dict[str, Any]]:
    """Every row under a results directory: finished runs, killed runs and runs in progress."""
    patterns = ("**/*.jsonl", "**/*.jsonl.part")
    for pat in patterns:
        for path in sorted(glob.glob(os.path.join(results_dir, pat), recursive=True)):
            if path.endswith(".part"):
                state = "running"
            elif path.endswith((".killed.jsonl", ".failed.jsonl")):
                state = path.rsplit(".", 2)[-2]
            else:
                state = "done"
            with open(path) as f:
                for lineno, line in enumerate(f, start=1):
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        # a line cut by a kill mid-write: every complete line before it is kept
                        continue
                    row["file_state"] = state
                    yield row
