"""Wall-clock budgets inside a run process.

A run has a budget for its symbolic set-up (data, compilation, grounding) and one for the whole
run. Inside the run process a SIGALRM timer raises :class:`BudgetExceeded` in the phase that
overran, which the loop records as status ``timeout`` with the phase and the seconds reached.
Code stuck in C without returning to Python cannot be interrupted by a signal: the suite runner
(:mod:`harness.bench`) therefore also kills the process after the budget plus a grace period and
records the timeout itself.

Every time limit of the harness goes through this module: :class:`Clock` (a run's phases),
:func:`deadline` (one step under a limit, e.g. a conformance check's ``prepare``) and
:class:`Allowance` (seconds a method spends in one part of its work, summed over the run, e.g.
DeepProbLog's ``max_seconds``); each raises in the phase that overran.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable


class BudgetExceeded(Exception):
    def __init__(self, phase: str, limit: float, elapsed: float):
        super().__init__(f"{phase} budget exceeded: {elapsed:.1f} s reached, limit {limit:g} s")
        self.phase, self.limit, self.elapsed = phase, limit, elapsed


@dataclass
class Budget:
    setup_seconds: float | None = None  # data loading + method.prepare
    run_seconds: float | None = None  # everything, set-up included


class Clock:
    """Arms SIGALRM for the current phase; a no-op outside the main thread or without budgets."""

    def __init__(self, budget: Budget | None):
        self.budget = budget or Budget()
        self.start = time.monotonic()
        self.phase = "setup"
        self.active = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        self._old = None

    def _limit(self) -> tuple[float | None, float | None]:
        """(seconds from now until the alarm, the limit that applies)."""
        now = time.monotonic() - self.start
        cands = []
        if self.budget.run_seconds:
            cands.append((self.budget.run_seconds - now, self.budget.run_seconds))
        if self.phase == "setup" and self.budget.setup_seconds:
            cands.append((self.budget.setup_seconds - now, self.budget.setup_seconds))
        if not cands:
            return None, None
        return min(cands)

    def _handler(self, signum, frame):
        _, limit = self._limit()
        raise BudgetExceeded(self.phase, limit or 0.0, time.monotonic() - self.start)

    def enter(self, phase: str) -> None:
        self.phase = phase
        if not self.active:
            return
        if self._old is None:
            self._old = signal.signal(signal.SIGALRM, self._handler)
        left, limit = self._limit()
        if left is None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        if left <= 0:
            raise BudgetExceeded(phase, limit, time.monotonic() - self.start)
        signal.setitimer(signal.ITIMER_REAL, left)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def stop(self) -> None:
        if self.active and self._old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
            self._old = None


@contextlib.contextmanager
def deadline(seconds: float, expired: Callable[[], BaseException], cpu: bool = False):
    """Raise ``expired()`` in the enclosed code once ``seconds`` have passed: wall-clock seconds
    (SIGALRM), or with ``cpu`` the process's CPU seconds (SIGPROF), which other processes' load
    does not inflate. Outside the main thread, or where these signals do not exist, the code runs
    without a limit."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    sig, timer = (signal.SIGPROF, signal.ITIMER_PROF) if cpu else (signal.SIGALRM, signal.ITIMER_REAL)

    def handler(signum, frame):
        raise expired()

    old = signal.signal(sig, handler)
    signal.setitimer(timer, seconds)
    try:
        yield
    finally:
        signal.setitimer(timer, 0)
        signal.signal(sig, old)


class Allowance:
    """Seconds a method may spend on one part of its work over a whole run (0: no limit of its own);
    :meth:`spend` adds a measured duration and raises :class:`BudgetExceeded` past the limit."""

    def __init__(self, limit: float, phase: str = "train"):
        self.limit, self.phase, self.spent = float(limit), phase, 0.0

    def spend(self, seconds: float) -> None:
        self.spent += seconds
        if self.limit and self.spent > self.limit:
            raise BudgetExceeded(self.phase, self.limit, self.spent)
