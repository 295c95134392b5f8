"""One budget clock: a method's own limit (harness.budget.limit) runs on the run's clock, and the
SDD compilation stops at the nearer of the run's set-up budget and ``max_compile_seconds``."""

import signal
import threading
import time

import pytest
import torch

from harness import budget
from harness.budget import Budget, BudgetExceeded, Clock


def _spin():
    while True:  # pure Python: the alarm interrupts it
        pass


def test_a_limit_raises_with_its_own_seconds_then_the_phase_alarm_is_back():
    clock = Clock(Budget(setup_seconds=30.0))
    clock.enter("setup")
    try:
        assert budget.current() is clock
        with pytest.raises(BudgetExceeded) as e:
            with budget.limit(0.05):
                _spin()
        assert e.value.phase == "setup" and e.value.limit == 0.05 and e.value.elapsed >= 0.05
        assert 20.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30.0  # the set-up budget's alarm again
        with budget.limit(0.0):  # 0: no limit of its own
            budget.check()
    finally:
        clock.stop()
    assert budget.current() is None and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0


class _SlowFinalizer:
    """An object whose ``__del__`` runs past a limit, as a large PySDD manager's can."""

    def __del__(self):
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            pass


@pytest.mark.parametrize("armed_by", ["limit", "deadline"])
def test_an_alarm_inside_a_finalizer_rings_again_after_it(armed_by):
    """Python drops an exception raised in ``__del__``: the limit must still stop the code after it."""

    class Late(Exception):
        pass

    ctx = budget.limit(0.05) if armed_by == "limit" else budget.deadline(0.05, Late)
    with pytest.raises(BudgetExceeded if armed_by == "limit" else Late):
        with ctx:
            _SlowFinalizer()  # dropped at once: the alarm rings inside its __del__
            end = time.monotonic() + 3.0
            while time.monotonic() < end:  # bounded: a lost alarm fails the test rather than hanging it
                pass


def test_the_run_budget_wins_when_it_is_nearer_than_the_limit():
    clock = Clock(Budget(setup_seconds=0.05))
    try:
        with pytest.raises(BudgetExceeded) as e:
            clock.enter("setup")
            with budget.limit(60.0):
                _spin()
        assert e.value.limit == 0.05
    finally:
        clock.stop()


def test_check_stops_a_loop_where_no_alarm_can_be_armed():
    """Outside the main thread no SIGALRM is armed: ``check`` polls the same clock."""
    out = {}

    def work():
        clock = Clock(Budget(setup_seconds=0.05))
        clock.enter("setup")
        try:
            while True:
                budget.check()
        except BudgetExceeded as e:
            out["error"] = e
        finally:
            clock.stop()

    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert out["error"].limit == 0.05 and out["error"].phase == "setup"


@pytest.mark.parametrize(
    "setup,max_compile,limit", [(1e-3, 0.0, 1e-3), (30.0, 1e-6, 1e-6)], ids=["run-set-up-budget", "max_compile_seconds"]
)
def test_sdd_compilation_stops_at_the_nearer_budget(setup, max_compile, limit):
    from methods.semantic_loss import SemanticLoss
    from tasks.mnist_add import MnistAdd

    c = MnistAdd(digits=1).constraint()
    clock = Clock(Budget(setup_seconds=setup))
    try:
        with pytest.raises(BudgetExceeded, match="setup budget exceeded") as e:
            clock.enter("setup")  # armed inside the raises block: a 1 ms alarm may fire at once
            SemanticLoss(max_compile_seconds=max_compile).prepare(c, torch.device("cpu"))
        assert e.value.limit == limit
    finally:
        clock.stop()


def test_compilation_polls_the_clock_between_clauses_outside_the_main_thread():
    from methods._sdd import compile_constraint
    from tasks.mnist_add import MnistAdd

    c = MnistAdd(digits=1).constraint()
    out = {}

    def work():
        try:
            compile_constraint(c, max_seconds=1e-6)
        except BudgetExceeded as e:
            out["error"] = e

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert out["error"].limit == 1e-6 and budget.current() is None
