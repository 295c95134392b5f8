"""The sampling estimators (reinforce, indecater) and the world check they rest on.

- the check of a world (harness/worlds.py) equals the semantic loss's circuit on one-hot outputs
  (the same semantics), and the changed-world check equals the plain one;
- the mean of many estimates of grad P(constraint AND evidence) equals the circuit's exact
  gradient: |mean - exact| <= 5 standard errors + 1e-6 per coordinate (objective=prob, unbiased);
  with objective=log and many samples, the estimate of grad log P is within 0.05 of the exact one
  in every coordinate (consistent, with a bias of order 1/S);
- user errors, a constraint that cannot be checked, a tiny run.
"""

from __future__ import annotations

import pytest
import torch

from harness.api import Batch, Constraint, NeuralGroup
from harness.cnf import CNF
from harness.errors import SkipRun, UserError
from harness.worlds import WorldCheck
from methods.indecater import IndeCateR
from methods.reinforce import Reinforce
from methods.semantic_loss import SemanticLoss

CPU = torch.device("cpu")


def tiny(key, **tp):
    """A set-up tiny instance of a task, its constraint and its first batch of 8."""
    from harness.registry import get_task, load_builtins

    load_builtins()
    cls = get_task(key)
    task = cls(**{**cls.tiny_params, **tp})
    task.setup(0, CPU)
    batch = next(iter(task.train_batches(8, torch.Generator().manual_seed(0))))
    return task.constraint(), batch


def circuit(constraint, **hp):
    m = SemanticLoss(**hp)
    m.prepare(constraint, CPU)
    return m


def one_hot_logits(check: WorldCheck, worlds: torch.Tensor) -> dict[str, torch.Tensor]:
    """Logits that put all the mass on the worlds (M, V): +-60 (bernoulli), 0 / -120 (categorical)."""
    out, at = {}, 0
    for name, kind, G, K in check.groups:
        w = worlds[:, at : at + G]
        at += G
        if kind == "categorical":
            out[name] = (torch.nn.functional.one_hot(w, K).double() - 1) * 120.0
        else:
            out[name] = ((w.double() * 2 - 1) * 60.0).unsqueeze(-1)
    return out


CASES = [
    ("mnist-add", {}, {}),
    ("mnist-add", {"digits": 2, "encoding": "compact"}, {}),
    ("member", {"n": 3}, {}),
    ("shortest-path", {}, {"vtree": "balanced", "minimize": True}),
]


@pytest.mark.parametrize("key,tp,hp", CASES, ids=[f"{k}-{tp}" for k, tp, _ in CASES])
def test_world_check_equals_the_circuit(key, tp, hp):
    """f(w, e) is 1 exactly where the circuit gives the one-hot world probability 1: on sampled worlds
    near the gold ones (one or two variables changed) and on uniform ones, under each example's evidence."""
    c, batch = tiny(key, **tp)
    check = WorldCheck(c, CPU)
    sl = circuit(c, **hp)
    gen = torch.Generator().manual_seed(0)
    gold = torch.cat([batch.labels[name].reshape(len(batch), -1).long() for name, *_ in check.groups], 1)
    worlds = gold.repeat_interleave(24, 0)  # (8 * 24, V)
    for flips in (1, 2):  # change 1 or 2 random variables of 16 of the 24 copies
        rows = torch.arange(len(worlds))[(torch.arange(len(worlds)) % 24) < 16]
        var = torch.randint(check.n_vars, (len(rows),), generator=gen)
        val = torch.randint(1 << 30, (len(rows),), generator=gen) % check.n_values[var]
        if flips == 2:
            worlds[rows[::2], var[::2]] = val[::2]
        else:
            worlds[rows[1::2], var[1::2]] = val[1::2]
    uniform = torch.randint(1 << 30, (len(worlds) // 8, check.n_vars), generator=gen) % check.n_values
    worlds[::8] = uniform  # some far from the gold worlds
    ev = batch.evidence.repeat_interleave(24, 0)
    f = check.satisfied(worlds, ev)
    exact = sl.log_probability(one_hot_logits(check, worlds), ev.double()) > -1.0
    assert f.any() and not f.all()
    assert torch.equal(f, exact)


def test_column_and_compact_encodings_accept_the_same_worlds():
    """The column encoding (derived carries, "or" stages) against the compact one, whose check
    equals its circuit (above): the same examples (same seed), the same worlds."""
    (col, bcol), (cmp, bcmp) = (
        tiny("mnist-add", digits=2, encoding="column"),
        tiny("mnist-add", digits=2, encoding="compact"),
    )
    assert torch.equal(bcol.labels["digit"], bcmp.labels["digit"])
    gen = torch.Generator().manual_seed(2)
    gold = bcol.labels["digit"].long().repeat_interleave(16, 0)
    flip = torch.rand(gold.shape, generator=gen) < 0.15
    worlds = torch.where(flip, torch.randint(10, gold.shape, generator=gen), gold)
    f_col = WorldCheck(col, CPU).satisfied(worlds, bcol.evidence.repeat_interleave(16, 0))
    f_cmp = WorldCheck(cmp, CPU).satisfied(worlds, bcmp.evidence.repeat_interleave(16, 0))
    assert f_col.any() and not f_col.all()
    assert torch.equal(f_col, f_cmp)


@pytest.mark.parametrize(
    "key,tp",
    [
        ("mnist-add", {"digits": 2, "encoding": "column"}),
        ("add2x2", {}),
        ("member", {"n": 3}),
        ("shortest-path", {}),
        ("sudoku", {}),
    ],
)
def test_changed_worlds_equal_the_plain_check(key, tp):
    """evaluate_changed (per variable, only the clauses it touches) equals evaluate on the worlds it
    stands for, with derived atoms (column encoding, add2x2) and without (member, paths, Sudoku)."""
    c, batch = tiny(key, **tp)
    n = 2 if key == "sudoku" else 4  # Sudoku: 81 x 9 changed boards of 8,991 clauses per sample
    batch = Batch(None, batch.evidence[:n], {k: v[:n] for k, v in batch.labels.items()})
    check = WorldCheck(c, CPU)
    gen = torch.Generator().manual_seed(1)
    gold = torch.cat([batch.labels[name].reshape(len(batch), -1).long() for name, *_ in check.groups], 1)
    S, V, K = 2, check.n_vars, check.k_max
    w = gold[:, None].repeat(1, S, 1)
    w[:, 1:] = torch.where(
        torch.rand(w[:, 1:].shape, generator=gen) < 0.1,
        torch.randint(1 << 30, w[:, 1:].shape, generator=gen) % check.n_values,
        w[:, 1:],
    )
    values = torch.arange(K).expand(V, K) % check.n_values[:, None]
    got = check.evaluate_changed(w, batch.evidence, values)  # (B, S, V, K)
    changed = w[:, :, None, None, :].repeat(1, 1, V, K, 1)
    for d in range(V):
        changed[:, :, d, :, d] = values[d]
    want = check.evaluate(changed.reshape(len(batch), -1, V), batch.evidence).view(got.shape)
    assert torch.equal(got, want)
    assert got.sum() > 0


def replicated(constraint, batch, example, logits, R):
    """R copies of one example's logits (leaves, one row each) and evidence."""
    outs = {
        k: v[example : example + 1].repeat(R, *([1] * (v.dim() - 1))).requires_grad_(True) for k, v in logits.items()
    }
    ev = batch.evidence[example : example + 1].repeat(R, 1)
    return outs, Batch(None, ev)


def exact_gradient(constraint, logits, batch, example, log: bool, **hp):
    sl = circuit(constraint, **hp)
    outs = {k: v[example : example + 1].double().requires_grad_(True) for k, v in logits.items()}
    lp = sl.log_probability(outs, batch.evidence[example : example + 1].double())[0]
    (lp if log else lp.exp()).backward()
    return {k: v.grad[0] for k, v in outs.items()}, float(lp.detach().exp())


def estimates(method, outs, batch, R):
    """Per-copy gradient estimates of the objective's ascent direction: -R * grad of the mean loss."""
    method.loss(outs, batch).backward()
    return {k: -R * v.grad.double() for k, v in outs.items()}


def logits_for(key, constraint, batch):
    """Logits of moderate confidence: gold + noise, so that P is neither tiny nor 1."""
    gen = torch.Generator().manual_seed(3)
    out = {}
    for g in constraint.groups:
        y = batch.labels[g.name].long()
        if g.kind == "categorical":
            out[g.name] = torch.nn.functional.one_hot(y, g.atoms.shape[1]).float() * 1.5 + torch.randn(
                *y.shape, g.atoms.shape[1], generator=gen
            )
        else:
            out[g.name] = ((y.float() * 2 - 1) * 2.0 + torch.randn(y.shape, generator=gen)).unsqueeze(-1)
    return out


UNBIASED = [(Reinforce, {"samples": 4}, 4000), (IndeCateR, {"samples": 2}, 1000)]


@pytest.mark.parametrize("cls,hp,R", UNBIASED, ids=["reinforce", "indecater"])
@pytest.mark.parametrize(
    "key,tp,sl_hp",
    [("mnist-add", {}, {}), ("shortest-path", {}, {"vtree": "balanced", "minimize": True})],
    ids=["mnist-add", "shortest-path"],
)
def test_mean_of_estimates_is_the_exact_gradient_of_p(cls, hp, R, key, tp, sl_hp):
    c, batch = tiny(key, **tp)
    logits = logits_for(key, c, batch)
    exact, p = exact_gradient(c, logits, batch, 0, log=False, **sl_hp)
    assert 0.01 < p < 0.99
    m = cls(objective="prob", sample_seed=0, **hp)
    m.prepare(c, CPU)
    outs, rb = replicated(c, batch, 0, logits, R)
    est = estimates(m, outs, rb, R)
    for k, e in est.items():
        mean, se = e.mean(0), e.std(0) / R**0.5
        assert ((mean - exact[k]).abs() <= 5 * se + 1e-6).all(), (k, (mean - exact[k]).abs().max(), se.max())
        assert (exact[k].abs() > 1e-3).any()


@pytest.mark.parametrize(
    "cls,hp", [(Reinforce, {"samples": 2000}), (IndeCateR, {"samples": 200})], ids=["reinforce", "indecater"]
)
def test_log_objective_approaches_the_exact_gradient_of_log_p(cls, hp):
    c, batch = tiny("mnist-add")
    logits = logits_for("mnist-add", c, batch)
    exact, _ = exact_gradient(c, logits, batch, 0, log=True)
    m = cls(objective="log", sample_seed=0, **hp)
    m.prepare(c, CPU)
    R = 50
    outs, rb = replicated(c, batch, 0, logits, R)
    est = estimates(m, outs, rb, R)
    for k, e in est.items():
        assert (e.mean(0) - exact[k]).abs().max() < 0.05


def test_the_loss_value_is_the_objective_at_the_estimate():
    """Confident gold outputs: P = 1, loss 0 for both objectives; a contradicted label: P = 0."""
    c, batch = tiny("mnist-add")
    gold = {
        g.name: (torch.nn.functional.one_hot(batch.labels[g.name].long(), 10).float() * 2 - 1) * 40 for g in c.groups
    }
    for cls in (Reinforce, IndeCateR):
        for obj in ("log", "prob"):
            m = cls(objective=obj, sample_seed=0)
            m.prepare(c, CPU)
            assert abs(m.loss(gold, batch).item()) < 1e-6
            wrong = Batch(None, torch.roll(batch.evidence, 1, 0))
            assert m.loss(gold, wrong).item() == pytest.approx(
                -torch.log(torch.tensor(1e-12)).item() if obj == "log" else 1.0, rel=1e-5
            )


def test_user_errors_and_an_uncheckable_constraint():
    with pytest.raises(UserError, match="samples must be >= 2"):
        Reinforce(samples=1)
    with pytest.raises(UserError, match="samples must be >= 1"):
        IndeCateR(samples=0)
    with pytest.raises(UserError, match="objective"):
        IndeCateR(objective="mean")
    # atom 3 is hidden and occurs with both polarities: (a | h) & (b | -h)
    c = Constraint(CNF(3, [(1, 3), (2, -3)]), [NeuralGroup("x", torch.tensor([[0], [1]]), "bernoulli")])
    with pytest.raises(SkipRun, match="both polarities"):
        Reinforce().prepare(c, CPU)


@pytest.mark.parametrize("method", ["reinforce", "indecater"])
def test_tiny_run(tmp_path, method):
    from harness.loop import RunConfig, run

    row = run(RunConfig("mnist-add", method, seed=0, epochs=1, batch_size=16, tp={"n_pairs": 64}), str(tmp_path))
    assert row["status"] == "ok" and 0 <= row["metrics"]["digit_acc"] <= 100
    assert row["method_describe"]["worlds_per_example"] == (100 if method == "reinforce" else 200)
