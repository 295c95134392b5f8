"""Every built-in suite declares runs that can start: each entry's task, methods, hyper-parameters,
task parameters and training settings resolve to a run identity (the check a suite's first run
makes, here without the data), so that a typo in a suite is found by the tests, not hours into it."""

import pytest

from harness.bench import run_configs
from harness.errors import UserError
from harness.loop import RunConfig, run_identity
from harness.suites import SUITES


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_run_of_the_suite_resolves(name, tmp_path):
    dirs = {"mnist": str(tmp_path), "clste": str(tmp_path)}
    seen = set()
    for entry in SUITES[name].entries:
        assert entry.seeds and all(isinstance(s, int) and s >= 0 for s in entry.seeds)
        for cfg in run_configs(entry, "cpu", 1, dirs):
            seen.add(run_identity(cfg, str(tmp_path)).run_id)
    assert seen


def test_a_misspelt_parameter_is_refused():
    cfg = RunConfig("mnist-add", "reinforce", 0, 1, 16, 1e-3, {"sample": 10}, {"digits": 2}, "cpu", 1, {})
    with pytest.raises(UserError, match="sample"):
        run_identity(cfg, "/tmp/unused")
