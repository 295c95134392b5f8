"""A method written outside the repository runs with --plugin: checks and a suite."""
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_out_of_tree_method_passes_checks_and_runs_in_a_suite(tmp_path):
    plugin = tmp_path / "my_method.py"
    shutil.copy(os.path.join(REPO, "examples", "my_method.py"), plugin)
    env = {**os.environ, "CI": "1"}
    p = subprocess.run([sys.executable, "-m", "harness", "check", "--plugin", str(plugin), "--method", "clause-hinge",
                        "--task", "mnist-add"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "8 checks: 8 passed, 0 failed, 0 skipped" in p.stdout  # 5 method checks, 3 task checks
    p = subprocess.run([sys.executable, "-m", "harness", "bench", "--suite", "smoke", "--plugin", str(plugin),
                        "--add-method", "clause-hinge", "--results", str(tmp_path / "r"), "--out",
                        str(tmp_path / "r.md")], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    text = (tmp_path / "r.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| task "))  # the summary table's
    assert "clause-hinge" in header and "| clause-hinge " in text.split("## Details")[1]


def test_the_example_task_passes_every_check(tmp_path):
    """examples/my_task.py (docs/adding-a-task.md) passes the task's checks and every built-in method's."""
    p = subprocess.run([sys.executable, "-m", "harness", "check", "--plugin", "examples/my_task.py", "--task",
                        "mnist-mul"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    for method in ("cl-ste", "semantic-loss", "deepproblog", "neurasp", "fuzzy", "ltn", "supervised"):
        assert f"zero_on_gold                       {method} on mnist-mul" in p.stdout
    assert "tiny_run_offline                   task mnist-mul" in p.stdout and " 0 failed" in p.stdout
