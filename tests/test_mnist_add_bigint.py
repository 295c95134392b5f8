"""mnist-add beyond int64: labels, evidence and scoring are exact at N = 18 .. 500 (Python's
integers are the reference), where an int64 sum would wrap from N = 19 on."""

import numpy as np
import pytest
import torch

from harness.errors import UserError
from harness.loop import RunConfig, run
from tasks.mnist_add import MnistAdd, add_numbers, digits_to_ints, sum_digits

SIZES = [18, 19, 20, 64, 100, 500]


def _numbers(n, seed=0):
    """(B, 2N) digits: random numbers plus 99..9 + 99..9 and 0 + 0; and the two numbers as ints."""
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 10, size=(6, 2 * n))
    d = np.vstack([d, np.full(2 * n, 9), np.zeros(2 * n, dtype=int)])
    ints = [(int("".join(map(str, r[:n]))), int("".join(map(str, r[n:])))) for r in d]
    return torch.as_tensor(d), ints


@pytest.mark.parametrize("n", SIZES)
def test_labels_are_the_exact_sums(n):
    d, ints = _numbers(n)
    sums = digits_to_ints(add_numbers(d))
    assert sums == [a + b for a, b in ints]
    assert sums[-2] == 2 * (10**n - 1)  # 99..9 + 99..9: 19999999999999999998 at N = 19
    assert sum_digits(sums, n).tolist() == add_numbers(d).tolist()


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("encoding", ["compact", "column"])
def test_every_column_evidence_is_the_sum_digit(n, encoding):
    if n == 500 and encoding == "compact":
        pytest.skip("the column encoding covers N = 500; compact is the same digits")
    task = MnistAdd(digits=n, encoding=encoding)
    d, ints = _numbers(n, seed=n)
    ev = task.evidence_from_digits(add_numbers(d))
    names = task.constraint().cnf.names
    for row, (a, b) in zip(ev, ints):
        s = a + b
        got = sorted(names[i] for i in torch.nonzero(row == 1).flatten().tolist())
        if encoding == "compact":
            want = [f"sdig({j},{(s // 10**j) % 10})" for j in range(n + 1)]
        else:
            want = [f"sdig({j},{(s // 10**j) % 10})" for j in range(n - 1)] + [f"top({s // 10 ** (n - 1)})"]
        assert got == sorted(want)
        assert int((row != 0).sum()) == len(want)  # no other atom is set
    assert torch.equal(task.evidence_for([a + b for a, b in ints]), ev)


def test_a_sum_that_no_two_numbers_make_is_refused():
    with pytest.raises(ValueError, match="not the sum of two 19-digit numbers"):
        sum_digits([2 * 10**19], 19)


def test_pairs_file_with_sums_beyond_int64(tmp_path):
    """A pairs file at N = 19 holds sums above 2^63: read exactly; a wrong one is one line."""
    from tasks.mnist_data import load_mnist

    n = 19
    y = load_mnist(None).train_y
    idx = np.arange(4 * 2 * n).reshape(4, 2 * n)
    sums = digits_to_ints(add_numbers(torch.as_tensor(y[idx], dtype=torch.long)))
    path = tmp_path / "pairs.txt"
    path.write_text("".join(" ".join(map(str, [*r, s])) + "\n" for r, s in zip(idx.tolist(), sums)))
    task = MnistAdd(digits=n, encoding="column", pairs_file=str(path))
    task.validate()
    task.setup(0, torch.device("cpu"))
    assert task.pair_sums_ == sums and task.describe()["n_train_examples"] == 4
    big = 2 * (10**n - 1)  # beyond int64, and not these digits' sum
    path.write_text(" ".join(map(str, [*idx[0].tolist(), big])) + "\n")
    with pytest.raises(UserError, match=f"row 1: sum {big} disagrees with the digits' labels"):
        MnistAdd(digits=n, encoding="column", pairs_file=str(path)).validate()


class _Oracle(torch.nn.Module):
    """Reads each image's label from a lookup by pixel content (the test digits are distinct)."""

    def __init__(self, images, labels, wrong=()):
        super().__init__()
        self.table = {img.numpy().tobytes(): int(lab) for img, lab in zip(images, labels)}
        self.wrong = {images[i].numpy().tobytes() for i in wrong}

    def forward(self, x):  # (b, 1, 1, 28, 28) -> {"digit": (b, 1, 10)}
        out = torch.zeros(len(x), 1, 10)
        for i, img in enumerate(x[:, 0]):
            key = img.numpy().tobytes()
            out[i, 0, (self.table[key] + (key in self.wrong)) % 10] = 1.0
        return {"digit": out}


@pytest.mark.parametrize("n", [19, 100])
def test_scoring_is_exact_at_large_n(n):
    task = MnistAdd(digits=n, encoding="column")
    task.setup(0, torch.device("cpu"))
    net = _Oracle(task.test_images_, task.test_labels_)
    assert task.evaluate(net, torch.device("cpu")) == {"digit_acc": 100.0, "sum_acc": 100.0}
    first = int(task.test_pairs_[0, 0])  # one wrong digit spoils exactly one test sum
    m = task.evaluate(_Oracle(task.test_images_, task.test_labels_, wrong=[first]), torch.device("cpu"))
    assert m["sum_acc"] == pytest.approx(100.0 * (1 - 1 / len(task.test_pairs_)))


def test_protocol_is_recorded_and_too_large_n_is_refused(tmp_path):
    row = run(
        RunConfig("mnist-add", "supervised", epochs=1, tp={"digits": 25, "encoding": "column"}, device="cpu"),
        str(tmp_path),
    )
    assert row["status"] == "ok"
    assert "each digit image used once" in row["describe"]["protocol"]
    with pytest.raises(UserError, match=r"digits=501 is outside what it supports \(1\.\.500\)"):
        MnistAdd(digits=501)
    with pytest.raises(UserError, match="N = 300 needs 600 digits per sum; embedded MNIST has 3500 training and 500"):
        MnistAdd(digits=300, holdout=500).validate()  # 500 held-out digits make no sum of 600 images
