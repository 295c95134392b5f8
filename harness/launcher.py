"""Starting a suite's runs: one process per run, forked from a server that has torch imported.

Each run of a suite is its own process, so that a budget, a memory cap or a hard kill ends that run
and nothing else. Started as a fresh interpreter, a run pays for the interpreter and for importing
torch and ``torch._dynamo`` (which torch's optimizers import on first use) before it trains: about
7 s on a 2-core machine, more than many runs of the default suite train. Here the runs are forks of a
multiprocessing ``forkserver`` that imported those once (:mod:`harness._preload`); the fork server
is a clean single-threaded process started by the suite runner, not the runner itself, so a fork
inherits no threads or open state of the runner.

A run's process gets what a fresh interpreter would: its own process group (the runner kills the
whole group), the Linux parent-death signal, the address-space cap (``--memory-gb``), the runner's
working directory and environment as they are when the run starts (plus ``NESYBENCH_RUNNER_PID``,
the starting process's pid, since the run's parent process is the fork server), and its standard output and
error, which it writes to files that the runner passes through to its own streams (keeping the
last line of standard error for a crash's row).

The process calls a function with its arguments (the suite runner's
:func:`harness.runner.run_in_process` with a run's spec), or runs a ``nesybench`` command line as
``python -m harness ARGV`` would.
"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import signal
import sys
import tempfile
import threading
from typing import Callable

PRELOAD = ["harness._preload"]
RUNNER_PID = "NESYBENCH_RUNNER_PID"  # in a run's environment: the pid of the process that started it
_context = None


def _ctx():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _limit(memory_gb: float | None) -> None:
    os.setsid()  # own process group: the runner can kill it with all its children
    try:  # Linux: die with the fork server, which ends with the suite runner
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if memory_gb:
        import resource

        cap = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def command(argv: list[str]) -> None:
    """The ``nesybench`` command line ``argv``, run as ``python -m harness ARGV`` runs it (its exit
    status is the command's)."""
    sys.argv = ["nesybench", *argv]
    runpy.run_module("harness", run_name="__main__", alter_sys=True)


def _child(
    target: Callable[..., int | None],
    args: tuple,
    cwd: str,
    env: dict[str, str],
    memory_gb: float | None,
    out_path: str,
    err_path: str,
) -> None:
    """The run's process: limits, the runner's directory and environment, streams to files, then
    ``target(*args)``, whose return value is the exit status."""
    _limit(memory_gb)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out_path), (2, err_path)):
        f = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(f, fd)
        os.close(f)
    sys.exit(target(*args))


class _Tail:
    """Copies what a run's process writes to its two files onto this process's standard output and
    error while it runs; keeps the last non-empty line of its standard error."""

    def __init__(self, out_path: str, err_path: str):
        self.line = ""
        self._stop = threading.Event()
        self._files = [(open(out_path, "rb"), sys.stdout, False), (open(err_path, "rb"), sys.stderr, True)]
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _copy(self) -> bool:
        moved = False
        for f, stream, is_err in self._files:
            data = f.read()
            if not data:
                continue
            moved = True
            text = data.decode("utf-8", errors="replace")
            stream.write(text)
            stream.flush()
            if is_err:
                lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
                if lines:
                    self.line = lines[-1][-300:]
        return moved

    def _pump(self) -> None:
        while not self._stop.is_set():
            if not self._copy():
                self._stop.wait(0.1)
        self._copy()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for f, _, _ in self._files:
            f.close()


class RunProcess:
    """``target(*args)`` in its own forked process (see the module's docstring). ``target`` is a
    module-level function (it is pickled by name to the fork server) or a ``nesybench`` command line
    (a list of strings: :func:`command`)."""

    def __init__(self, target: Callable[..., int | None] | list[str], *args, memory_gb: float | None = None):
        if isinstance(target, list):
            target, args = command, (list(target),)
        self._dir = tempfile.mkdtemp(prefix="nesybench-run-")
        out_path, err_path = (os.path.join(self._dir, n) for n in ("stdout", "stderr"))
        for p in (out_path, err_path):
            open(p, "wb").close()
        self._tail = _Tail(out_path, err_path)
        # the run's parent is the fork server; RUNNER_PID names the process that started the run
        env = {**os.environ, RUNNER_PID: str(os.getpid())}
        self._proc = _ctx().Process(
            target=_child, args=(target, args, os.getcwd(), env, memory_gb, out_path, err_path), daemon=False
        )
        self._proc.start()

    @property
    def last_line(self) -> str:
        return self._tail.line

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit status (negative: killed by that signal), or None when ``timeout`` passed first."""
        self._proc.join(timeout)
        return self._proc.exitcode

    def kill(self) -> None:
        """SIGKILL the run's process group (the process itself if it has not made its group yet)."""
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self._proc.kill()
        self._proc.join()

    def close(self) -> None:
        self._tail.close()
        for n in ("stdout", "stderr"):
            try:
                os.unlink(os.path.join(self._dir, n))
            except OSError:
                pass
        os.rmdir(self._dir)
