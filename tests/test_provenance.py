"""Provenance: run ids cover every local module a plug-in imports; rows are read through one schema."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from harness import records
from harness.errors import UserError
from harness.loop import RunConfig, run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

IDS = """
import sys
from harness.loop import RunConfig, run_identity


def ids():
    for t, m in [("mnist-add", "fuzzy"), ("mnist-add", "semantic-loss"), ("mnist-add", "cl-ste")]:
        i = run_identity(RunConfig(t, m, device="cpu"), sys.argv[1])
        print(t, m, i.run_id, i.key["task_hash"], i.key["method_hash"], i.key["loop_hash"])


ids()
for edit in sys.argv[2:]:  # edit each file in turn, then compute the ids again (from the files' text)
    path, text = edit.split("::", 1)
    with open(path, "a") as f:
        f.write(text)
    print("--")
    ids()
"""
CODE = "\n_EDITED = 1\n"  # an edit that changes what the module does
COMMENT = "\n# a comment\n"


def _ids_after_edits(root, results, edits):
    """The run ids before and after each edit (``path::appended text``), in one process:
    [{(task, method): [run_id, task_hash, method_hash, loop_hash]}]."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    p = subprocess.run(
        [sys.executable, "-c", IDS, str(results), *map(str, edits)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return [
        {tuple(line.split()[:2]): line.split()[2:] for line in block.strip().splitlines()}
        for block in p.stdout.split("--\n")
    ]


def _copy_repo(tmp_path):
    root = tmp_path / "repo"
    for pkg in ("harness", "methods", "tasks"):
        shutil.copytree(os.path.join(REPO, pkg), root / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_editing_a_helper_module_changes_the_run_id(tmp_path):
    root = _copy_repo(tmp_path)
    # the MNIST network (part of every mnist-add run); the semantic loss's compiler only;
    # derived-atom evaluation (fuzzy and cl-ste use it)
    before, after_nets, after_sdd, after_atoms = _ids_after_edits(
        root,
        tmp_path / "r",
        [
            f"{root / 'tasks' / 'nets.py'}::{CODE}",
            f"{root / 'methods' / '_sdd' / 'compile.py'}::{CODE}",
            f"{root / 'harness' / 'atoms.py'}::{CODE}",
        ],
    )
    assert not (tmp_path / "r").exists()  # computing an id writes nothing
    for k in before:
        assert after_nets[k][0] != before[k][0] and after_nets[k][1] != before[k][1]
        assert after_nets[k][2] == before[k][2]  # the methods do not import it
    assert after_sdd[("mnist-add", "semantic-loss")][2] != after_nets[("mnist-add", "semantic-loss")][2]
    assert after_sdd[("mnist-add", "cl-ste")] == after_nets[("mnist-add", "cl-ste")]
    assert after_atoms[("mnist-add", "fuzzy")][2] != after_sdd[("mnist-add", "fuzzy")][2]
    assert after_atoms[("mnist-add", "cl-ste")][2] != after_sdd[("mnist-add", "cl-ste")][2]


def test_the_training_loop_is_in_every_run_id_and_comments_are_not(tmp_path):
    """A behaviour edit of harness/loop.py changes every run id (through ``loop_hash``), not the task's
    or the method's hash; a comment in the loop or in a task's module changes none."""
    root = _copy_repo(tmp_path)
    loop, nets = root / "harness" / "loop.py", root / "tasks" / "nets.py"
    before, comment_loop, comment_nets, behaviour = _ids_after_edits(
        root, tmp_path / "r", [f"{loop}::{COMMENT}", f"{nets}::{COMMENT}", f"{loop}::{CODE}"]
    )
    assert comment_loop == before and comment_nets == before
    assert len(before) == 3
    for k in before:
        assert behaviour[k][0] != before[k][0] and behaviour[k][3] != before[k][3]
        assert behaviour[k][1:3] == before[k][1:3]


def test_docstrings_comments_and_layout_do_not_count_as_code(tmp_path):
    from harness.provenance import normalized_code

    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text('"""Module doc."""\nimport os\n\n\ndef f(x):\n    """Doc."""\n    return os.sep + \'x\'  # why\n')
    b.write_text('import os\ndef f(x):\n    return (os.sep\n            + "x")\n')
    c.write_text("import os\ndef f(x):\n    return os.sep + 'y'\n")
    assert normalized_code(str(a)) == normalized_code(str(b)) == "import os\n\ndef f(x):\n    return os.sep + 'x'"
    assert normalized_code(str(c)) != normalized_code(str(a))


def test_rows_record_files_modules_and_training_loss(tmp_path):
    row = run(RunConfig("mnist-add", "cl-ste", epochs=2, batch_size=8, tp={"n_pairs": 16}, device="cpu"), str(tmp_path))
    assert row["method_file"] == os.path.join("methods", "cl_ste", "method.py")
    assert row["task_file"] == os.path.join("tasks", "mnist_add.py")
    assert os.path.join("harness", "atoms.py") in row["method_modules"]
    assert os.path.join("tasks", "nets.py") in row["task_modules"]
    rows = list(records.iter_rows(str(tmp_path)))
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(isinstance(r["train_loss"], float) and r["train_loss"] > 0 for r in rows)
    assert rows[0]["schema_version"] == records.SCHEMA_VERSION


def test_plugin_file_path_is_recorded(tmp_path):
    plugin = tmp_path / "my_method.py"
    shutil.copy(os.path.join(REPO, "examples", "my_method.py"), plugin)
    from harness.registry import load_plugin

    load_plugin(str(plugin))
    row = run(
        RunConfig("mnist-add", "clause-hinge", epochs=1, batch_size=8, tp={"n_pairs": 16}, device="cpu"),
        str(tmp_path / "r"),
    )
    assert row["method_file"] == str(plugin)
    assert str(plugin) in row["method_modules"]


def test_old_rows_are_upgraded_and_newer_ones_refused(tmp_path):
    old = {"run_id": "x", "task": "mnist-add", "status": "ok", "epoch": 1}  # schema 1 wrote no version
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(old) + "\n" + json.dumps({**old, "schema_version": 1}) + "\n{cut")
    rows = records.read_rows(str(path))
    assert len(rows) == 2
    assert all(r["schema_version"] == records.SCHEMA_VERSION and r["train_loss"] is None for r in rows)
    assert all(r["lr_schedule"] == "constant" for r in rows)  # schema 3: rows before schedules were constant
    path.write_text(json.dumps({**old, "schema_version": records.SCHEMA_VERSION + 1}) + "\n")
    with pytest.raises(
        UserError,
        match=rf"a.jsonl, line 1: written with row schema {records.SCHEMA_VERSION + 1}, "
        rf"this nesybench reads up to {records.SCHEMA_VERSION}",
    ):
        records.read_rows(str(path))


def test_report_refuses_rows_of_a_newer_schema_in_one_line(tmp_path):
    d = tmp_path / "r" / "mnist-add" / "cl-ste"
    d.mkdir(parents=True)
    (d / "x.jsonl").write_text(json.dumps({"schema_version": 99, "run_id": "x"}) + "\n")
    p = subprocess.run(
        [sys.executable, "-m", "harness", "report", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "r.md")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "written with row schema 99" in p.stderr and not (tmp_path / "r.md").exists()
