"""mnist-add's multi-digit DeepProbLog program (numbers as digit lists, DeepProbLog's own example
style): the probability of each sum equals brute-force enumeration, on digits with few values so
that grounding takes a moment; a set-up timeout records how far grounding and compilation got."""

from __future__ import annotations

import itertools

import pytest
import torch

from harness.api import Constraint, NeuralGroup, Program
from harness.budget import BudgetExceeded
from harness.cnf import CNF

pytest.importorskip("deepproblog", reason="deepproblog is not installed (make setup installs it)")

from methods.deepproblog import DeepProbLog  # noqa: E402
from tasks.mnist_add import number_weights, problog_program  # noqa: E402


def _constraint(n_digits: int, n_values: int, targets) -> Constraint:
    n_img = 2 * n_digits
    atoms = torch.arange(n_img * n_values).reshape(n_img, n_values)
    return Constraint(
        CNF(n_img * n_values, []),
        [NeuralGroup("digit", atoms)],
        programs={"problog": Program(problog_program(n_digits, n_values), "addition", list(targets))},
    )


def _brute_force(p: torch.Tensor, n_digits: int, s: int) -> torch.Tensor:
    """P(first + second number = s) for independent digits p (G, K), by enumeration."""
    w = number_weights(n_digits).tolist()
    total = p.new_zeros(())
    for c in itertools.product(range(p.shape[1]), repeat=p.shape[0]):
        if sum(a * b for a, b in zip(c, w)) == s:
            total = total + torch.prod(p[torch.arange(p.shape[0]), torch.tensor(c)])
    return total


@pytest.mark.parametrize("n_digits,n_values,sums", [(2, 3, [0, 13, 44, 5]), (3, 2, [0, 111, 222, 7])])
def test_multi_digit_program_is_the_probability_of_the_sum(n_digits, n_values, sums):
    """addition(X_0..X_2N-1, s) :- multi_addition([first N], [last N], s) over number/3 lists: the
    exact probability of each sum (including impossible ones, probability 0), with its gradient."""
    m = DeepProbLog()
    m.prepare(_constraint(n_digits, n_values, sums), torch.device("cpu"))
    assert m.ground_seconds_ >= 0 and m.sdd_seconds_ >= 0
    torch.manual_seed(n_digits)
    logits = torch.randn(len(sums), 2 * n_digits, n_values, dtype=torch.float64, requires_grad=True)
    got = m.query_probabilities({"digit": logits}, torch.tensor(sums))
    p = torch.softmax(logits, -1)
    want = torch.stack([_brute_force(p[b], n_digits, s) for b, s in enumerate(sums)])
    assert float(want[-1]) == 0.0 and float(want[:-1].min()) > 0  # the last sum cannot be written
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-14)
    got[:-1].log().sum().backward()
    ref = logits.detach().clone().requires_grad_(True)
    pr = torch.softmax(ref, -1)
    torch.stack([_brute_force(pr[b], n_digits, s) for b, s in enumerate(sums[:-1])]).log().sum().backward()
    torch.testing.assert_close(logits.grad, ref.grad)


def test_setup_timeout_says_how_far_grounding_got(monkeypatch):
    """Over the set-up budget while compiling its queries (the budget's alarm, here raised in the
    third query), the timeout's message counts the queries done and the grounding and compilation
    seconds: what the timeout row records."""
    from deepproblog.utils.cache import Cache

    real, calls = Cache.get, []

    def get(self, q):
        calls.append(q)
        if len(calls) == 3:
            raise BudgetExceeded("setup", 1.0, 1.5)
        return real(self, q)

    monkeypatch.setattr(Cache, "get", get)
    with pytest.raises(
        BudgetExceeded,
        match=r"1.5 s reached, limit 1 s; DeepProbLog had ground and compiled 2 of "
        r"5 queries \(grounding [\d.]+ s, SDD compilation [\d.]+ s",
    ):
        DeepProbLog().prepare(_constraint(3, 2, range(5)), torch.device("cpu"))
