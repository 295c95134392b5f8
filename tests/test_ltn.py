"""The ltn method on LTNtorch: hand-worked values on a tiny CNF, the textbook LTN knowledge base
(an axiom per clause, SatAgg), where it coincides with the fuzzy method, gradients, user errors."""

from __future__ import annotations

import math

import pytest
import torch

from harness.api import Batch, Constraint, NeuralGroup
from harness.cnf import CNF
from harness.errors import UserError
from methods.fuzzy import Fuzzy

ltn = pytest.importorskip("ltn")
from methods.ltn import LTN  # noqa: E402


def tiny():
    # bernoulli atoms a (col 0), b (col 1); observed atom s (col 2); clauses -s | a | b and -a | -b
    return Constraint(CNF(3, [(-3, 1, 2), (-1, -2)]), [NeuralGroup("x", [[0], [1]], "bernoulli")])


def prepared(c, **hp):
    m = LTN(**hp)
    m.prepare(c, torch.device("cpu"))
    return m


def logits(*ps):
    return torch.logit(torch.tensor([[[p] for p in ps]], dtype=torch.float64))


S_TRUE = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)


def test_clause_truths_are_probabilistic_sums():
    # a = 0.2, b = 0.5, s = 1: clause 1 = or(0, 0.2, 0.5) = 1 - 1 * 0.8 * 0.5 = 0.6,
    # clause 2 = or(0.8, 0.5) = 0.8 + 0.5 - 0.4 = 0.9
    m = prepared(tiny(), stable=False)
    got = m.clause_truths({"x": logits(0.2, 0.5)}, S_TRUE)
    assert got[0].tolist() == pytest.approx([0.6, 0.9], abs=1e-12)
    # s observed false: the first clause's literal -s is true
    got = m.clause_truths({"x": logits(0.2, 0.5)}, -S_TRUE)
    assert got[0, 0].item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "hp,expected",
    [
        # one example: forall x is the value itself; SatAgg over the two axioms with p = 2:
        # 1 - sqrt((0.4^2 + 0.1^2) / 2)
        ({"stable": False}, math.sqrt((0.4**2 + 0.1**2) / 2)),
        ({"stable": False, "p": 1.0}, (0.4 + 0.1) / 2),
        # clauses=and: the example's formula is 0.6 * 0.9
        ({"stable": False, "clauses": "and"}, 1 - 0.6 * 0.9),
        # Goedel: clauses max(0.2, 0.5) and max(0.8, 0.5); Lukasiewicz: min(1, 0.7), min(1, 1.3)
        ({"tnorm": "godel", "clauses": "and", "p": 1.0, "stable": False}, 1 - min(0.5, 0.8)),
        ({"tnorm": "lukasiewicz", "clauses": "and", "p": 1.0, "stable": False}, min(1.0, (1 - 0.7) + (1 - 1.0))),
        ({"tnorm": "godel", "stable": False}, math.sqrt((0.5**2 + 0.2**2) / 2)),
    ],
)
def test_hand_worked_losses(hp, expected):
    m = prepared(tiny(), **hp)
    assert m.loss({"x": logits(0.2, 0.5)}, Batch(None, S_TRUE)).item() == pytest.approx(expected, abs=1e-12)


def test_stable_moves_values_by_about_1e_4():
    loss = prepared(tiny()).loss({"x": logits(0.2, 0.5)}, Batch(None, S_TRUE)).item()
    assert loss == pytest.approx(math.sqrt((0.4**2 + 0.1**2) / 2), abs=5e-4)
    assert loss != pytest.approx(math.sqrt((0.4**2 + 0.1**2) / 2), abs=1e-6)


def _batch(c, B=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    outputs = {grp.name: torch.randn(B, *grp.atoms.shape, generator=g, dtype=torch.float64) for grp in c.groups}
    ev = torch.zeros(B, c.n_atoms, dtype=torch.float64)
    ev[:, -1] = torch.tensor([1, -1, 0, 1, 1, -1], dtype=torch.float64)[:B]
    ev[:2, 0] = 1.0  # a neural atom fixed by the evidence
    return outputs, ev


def mixed():
    # a categorical variable of 3 values (atoms 0-2), two bernoulli atoms (3, 4), a derived atom
    # 5 <-> 0 AND 3, an observed atom 6; clauses of lengths 1 to 4
    clauses = [(5, 7, -4), (-7, 1, 2, 5), (-6, 3), (4, 5, -1, 6), (-5, -2), (1, 2, 3)]
    return Constraint(
        CNF(7, clauses), [NeuralGroup("d", [[0, 1, 2]]), NeuralGroup("b", [[3], [4]], "bernoulli")], derived=[[5, 0, 3]]
    )


@pytest.mark.parametrize("tnorm", ["product", "godel", "lukasiewicz"])
def test_equals_the_textbook_knowledge_base(tnorm):
    # every clause written as its own LTN formula, Or(Or(l1, l2), l3) over the literals' groundings
    # on a variable of examples, forall x of it an axiom, and SatAgg (pMeanError, p = 2) over the
    # axioms: the method's one-tensor grounding gives the same satisfaction
    c = mixed()
    outputs, ev = _batch(c)
    m = prepared(c, tnorm=tnorm, stable=False)
    t = m.atom_truths(outputs, ev)[:, m.layout_.pos]  # (B, n) in CNF column order
    Or, Not = m.or_, ltn.Connective(ltn.fuzzy_ops.NotStandard())
    Forall = ltn.Quantifier(ltn.fuzzy_ops.AggregPMeanError(p=2, stable=False), quantifier="f")
    x = ltn.Variable("x", torch.zeros(1, 1))
    axioms = []
    for cl in c.cnf.clauses:
        lits = [ltn.LTNObject(t[:, abs(lit) - 1], ["x"]) for lit in cl]
        lits = [lo if lit > 0 else Not(lo) for lo, lit in zip(lits, cl)]
        phi = lits[0]
        for lo in lits[1:]:
            phi = Or(phi, lo)
        axioms.append(Forall(x, phi))
    want = ltn.fuzzy_ops.SatAgg(ltn.fuzzy_ops.AggregPMeanError(p=2, stable=False))(*axioms)
    assert m.satisfaction(outputs, ev).item() == pytest.approx(want.item(), abs=1e-12)


@pytest.mark.parametrize("tnorm", ["godel", "lukasiewicz"])
def test_clauses_and_p1_is_the_former_fuzzy_loss(tnorm):
    # the fuzzy method's Goedel loss was mean_x (1 - min_j t_j), its Lukasiewicz loss
    # mean_x min(1, sum_j (1 - t_j)), with the clause truths max / min(1, sum) of the literals
    c = mixed()
    outputs, ev = _batch(c)
    m = prepared(c, tnorm=tnorm, clauses="and", p=1.0, stable=False)
    t = m.atom_truths(outputs, ev)[:, m.layout_.pos]
    idx, sign = c.cnf.padded()
    tv = t[:, idx]
    lit = torch.where(sign > 0, tv, torch.where(sign < 0, 1 - tv, torch.zeros_like(tv)))
    if tnorm == "godel":
        want = (1 - lit.max(-1).values.min(-1).values).mean()
    else:
        want = (1 - lit.sum(-1).clamp(max=1.0)).sum(-1).clamp(max=1.0).mean()
    assert m.loss(outputs, Batch(None, ev)).item() == pytest.approx(want.item(), abs=1e-12)


def test_product_coincides_with_fuzzy_clause_truths_and_per_example_truth():
    # OrProbSum is the product t-conorm: the clause truths equal fuzzy's; with clauses=and and
    # p = 1, the loss is mean_x (1 - prod_j t_j) = mean_x (1 - exp(-fuzzy's loss of example x))
    c = mixed()
    outputs, ev = _batch(c)
    m = prepared(c, clauses="and", p=1.0, stable=False)
    f = Fuzzy()
    f.prepare(c, torch.device("cpu"))
    torch.testing.assert_close(m.clause_truths(outputs, ev), f.clause_truths(outputs, ev), rtol=0, atol=1e-12)
    per_example = [
        f.loss({k: v[i : i + 1] for k, v in outputs.items()}, Batch(None, ev[i : i + 1])).item() for i in range(len(ev))
    ]
    want = sum(1 - math.exp(-v) for v in per_example) / len(per_example)
    assert m.loss(outputs, Batch(None, ev)).item() == pytest.approx(want, abs=1e-12)


def test_gradient_matches_finite_differences():
    c = mixed()
    outputs, ev = _batch(c)
    m = prepared(c)
    xs = [v.clone().requires_grad_(True) for v in outputs.values()]
    assert torch.autograd.gradcheck(lambda d, b: m.loss({"d": d, "b": b}, Batch(None, ev)), xs)


def test_bad_hyper_parameters_are_user_errors():
    for hp, msg in (
        ({"tnorm": "max"}, "tnorm='max' unknown"),
        ({"clauses": "sum"}, "clauses='sum' unknown"),
        ({"p": 0.5}, "p >= 1"),
    ):
        with pytest.raises(UserError, match=msg):
            prepared(tiny(), **hp)


def test_tiny_run(tmp_path):
    from harness.loop import RunConfig, run

    row = run(RunConfig("mnist-add", "ltn", seed=0, epochs=1, batch_size=16, tp={"n_pairs": 64}), str(tmp_path))
    assert row["status"] == "ok" and 0 <= row["metrics"]["digit_acc"] <= 100
