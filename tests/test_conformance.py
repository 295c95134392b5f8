"""Every conformance check over the whole registry, one pytest case each."""
import pytest

from harness import checks
from harness.registry import METHODS, TASKS, load_builtins

load_builtins()
CASES = checks.all_cases()


def test_every_check_of_the_registry_is_parametrized():
    expected = len(METHODS) * len(TASKS) * len(checks.METHOD_CHECKS) + len(TASKS) * len(checks.TASK_CHECKS)
    assert len(CASES) == expected
    assert len(METHODS) >= 3 and len(TASKS) >= 1


@pytest.mark.parametrize("check,method,task", CASES, ids=[f"{c}-{m or 'task'}-{t}" for c, m, t in CASES])
def test_conformance(check, method, task):
    r = checks.run_case(check, method, task)
    if r.status == "skipped":
        pytest.skip(r.detail)
    assert r.status == "passed", r.detail


def test_a_broken_method_fails_the_checks():
    import torch

    from harness.api import Method

    class Broken(Method):  # ignores the constraint: a constant loss
        key = "broken-test"
        hparams = {}

        def loss(self, outputs, batch):
            return torch.tensor(1.0)

    METHODS["broken-test"] = Broken
    try:
        statuses = {c: checks.run_method_check(c, "broken-test", "mnist-add").status for c in checks.METHOD_CHECKS}
    finally:
        del METHODS["broken-test"]
    assert statuses["zero_on_gold"] == "failed"
    assert statuses["violated_positive_differentiable"] == "failed"
    assert statuses["evidence_respected"] == "failed"
