"""Ctrl-C during a run: the re-run says it restarts it, and the report does not note the interruption
of a run that later finished."""

import logging

import pytest

from harness import records
from harness.loop import RunConfig, run
from harness.report import write_report


def test_rerun_after_ctrl_c_says_it_restarts_and_the_report_notes_nothing(tmp_path, monkeypatch, caplog):
    from tasks.mnist_add import MnistAdd

    orig = MnistAdd.evaluate
    calls = {"n": 0}

    def interrupted_once(self, net, device):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C during epoch 2's evaluation
        return orig(self, net, device)

    monkeypatch.setattr(MnistAdd, "evaluate", interrupted_once)
    cfg = RunConfig("mnist-add", "supervised", epochs=2, batch_size=8, tp={"n_pairs": 16}, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        run(cfg, str(tmp_path))
    killed = [r for r in records.iter_rows(str(tmp_path)) if r["status"] == "killed"]
    assert len(killed) == 1 and killed[0]["error"] == "interrupted (KeyboardInterrupt) during eval"
    text = write_report(str(tmp_path), str(tmp_path / "a.md"), plots=False)
    assert "| 1 incomplete " in text and "interrupted (KeyboardInterrupt)" in text  # an unfinished run: noted
    with caplog.at_level(logging.WARNING, logger="nesybench"):
        row = run(cfg, str(tmp_path))
    assert row["status"] == "ok" and row["epoch"] == 2
    assert any("restarting run" in m and "from epoch 1" in m and "interrupted" in m for m in caplog.messages)
    text = write_report(str(tmp_path), str(tmp_path / "b.md"), plots=False)
    assert "| 1 ok " in text and "interrupted" not in text and "KeyboardInterrupt" not in text


def test_a_run_being_written_by_another_live_process_is_refused_in_one_line(tmp_path, capsys):
    """Two invocations of one run into one results directory: the second is refused before it
    starts (the first one's rows are not set aside); a lock whose process has ended is stale."""
    import os
    import subprocess
    import sys

    from harness.cli import main
    from harness.loop import RunConfig, run_identity

    cfg = RunConfig("mnist-add", "cl-ste", epochs=1, tp={"n_pairs": 8}, device="cpu")
    writer = run_identity(cfg, str(tmp_path)).writer
    os.makedirs(writer.dir)
    os.makedirs(os.path.dirname(writer.lock))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket

        with open(writer.lock, "w") as f:
            f.write(f"{socket.gethostname()} {other.pid} 2026-01-01T00:00:00\n")
        with open(writer.part, "w") as f:
            f.write('{"epoch": 1}\n')
        argv = [
            "run",
            "--task",
            "mnist-add",
            "--method",
            "cl-ste",
            "--tp",
            "n_pairs=8",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--results",
            str(tmp_path),
        ]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"is being written by process {other.pid}" in err, err
        assert os.path.exists(writer.part) and not writer.interrupted()  # the other run's rows untouched
    finally:
        other.kill()
        other.wait()
    assert main(argv) == 0  # its process has ended: the lock is stale, the .part is set aside
    assert writer.finished() and len(writer.interrupted()) == 1 and not os.path.exists(writer.lock)
