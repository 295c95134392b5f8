"""Plug-ins written outside the repository, the whole way through: checks, a suite with an added
method and an added task, reports with and without the plug-ins, and a published folder."""

import os
import re
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "CI": "1", "PYTHONPATH": REPO},
        timeout=600,
    )


def _summary(path):
    text = open(path).read()
    return text.split("## Details")[0].split("| task ", 1)[1].split("\n\n")[0]


def test_out_of_tree_method_and_task_run_in_a_suite_and_publish_with_their_files(tmp_path):
    method, task = tmp_path / "my_method.py", tmp_path / "my_task.py"
    shutil.copy(os.path.join(REPO, "examples", "my_method.py"), method)
    shutil.copy(os.path.join(REPO, "examples", "my_task.py"), task)
    p = _cli("check", "--plugin", str(method), "--method", "clause-hinge", "--task", "mnist-add", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "9 checks: 9 passed, 0 failed, 0 skipped" in p.stdout  # 5 method checks, 4 task checks
    plugins = ["--plugin", str(method), "--plugin", str(task)]
    p = _cli(
        "bench",
        "--suite",
        "smoke",
        *plugins,
        "--add-method",
        "clause-hinge",
        "--add-task",
        "mnist-mul",
        "--results",
        str(tmp_path / "r"),
        "--out",
        str(tmp_path / "r.md"),
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    text = (tmp_path / "r.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| task "))  # the summary table's
    assert "clause-hinge" in header and "| clause-hinge " in text.split("## Details")[1]
    assert re.search(r"\| mnist-mul +\| prod_acc +\|", text)  # the plug-in task's headline metric
    assert "predicts one class for all images (digit always 0)" in text  # CL-STE's collapse on products

    # the rows render the same with the plug-ins, without them, and from the published folder
    for args, out in ((plugins, "with.md"), ([], "without.md")):
        p = _cli(
            "report",
            *args,
            "--results",
            str(tmp_path / "r"),
            "--out",
            str(tmp_path / out),
            "--format",
            "md",
            "--strict",
            cwd=tmp_path,
        )
        assert p.returncode == 0, p.stderr
    assert _summary(tmp_path / "with.md") == _summary(tmp_path / "without.md") == _summary(tmp_path / "r.md")
    p = _cli(
        "publish",
        *plugins,
        "--results",
        str(tmp_path / "r"),
        "--suite",
        "smoke",
        "--dest",
        str(tmp_path / "pub"),
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    (folder,) = [tmp_path / "pub" / d for d in os.listdir(tmp_path / "pub")]
    for f in (method, task):
        assert (folder / "plugins" / f.name).read_text() == f.read_text()
        assert f"[plugins/{f.name}](plugins/{f.name}) (from `{f}`)" in (folder / "README.md").read_text()
    assert _summary(folder / "report.md") == _summary(tmp_path / "r.md")


def test_check_finds_a_headline_metric_that_evaluate_does_not_return(tmp_path):
    p = _cli(
        "check",
        "--plugin",
        os.path.join(REPO, "tests", "plugins", "metric_typo.py"),
        "--task",
        "member-typo",
        "--method",
        "supervised",
        cwd=tmp_path,
    )
    assert p.returncode == 1
    line = next(ln for ln in p.stdout.splitlines() if "main_metric_reported" in ln)
    assert line.startswith("failed") and "main_metric is 'member_accuracy', but evaluate() returns digit_acc" in line


def test_the_example_task_passes_every_check(tmp_path):
    """examples/my_task.py (docs/adding-a-task.md) passes the task's checks and every built-in method's."""
    p = subprocess.run(
        [sys.executable, "-m", "harness", "check", "--plugin", "examples/my_task.py", "--task", "mnist-mul"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    for method in ("cl-ste", "semantic-loss", "deepproblog", "neurasp", "fuzzy", "ltn", "supervised"):
        assert f"zero_on_gold                       {method} on mnist-mul" in p.stdout
    assert "tiny_run_offline                   task mnist-mul" in p.stdout and " 0 failed" in p.stdout
