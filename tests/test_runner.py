"""What both executors of a suite share (harness.runner): a run's process started from its spec, the
not-run rule and its row, attempts set aside under names that never collide."""

import os

from harness import records
from harness.launcher import RunProcess
from harness.loop import RunConfig, run_identity
from harness.runner import RunSpec, SetupTimeouts, not_run_row, run_in_process


def test_a_run_process_starts_from_its_spec_and_says_a_user_error_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = RunSpec(RunConfig("mnist-add", "no-such-method", epochs=1), str(tmp_path / "r"), suite="smoke")
    proc = RunProcess(run_in_process, spec)
    try:
        code = proc.wait(120)
    finally:
        proc.close()
    assert code == 2
    assert proc.last_line.startswith("nesybench: error: unknown method") and "no-such-method" in proc.last_line
    assert not os.path.exists(tmp_path / "r" / "mnist-add")


def test_the_not_run_rule_keeps_the_first_timeout_and_copies_its_budget(tmp_path):
    cfg = RunConfig("mnist-add", "supervised", seed=2, epochs=1, tp={"n_pairs": 16}, device="cpu")
    first = {
        "status": "timeout",
        "timeout_phase": "setup",
        "seed": 0,
        "error": "setup budget exceeded",
        "budget_seconds": 3.0,
        "timeout_budget": "setup",
        "budget_source": "suite t",
    }
    rule, key = SetupTimeouts(), SetupTimeouts.key(object(), cfg)
    assert not rule.note(key, {"status": "ok", "seed": 1}) and rule.first(key) is None
    assert rule.note(key, first)
    assert rule.note(key, {**first, "seed": 1}, earlier=True) and rule.first(key) is first  # found finished later
    ident = run_identity(cfg, str(tmp_path))
    row = not_run_row(cfg, ident, first, ("cpu", "x86"))
    assert row["status"] == "timeout" and row["not_run"] and row["final"] and row["epoch"] is None
    assert row["seed"] == 2 and row["timeout_seed"] == 0 and row["run_id"] == ident.run_id
    assert (row["budget_seconds"], row["timeout_budget"], row["budget_source"]) == (3.0, "setup", "suite t")
    assert row["device"] == "cpu" and row["device_name"] == "x86"
    assert row["error"].startswith("not run: the set-up of this configuration timed out at seed 0")


def test_attempts_set_aside_in_one_second_keep_distinct_names_read_as_set_aside(tmp_path):
    writer = records.RunWriter(str(tmp_path), "t", "m", "0123456789abcdef")
    os.makedirs(writer.dir)
    kept = []
    for epoch in (1, 2, 3):
        with open(writer.part, "w") as f:
            f.write(f'{{"epoch": {epoch}}}\n')
        kept.append(writer.set_aside("killed"))
    assert writer.set_aside("killed") is None  # no .part left
    assert len(set(kept)) == 3 and writer.interrupted() == sorted(kept)
    assert [records.file_state(p) for p in kept] == ["killed"] * 3
    assert sorted(open(p).read() for p in kept) == [f'{{"epoch": {e}}}\n' for e in (1, 2, 3)]
