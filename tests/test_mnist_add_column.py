"""mnist-add's column encoding: exact against brute force for N <= 2, linear size, and CL-STE's
loss on it (value and gradient against a hand-written probability formula)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from harness.api import Batch
from methods.cl_ste import CLSTE, ValueLayout
from tasks.mnist_add import MnistAdd, number_weights, sum_digits
from tasks.mnist_add_encodings import column_encoding, column_targets


def _atom_values(task: MnistAdd, digits: np.ndarray) -> np.ndarray:
    """(C, n) 0/1 values of every atom of the CNF but the evidence atoms, for one-hot digits (C, 2N):
    the derived atoms from their definitions as CL-STE's b_p evaluation computes them."""
    c = task.constraint()
    layout = ValueLayout(c, c.n_atoms)
    onehot = torch.nn.functional.one_hot(torch.as_tensor(digits), 10).float().reshape(len(digits), -1)
    v = layout.derive(onehot, lambda g: g.prod(-1), lambda g: g.sum(-1).clamp(max=1.0))
    return v[:, layout.pos].numpy()


def _check_exact(n: int, digits: np.ndarray):
    """For every case (C, 2N) and every label r: the CNF with the evidence of r (its evidence atoms
    true, every other evidence atom false) holds on the digits' atom values iff r is their sum."""
    task = MnistAdd(digits=n, encoding="column")
    c = task.constraint()
    vals = _atom_values(task, digits)  # (C, n_atoms), evidence atoms 0
    assert set(np.unique(vals)) <= {0.0, 1.0}
    n_sums = 2 * (10**n - 1) + 1
    ev = task.evidence_for(torch.arange(n_sums)).numpy()  # (R, n_atoms)
    is_ev = ev.any(0)
    C = c.cnf.matrix().numpy()  # (m, n)
    assert not (C[:, is_ev] == 1).any()  # evidence atoms occur only negated
    Cn = np.where(is_ev[None, :], 0, C)  # the clauses without their evidence literals
    sat = ((vals @ (Cn == 1).T) + ((1 - vals) @ (Cn == -1).T)) > 0  # (C, m)
    has = C[:, is_ev] == -1  # (m, n_ev): clause holds -e
    assert (has.sum(1) <= 1).all()
    defs_ok = sat[:, ~has.any(1)].all(1)  # the definitions hold on the derived values
    assert defs_ok.all()
    ok_e = ~((~sat).astype(np.int64) @ has.astype(np.int64) > 0)  # (C, n_ev): e's clauses all hold
    holds = np.ones((len(digits), n_sums), dtype=bool)
    ev_e = ev[:, is_ev] == 1  # (R, n_ev)
    for r in range(n_sums):
        holds[:, r] = ok_e[:, ev_e[r]].all(1)
    true = digits @ number_weights(n)
    assert (holds == (true[:, None] == np.arange(n_sums)[None, :])).all()
    assert ev_e.sum(1).tolist() == [n] * n_sums  # N evidence atoms per label


def test_column_exact_on_all_one_digit_cases_and_labels():
    _check_exact(1, np.array(list(itertools.product(range(10), repeat=2))))


def test_column_exact_on_all_two_digit_cases_and_labels():
    _check_exact(2, np.array(list(itertools.product(range(10), repeat=4))))


def test_column_size_is_linear_and_targets():
    sizes = [column_encoding(n)[0].n_atoms for n in (1, 2, 3, 15)]
    assert sizes[2] - sizes[1] == (sizes[3] - sizes[2]) // 12  # constant growth per digit
    t = column_targets(sum_digits(torch.tensor([0, 1234, 19998, 10998]), 4))
    assert t.tolist() == [[0, 0, 0, 0], [4, 3, 2, 1], [8, 9, 9, 19], [8, 9, 9, 10]]


def _hand_probability(p: torch.Tensor, target: list[int]) -> torch.Tensor:
    """Sum over columns of P(column right), N = 2: p (4, 10) digit probabilities of images
    (a1, a0, b1, b0); the column-0 outcome, the exact carry and the top column's total."""
    a1, a0, b1, b0 = p
    joint0 = a0[:, None] * b0[None, :]
    s = torch.arange(10)[:, None] + torch.arange(10)[None, :]
    p0 = joint0[s % 10 == target[0]].sum()
    carry = joint0[s >= 10].sum()
    joint1 = a1[:, None] * b1[None, :]
    p1 = (1 - carry) * joint1[s == target[1]].sum() + carry * joint1[s + 1 == target[1]].sum()
    return p0 + p1


def test_cl_ste_loss_on_column_encoding_is_the_probability_gradient():
    """With no outcome atom at 0.5 (near-uniform outputs) both column clauses are unsatisfied, no
    unit clause fires, and L_cnf = L_unsat = 1 with the gradient of -(1/2) sum_j P(column j right)."""
    task = MnistAdd(digits=2, encoding="column")
    m = CLSTE(w_cnf=1.0, w_bound=0.0)
    m.prepare(task.constraint(), torch.device("cpu"))
    torch.manual_seed(0)
    logits = (0.3 * torch.randn(1, 4, 10)).requires_grad_()
    sums = torch.tensor([57 + 68])  # 125: column 0 total 15 -> digit 5, top total 12
    loss = m.loss({"digit": logits}, Batch(x=None, evidence=task.evidence_for(sums)))
    assert loss.item() == pytest.approx(1.0)
    (g,) = torch.autograd.grad(loss, logits)
    ref_logits = logits.detach().clone().requires_grad_()
    ref = -0.5 * _hand_probability(torch.softmax(ref_logits[0], -1), [5, 12])
    (g_ref,) = torch.autograd.grad(ref, ref_logits)
    assert torch.allclose(g, g_ref, atol=1e-6)


def test_cl_ste_loss_is_zero_on_gold_and_learns_a_tiny_run():
    task = MnistAdd(digits=2, encoding="column")
    m = CLSTE(w_cnf=1.0, w_bound=0.0)
    m.prepare(task.constraint(), torch.device("cpu"))
    gold = torch.tensor([[5, 7, 6, 8]])  # 57 + 68
    logits = 10.0 * torch.nn.functional.one_hot(gold, 10).float()
    ev = task.evidence_for(torch.tensor([125]))
    assert m.loss({"digit": logits}, Batch(x=None, evidence=ev)).item() == 0.0
    wrong = 10.0 * torch.nn.functional.one_hot(torch.tensor([[5, 7, 6, 9]]), 10).float()
    assert m.loss({"digit": wrong}, Batch(x=None, evidence=ev)).item() > 0.0
