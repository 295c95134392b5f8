"""Every mistake a user can correct is found before a run starts: one line, exit 2, no result row."""

import os
import subprocess
import sys

import pytest

from harness.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = ["run", "--task", "mnist-add", "--method", "cl-ste", "--tp", "n_pairs=8", "--epochs", "1", "--device", "cpu"]


def files_under(root):
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]


def one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("nesybench: error: "), err
    return err


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "pairs.txt").write_text("0 1\n")  # mnist-add needs i_1 i_2 sum
    (tmp_path / "pairs_sum.txt").write_text("0 1 99\n")
    (tmp_path / "path.data").write_text("garbage\n")
    (tmp_path / "member.txt").write_text("1 2\n")
    (tmp_path / "sudoku.csv").write_text("quizzes,solutions\n123,456\n")
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (mnist / name).write_bytes(b"\x00\x00\x08\x03" + bytes(12) + b"garbage")
    (tmp_path / "a-file").write_text("not a directory")
    return tmp_path


CASES = {
    "hp choice": (RUN + ["--hp", "ste=bp-istee"], "ste='bp-istee' unknown (did you mean 'bp-iste'?)"),
    "hp type": (RUN + ["--hp", "w_cnf=abc"], "w_cnf='abc' is not a valid float"),
    "hp unknown": (RUN + ["--hp", "w_cnff=1"], "unknown hyper-parameter 'w_cnff'"),
    "tp type": (RUN + ["--tp", "digits=two"], "digits='two' is not a valid int"),
    "pairs_file fields": (RUN + ["--tp", "pairs_file={d}/pairs.txt"], "expected 3 fields"),
    "pairs_file sum": (RUN + ["--tp", "pairs_file={d}/pairs_sum.txt"], "row 1: sum 99 disagrees"),
    "mnist corrupt": (RUN + ["--mnist-dir", "{d}/mnist"], "is corrupt: header says"),
    "shortest-path data_file": (
        ["run", "--task", "shortest-path", "--method", "cl-ste", "--tp", "data_file={d}/path.data"],
        "expected 'removed,terminals,path[,...]'",
    ),
    "member data_file": (
        ["run", "--task", "member", "--method", "cl-ste", "--tp", "data_file={d}/member.txt"],
        "expected 5 fields",
    ),
    "sudoku data_file": (
        ["run", "--task", "sudoku", "--method", "cl-ste", "--tp", "data_file={d}/sudoku.csv"],
        "sudoku.csv",
    ),
    "threads 0": (RUN + ["--threads", "0"], "argument --threads: must be >= 1, got 0"),
    "results is a file": (
        ["run", "--task", "mnist-add", "--method", "cl-ste", "--results", "{d}/a-file"],
        "is a file, not a directory",
    ),
    "data-dir without =": (RUN + ["--data-dir", "clste"], "expected NAME=DIR"),
    "seed list": (RUN + ["--seeds", "0", "x"], "argument --seeds: invalid int value"),
    "lr schedule": (RUN + ["--lr-schedule", "cosin"], "unknown lr schedule 'cosin' (did you mean 'cosine'?)"),
    "negative seed": (RUN + ["--seeds", "0", "-1"], "seed -1: seeds are whole numbers from 0 to"),
    "save-models is a file": (RUN + ["--save-models", "{d}/a-file"], "--save-models {d}/a-file: is a file"),
    "save-models under a file": (RUN + ["--save-models", "{d}/a-file/models"], "a-file is a file, so the directory"),
    "task size beyond its bounds": (
        ["run", "--task", "member", "--method", "cl-ste", "--tp", "n=12"],
        "task member: task parameter n=12 is outside what it supports (1..9)",
    ),
    "report --out a directory": (["report", "--results", "{d}", "--out", "{d}"], "is a directory; give a file name"),
    "bench --out under a file": (["bench", "--suite", "smoke", "--out", "{d}/a-file/r.md"], "a-file is a file"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_writes_nothing(capsys, bad_files, case):
    argv, fragment = CASES[case]
    argv = [a.format(d=bad_files) for a in argv]
    if "--results" not in argv:
        argv += ["--results", str(bad_files / "results")]
    err = one_line_error(capsys, argv)
    assert fragment.format(d=bad_files) in err
    assert files_under(bad_files / "results") == []


def test_bench_refuses_an_add_method_typo_before_the_first_run(capsys, tmp_path):
    err = one_line_error(
        capsys, ["bench", "--suite", "smoke", "--add-method", "cl-stee", "--results", str(tmp_path / "r"), "--quiet"]
    )
    assert "unknown method 'cl-stee' (did you mean 'cl-ste'?)" in err
    assert files_under(tmp_path) == []


def _cli(*args, cwd):
    p = subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": REPO},
        timeout=300,
    )
    return p.returncode, p.stderr.strip()


def test_plugins_that_do_not_import_and_a_results_file_are_one_line(tmp_path):
    (tmp_path / "syntax.py").write_text("import torch\n\ndef broken(:\n    pass\n")
    (tmp_path / "imports.py").write_text("import torch\nimport no_such_package_here\n")
    (tmp_path / "raises.py").write_text("x = 1\nraise RuntimeError('boom')\n")
    (tmp_path / "rows").write_text("a file")
    expected = {
        ("check", "--plugin", "syntax.py"): "plug-in syntax.py: syntax error at",
        ("list", "--plugin", "imports.py"): "ModuleNotFoundError: No module named 'no_such_package_here'",
        ("list", "--plugin", "raises.py"): "plug-in raises.py failed to import (line 2): RuntimeError: boom",
        ("bench", "--suite", "smoke", "--results", "rows"): "--results rows: is a file",
    }
    for args, fragment in expected.items():
        code, err = _cli(*args, cwd=tmp_path)
        assert code == 2 and len(err.splitlines()) == 1 and fragment in err, (args, err)


def test_help_lists_every_command_with_help_and_a_version(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "SUPPRESS" not in out and "run-one" not in out
    for cmd in ("list", "run", "bench", "publish", "check", "eval", "report"):
        assert f"    {cmd} " in out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("nesybench ")
    from harness.cli import _parser

    for action in _parser()._subparsers._group_actions[0].choices.values():
        for opt in action._actions:
            assert opt.help, f"{action.prog} {opt.option_strings}: no help text"
