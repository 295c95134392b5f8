"""Wall-clock budgets inside a run process.

A run has a budget for its symbolic set-up (data, compilation, grounding) and one for the whole
run. Inside the run process a SIGALRM timer raises :class:`BudgetExceeded` in the phase that
overran, which the loop records as status ``timeout`` with the phase and the seconds reached.
Code stuck in C without returning to Python cannot be interrupted by a signal: the suite runner
(:func:`harness.runner.run_isolated`) therefore also kills the process after the budget plus a grace period and
records the timeout itself.

Every time limit of the harness goes through this module: :class:`Clock` (a run's phases),
:func:`limit` (a tighter limit of a method's own on the run's clock for one part of its work, e.g.
the semantic loss's ``max_compile_seconds``; :func:`check` polls the same clock where a long loop
should stop at a clean point, or where no alarm can be armed), :func:`deadline` (one step under a
limit outside a run, e.g. a conformance check's ``prepare``) and :class:`Allowance` (seconds a
method spends in one part of its work, summed over the run, e.g. DeepProbLog's ``max_seconds``);
each raises in the phase that overran.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable


class BudgetExceeded(Exception):
    """A time limit passed: in ``phase`` (setup, train, eval), ``elapsed`` seconds against ``limit``.

    ``budget`` names the run's budget that was exceeded (``setup`` or ``run``) and ``source`` where
    it was set (``--run-budget``, ``suite default``); both are None for a limit of a method's own
    (e.g. the semantic loss's ``max_compile_seconds``), whose message names the phase."""

    def __init__(self, phase: str, limit: float, elapsed: float, budget: str | None = None, source: str | None = None):
        if budget is None:
            msg = f"{phase} budget exceeded: {elapsed:.1f} s reached, limit {limit:g} s"
        else:
            during = "" if budget == phase else f" during {phase}"
            msg = f"{budget} budget exceeded{during}: {elapsed:.1f} s reached, limit {limit:g} s" + (
                f" (set by {source})" if source else ""
            )
        super().__init__(msg)
        self.phase, self.limit, self.elapsed, self.budget, self.source = phase, limit, elapsed, budget, source


@dataclass
class Budget:
    """A run's two budgets and where each was set (a flag, a suite), for the timeout's message."""

    setup_seconds: float | None = None  # data loading + method.prepare
    run_seconds: float | None = None  # everything, set-up included
    setup_source: str = "--setup-budget"
    run_source: str = "--run-budget"

    def for_phase(self, phase: str) -> float | None:
        """The seconds a run may reach in ``phase`` (setup: the nearer of the two budgets; later
        phases: the run budget); None: no limit."""
        cands = [self.run_seconds] + ([self.setup_seconds] if phase == "setup" else [])
        cands = [c for c in cands if c]
        return min(cands) if cands else None


class Clock:
    """Arms SIGALRM for the current phase; a no-op outside the main thread or without budgets.

    The clock of the run in progress is this thread's :func:`current` clock from its first
    :meth:`enter` to :meth:`stop`; :meth:`limit` adds a tighter limit for part of a phase."""

    def __init__(self, budget: Budget | None):
        self.budget = budget or Budget()
        self.start = time.monotonic()
        self.phase = "setup"
        self.active = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        self._old = None
        self._limits: list[tuple[float, float]] = []  # (monotonic start, seconds) of each open limit

    def _nearest(self) -> tuple | None:
        """(seconds from now until the alarm, the limit that applies, the seconds it has run, the
        budget's name or None for a limit of a method's own, its source), or None."""
        t = time.monotonic()
        now = t - self.start
        b = self.budget
        cands = []
        if b.run_seconds:
            cands.append((b.run_seconds - now, b.run_seconds, now, "run", b.run_source))
        if self.phase == "setup" and b.setup_seconds:
            cands.append((b.setup_seconds - now, b.setup_seconds, now, "setup", b.setup_source))
        cands += [(t0 + seconds - t, seconds, t - t0, None, None) for t0, seconds in self._limits]
        return min(cands, key=lambda c: c[0]) if cands else None

    def _limit(self) -> tuple[float | None, float | None, float | None]:
        """(seconds from now until the alarm, the limit that applies, the seconds it has run)."""
        near = self._nearest()
        return near[:3] if near else (None, None, None)

    def _exceeded(self, elapsed: float | None = None) -> BudgetExceeded:
        near = self._nearest()
        if near is None:
            return BudgetExceeded(self.phase, 0.0, self.elapsed() if elapsed is None else elapsed)
        _, limit, ran, name, source = near
        return BudgetExceeded(self.phase, limit, ran, name, source)

    def _handler(self, signum, frame):
        if _rung_in_finalizer(frame, signal.ITIMER_REAL):
            return
        raise self._exceeded()

    def _arm(self, overdue_raises: bool = True) -> None:
        """Set the alarm for the nearest limit; one already past raises now (``overdue_raises``),
        else rings at once."""
        if not self.active:
            return
        if self._old is None:
            self._old = signal.signal(signal.SIGALRM, self._handler)
        left, limit, elapsed = self._limit()
        if left is None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        if left <= 0 and overdue_raises:
            raise self._exceeded()
        signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6))

    def enter(self, phase: str) -> None:
        self.phase = phase
        _state.clock = self
        self._arm()

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` when the nearest limit has passed (no signal needed)."""
        left, limit, elapsed = self._limit()
        if left is not None and left <= 0:
            raise self._exceeded()

    @contextlib.contextmanager
    def limit(self, seconds: float):
        """A limit of ``seconds`` (0: none) for the enclosed code, within the phase's own: over it,
        :class:`BudgetExceeded` with this limit and the seconds the enclosed code ran."""
        if not seconds:
            yield
            return
        entry = (time.monotonic(), float(seconds))
        self._limits.append(entry)
        try:
            self._arm()
            yield
        finally:
            self._limits.remove(entry)
            self._arm(overdue_raises=False)  # the phase's own alarm again

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def stop(self) -> None:
        if getattr(_state, "clock", None) is self:
            _state.clock = None
        if self.active and self._old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
            self._old = None


_state = threading.local()  # .clock: this thread's run clock (Clock.enter to Clock.stop)

# Python prints and drops an exception raised inside ``__del__`` (a garbage-collected object's
# finalizer, e.g. a PySDD manager's, run wherever the collector happens to run): an alarm that rings
# there rings again this many seconds later instead, so that the limit is not lost.
FINALIZER_RETRY_SECONDS = 0.01


def _rung_in_finalizer(frame, timer: int) -> bool:
    """Whether ``frame`` (where an alarm interrupted the program) runs inside a ``__del__``; if so,
    ``timer`` is armed again to ring :data:`FINALIZER_RETRY_SECONDS` later, and the handler returns."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            signal.setitimer(timer, FINALIZER_RETRY_SECONDS)
            return True
        frame = frame.f_back
    return False


def current() -> Clock | None:
    """The clock of the run in progress in this thread, or None (a script, a unit test)."""
    return getattr(_state, "clock", None)


@contextlib.contextmanager
def limit(seconds: float, phase: str = "setup"):
    """A limit of ``seconds`` of its own (0: none) for the enclosed code, on the run's clock: the
    code stops at the nearer of this limit and the run's budgets (:meth:`Clock.limit`). Outside a
    run, a clock for this code alone, in ``phase``."""
    clock = current()
    if clock is not None:
        with clock.limit(seconds):
            yield
        return
    if not seconds:
        yield
        return
    clock = Clock(None)
    clock.phase = phase
    _state.clock = clock
    try:
        with clock.limit(seconds):
            yield
    finally:
        clock.stop()


def check() -> None:
    """Raise :class:`BudgetExceeded` if the run's clock has passed a budget or limit: a poll at the
    clean points of a long loop, which works where no alarm can be armed (outside the main thread)."""
    clock = current()
    if clock is not None:
        clock.check()


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
        if _rung_in_finalizer(frame, timer):
            return
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
