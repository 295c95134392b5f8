"""neurasp: -log P(label) over clingo's stable models equals the semantic loss's and DeepProbLog's
where the semantics coincide; hand-worked shortest-path values (optimal models only); gradients
against finite differences and against NeurASP's own gradient formula; caching, budgets, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from harness.api import Batch, Constraint, NeuralGroup, Program
from harness.budget import BudgetExceeded
from harness.cnf import CNF
from harness.errors import SkipRun, UserError

pytest.importorskip("clingo", reason="clingo is not installed (make setup installs it)")

from methods.neurasp import NeurASP  # noqa: E402

CPU = torch.device("cpu")


def _with_targets(c, targets):
    """``c`` with its ProbLog program's targets replaced (DeepProbLog compiles only those)."""
    return dataclasses.replace(
        c, programs={**c.programs, "problog": dataclasses.replace(c.program("problog"), targets=targets)}
    )


def prepared(constraint, **hp):
    m = NeurASP(**hp)
    m.prepare(constraint, CPU)
    return m


def mnist_add(digits=1, encoding="auto"):
    from tasks.mnist_add import MnistAdd

    task = MnistAdd(digits=digits, encoding=encoding)
    return task, task.constraint()


def member3_rows():
    """member(3) examples as the task's rows (i_1 i_2 i_3 query label); the images are not read."""
    q = np.array([0, 3, 3, 7, 9, 5])
    lab = np.array([1, 0, 1, 1, 0, 0])
    return np.concatenate([np.zeros((6, 3), dtype=np.int64), q[:, None], lab[:, None]], 1)


def test_mnist_add_equals_the_hand_formula_semantic_loss_and_deepproblog():
    task, c = mnist_add()
    torch.manual_seed(0)
    logits = torch.randn(6, 2, 10, dtype=torch.float64)
    sums = torch.tensor([0, 3, 9, 10, 17, 18])
    ev = task.evidence_for(sums)
    got = prepared(c).log_probability({"digit": logits}, ev)
    p = torch.softmax(logits, -1)
    want = torch.stack(
        [sum(p[b, 0, a] * p[b, 1, int(s) - a] for a in range(10) if 0 <= int(s) - a <= 9) for b, s in enumerate(sums)]
    ).log()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    from methods.semantic_loss import SemanticLoss

    sl = SemanticLoss()
    sl.prepare(c, CPU)
    torch.testing.assert_close(sl.log_probability({"digit": logits}, ev), got, rtol=1e-9, atol=1e-9)
    pytest.importorskip("deepproblog")
    from methods.deepproblog import DeepProbLog

    dpl = DeepProbLog()  # compiling only the queries used here
    dpl.prepare(_with_targets(c, sums.tolist()), CPU)
    torch.testing.assert_close(dpl.query_probabilities({"digit": logits}, sums).log(), got, rtol=1e-9, atol=1e-9)


def test_member3_equals_semantic_loss_and_deepproblog():
    from tasks.neurolog import Member

    task = Member(n=3)
    c = task.constraint()
    rows = member3_rows()
    ev = task.evidence_rows(rows)
    torch.manual_seed(1)
    logits = torch.randn(len(rows), 3, 10, dtype=torch.float64)
    got = prepared(c).log_probability({"digit": logits}, ev)
    p = torch.softmax(logits, -1)
    absent = torch.stack([(1 - p[b, :, int(q)]).prod() for b, q in enumerate(rows[:, 3])])
    want = torch.where(torch.as_tensor(rows[:, 4]) == 1, 1 - absent, absent).log()
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    from methods.semantic_loss import SemanticLoss

    sl = SemanticLoss()
    sl.prepare(c, CPU)
    torch.testing.assert_close(sl.log_probability({"digit": logits}, ev), got, rtol=1e-9, atol=1e-9)
    pytest.importorskip("deepproblog")
    from methods.deepproblog import DeepProbLog

    dpl = DeepProbLog()
    dpl.prepare(_with_targets(c, sorted({tuple(r) for r in rows[:, 3:].tolist()})), CPU)
    dp = dpl.query_probabilities({"digit": logits}, torch.as_tensor(rows[:, 3:]))
    torch.testing.assert_close(dp.log(), got, rtol=1e-9, atol=1e-9)


def test_compact_program_gives_the_paper_programs_probability():
    torch.manual_seed(2)
    logits = torch.randn(4, 4, 10, dtype=torch.float64)
    sums = torch.tensor([0, 57, 99, 198])
    out = []
    for enc in ("paper", "compact"):
        task, c = mnist_add(2, enc)
        out.append(prepared(c).log_probability({"digit": logits}, task.evidence_for(sums)))
    torch.testing.assert_close(out[0], out[1], rtol=1e-12, atol=1e-12)


def shortest_path_2x2():
    """The 2 x 2 grid: edges e0 = (0,1), e1 = (2,3), e2 = (0,2), e3 = (1,3)."""
    from tasks.shortest_path import ShortestPath

    task = ShortestPath(grid=2, n_examples=10, n_maps=1)
    return task.constraint()


def terminals(*pairs, n_nodes=4, n_edges=4):
    ev = -torch.ones(len(pairs), n_nodes + n_edges)
    ev[:, n_nodes:] = 0
    for b, (s, t) in enumerate(pairs):
        ev[b, s] = ev[b, t] = 1
    return ev


def test_shortest_path_counts_only_the_optimal_paths():
    c = shortest_path_2x2()
    m = prepared(c)
    x = torch.tensor([[0.3, -1.2, 0.8, 2.0], [1.5, 0.1, -0.4, -2.2]], dtype=torch.float64).unsqueeze(-1)
    # terminals 0, 3: the two paths {e0, e3} and {e1, e2}; terminals 0, 1: {e0} only (0-2-3-1 is longer)
    got = m.log_probability({"edge": x}, terminals((0, 3), (0, 1)))
    s = torch.sigmoid(x.squeeze(-1))
    want = torch.stack(
        [
            s[0, 0] * s[0, 3] * (1 - s[0, 1]) * (1 - s[0, 2]) + s[0, 1] * s[0, 2] * (1 - s[0, 0]) * (1 - s[0, 3]),
            s[1, 0] * (1 - s[1, 1]) * (1 - s[1, 2]) * (1 - s[1, 3]),
        ]
    ).log()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_gradient_matches_finite_differences():
    task, c = mnist_add()
    m = prepared(c)
    ev = task.evidence_for(torch.tensor([4, 11, 18]))
    logits = torch.randn(3, 2, 10, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: m.loss({"digit": z}, Batch(None, ev)), (logits,))
    sp = prepared(shortest_path_2x2())
    x = torch.randn(2, 4, 1, dtype=torch.float64, requires_grad=True)
    ev2 = terminals((0, 3), (1, 2))
    assert torch.autograd.gradcheck(lambda z: sp.loss({"edge": z}, Batch(None, ev2)), (x,))


def test_gradient_is_half_neurasps_formula_through_the_softmax():
    """NeurASP's Proposition: dlogP/dp_v = (sum_{I: c=v} P(I)/p_v - sum_{I: c!=v} P(I)/p_{I(c)}) / P(O);
    pushed through the softmax it is twice autograd's exact gradient (module docstring)."""
    task, c = mnist_add()
    m = prepared(c)
    ev = task.evidence_for(torch.tensor([9]))
    logits = torch.randn(1, 2, 10, dtype=torch.float64, requires_grad=True)
    m.log_probability({"digit": logits}, ev).sum().backward()
    p = torch.softmax(logits.detach(), -1)[0]  # (2, 10)
    models = [(a, 9 - a) for a in range(10)]
    P = [float(p[0, a] * p[1, b]) for a, b in models]
    po = sum(P)
    for i in range(2):
        g = torch.zeros(10, dtype=torch.float64)
        for v in range(10):
            g[v] = sum(P[n] / p[i, v] if mod[i] == v else -P[n] / p[i, mod[i]] for n, mod in enumerate(models)) / po
        jac = torch.diag(p[i]) - torch.outer(p[i], p[i])  # d softmax / d logits
        torch.testing.assert_close(jac @ g, 2 * logits.grad[0, i])


def test_models_are_enumerated_once_per_observation():
    task, c = mnist_add()
    m = prepared(c)
    ev = task.evidence_for(torch.tensor([5, 5, 7, 5]))
    m.loss({"digit": torch.zeros(4, 2, 10)}, Batch(None, ev))
    assert len(m.models_.cache) == 2 and m.models_.n_models == 6 + 8
    m.loss({"digit": torch.zeros(4, 2, 10)}, Batch(None, ev))
    assert m.models_.n_models == 14


def test_observation_without_stable_model_is_a_constant_without_gradient():
    task, c = mnist_add()
    m = prepared(c)
    ev = task.evidence_for(torch.tensor([3, 4]))
    ev[0, c.cnf.index("sum(5)") - 1] = 1  # sum 3 and sum 5 at once
    logits = torch.randn(2, 2, 10, requires_grad=True)
    lp = m.log_probability({"digit": logits}, ev)
    assert lp[0].item() == pytest.approx(np.log(1e-12)) and torch.isfinite(lp[1])
    lp.sum().backward()
    assert logits.grad[0].abs().sum() == 0 and logits.grad[1].abs().sum() > 0


def test_budget_is_a_timeout():
    task, c = mnist_add()
    m = prepared(c, max_seconds=1e-9)
    with pytest.raises(BudgetExceeded, match="train"):
        m.loss({"digit": torch.zeros(1, 2, 10)}, Batch(None, task.evidence_for(torch.tensor([9]))))


def test_errors_and_skips():
    c = Constraint(CNF(2, [(1, 2)], ["a(0)", "a(1)"]), [NeuralGroup("d", [[0, 1]])])
    with pytest.raises(SkipRun, match="no ASP program"):
        NeurASP().prepare(c, CPU)
    with pytest.raises(UserError, match="max_seconds"):
        NeurASP(max_seconds=-1).prepare(c, CPU)
    # two stable models for one neural choice (a free atom b besides the neural a(k))
    c.programs["asp"] = Program("1 { a(0); a(1) } 1.\n{ b }.\n")
    m = prepared(c)
    with pytest.raises(ValueError, match="two stable models"):
        m.loss({"d": torch.zeros(1, 1, 2)}, Batch(None, torch.zeros(1, 2)))
    # evidence on an atom the program never mentions
    c2 = Constraint(
        CNF(3, [(1, 2)], ["a(0)", "a(1)", "z"]),
        [NeuralGroup("d", [[0, 1]])],
        programs={"asp": Program("1 { a(0); a(1) } 1.\n")},
    )
    with pytest.raises(ValueError, match="never mentions"):
        prepared(c2).loss({"d": torch.zeros(1, 1, 2)}, Batch(None, torch.tensor([[0.0, 0.0, 1.0]])))
    # a choice rule that lets a categorical variable take no value
    c.programs["asp"] = Program("{ a(0); a(1) }.\n")
    with pytest.raises(ValueError, match="not one"):
        prepared(c).loss({"d": torch.zeros(1, 1, 2)}, Batch(None, torch.zeros(1, 2)))


def test_the_budget_clock_stops_a_long_enumeration():
    """mnist-add N = 15: a sum has up to 10^15 models; the harness's budget clock (SIGALRM) stops
    clingo's enumeration and raises the timeout the loop records."""
    from harness.budget import Budget, Clock

    task, c = mnist_add(15)
    m = prepared(c)
    ev = task.evidence_for(torch.tensor([10**15 - 1]))
    clock = Clock(Budget(run_seconds=1.0))
    try:
        clock.enter("train")
        with pytest.raises(BudgetExceeded, match="run budget exceeded during train"):
            m.loss({"digit": torch.zeros(1, 30, 10)}, Batch(None, ev))
    finally:
        clock.stop()
    assert m.models_.n_models == 0 and not m.models_.cache


def test_shortest_path_with_removed_edges_keeps_the_gold_shortest_paths():
    """simple-path encoding: the evidence's removed(e) excludes edges, so the optimal models are the
    shortest paths of each example's own graph, and confident gold paths have probability about 1
    (under the paper encoding, a gold path around a removed edge is not optimal: probability 0)."""
    from harness.checks import gold_outputs
    from tasks.shortest_path import ShortestPath

    losses = {}
    for enc in ("simple-path", "paper"):
        task = ShortestPath(n_examples=40, n_maps=2, encoding=enc)
        task.setup(0, CPU)
        batch = next(iter(task.train_batches(32, torch.Generator().manual_seed(0))))
        lp = prepared(task.constraint()).log_probability(gold_outputs(task, batch), batch.evidence)
        losses[enc] = -lp
    assert losses["simple-path"].max() < 1e-6
    assert (losses["paper"] > 20).any()
