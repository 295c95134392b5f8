"""mnist-add's ``top_epochs`` curriculum on the column encoding: the evidence of the first epochs
holds only the top column's total, CL-STE's loss is then the top column's alone, user errors, and a
tiny CL-STE run that learns digits from it."""

from __future__ import annotations

import pytest
import torch

from harness.api import Batch
from harness.errors import UserError
from harness.loop import RunConfig, run
from methods.cl_ste import CLSTE
from tasks.mnist_add import MnistAdd


def _true_atoms(task: MnistAdd, ev: torch.Tensor) -> list[list[str]]:
    names = task.constraint().cnf.names
    return [[names[i] for i in row.nonzero().squeeze(1).tolist()] for row in ev]


def test_top_only_evidence_holds_the_top_total_alone():
    task = MnistAdd(digits=3, encoding="column")
    sums = torch.tensor([1234, 57])  # 1234: digits 4, 3 and top total 12; 57: 7, 5 and top 0
    assert _true_atoms(task, task.evidence_for(sums)) == [
        ["sdig(0,4)", "sdig(1,3)", "top(12)"],
        ["sdig(0,7)", "sdig(1,5)", "top(0)"],
    ]
    assert _true_atoms(task, task.evidence_for(sums, top_only=True)) == [["top(12)"], ["top(0)"]]


def test_train_batches_switch_to_every_column_after_top_epochs():
    task = MnistAdd(digits=2, encoding="column", top_epochs=2, n_pairs=8)
    task.setup(0, torch.device("cpu"))
    top = task.sum_cols_[1][task.sum_cols_[1] >= 0]
    low = task.sum_cols_[0][task.sum_cols_[0] >= 0]
    seen = []
    for epoch in (1, 2, 3):
        ev = torch.cat([b.evidence for b in task.train_batches(4, torch.Generator().manual_seed(0), epoch)])
        assert (ev[:, top].sum(1) == 1).all()  # every example keeps its top column's total
        seen.append(int(ev[:, low].sum()))
    assert seen == [0, 0, 8]  # epochs 1 and 2: no sum digit of column 0; epoch 3: one per example


def test_cl_ste_on_top_only_evidence_is_the_top_column_gradient():
    """Near-uniform outputs: no outcome atom reaches 0.5, the one kept clause (the top column's) is
    unsatisfied, and L_cnf = L_unsat = 1 with the gradient of -P(top column right), N = 2: the
    column-1 digits' total 12 with the carry out of column 0 (images a1, a0, b1, b0)."""
    task = MnistAdd(digits=2, encoding="column")
    m = CLSTE(w_cnf=1.0, w_bound=0.0)
    m.prepare(task.constraint(), torch.device("cpu"))
    torch.manual_seed(0)
    logits = (0.3 * torch.randn(1, 4, 10)).requires_grad_()
    ev = task.evidence_for(torch.tensor([57 + 68]), top_only=True)  # 125: top total 12
    loss = m.loss({"digit": logits}, Batch(x=None, evidence=ev))
    assert loss.item() == pytest.approx(1.0)
    (g,) = torch.autograd.grad(loss, logits)
    ref_logits = logits.detach().clone().requires_grad_()
    a1, a0, b1, b0 = torch.softmax(ref_logits[0], -1)
    s = torch.arange(10)[:, None] + torch.arange(10)[None, :]
    carry = (a0[:, None] * b0[None, :])[s >= 10].sum()
    joint1 = a1[:, None] * b1[None, :]
    p_top = (1 - carry) * joint1[s == 12].sum() + carry * joint1[s + 1 == 12].sum()
    (g_ref,) = torch.autograd.grad(-p_top, ref_logits)
    assert torch.allclose(g, g_ref, atol=1e-6)


@pytest.mark.parametrize("tp", [{"encoding": "compact", "top_epochs": 1}, {"encoding": "column", "top_epochs": -1}])
def test_top_epochs_user_errors(tp):
    with pytest.raises(UserError, match="top_epochs"):
        MnistAdd(digits=3, **tp)


def test_tiny_top_epochs_run_learns_digits(tmp_path):
    """Embedded data, N = 3, 500 examples, batch 4, two epochs on the top column's total alone: the
    test digit accuracy is well above chance (10 %; this run measured 39.1 %)."""
    cfg = RunConfig(
        "mnist-add",
        "cl-ste",
        epochs=2,
        batch_size=4,
        tp={"digits": 3, "encoding": "column", "top_epochs": 2, "n_pairs": 500},
    )
    row = run(cfg, str(tmp_path))
    assert row["status"] == "ok"
    assert row["metrics"]["digit_acc"] > 25.0


def _top_only(batch, task):
    """Whether a batch's evidence holds the top column's total alone."""
    n = task.tp["digits"]
    return bool((batch.evidence[:, task.sum_cols_[: n - 1][task.sum_cols_[: n - 1] >= 0]] == 0).all())


def test_top_until_switches_on_the_training_sums_read_by_the_argmax_digits():
    """top_until = A: top-column evidence only until an epoch whose argmax digits got the top
    column's total right on >= A of the training sums; the count reads the evidence, not labels."""
    task = MnistAdd(digits=3, encoding="column", top_until=0.9, n_pairs=40)
    task.setup(0, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)

    def epoch(right: bool):
        epoch.count += 1
        batches = list(task.train_batches(8, gen, epoch.count))
        for b in batches:
            digits = b.labels["digit"] if right else torch.zeros_like(b.labels["digit"])
            task.observe({"digit": torch.nn.functional.one_hot(digits, 10).float()}, b)
        return batches

    epoch.count = 0
    assert all(_top_only(b, task) for b in epoch(right=False))  # epoch 1: top only; all-zero digits
    assert task.top_right_ < 0.9 * task.top_seen_ and task.top_seen_ == 40
    assert all(_top_only(b, task) for b in epoch(right=True))  # epoch 2: still top only (epoch 1 failed)
    assert task.top_right_ == task.top_seen_ == 40
    assert not any(_top_only(b, task) for b in epoch(right=False))  # epoch 3: every column
    assert not task.top_phase_  # the switch is once and for all


def test_top_until_is_checked_and_recorded(tmp_path):
    with pytest.raises(UserError, match=r"top_until=1.5 is outside what it supports \(0.0..1.0\)"):
        MnistAdd(digits=2, encoding="column", top_until=1.5)
    with pytest.raises(UserError, match="top_until=0.5 needs"):
        MnistAdd(digits=2, encoding="compact", top_until=0.5)
    row = run(
        RunConfig(
            "mnist-add",
            "cl-ste",
            epochs=2,
            batch_size=8,
            device="cpu",
            tp={"digits": 2, "encoding": "column", "top_until": 0.99, "n_pairs": 16},
        ),
        str(tmp_path),
    )
    assert row["metrics"]["top_phase"] == 1.0 and 0 <= row["metrics"]["train_top_acc"] <= 100
