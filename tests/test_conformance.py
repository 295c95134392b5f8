"""Every conformance check over the whole registry, one pytest case each."""

import pytest

from harness import checks
from harness.registry import METHODS, TASKS, load_builtins

load_builtins()
CASES = checks.all_cases()
# the registry as the cases were made (a later test may register a plug-in's method)
N_METHODS, N_TASKS = len(METHODS), len(TASKS)


def test_every_check_of_the_registry_is_parametrized():
    expected = N_METHODS * N_TASKS * len(checks.METHOD_CHECKS) + N_TASKS * len(checks.TASK_CHECKS)
    assert len(CASES) == expected
    assert N_METHODS >= 3 and N_TASKS >= 1


def _param(check, method, task):
    """A case; a check the method declares exempt is a strict expected failure with its reason."""
    reason = checks.exemption(METHODS[method], check, task) if method else None
    marks = [pytest.mark.xfail(strict=True, reason=f"exempt: {reason}")] if reason else []
    return pytest.param(check, method, task, marks=marks, id=f"{check}-{method or 'task'}-{task}")


@pytest.mark.parametrize("check,method,task", [_param(*c) for c in CASES])
def test_conformance(check, method, task):
    if method is None:
        r = checks.run_case(check, method, task)
    else:  # an exempt check runs as it is: the xfail mark expects it to fail
        r = checks.run_method_check(check, method, task, honour_exempt=False)
    if r.status == "skipped":
        pytest.skip(r.detail)
    assert r.status == "passed", r.detail


def test_exemptions_are_declared_on_method_and_reported_as_exempt():
    from harness.api import Method

    assert Method.conformance_exempt == {} and Method.conformance_hp == {}
    r = checks.run_method_check("evidence_respected", "supervised", "mnist-add")
    assert r.status == "exempt" and "gold labels" in r.detail


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


def test_a_detached_loss_is_told_what_to_look_at():

    from harness.api import Method
    from harness.atoms import atom_values

    class Detached(Method):  # the constraint's violation, but through .detach(): no gradient
        key = "detached-test"
        hparams = {}

        def loss(self, outputs, batch):
            t = atom_values(self.constraint_, {k: v.detach() for k, v in outputs.items()}, batch.evidence)
            return (1 - t.max(-1).values).mean() + 1.0

    METHODS["detached-test"] = Detached
    try:
        r = checks.run_method_check("violated_positive_differentiable", "detached-test", "mnist-add")
    finally:
        del METHODS["detached-test"]
    assert r.status == "failed"
    assert "the loss does not depend on the outputs" in r.detail and "straight-through estimator" in r.detail


def test_an_over_budget_check_fails(monkeypatch):
    import time

    from harness.api import Method

    class Slow(Method):
        key = "slow-test"
        hparams = {}

        def prepare(self, constraint, device):
            end = time.process_time() + 5.0
            while time.process_time() < end:  # CPU work (the budget counts CPU seconds)
                pass

    monkeypatch.setattr(checks, "PREPARE_SECONDS", 0.2)
    METHODS["slow-test"] = Slow
    try:
        r = checks.run_method_check("finite_scalar", "slow-test", "mnist-add")
    finally:
        del METHODS["slow-test"]
        checks._PREPARED.pop(("slow-test", "mnist-add"), None)
    assert r.status == "failed" and "exceeded the check budget" in r.detail
