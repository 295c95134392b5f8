"""Fuzzy-logic loss: hand-worked values for each t-norm, gradients, evidence."""

import math

import pytest
import torch

from harness.api import Batch, Constraint, NeuralGroup
from harness.cnf import CNF
from harness.errors import UserError
from methods.fuzzy import Fuzzy


def _setup(tnorm):
    # two bernoulli atoms a (col 0), b (col 1), an observed atom s (col 2); clauses: -s | a | b, -a | -b
    cnf = CNF(3, [(-3, 1, 2), (-1, -2)])
    c = Constraint(cnf, [NeuralGroup("x", torch.tensor([[0], [1]]), kind="bernoulli")])
    m = Fuzzy(tnorm=tnorm)
    m.prepare(c, torch.device("cpu"))
    return m


def _logits(pa, pb):
    return torch.logit(torch.tensor([[[pa], [pb]]], dtype=torch.float64)).float().requires_grad_(True)


def test_hand_worked_value():
    # a=0.2, b=0.5, s=1: clause1 = or(0.2, 0.5) with s false literal; clause2 = or(0.8, 0.5)
    # (the Goedel and Lukasiewicz values are the ltn method's: tests/test_ltn.py)
    m = _setup("product")
    batch = Batch(x=None, evidence=torch.tensor([[0.0, 0.0, 1.0]]))
    loss = m.loss({"x": _logits(0.2, 0.5)}, batch)
    assert loss.item() == pytest.approx(-math.log(1 - 0.8 * 0.5) - math.log(1 - 0.2 * 0.5), abs=1e-5)


def test_observed_atom_false_makes_first_clause_true():
    m = _setup("product")
    batch = Batch(x=None, evidence=torch.tensor([[0.0, 0.0, -1.0]]))
    assert m.loss({"x": _logits(0.2, 0.5)}, batch).item() == pytest.approx(-math.log(1 - 0.2 * 0.5), abs=1e-5)


def test_gradient_matches_finite_differences():
    m = _setup("product")
    batch = Batch(x=None, evidence=torch.tensor([[0.0, 0.0, 1.0]]))
    x = torch.tensor([[[-0.3], [0.4]]], dtype=torch.float64, requires_grad=True)
    m.loss({"x": x}, batch).backward()
    eps = 1e-6
    for i in range(2):
        d = torch.zeros_like(x)
        d[0, i, 0] = eps
        fd = (m.loss({"x": x.detach() + d}, batch) - m.loss({"x": x.detach() - d}, batch)) / (2 * eps)
        assert x.grad[0, i, 0].item() == pytest.approx(fd.item(), rel=1e-4)


def test_unknown_tnorm_is_user_error():
    with pytest.raises(UserError, match="tnorm='max' unknown"):
        Fuzzy(tnorm="max").prepare(
            Constraint(CNF(1, [(1,)]), [NeuralGroup("x", [[0]], "bernoulli")]), torch.device("cpu")
        )


@pytest.mark.parametrize("tnorm", ["godel", "lukasiewicz"])
def test_goedel_and_lukasiewicz_point_to_ltn(tnorm):
    with pytest.raises(
        UserError, match=f"tnorm={tnorm} is the ltn method's.*--hp clauses=and --hp p=1 --hp stable=false"
    ):
        _setup(tnorm)
