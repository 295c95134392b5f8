"""mnist-add with N-digit numbers: the compact (carry) encoding against brute force, its size, the
CL-STE evaluation of its derived carry atoms, and tiny end-to-end runs."""

import itertools

import numpy as np
import pytest
import torch

from harness.errors import UserError
from harness.loop import RunConfig, run
from methods.cl_ste import CLSTE, neural_values
from tasks.mnist_add import MnistAdd, compact_encoding, number_weights, sum_digits


def _satisfied(task: MnistAdd, digits: np.ndarray, sums: np.ndarray, ste: str = "b-iste") -> np.ndarray:
    """(E, 2N) digits and (E,) label sums -> (E,) bool: the CNF holds under one-hot digits, the
    derived atoms as CL-STE computes them, and the label's evidence."""
    c = task.constraint()
    logits = torch.full((len(digits), digits.shape[1], 10), -20.0)
    logits.scatter_(2, torch.as_tensor(digits).unsqueeze(-1), 20.0)
    v = neural_values(c, {"digit": logits}, ste, c.n_atoms)
    g = task.evidence_for(torch.as_tensor(sums))
    v = torch.maximum(v, (g == 1).float())
    idx, sign = c.cnf.padded()
    vv = v.bool()[:, idx]  # (E, m, k)
    lit = torch.where(sign > 0, vv, ~vv) & (sign != 0)
    return lit.any(-1).all(-1).numpy()


def test_compact_exact_on_all_one_digit_cases():
    task = MnistAdd(digits=1, encoding="compact")
    digits = np.array(list(itertools.product(range(10), repeat=2)))  # (100, 2)
    for s in range(19):  # every label, right or wrong
        sat = _satisfied(task, digits, np.full(len(digits), s))
        np.testing.assert_array_equal(sat, digits.sum(1) == s)


@pytest.mark.parametrize("ste", ["b-iste", "bp-iste"])
def test_compact_exact_against_brute_force_two_digits(ste):
    task = MnistAdd(digits=2, encoding="compact")
    digits = np.array(list(itertools.product(range(10), repeat=4)))  # all 10^4 cases
    true = digits @ number_weights(2)
    assert _satisfied(task, digits, true, ste).all()
    rng = np.random.default_rng(0)
    some = rng.choice(len(digits), 2000, replace=False)  # wrong labels on a sample, for time
    digits, true = digits[some], true[some]
    for wrong in (true + 1, true + 10, true + 100, rng.integers(0, 199, len(true))):
        wrong = wrong % 199
        sat = _satisfied(task, digits, wrong, ste)
        np.testing.assert_array_equal(sat, wrong == true)


def test_compact_latent_atoms_are_functions_of_the_digits():
    """Flipping any latent "or" atom (big, nine, t, carry) of a model breaks the CNF: a model count
    over them is exact (the pair atoms are ``Constraint.derived``: methods substitute them)."""
    task = MnistAdd(digits=3, encoding="compact")
    c = task.constraint()
    digits = np.array([[9, 9, 5, 0, 0, 5], [1, 2, 3, 4, 5, 6], [9, 9, 9, 9, 9, 9]])
    sums = digits @ number_weights(3)
    logits = torch.full((3, 6, 10), -20.0).scatter_(2, torch.as_tensor(digits).unsqueeze(-1), 20.0)
    v = neural_values(c, {"digit": logits}, "b-iste", c.n_atoms)
    v = torch.maximum(v, (task.evidence_for(torch.as_tensor(sums)) == 1).float())
    names = c.cnf.names
    latent = [i for i, n in enumerate(names) if not n.startswith(("digit", "sdig", "pair"))]
    assert len(latent) == 3 + 2 + 2 + 3
    for e in range(3):
        assert c.cnf.satisfied_by(v[e].tolist())
        for i in latent:
            a = v[e].tolist()
            a[i] = 1 - a[i]
            assert not c.cnf.satisfied_by(a), names[i]


def test_compact_size_is_linear_and_paper_is_refused_beyond_four():
    sizes = {n: compact_encoding(n)[0] for n in (1, 4, 15)}
    assert {n: c.n_atoms for n, c in sizes.items()} == {1: 134, 4: 536, 15: 2010}
    assert sizes[15].n_clauses < 100 * 15
    with pytest.raises(UserError, match="use encoding=compact"):
        MnistAdd(digits=5, encoding="paper")
    with pytest.raises(UserError, match="unknown encoding"):
        MnistAdd(encoding="tiny")
    assert MnistAdd(digits=2).encoding == "paper" and MnistAdd(digits=3).encoding == "compact"


def test_evidence_sets_the_sum_digits():
    task = MnistAdd(digits=3, encoding="compact")
    c = task.constraint()
    ev = task.evidence_for(torch.tensor([1234, 7]))
    on = [[c.cnf.names[i] for i in torch.nonzero(row).flatten().tolist()] for row in ev]
    assert on[0] == ["sdig(0,4)", "sdig(1,3)", "sdig(2,2)", "sdig(3,1)"]
    assert on[1] == ["sdig(0,7)", "sdig(1,0)", "sdig(2,0)", "sdig(3,0)"]
    assert sum_digits(torch.tensor([1998]), 3).tolist() == [[8, 9, 9, 1]]


def test_bp_carry_is_the_binarized_exact_marginal():
    """b_p of a carry atom = 1[P(carry) >= 0.5] with P the exact marginal under independent digits
    (products for pairs and t, sums for the mutually exclusive "or" components)."""
    task = MnistAdd(digits=2, encoding="compact")
    c = task.constraint()
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 4, 10, generator=gen) * 2.5
    v = neural_values(c, {"digit": logits}, "bp-iste", c.n_atoms)
    p = torch.softmax(logits, -1).double()
    # P(first + second >= 100) over the 10^4 digit combinations
    combos = torch.as_tensor(np.array(list(itertools.product(range(10), repeat=4))))
    w = torch.as_tensor(number_weights(2))
    big = ((combos * w).sum(1) >= 100).double()  # (10^4,)
    pc = torch.ones(300, len(combos), dtype=torch.float64)
    for i in range(4):
        pc = pc * p[:, i, combos[:, i]]
    p_carry = (pc * big).sum(1)
    sure = (p_carry - 0.5).abs() > 1e-6
    col = c.cnf.index("carry(2)") - 1
    assert sure.sum() > 250 and 30 < int((p_carry > 0.5).sum()) < 270
    np.testing.assert_array_equal(v[sure, col].numpy(), (p_carry[sure] >= 0.5).float().numpy())


def test_cl_ste_loss_zero_on_gold_and_pushes_wrong_digits():
    task = MnistAdd(digits=3, encoding="compact")
    m = CLSTE()
    m.prepare(task.constraint(), torch.device("cpu"))
    digits = torch.tensor([[1, 2, 3, 4, 5, 6]])
    gold = torch.full((1, 6, 10), -5.0).scatter_(2, digits.unsqueeze(-1), 5.0)
    from harness.api import Batch

    batch = Batch(x=None, evidence=task.evidence_for(torch.tensor([123 + 456])))
    m.hp["w_bound"] = 0.0
    assert float(m.loss({"digit": gold}, batch)) == 0.0
    wrong = gold.clone().requires_grad_(True)  # claims 123 + 456 = 580 (last digit read as 7)
    with torch.no_grad():
        wrong[0, 5] = torch.full((10,), -5.0).index_fill(0, torch.tensor([7]), 5.0)
    loss = m.loss({"digit": wrong}, batch)
    loss.backward()
    assert float(loss.detach()) > 0
    g = wrong.grad[0, 5]
    assert g[6] < 0 < g[7]  # gradient descent raises digit 6 and lowers 7 on the last image


def test_tiny_runs_at_three_digits(tmp_path):
    for method in ("cl-ste", "supervised"):
        row = run(
            RunConfig("mnist-add", method, tp={"digits": 3, "n_pairs": 30}, epochs=1, batch_size=8, device="cpu"),
            str(tmp_path),
        )
        assert row["status"] == "ok" and row["steps"] == 4
        assert 0.0 <= row["metrics"]["sum_acc"] <= row["metrics"]["digit_acc"] <= 100.0


def test_pairs_file_with_three_digits(tmp_path):
    from tasks.mnist_data import load_embedded

    y = load_embedded().train_y
    idx = np.arange(12).reshape(2, 6)
    sums = idx.copy()
    s = (y[idx] @ number_weights(3)).tolist()
    path = tmp_path / "pairs.txt"
    path.write_text("".join(" ".join(map(str, list(r) + [t])) + "\n" for r, t in zip(sums, s)))
    task = MnistAdd(digits=3, pairs_file=str(path))
    task.setup(0, torch.device("cpu"))
    assert task.pairs_.tolist() == idx.tolist()
    path.write_text(" ".join(map(str, list(idx[0]) + [s[0] + 1])) + "\n")
    with pytest.raises(UserError, match="disagrees"):
        MnistAdd(digits=3, pairs_file=str(path)).setup(0, torch.device("cpu"))
