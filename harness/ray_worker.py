"""The worker side of the Ray executor: one attempt of one run, as a Ray generator task.

The attempt runs exactly what the local executor runs (:func:`harness.runner.run_isolated`: the
run's spec in its own process under the set-up and run budgets, the ``--memory-gb`` cap and the hard
kill), but into a results directory private to this worker, and streams each row the child appends
back to the driver as soon as it is written. The worker therefore needs neither the driver's results
folder nor its checkout: the code arrives through Ray's runtime environment (``py_modules``),
plug-in files as text, data as paths that must exist on this node.

Events yielded, in order (plain dicts):
  ``start``       the node, process and code location of this attempt;
  ``user_error``  a data directory missing on this node (one line; nothing was run);
  ``row``         one complete JSON line of the run's ``.part`` file, in order;
  ``end``         the outcome and every file the run left (name -> text), for the driver to mirror.

This module does not import Ray at load time: the local executor never needs it.
"""

from __future__ import annotations

import atexit
import dataclasses
import glob
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time

POLL_SECONDS = 0.2
_PLUGIN_DIR: str | None = None
_LOADED: dict[str, str] = {}  # hash of a plug-in file's text -> its path in this worker process


def _plugin_paths(plugins: list[tuple[str, str | None]]) -> list[str]:
    """Write shipped plug-in files under their own names (the source hash, and so the run id,
    depends on the text only) and load each once per worker process; module names pass as they are."""
    global _PLUGIN_DIR
    from . import registry

    out = []
    for name, text in plugins:
        if text is None:  # a module name: importable on the worker (shipped by the user)
            registry.load_plugin(name)
            out.append(name)
            continue
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        if digest not in _LOADED:
            if _PLUGIN_DIR is None:
                _PLUGIN_DIR = tempfile.mkdtemp(prefix="nesybench-plugins-")
                atexit.register(shutil.rmtree, _PLUGIN_DIR, True)
            d = os.path.join(_PLUGIN_DIR, digest)
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, os.path.basename(name))
            with open(path, "w") as f:
                f.write(text)
            registry.load_plugin(path)
            _LOADED[digest] = path
        out.append(_LOADED[digest])
    return out


class _Tail:
    """Complete lines appended to a run's ``.part`` file, followed across its rename to the final name."""

    def __init__(self, part: str):
        self.part, self.final = part, part[: -len(".part")]
        self.offset = 0
        self.buf = b""
        self.inode = None  # a rename keeps it; a new file under either name is another attempt's

    def new_lines(self) -> list[str]:
        for path in (self.part, self.final):
            try:
                with open(path, "rb") as f:
                    ino = os.fstat(f.fileno()).st_ino
                    if self.inode is not None and ino != self.inode:
                        return []
                    self.inode = ino
                    f.seek(self.offset)
                    data = f.read()
            except FileNotFoundError:
                continue
            self.offset += len(data)
            *lines, self.buf = (self.buf + data).split(b"\n")
            return [ln.decode(errors="replace") for ln in lines if ln.strip()]
        return []


def _packages():
    import importlib

    return [importlib.import_module(p) for p in ("harness", "methods", "tasks")]


def attempt(spec, run_dir: str, plugins: list[tuple[str, str | None]], memory_gb: float | None):
    """One attempt of one run (a Ray generator task): ``spec`` (:class:`harness.runner.RunSpec`),
    run in a results directory of this worker; ``run_dir`` is ``<task>/<method>/<run_id>`` relative
    to a results directory; ``plugins``: (name, text of a file or None for a module name)."""
    import ray

    from . import runner

    node_ip = ray.util.get_node_ip_address()
    yield {
        "op": "start",
        "node_id": ray.get_runtime_context().get_node_id(),
        "node_ip": node_ip,
        "pid": os.getpid(),
        "t": time.time(),
        "code": os.path.dirname(os.path.abspath(runner.__file__)),
    }
    missing = [f"{k}={v}" for k, v in sorted(spec.config.data_dirs.items()) if not os.path.isdir(v)]
    if missing:
        yield {
            "op": "user_error",
            "message": f"data directory {missing[0]} does not exist on the Ray node "
            f"{node_ip}: give --mnist-dir/--data-dir paths that exist on every node",
        }
        return
    tmp = tempfile.mkdtemp(prefix="nesybench-run-")
    cwd, path = os.getcwd(), os.environ.get("PYTHONPATH")
    try:
        # the run's process (a fork of the launcher's server, harness.launcher, started from this
        # worker) imports the code shipped to this worker, from a directory without a checkout in it
        shipped = [os.path.dirname(os.path.dirname(os.path.abspath(m.__file__))) for m in _packages()]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(shipped + ([path] if path else [])))
        os.chdir(tmp)
        spec = dataclasses.replace(spec, results=tmp, plugins=tuple(_plugin_paths(plugins)))
        result: dict = {}

        def work():
            try:
                result["outcome"] = runner.run_isolated(spec, lambda m: print(m, flush=True), memory_gb)
            except BaseException as e:  # a bug in the runner itself: reported, not hidden
                result["outcome"] = "failed"
                result["error"] = f"{type(e).__name__}: {e}"

        # the run goes on in a thread while this generator streams its rows
        th = threading.Thread(target=work, daemon=True)
        th.start()
        tail = _Tail(os.path.join(tmp, run_dir + ".jsonl.part"))
        while th.is_alive():
            th.join(POLL_SECONDS)
            for line in tail.new_lines():
                yield {"op": "row", "line": line}
        for line in tail.new_lines():
            yield {"op": "row", "line": line}
        files = {}
        for path in sorted(glob.glob(os.path.join(tmp, os.path.dirname(run_dir), "*"))):
            with open(path) as f:
                files[os.path.basename(path)] = f.read()
        yield {"op": "end", "outcome": result.get("outcome"), "error": result.get("error"), "files": files}
    finally:
        os.chdir(cwd)
        if path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = path
        shutil.rmtree(tmp, ignore_errors=True)
        sys.stdout.flush()
