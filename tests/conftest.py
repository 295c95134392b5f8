"""Test-wide settings: nothing a test does writes outside temporary directories.

Generated data (the Sudoku puzzles' cache), numba's compiled-function cache and matplotlib's
cache go to one temporary directory, set here before any test module imports them, so that the
CLI processes the tests start (which inherit the environment) use it too."""

import os
import shutil
import tempfile

_ROOT = tempfile.mkdtemp(prefix="nesybench-tests-")
_SAVED = {k: os.environ.get(k) for k in ("NESYBENCH_CACHE", "NUMBA_CACHE_DIR", "MPLCONFIGDIR")}
os.environ["NESYBENCH_CACHE"] = os.path.join(_ROOT, "nesybench")
os.environ["NUMBA_CACHE_DIR"] = os.path.join(_ROOT, "numba")
os.environ["MPLCONFIGDIR"] = os.path.join(_ROOT, "matplotlib")


def pytest_unconfigure(config):
    for k, v in _SAVED.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    shutil.rmtree(_ROOT, ignore_errors=True)
