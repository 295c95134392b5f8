"""Errors a researcher can act on: a crash names the plug-in's file and line and keeps its
traceback in the failed row (``--debug`` prints it), a broken loss contract names the method and
``nesybench check``, and a plug-in key that collides with a built-in names both files."""

import glob
import json
import os
import shutil

import pytest

from harness.cli import main

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")
PLUGIN = ""
# the plug-in's line that raises the KeyError
KEY_LINE = next(
    i for i, line in enumerate(open(os.path.join(HERE, "broken_methods.py")), start=1) if '"no_such_key"' in line
)


@pytest.fixture(scope="module", autouse=True)
def outside(tmp_path_factory):
    """The plug-ins as a user has them: files outside the repository."""
    global PLUGIN
    d = tmp_path_factory.mktemp("plugins")
    for name in ("broken_methods.py", "takes_cl_ste.py"):
        shutil.copy(os.path.join(HERE, name), d)
    PLUGIN = str(d / "broken_methods.py")
    return d


def _run(method, results, *extra):
    return main(
        [
            "run",
            "--plugin",
            PLUGIN,
            "--task",
            "mnist-add",
            "--method",
            method,
            "--tp",
            "n_pairs=16",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--results",
            str(results),
            "--quiet",
            *extra,
        ]
    )


def _failed_row(results, method):
    (path,) = glob.glob(str(results / "mnist-add" / method / "*.failed.jsonl"))
    return json.loads(open(path).read().splitlines()[-1])


def test_a_crash_in_a_plugin_names_its_file_and_line_and_keeps_the_traceback(tmp_path, capsys):
    assert _run("missing-key", tmp_path) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "KeyError: 'no_such_key'" in err[0] and f"{PLUGIN}, line {KEY_LINE}, in prepare" in err[0]
    assert "--debug prints it" in err[0]
    row = _failed_row(tmp_path, "missing-key")
    assert row["status"] == "failed" and row["error_at"] == f"{PLUGIN}, line {KEY_LINE}, in prepare"
    assert 'table["no_such_key"]' in row["traceback"] and row["traceback"].rstrip().endswith("KeyError: 'no_such_key'")

    assert _run("missing-key", tmp_path / "again", "--debug") == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and f'File "{PLUGIN}", line {KEY_LINE}' in err


def test_a_loss_that_breaks_the_contract_names_the_method_and_check(tmp_path, capsys):
    for method, got in (("float-loss", "returned a float"), ("per-example-loss", "a tensor of shape (8,)")):
        assert _run(method, tmp_path) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"method {method}: loss() {got}" in err[0].replace(
            "loss() returned a tensor", "loss() a tensor"
        ), err
        assert f"'nesybench check --plugin {PLUGIN} --method {method}'" in err[0]
        assert "0-dim tensor that requires grad" in _failed_row(tmp_path, method)["error"]


def test_a_plugin_key_taken_by_a_builtin_is_one_line_naming_both_files(tmp_path, capsys):
    plugin = os.path.join(os.path.dirname(PLUGIN), "takes_cl_ste.py")
    assert (
        main(["run", "--plugin", plugin, "--task", "mnist-add", "--method", "cl-ste", "--results", str(tmp_path)]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"method key 'cl-ste' of MyClSte in {plugin}" in err[0] and "methods/cl_ste/method.py" in err[0]
    assert not os.listdir(tmp_path)
