"""add2x2, apply2x2 and member(n): the paper's encodings (sizes, UEC clauses, gold models), the
data protocol, the operator images (synthetic and ImageFolder) and tiny end-to-end runs."""

import numpy as np
import pytest
import torch

from harness.errors import UserError
from harness.loop import RunConfig, build, run
from methods.cl_ste import CLSTE, neural_values
from tasks.neurolog import Add2x2, Apply2x2, Member, paper_subset
from tasks.operators import load_operator_folder, synthetic_operators

CPU = torch.device("cpu")


def _n_clauses_with_uec(constraint) -> int:
    m = CLSTE(ste="b-iste")
    m.prepare(constraint, CPU)
    return m.n_clauses_


@pytest.mark.parametrize(
    "task, atoms, clauses, uec", [(Add2x2(), 516, 76, 260), (Member(n=3), 50, 40, 178), (Member(n=5), 70, 60, 290)]
)
def test_paper_cnf_sizes(task, atoms, clauses, uec):
    c = task.constraint()
    assert (c.cnf.n_atoms, c.cnf.n_clauses) == (atoms, clauses)
    assert _n_clauses_with_uec(c) == uec  # the *_UEC.cnf headers of docs/method.md "Encodings"


def test_apply2x2_cnf_is_four_copies_of_the_papers():
    c = Apply2x2().constraint()
    assert c.cnf.n_clauses == 4 * 10597 and c.cnf.n_atoms == 24 + 4 * 9 + 4 * 10597
    assert len(c.derived) == 36
    # UEC: one existence + 3 uniqueness clauses per operator slot, 2 slots per row (apply2x2_UEC.cnf)
    assert _n_clauses_with_uec(c) - c.cnf.n_clauses == 8 * 4


def test_apply2x2_results_hand_worked():
    # the paper file's first line: 3 0 6 ... -> 0 -3 6 -6 with operators (x, x, +, -)
    assert Apply2x2._results(np.array([[3, 0, 6]]), np.array([[2, 2, 0, 1]])).tolist() == [[0, -3, 6, -6]]


def _holds(task, logits: dict, evidence: torch.Tensor) -> np.ndarray:
    c = task.constraint()
    v = neural_values(c, logits, "b-iste", c.n_atoms)
    v = torch.maximum(v, (evidence == 1).float())
    return np.array([c.cnf.satisfied_by(row.tolist()) for row in v])


def _one_hot(classes: torch.Tensor, k: int) -> torch.Tensor:
    return torch.full((*classes.shape, k), -9.0).scatter_(-1, classes.unsqueeze(-1), 9.0)


@pytest.mark.parametrize("task", [Add2x2(n_train=40), Member(n=3, n_train=40), Member(n=5, n_train=40)])
def test_gold_digits_satisfy_and_a_changed_digit_can_violate(task):
    task.setup(0, CPU)
    gold = task.train_labels_[task.idx_]  # (P, I)
    assert _holds(task, {"digit": _one_hot(gold, 10)}, task.evidence_).all()
    wrong = gold.clone()
    wrong[:, 0] = (wrong[:, 0] + 1) % 10
    held = _holds(task, {"digit": _one_hot(wrong, 10)}, task.evidence_)
    if isinstance(task, Add2x2):
        assert not held.any()  # a changed digit changes its row and column sums
    else:  # violated where image 0 held the only copy of the query digit, or now shows it
        assert 0 < held.sum() < len(held)


def test_apply2x2_gold_operators_satisfy():
    task = Apply2x2(n_train=30)
    task.setup(0, CPU)
    net_slots = torch.tensor(Apply2x2.SLOTS)
    gold = task.train_labels_[task.idx_][:, net_slots]  # (P, 8)
    assert _holds(task, {"op": _one_hot(gold, 3)}, task.evidence_).all()
    assert "synthetic" in task.describe()["operators"]


def test_member_generated_protocol():
    task = Member(n=5, n_train=2000)
    task.setup(3, CPU)
    c = task.constraint()
    on = task.evidence_.nonzero()[:, 1] - c.cnf.index("in(0,0)") + 1
    positive = (on % 2 == 1).float().mean().item()
    assert 0.72 < positive < 0.78
    again = Member(n=5, n_train=2000)
    again.setup(3, CPU)
    assert torch.equal(again.idx_, task.idx_)


def test_paper_subset_is_the_references():
    np.random.seed(1)
    ref = np.random.choice(50000, 3000, replace=False)
    assert np.array_equal(paper_subset(50000, 3000), ref)
    assert np.array_equal(paper_subset(10, 0), np.arange(10))


def test_data_file_is_read_and_validated(tmp_path):
    from tasks.mnist_data import load_embedded

    y = load_embedded().train_y
    idx = np.arange(20).reshape(5, 4)
    d = y[idx]
    sums = np.stack([d[:, 0] + d[:, 1], d[:, 2] + d[:, 3], d[:, 0] + d[:, 2], d[:, 1] + d[:, 3]], 1)
    path = tmp_path / "add2x2_train.txt"
    path.write_text("".join(" ".join(map(str, r)) + "\n" for r in np.concatenate([idx, sums], 1)))
    task = Add2x2(data_file=str(path), n_train=0)
    task.setup(0, CPU)
    assert task.idx_.tolist() == idx.tolist()
    sums[2, 1] += 1
    path.write_text("".join(" ".join(map(str, r)) + "\n" for r in np.concatenate([idx, sums], 1)))
    with pytest.raises(UserError, match="row 3 .*disagree"):
        Add2x2(data_file=str(path), n_train=0).setup(0, CPU)
    path.write_text("1 2 3\n")
    with pytest.raises(UserError, match="expected 8 fields"):
        Add2x2(data_file=str(path)).setup(0, CPU)
    with pytest.raises(UserError, match="not found"):
        Member(data_file=str(tmp_path / "nope.txt")).setup(0, CPU)
    with pytest.raises(UserError, match="--data-dir clste=DIR"):
        Add2x2(data_file="paper").setup(0, CPU)
    with pytest.raises(UserError, match="needs a data_file"):
        Member(n_train=0)
    with pytest.raises(UserError, match=r"n=12 is outside what it supports \(1..9\)"):
        Member(n=12)


def _png(path, img):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def test_operator_folder_reader(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("my_train", "my_test"):
        for cls, n in (("0plus", 2), ("1minus", 1), ("2times", 3), ("3div", 2)):
            for i in range(n):
                _png(tmp_path / split / cls / f"{i}.png", rng.integers(0, 255, (28, 28), dtype=np.uint8))
    ops = load_operator_folder(str(tmp_path))
    assert ops.train_x.shape == (6, 32, 32) and ops.train_y.tolist() == [0, 0, 1, 2, 2, 2]
    (tmp_path / "other_test").mkdir()
    load_operator_folder.cache_clear()
    with pytest.raises(UserError, match="contains 'test'"):
        load_operator_folder(str(tmp_path))
    bad = tmp_path / "b"
    _png(bad / "train" / "plus" / "a.png", np.zeros((32, 32), np.uint8))
    (bad / "test").mkdir()
    with pytest.raises(UserError, match="no class folder for operator"):
        load_operator_folder(str(bad))


def test_synthetic_operators_are_balanced_and_separable():
    ops = synthetic_operators()
    assert ops.train_x.shape == (1500, 32, 32) and np.bincount(ops.train_y).tolist() == [500] * 3
    assert np.array_equal(synthetic_operators.__wrapped__().test_x, ops.test_x)  # fixed by its seed
    # nearest class mean on the raw pixels already separates them well: the labels carry signal
    x = ops.train_x.reshape(len(ops.train_x), -1).astype(float)
    means = np.stack([x[ops.train_y == k].mean(0) for k in range(3)])
    t = ops.test_x.reshape(len(ops.test_x), -1).astype(float)
    pred = ((t[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == ops.test_y).mean() > 0.8


def test_paper_defaults_per_variant():
    _, m, train = build(RunConfig("member", "cl-ste", hp={"ste": "b-iste"}, tp={"n": 5}))
    assert (m.hp["w_cnf"], m.hp["w_bound"], train["epochs"]) == (1.0, 0.4, 10)
    _, m, train = build(RunConfig("member", "cl-ste", hp={"ste": "b-sste", "w_bound": "0.3"}, epochs=2))
    assert (m.hp["w_cnf"], m.hp["w_bound"], train["epochs"]) == (0.1, 0.3, 2)
    _, m, train = build(RunConfig("add2x2", "cl-ste"))
    assert (m.hp["w_cnf"], m.hp["w_bound"]) == (1.0, 0.1) and train == {"epochs": 3, "batch_size": 1, "lr": 5e-4}
    _, m, _ = build(RunConfig("apply2x2", "cl-ste", hp={"ste": "b-sste"}))
    assert m.hp["w_bound"] == 5.0


@pytest.mark.parametrize(
    "task, tp, method, hp",
    [
        ("add2x2", {"n_train": 12}, "cl-ste", {"ste": "b-sste"}),
        ("member", {"n": 5, "n_train": 12}, "supervised", {}),
        ("apply2x2", {"n_train": 12}, "cl-ste", {}),
    ],
)
def test_tiny_runs(tmp_path, task, tp, method, hp):
    row = run(RunConfig(task, method, hp=hp, tp=tp, epochs=1, batch_size=4, device="cpu"), str(tmp_path))
    assert row["status"] == "ok" and row["steps"] == 3
    (metric,) = row["metrics"].values()
    assert 0.0 <= metric <= 100.0
