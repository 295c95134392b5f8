"""mnist-add's paper encoding generated per example (N = 3, 4) and CL-STE's loss on it: the
combinations against brute force, the loss against the listed encoding (N <= 2) and against the
dense formula over all 10^6 combination atoms (N = 3), the size limit, skipped methods, a tiny run."""

import numpy as np
import pytest
import torch

from harness.api import Batch
from harness.errors import SkipRun, UserError
from harness.loop import RunConfig, run
from methods.cl_ste import CLSTE, b_sste, bound_loss, bp_iste, cnf_loss
from tasks.mnist_add import MnistAdd, number_weights
from tasks.mnist_add_paper import sparse_paper_constraint, sum_combinations

CPU = torch.device("cpu")


def _all_combos(n_digits: int) -> np.ndarray:
    """(10^(2N), 2N) every tuple of digit values, in itertools.product order."""
    return np.indices((10,) * (2 * n_digits)).reshape(2 * n_digits, -1).T


def test_combinations_of_each_sum_are_exactly_the_brute_force_ones():
    combos = _all_combos(3)
    values = combos @ number_weights(3)
    counts = np.bincount(values, minlength=1999)
    code = combos @ (10 ** np.arange(5, -1, -1))  # a tuple as one integer
    gen = sum_combinations(3)
    for start in range(0, 1999, 400):
        r = torch.arange(start, min(start + 400, 1999))
        vals, valid = gen(r)
        v, ok = vals.numpy(), valid.numpy()
        assert v.shape[1] <= 1000 and v.shape[2] == 6
        np.testing.assert_array_equal(ok.sum(1), counts[r.numpy()])
        np.testing.assert_array_equal(np.where(ok, v @ number_weights(3), -1), np.where(ok, r.numpy()[:, None], -1))
        for e, rr in enumerate(r.tolist()[::37]):  # the same set as brute force, no duplicates
            got = np.sort((v[e * 37] @ (10 ** np.arange(5, -1, -1)))[ok[e * 37]])
            np.testing.assert_array_equal(got, np.sort(code[values == rr]))


def _outputs(digits: torch.Tensor, confident: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Logits (B, G, 10): random, and for the ``confident`` examples +6 on their gold digits (their
    combination atom reaches b_p = 1, so their clause is satisfied)."""
    gen = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(*digits.shape, 10, generator=gen)
    boost = torch.zeros_like(logits).scatter_(2, digits.unsqueeze(-1), 6.0)
    return logits + boost * confident.view(-1, 1, 1)


def _sparse_loss(n: int, hp: dict, logits: torch.Tensor, sums: torch.Tensor):
    c, cols = sparse_paper_constraint(n)
    m = CLSTE(**hp)
    m.prepare(c, CPU)
    ev = torch.zeros(len(sums), c.n_atoms)
    ev[torch.arange(len(sums)), cols[sums]] = 1.0
    out = logits.clone().requires_grad_(True)
    loss = m.loss({"digit": out}, Batch(x=None, evidence=ev))
    loss.backward()
    return loss, out.grad


CASES = [
    ({"ste": "bp-iste"}),
    ({"ste": "bp-iste", "cnf_norm": "all"}),
    ({"ste": "b-iste"}),
    ({"ste": "b-sste", "cnf_norm": "all"}),
]


@pytest.mark.parametrize("hp", CASES, ids=lambda h: "-".join(map(str, h.values())))
@pytest.mark.parametrize("n", [1, 2])
def test_generated_equals_listed_encoding(n, hp):
    """Where both exist (N <= 2) the generated clauses give CLSTE.loss the value and the gradient of
    the listed paper encoding (its fused path), on sums with many combinations, with one (0 and
    the largest: unit propagation) and satisfied and unsatisfied clauses."""
    hp = {"w_cnf": 0.7, "w_bound": 0.0, **hp}
    task = MnistAdd(digits=n, encoding="paper")
    top = 2 * (10**n - 1)
    digits = torch.randint(0, 10, (8, 2 * n), generator=torch.Generator().manual_seed(n))
    true = (digits * torch.as_tensor(number_weights(n))).sum(1)
    sums = torch.cat([true[:4], torch.tensor([0, top, 7, top - 3])])
    logits = _outputs(digits, torch.tensor([1, 1, 0, 1, 0, 1, 0, 0]))
    m = CLSTE(**hp)
    m.prepare(task.constraint(), CPU)
    out = logits.clone().requires_grad_(True)
    ref = m.loss({"digit": out}, Batch(x=None, evidence=task.evidence_for(sums)))
    ref.backward()
    loss, grad = _sparse_loss(n, hp, logits, sums)
    assert ref.item() > 0
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6, abs=1e-7)
    assert torch.allclose(grad, out.grad, rtol=1e-5, atol=1e-7) and grad.abs().sum() > 0


@pytest.mark.parametrize("hp", [{"ste": "bp-iste"}, {"ste": "b-sste", "uec": "no"}], ids=["bp-iste", "b-sste"])
def test_generated_equals_dense_formula_at_three_digits(hp):
    """N = 3: the dense formula w_cnf * cnf_loss(C, v, g, mask) over all 10^6 combination atoms
    (v of every one of them from the digits, as CL-STE's derived conjunctions), with the clauses of
    the batch's sums and of two other sums (dropped by the filter); the rows of every other sum
    would be dropped too and add nothing. (The exactly-one clauses of b(x) are compared at N <= 2:
    as dense rows over 10^6 columns they would take gigabytes.)"""
    hp = {"w_cnf": 1.0, "w_bound": 0.001, **hp}
    digits = torch.tensor([[1, 2, 3, 4, 5, 6], [9, 0, 9, 0, 9, 9]])
    sums = torch.tensor([123 + 456, 500])  # the second label is wrong for its digits
    logits = _outputs(digits, torch.tensor([1, 0]))
    combos = torch.as_tensor(_all_combos(3))  # (10^6, 6)
    values = combos @ torch.as_tensor(number_weights(3))
    rows = [579, 500, 1998, 0]  # kept, kept, not kept (one combination), not kept
    n_dig, n_comb = 60, len(combos)
    n = n_dig + n_comb + len(rows)  # digits, combination atoms, the sum atoms of these clauses
    C = torch.zeros(len(rows), n)
    for j, r in enumerate(rows):
        C[j, n_dig + torch.nonzero(values == r).squeeze(1)] = 1.0
        C[j, n_dig + n_comb + j] = -1.0
    g = torch.zeros(2, n)
    g[0, n_dig + n_comb + 0] = 1.0
    g[1, n_dig + n_comb + 1] = 1.0
    out = logits.clone().requires_grad_(True)
    if hp["ste"] == "bp-iste":
        p = torch.softmax(out, -1)
        comb = bp_iste(p[:, torch.arange(6), combos].prod(-1))  # (2, 10^6)
        dig = bp_iste(p.reshape(2, -1))
    else:
        b = b_sste(out)
        comb = b[:, torch.arange(6), combos].prod(-1)
        dig = b.reshape(2, -1)
    v_nn = torch.cat([dig, comb, torch.zeros(2, len(rows))], 1)
    v = (g == 1).float() + v_nn * (g == 0).float()
    mask = (g @ C.t()) == -1
    assert mask.tolist() == [[True, False, False, False], [False, True, False, False]]
    ref = hp["w_cnf"] * cnf_loss(C, v, g, mask) + hp["w_bound"] * bound_loss({"digit": out})
    ref.backward()
    c, cols = sparse_paper_constraint(3)
    m = CLSTE(**hp)
    m.prepare(c, CPU)
    ev = torch.zeros(2, c.n_atoms)
    ev[torch.arange(2), cols[sums]] = 1.0
    mine = logits.clone().requires_grad_(True)
    loss = m.loss({"digit": mine}, Batch(x=None, evidence=ev))
    loss.backward()
    assert ref.item() > 0
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6, abs=1e-7)
    assert torch.allclose(mine.grad, out.grad, rtol=1e-5, atol=1e-7) and mine.grad.abs().sum() > 0


def test_size_limit_and_what_other_methods_get():
    for n in (3, 4):
        c = MnistAdd(digits=n, encoding="paper").constraint()
        assert c.n_atoms == 20 * n + 2 * (10**n - 1) + 1  # digits and sums only
    with pytest.raises(UserError, match=r"N=5 .*10\^10 combination atoms.*100,000.*MB"):
        MnistAdd(digits=5, encoding="paper")
    c = MnistAdd(digits=3, encoding="paper").constraint()
    from methods.fuzzy import Fuzzy

    with pytest.raises(SkipRun, match="use encoding=compact"):
        Fuzzy().prepare(c, CPU)
    with pytest.raises(UserError, match="filter_clauses"):
        CLSTE(filter_clauses=False).prepare(c, CPU)


def test_pairs_file_paper_reads_the_file_of_its_n(tmp_path):
    from tasks.mnist_data import load_embedded

    with pytest.raises(UserError, match="--data-dir clste"):
        MnistAdd(digits=3, pairs_file="paper")
    y = load_embedded().train_y
    idx = np.arange(18).reshape(3, 6)
    s = (y[idx] @ number_weights(3)).tolist()
    (tmp_path / "mnistAdd3_train.txt").write_text(
        "".join(" ".join(map(str, list(r) + [t])) + "\n" for r, t in zip(idx, s))
    )
    task = MnistAdd(data_dirs={"clste": str(tmp_path)}, digits=3, pairs_file="paper")
    task.setup(0, CPU)
    assert task.pairs_.tolist() == idx.tolist()


def test_tiny_run_at_three_digits_paper_encoding(tmp_path):
    row = run(
        RunConfig(
            "mnist-add",
            "cl-ste",
            tp={"digits": 3, "encoding": "paper", "n_pairs": 12},
            hp={"w_cnf": 1.0, "w_bound": 0.001},
            epochs=1,
            batch_size=1,
            device="cpu",
        ),
        str(tmp_path),
    )
    assert row["status"] == "ok" and row["steps"] == 12
    assert 0.0 <= row["metrics"]["sum_acc"] <= row["metrics"]["digit_acc"] <= 100.0
