"""The semantic loss's block vtree (methods/_sdd/vtrees.py) on mnist-add's compact encoding: the
probability against enumeration of every digit assignment, for every sum and for partial evidence,
and a circuit whose size grows linearly in N."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from methods._sdd import compile_constraint
from methods._sdd import vtrees as _sdd_compile
from methods.semantic_loss import SemanticLoss
from tasks.mnist_add import MnistAdd, number_weights, sum_digits


def enumerate_sums(logits: torch.Tensor, n_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Every digit assignment of the 2N images: (B, 10^2N) probabilities and (10^2N,) sums."""
    p = torch.softmax(logits.double(), -1).numpy()  # (B, 2N, 10)
    combos = np.array(list(itertools.product(range(10), repeat=2 * n_digits)))
    prob = np.ones((p.shape[0], len(combos)))
    for i in range(2 * n_digits):
        prob *= p[:, i, combos[:, i]]
    return prob, combos @ number_weights(n_digits)


@pytest.mark.parametrize("n_digits", [1, 2])
def test_block_circuit_is_the_probability_of_every_sum(n_digits):
    task = MnistAdd(digits=n_digits, encoding="compact")
    m = SemanticLoss()
    m.prepare(task.constraint(), torch.device("cpu"))
    assert m.compiled_.vtree == "blocks"  # the default (auto) follows the carry chain
    sums = torch.arange(2 * (10**n_digits - 1) + 1)  # every sum, one example each
    torch.manual_seed(n_digits)
    logits = 2 * torch.randn(len(sums), 2 * n_digits, 10, dtype=torch.float64)
    got = m.log_probability({"digit": logits}, task.evidence_for(sums).double()).exp().numpy()
    prob, values = enumerate_sums(logits, n_digits)
    want = (prob * (values[None, :] == sums.numpy()[:, None])).sum(1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)


def test_block_circuit_with_partial_evidence():
    # one circuit serves every evidence pattern: some sum digits unknown (existentially quantified)
    # gives the probability that the known digits of the sum are right, at N = 2
    task = MnistAdd(digits=2, encoding="compact")
    c = task.constraint()
    m = SemanticLoss()
    m.prepare(c, torch.device("cpu"))
    g = torch.Generator().manual_seed(3)
    B = 24
    sums = torch.randint(0, 199, (B,), generator=g)
    known = torch.rand(B, 3, generator=g) < 0.5  # per sum digit (least significant first)
    ev = task.evidence_for(sums).double()
    for j in range(3):
        cols = task.sum_cols_[j][task.sum_cols_[j] >= 0]
        ev[:, cols] *= known[:, j : j + 1].double()
    logits = torch.randn(B, 4, 10, dtype=torch.float64, generator=g)
    got = m.log_probability({"digit": logits}, ev).exp().numpy()
    prob, values = enumerate_sums(logits, 2)
    dv, ds = sum_digits(torch.as_tensor(values), 2).numpy(), sum_digits(sums, 2).numpy()  # (C, 3), (B, 3)
    match = ((dv[None] == ds[:, None]) | ~known.numpy()[:, None]).all(2)  # (B, C)
    np.testing.assert_allclose(got, (prob * match).sum(1), rtol=1e-10)


def test_block_circuit_size_is_linear_in_n():
    # one identical block per column: the size grows by the same amount per digit (1,602 edges), so
    # at N = 8 it stays under 2,000 x N; a circuit exponential in N (the one-hot sum's grows about
    # tenfold a digit) cannot
    sizes = {n: compile_constraint(MnistAdd(digits=n, encoding="compact").constraint()).size for n in (1, 2, 3, 4, 8)}
    steps = {sizes[n + 1] - sizes[n] for n in (1, 2, 3)}
    assert len(steps) == 1
    assert sizes[8] == sizes[4] + 4 * steps.pop()
    assert sizes[8] <= 2000 * 8


def test_blocks_cover_every_variable_once_and_order_the_clauses():
    blocks = _sdd_compile.var_blocks([[2, 0], [1, 5]], lambda a: {0: [1], 1: [2, 3], 2: [3], 5: []}[a], 5)
    assert blocks == [[3, 1], [2], [4, 5]]  # variable 3 once, in its first block; the rest last
    rank = _sdd_compile.block_rank(blocks, 5)
    assert _sdd_compile.conjoin_groups([[4], [1, 2], [3], [5, 1], []], rank) == [[2, 4], [1], [0, 3]]
