"""DeepProbLog peer: the package imports and answers a query; the wrapped method gives the exact
probability of the sum with gradients; tasks without a program are skipped."""

from __future__ import annotations

import pytest
import torch

from harness.api import Batch, Constraint, NeuralGroup
from harness.cnf import CNF
from harness.errors import SkipRun, UserError

deepproblog = pytest.importorskip("deepproblog", reason="deepproblog is not installed (make setup installs it)")

from methods.deepproblog import DeepProbLog, import_deepproblog  # noqa: E402


def test_package_imports_and_answers_one_query():
    ExactEngine, Model, Network, Query, Constant, Term = import_deepproblog()

    class Fixed(torch.nn.Module):  # a 'network' that always says P(coin = heads) = 0.3
        def forward(self, x):
            return torch.tensor([[0.3, 0.7]]).expand(len(x), 2)

    program = "nn(coin_net,[X],Y,[heads,tails]) :: coin(X,Y).\nboth(X,Y) :- coin(X,heads), coin(Y,heads).\n"
    model = Model(program, [Network(Fixed(), "coin_net", batching=True)], load=False)
    model.set_engine(ExactEngine(model))
    model.add_tensor_source("t", {(Constant(0),): torch.zeros(1), (Constant(1),): torch.zeros(1)})
    q = Query(Term("both", Term("tensor", Term("t", Constant(0))), Term("tensor", Term("t", Constant(1)))))
    (result,) = model.solve([q])
    assert float(next(iter(result.result.values()))) == pytest.approx(0.09)


def mnist_add_constraint(digits: int = 1):
    from tasks.mnist_add import MnistAdd

    task = MnistAdd(digits=digits)
    return task, task.constraint()


def test_mnist_add_query_is_the_probability_of_the_sum_with_gradients():
    task, c = mnist_add_constraint()
    m = DeepProbLog()
    m.prepare(c, torch.device("cpu"))
    torch.manual_seed(0)
    logits = torch.randn(6, 2, 10, dtype=torch.float64, requires_grad=True)
    sums = torch.tensor([0, 3, 9, 10, 17, 18])
    got = m.query_probabilities({"digit": logits}, sums)
    p = torch.softmax(logits, -1)
    want = torch.stack(
        [sum(p[b, 0, a] * p[b, 1, int(s) - a] for a in range(10) if 0 <= int(s) - a <= 9) for b, s in enumerate(sums)]
    )
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
    loss = m.loss({"digit": logits}, Batch(None, task.evidence_for(sums), target=sums))
    assert loss.item() == pytest.approx(float(-torch.log(want + 1e-12).mean()), rel=1e-12)
    loss.backward()
    ref = logits.detach().clone().requires_grad_(True)
    pr = torch.softmax(ref, -1)
    (
        -torch.log(
            torch.stack(
                [
                    sum(pr[b, 0, a] * pr[b, 1, int(s) - a] for a in range(10) if 0 <= int(s) - a <= 9)
                    for b, s in enumerate(sums)
                ]
            )
            + 1e-12
        ).mean()
    ).backward()
    torch.testing.assert_close(logits.grad, ref.grad)


def test_task_without_a_program_is_skipped():
    c = Constraint(CNF(2, [(1, 2)]), [NeuralGroup("d", [[0, 1]])])
    with pytest.raises(SkipRun, match="no ProbLog program"):
        DeepProbLog().prepare(c, torch.device("cpu"))
    with pytest.raises(UserError, match="max_seconds"):
        DeepProbLog(max_seconds=-1).prepare(c, torch.device("cpu"))


def test_symbolic_budget_is_a_timeout():
    from harness.budget import BudgetExceeded

    task, c = mnist_add_constraint()
    m = DeepProbLog(max_seconds=1e-9)
    m.prepare(c, torch.device("cpu"))
    with pytest.raises(BudgetExceeded, match="train"):
        m.loss(
            {"digit": torch.zeros(2, 2, 10)},
            Batch(None, task.evidence_for(torch.tensor([1, 2])), target=torch.tensor([1, 2])),
        )


def test_tiny_run(tmp_path):
    from harness.loop import RunConfig, run

    row = run(RunConfig("mnist-add", "deepproblog", seed=0, epochs=1, batch_size=8, tp={"n_pairs": 48}), str(tmp_path))
    assert row["status"] == "ok" and row["steps"] == 6 and row["train_seconds"] > 0


@pytest.mark.parametrize("n", [3, 5])
def test_member_query_is_the_probability_that_some_image_shows_the_digit(n):
    """member(n): P(member(.., d, 1)) = 1 - prod_i (1 - p_i(d)) and P(.., d, 0) = prod_i (1 - p_i(d)),
    the second through ProbLog's negation as failure; with the gradients of those formulas."""
    from tasks.neurolog import Member

    c = Member(n=n).constraint()
    m = DeepProbLog()
    m.prepare(c, torch.device("cpu"))
    torch.manual_seed(n)
    logits = torch.randn(4, n, 10, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[3, 1], [3, 0], [7, 1], [0, 0]])
    got = m.query_probabilities({"digit": logits}, targets)
    ref = logits.detach().clone().requires_grad_(True)
    none = torch.stack([torch.prod(1 - torch.softmax(ref, -1)[b, :, d]) for b, (d, _) in enumerate(targets.tolist())])
    want = torch.where(targets[:, 1] == 1, 1 - none, none)
    torch.testing.assert_close(got, want.detach(), rtol=1e-12, atol=1e-15)
    got.log().sum().backward()
    want.log().sum().backward()
    torch.testing.assert_close(logits.grad, ref.grad)


def test_add2x2_query_is_the_probability_of_the_four_sums():
    """add2x2: P(add2x2(.., r1, r2, c1, c2)) equals the sum over the 10^4 digit assignments with
    those row and column sums; the labels that occur in the training rows are compiled in prepare."""
    import itertools

    from tasks.neurolog import Add2x2

    task = Add2x2(n_train=16)
    task.setup(0, torch.device("cpu"))
    c = task.constraint()
    assert c.program("problog").targets == sorted({tuple(r) for r in task.target_.tolist()})
    m = DeepProbLog()
    m.prepare(c, torch.device("cpu"))
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 10, dtype=torch.float64)
    targets = task.target_[:3]
    got = m.query_probabilities({"digit": logits}, targets)
    p = torch.softmax(logits, -1)
    want = []
    for b, (r1, r2, c1, c2) in enumerate(targets.tolist()):
        want.append(
            sum(
                float(p[b, 0, a] * p[b, 1, e] * p[b, 2, f] * p[b, 3, h])
                for a, e, f, h in itertools.product(range(10), repeat=4)
                if (a + e, f + h, a + f, e + h) == (r1, r2, c1, c2)
            )
        )
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-10, atol=1e-15)


def test_apply2x2_has_no_program_and_is_skipped():
    from tasks.neurolog import Apply2x2

    with pytest.raises(SkipRun, match="no ProbLog program"):
        DeepProbLog().prepare(Apply2x2().constraint(), torch.device("cpu"))


def test_tiny_member_run(tmp_path):
    from harness.loop import RunConfig, run

    row = run(
        RunConfig("member", "deepproblog", seed=0, epochs=1, batch_size=4, tp={"n": 3, "n_train": 24}), str(tmp_path)
    )
    assert row["status"] == "ok" and row["steps"] == 6 and 0 <= row["metrics"]["digit_acc"] <= 100


@pytest.mark.parametrize("key,tp", [("member", {"n": 3}), ("add2x2", {})])
def test_deepproblog_and_the_semantic_loss_agree_on_the_neurolog_tasks(key, tp):
    """Two exact methods, two engines (ProbLog's grounding and compilation of the task's program;
    PySDD's compilation of its CNF with the label as evidence): the same -log P(label) per batch."""
    from harness.registry import get_task
    from methods.semantic_loss import SemanticLoss

    task = get_task(key)(n_train=16, **tp)
    task.setup(0, torch.device("cpu"))
    batch = next(iter(task.train_batches(8, torch.Generator().manual_seed(0))))
    dpl, sl = DeepProbLog(), SemanticLoss()
    dpl.prepare(task.constraint(), torch.device("cpu"))
    sl.prepare(task.constraint(), torch.device("cpu"))
    torch.manual_seed(1)
    out = {"digit": torch.randn(8, *task.constraint().groups[0].atoms.shape, dtype=torch.float64)}
    a, b = dpl.loss(out, batch).item(), sl.loss(out, batch).item()
    assert a > 0.5 and a == pytest.approx(b, rel=1e-6)
