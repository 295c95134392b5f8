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
    return output_dir(path, "--results")


def _blocking_file(path: str) -> str | None:
    """The nearest existing ancestor of ``path`` (itself excluded) when it is a file, else None."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    return parent if os.path.exists(parent) and not os.path.isdir(parent) else None


def _writable_ancestor(path: str) -> str | None:
    """The nearest existing ancestor directory of ``path`` when this process may not write in it."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return None if os.access(parent, os.W_OK | os.X_OK) else parent


def output_dir(path: str, flag: str) -> str:
    """A directory that a command will create or write into, checked before any run starts: not a
    file, no file where a parent directory must go, writable."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{flag} {path}: is a file, not a directory; give a directory")
    blocker = _blocking_file(path)
    if blocker:
        raise UserError(f"{flag} {path}: {blocker} is a file, so the directory cannot be made; give another path")
    locked = _writable_ancestor(path if os.path.exists(path) else os.path.join(path, "x"))
    if locked:
        raise UserError(f"{flag} {path}: no permission to write in {locked}; give a directory you can write to")
    return path


def output_file(path: str, flag: str) -> str:
    """A file that a command will write, checked before any work: not a directory, its folder can be
    made and written to."""
    if os.path.isdir(path):
        raise UserError(f"{flag} {path}: is a directory; give a file name (e.g. {os.path.join(path, 'report.md')})")
    blocker = _blocking_file(path)
    if blocker:
        raise UserError(f"{flag} {path}: {blocker} is a file, so the folder cannot be made; give another path")
    locked = _writable_ancestor(path)
    if locked:
        raise UserError(f"{flag} {path}: no permission to write in {locked}; give a path you can write to")
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
