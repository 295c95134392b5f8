"""The suite runner's run processes (harness.launcher): forks of a preloaded server that behave as a
fresh ``nesybench`` process would: exit status, working directory, environment, streams."""

import os

from harness.launcher import RunProcess


def test_exit_status_and_last_stderr_line_of_a_crash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proc = RunProcess(["run-one", "--config", "missing.json", "--results", "r"])
    try:
        code = proc.wait(120)
    finally:
        proc.close()
    assert code == 1  # an uncaught error, as the interpreter exits on it
    assert "FileNotFoundError" in proc.last_line and "missing.json" in proc.last_line


def test_user_error_exit_2_sees_the_runners_environment_and_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NESYBENCH_MNIST_DIR", str(tmp_path / "nowhere"))
    proc = RunProcess(["run", "--task", "mnist-add", "--method", "supervised", "--epochs", "1", "--results", "r"])
    try:
        code = proc.wait(120)
    finally:
        proc.close()
    assert code == 2
    assert "nowhere" in proc.last_line  # the run read the variable set in this process after the server started
    assert "nowhere" in capsys.readouterr().err  # and its standard error came through this process's stream
    assert not os.path.exists(tmp_path / "r" / "mnist-add")  # a user error writes no row


def test_kill_ends_a_sleeping_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plugin = tmp_path / "sleepy.py"
    plugin.write_text("import time\ntime.sleep(600)\n")
    proc = RunProcess(["list", "--plugin", str(plugin)])
    try:
        assert proc.wait(3) is None  # still sleeping in the plug-in's import
        proc.kill()
        assert proc.wait(10) == -9
    finally:
        proc.close()
