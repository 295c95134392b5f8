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
    want = torch.stack([sum(p[b, 0, a] * p[b, 1, int(s) - a] for a in range(10) if 0 <= int(s) - a <= 9)
                        for b, s in enumerate(sums)])
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
    loss = m.loss({"digit": logits}, Batch(None, task.evidence_for(sums), target=sums))
    assert loss.item() == pytest.approx(float(-torch.log(want + 1e-12).mean()), rel=1e-12)
    loss.backward()
    ref = logits.detach().clone().requires_grad_(True)
    pr = torch.softmax(ref, -1)
    (-torch.log(torch.stack([sum(pr[b, 0, a] * pr[b, 1, int(s) - a] for a in range(10) if 0 <= int(s) - a <= 9)
                             for b, s in enumerate(sums)]) + 1e-12).mean()).backward()
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
        m.loss({"digit": torch.zeros(2, 2, 10)}, Batch(None, task.evidence_for(torch.tensor([1, 2])),
                                                        target=torch.tensor([1, 2])))


def test_tiny_run(tmp_path):
    from harness.loop import RunConfig, run

    row = run(RunConfig("mnist-add", "deepproblog", seed=0, epochs=1, batch_size=8, tp={"n_pairs": 48}),
              str(tmp_path))
    assert row["status"] == "ok" and row["steps"] == 6 and row["train_seconds"] > 0
