"""Test-wide settings: nothing a test does writes outside its temporary directories."""
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _caches_in_a_temporary_directory(tmp_path_factory):
    """Generated data (the Sudoku puzzles' cache) and matplotlib's cache go to a temporary
    directory, for the tests and for the CLI processes they start (which inherit the environment)."""
    root = tmp_path_factory.mktemp("caches")
    saved = {k: os.environ.get(k) for k in ("NESYBENCH_CACHE", "MPLCONFIGDIR")}
    os.environ["NESYBENCH_CACHE"] = str(root / "nesybench")
    os.environ["MPLCONFIGDIR"] = str(root / "matplotlib")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
