"""What the command line gives, parsed and checked: KEY=VALUE lists, data directories, the results
directory, counts. Shared by :mod:`harness.cli` and the suite runner (:mod:`harness.bench`); every
problem is a one-line :class:`~harness.errors.UserError`, found before any run starts."""
from __future__ import annotations

import argparse
import os

from .errors import UserError

DEFAULT_RESULTS = os.path.join("results", "runs")


def kv(items: list[str] | None, flag: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; an item without ``KEY=`` is a user error."""
    out = {}
    for item in items or []:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def data_dirs(args) -> dict[str, str]:
    """{name: directory} from ``--mnist-dir`` (or $NESYBENCH_MNIST_DIR) and ``--data-dir NAME=DIR``."""
    dirs = {}
    mnist = getattr(args, "mnist_dir", None) or os.environ.get("NESYBENCH_MNIST_DIR")
    if mnist:
        if not os.path.isdir(mnist):
            raise UserError(f"--mnist-dir {mnist}: no such directory; give the directory holding the MNIST IDX files")
        dirs["mnist"] = mnist
    for item in getattr(args, "data_dir", None) or []:
        name, _, path = item.partition("=")
        if not name or not path:
            raise UserError(f"--data-dir {item!r}: expected NAME=DIR")
        if not os.path.isdir(path):
            raise UserError(f"--data-dir {name}: no such directory {path}")
        dirs[name] = path
    return dirs


def results_dir(path: str) -> str:
    """The results directory to write into: it may not exist yet, but it may not be a file."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"--results {path}: is a file, not a directory; give a directory for the result rows")
    return path


def positive_int(text: str) -> int:
    """argparse type of a count that must be at least 1 (``--threads``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
