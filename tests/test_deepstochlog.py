"""DeepStochLog on its own package: the grounding program, its probabilities against the exact
ones, the set-up budget, a skipped task and a tiny run. Skipped where the package or SWI-Prolog
is missing (make setup and make test install both where they can); under CI (``CI`` set) a
missing one fails instead, so that CI always runs these tests."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time

import pytest
import torch

_MISSING = [
    what
    for what, ok in (
        (
            "the deepstochlog package (pip install --no-deps deepstochlog==0.0.1)",
            importlib.util.find_spec("deepstochlog") is not None,
        ),
        ("SWI-Prolog's swipl (apt-get install swi-prolog-nox)", shutil.which("swipl") is not None),
    )
    if not ok
]
if _MISSING:
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI must run the DeepStochLog tests: {'; '.join(_MISSING)} missing", pytrace=False)
    pytest.skip(f"{'; '.join(_MISSING)} missing", allow_module_level=True)

from harness.api import Batch  # noqa: E402
from harness.budget import BudgetExceeded, limit  # noqa: E402
from harness.errors import SkipRun  # noqa: E402
from methods.deepstochlog import DeepStochLog  # noqa: E402
from methods.semantic_loss import SemanticLoss  # noqa: E402

CPU = torch.device("cpu")


def mnist_add(digits):
    from tasks.mnist_add import MnistAdd

    task = MnistAdd(digits=digits, encoding="compact" if digits > 1 else "paper")
    return task, task.constraint()


def test_probability_equals_the_hand_formula_at_n1():
    task, c = mnist_add(1)
    m = DeepStochLog()
    m.prepare(c, CPU)
    logits = torch.randn(3, 2, 10, dtype=torch.float64, requires_grad=True)
    sums = torch.tensor([0, 7, 18])
    p = m.query_probabilities({"digit": logits}, sums)
    q = torch.softmax(logits, -1)
    want = torch.stack(
        [sum(q[b, 0, a] * q[b, 1, s - a] for a in range(10) if 0 <= s - a <= 9) for b, s in enumerate(sums.tolist())]
    )
    assert torch.allclose(p, want, atol=1e-12)
    (g1,) = torch.autograd.grad(p.sum(), logits)
    (g2,) = torch.autograd.grad(want.sum(), logits)
    assert torch.allclose(g1, g2, atol=1e-12)
    assert m.describe()["ground_seconds"] > 0


def test_probability_equals_the_semantic_loss_at_n2():
    """Two 2-digit numbers: the grammar reads the images column by column, the task most
    significant first per number; the sum's probability equals the circuit's."""
    task, c = mnist_add(2)
    m = DeepStochLog()
    m.prepare(c, CPU)
    sl = SemanticLoss()
    sl.prepare(c, CPU)
    logits = torch.randn(4, 4, 10, dtype=torch.float64)
    sums = torch.tensor([0, 57, 123, 198])
    p = m.query_probabilities({"digit": logits}, sums)
    lp = sl.log_probability({"digit": logits}, task.evidence_for(sums).double())
    assert torch.allclose(p, lp.exp(), atol=1e-10)


def test_grounding_stops_at_the_set_up_budget():
    _, c = mnist_add(3)  # grounding N = 3 takes seconds
    m = DeepStochLog()
    t0 = time.perf_counter()
    with pytest.raises(BudgetExceeded, match="setup"), limit(0.5):
        m.prepare(c, CPU)
    assert time.perf_counter() - t0 < 5.0


def test_a_task_without_a_grammar_is_skipped():
    from tasks.member import Member

    with pytest.raises(SkipRun, match="only mnist-add"):
        DeepStochLog().prepare(Member(n=3).constraint(), CPU)


def test_loss_and_a_tiny_run(tmp_path):
    from harness.loop import RunConfig, run

    task, c = mnist_add(1)
    m = DeepStochLog()
    m.prepare(c, CPU)
    gold = torch.tensor([[3, 4], [9, 9]])
    logits = (torch.nn.functional.one_hot(gold, 10).float() * 2 - 1) * 40
    assert (
        m.loss(
            {"digit": logits}, Batch(None, task.evidence_for(torch.tensor([7, 18])), target=torch.tensor([7, 18]))
        ).item()
        < 1e-6
    )
    row = run(
        RunConfig("mnist-add", "deepstochlog", seed=0, epochs=1, batch_size=16, tp={"n_pairs": 64}), str(tmp_path)
    )
    assert row["status"] == "ok" and 0 <= row["metrics"]["digit_acc"] <= 100
    assert row["method_describe"]["ground_seconds"] > 0
