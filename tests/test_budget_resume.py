"""A timeout stands only for the budget it ran out of: the same run asked with a larger budget (or
none) runs again and says so; the timeout's message names the budget and where it was set."""

import glob
import json

import pytest

from harness.budget import Budget, BudgetExceeded, Clock
from harness.cli import main

RUN = ["run", "--task", "mnist-add", "--method", "cl-ste", "--tp", "n_pairs=16", "--device", "cpu"]


def _final(results):
    (path,) = glob.glob(str(results / "mnist-add" / "cl-ste" / "*[0-9a-f].jsonl"))
    return json.loads(open(path).read().splitlines()[-1])


def test_a_timeout_under_a_smaller_budget_runs_again(tmp_path, capsys, caplog):
    args = RUN + ["--results", str(tmp_path)]
    assert main(args + ["--setup-budget", "1e-6"]) == 0
    row = _final(tmp_path)
    assert row["status"] == "timeout" and row["timeout_budget"] == "setup" and row["budget_source"] == "--setup-budget"
    assert "setup budget exceeded" in row["error"] and "(set by --setup-budget)" in row["error"]

    assert main(args + ["--setup-budget", "1e-6"]) == 0  # the same budget: the timeout stands
    assert "already finished" in capsys.readouterr().out and caplog.text == ""

    assert main(args + ["--setup-budget", "60"]) == 0
    assert "it timed out under a setup budget of 1e-06 s (--setup-budget); the budget now is 60 s" in caplog.text
    assert "already finished" not in capsys.readouterr().out
    assert _final(tmp_path)["status"] == "ok"
    assert len(glob.glob(str(tmp_path / "mnist-add" / "cl-ste" / "*.timeout.jsonl"))) == 1  # the timeout is kept


def test_no_budget_reruns_a_timeout_and_the_run_budget_is_named(tmp_path, caplog):
    args = RUN + ["--results", str(tmp_path)]
    assert main(args + ["--run-budget", "1e-6", "--epochs", "3"]) == 0
    row = _final(tmp_path)
    assert row["error"].startswith("run budget exceeded during setup: ") and row["error"].endswith(
        "limit 1e-06 s (set by --run-budget)"
    )  # not a set-up budget the user never set
    assert main(args + ["--epochs", "3", "--run-budget", "1e-6"]) == 0 and caplog.text == ""
    assert main(args + ["--epochs", "3"]) == 0
    assert "there is no budget now" in caplog.text and _final(tmp_path)["status"] == "ok"


def test_a_suites_budget_names_the_suite():
    clock = Clock(Budget(None, 1e-9, setup_source="suite smoke", run_source="suite smoke"))
    with pytest.raises(BudgetExceeded, match=r"run budget exceeded during setup: .* \(set by suite smoke\)"):
        try:
            clock.enter("setup")
            clock.check()
        finally:
            clock.stop()
