"""The CLI: error paths give one line and a non-zero exit, never a traceback.

The error paths run the CLI's entry function in this process (an exception other than a user
error would fail the test); the tiny run goes through ``python -m harness`` itself."""

import os
import re
import subprocess
import sys

import pytest

from harness.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, cwd=None):
    p = subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd or REPO, timeout=300
    )
    return p.returncode, p.stdout, p.stderr


def cli_here(capsys, *args):
    """The CLI's entry function in this process: (exit status, standard output, standard error)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "args,fragment",
    [
        (
            ["run", "--task", "mnist-addd", "--method", "cl-ste"],
            "unknown task 'mnist-addd' (did you mean 'mnist-add'?)",
        ),
        (["run", "--task", "mnist-add", "--method", "cl-stee"], "unknown method 'cl-stee'"),
        (["run", "--task", "mnist-add", "--method", "cl-ste", "--hp", "w_cnf"], "expected KEY=VALUE"),
        (
            [
                "run",
                "--task",
                "mnist-add",
                "--method",
                "cl-ste",
                "--hp",
                "ste=foo",
                "--tp",
                "n_pairs=8",
                "--device",
                "cpu",
            ],
            "ste='foo' unknown",
        ),
        (
            ["run", "--task", "mnist-add", "--method", "cl-ste", "--mnist-dir", "/nonexistent/mnist"],
            "no such directory",
        ),
        (["run", "--task", "mnist-add", "--method", "cl-ste", "--epochs", "0"], "epochs and batch size must be >= 1"),
        (["run", "--task", "mnist-add", "--method", "cl-ste", "--device", "cuda"], "CUDA is not available"),
        (["run", "--task", "mnist-add"], "the following arguments are required: --method"),
        (["report", "--results", "/nonexistent/results", "--out", "x.md"], "results directory not found"),
        (["bench", "--suite", "nope"], "unknown suite 'nope'"),
        (
            ["report", "--results", "/nonexistent/results", "--out", "x.md", "--format", "md,docx"],
            "unknown format 'docx'",
        ),
        (["compare", "/nonexistent/a", "/nonexistent/b"], "results directory not found"),
        (["report", "--results", "/nonexistent/results", "--out", "x.md", "--stat", "mode"], "invalid choice: 'mode'"),
    ],
)
def test_user_errors_are_one_line(tmp_path, monkeypatch, capsys, args, fragment):
    if "--results" not in args and args[0] == "run":
        args = args + ["--results", str(tmp_path)]
    monkeypatch.chdir(tmp_path)
    code, out, err = cli_here(capsys, *args)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_mnist_dir_is_named(tmp_path, capsys):
    d = tmp_path / "mnist"
    d.mkdir()
    (d / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    code, _, err = cli_here(
        capsys,
        "run",
        "--task",
        "mnist-add",
        "--method",
        "supervised",
        "--mnist-dir",
        str(d),
        "--results",
        str(tmp_path / "r"),
    )
    assert code == 2 and "train-images-idx3-ubyte.gz" in err and "Traceback" not in err


def test_list_and_tiny_run_and_report(tmp_path):
    code, out, _ = cli("list")
    assert code == 0 and "cl-ste-v1" in out and "mnist-add-v1" in out
    code, out, err = cli(
        "run",
        "--task",
        "mnist-add",
        "--method",
        "cl-ste",
        "--seeds",
        "0",
        "1",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--tp",
        "n_pairs=16",
        "--hp",
        "w_cnf=3",
        "--device",
        "cpu",
        "--results",
        str(tmp_path),
    )
    assert code == 0, err
    assert out.count("epoch 1/1") == 2
    code, out, err = cli("report", "--results", str(tmp_path), "--out", str(tmp_path / "r.md"), "--format", "md,tex")
    assert code == 0, err
    assert "| CL-STE " in (tmp_path / "r.md").read_text() and "\\toprule" in (tmp_path / "r.tex").read_text()
    assert not (tmp_path / "r.html").exists()
    # the cells as the median and quartiles of the two seeds
    code, _, err = cli(
        "report", "--results", str(tmp_path), "--out", str(tmp_path / "m.md"), "--format", "md", "--stat", "median"
    )
    assert code == 0, err
    assert re.search(r"\| \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] \(2\)", (tmp_path / "m.md").read_text())
