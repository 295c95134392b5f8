"""Publishing refuses what would make a misleading permanent folder: a suite name that is no suite,
rows of another suite (``--force`` publishes anyway, and the README says so); the folder gets the
user's umask and keeps a copy of each plug-in file its rows came from."""

import os
import shutil
import stat

import pytest

from harness.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def smoke_rows(tmp_path_factory):
    """The smoke suite's runs, made with 'run' at the suite's settings, plus a plug-in task's run."""
    root = tmp_path_factory.mktemp("smoke")
    plugin = root / "my_task.py"
    shutil.copy(os.path.join(REPO, "examples", "my_task.py"), plugin)
    for method in ("cl-ste", "supervised"):
        assert (
            main(
                [
                    "run",
                    "--task",
                    "mnist-add",
                    "--method",
                    method,
                    "--tp",
                    "n_pairs=200",
                    "--epochs",
                    "1",
                    "--device",
                    "cpu",
                    "--results",
                    str(root / "rows"),
                    "--quiet",
                ]
            )
            == 0
        )
    return root, plugin


def _one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_unknown_suite_and_foreign_rows_are_refused_in_one_line(smoke_rows, tmp_path, capsys):
    root, _ = smoke_rows
    dest = tmp_path / "reports"
    base = ["publish", "--results", str(root / "rows"), "--dest", str(dest)]
    assert main(base + ["--suite", "smok"]) == 2
    assert "'smok' is not a suite (did you mean 'smoke'?)" in _one_line(capsys)
    assert main(base + ["--suite", "default"]) == 2
    err = _one_line(capsys)
    assert "2 of 2 runs are not of suite default (e.g. mnist-add" in err and "n_pairs=200" in err and "--force" in err
    assert not dest.exists()
    assert main(base + ["--suite", "default", "--force"]) == 0
    (folder,) = [dest / d for d in os.listdir(dest)]
    assert "Published with `--force`**: 2 of 2 runs are not of suite default" in (folder / "README.md").read_text()


def test_the_suites_own_rows_publish_with_the_users_umask(smoke_rows, tmp_path):
    root, _ = smoke_rows
    dest = tmp_path / "reports"
    old = os.umask(0o022)
    try:
        assert main(["publish", "--results", str(root / "rows"), "--suite", "smoke", "--dest", str(dest)]) == 0
    finally:
        os.umask(old)
    (folder,) = [dest / d for d in os.listdir(dest)]
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755
    assert "--force" not in (folder / "README.md").read_text()
