"""The suite runner: budgets stop a hanging method, SIGKILL loses no finished epoch, resume."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

PLUGIN = '''
import time
import torch
from harness.api import Method
from harness.registry import register_method
from harness.suites import Entry, Suite, register_suite


@register_method
class Sleeper(Method):
    """Sleeps forever in set-up: the suite must stop it at its budget."""
    key = "sleeper"
    hparams = {}

    def prepare(self, constraint, device):
        while True:
            time.sleep(1)

    def loss(self, outputs, batch):
        return sum(o.sum() for o in outputs.values()) * 0.0


@register_method
class Aborter(Method):
    """Dies in set-up the way a C library does when memory is refused: a message, then exit."""
    key = "aborter"
    hparams = {}

    def prepare(self, constraint, device):
        import os, sys
        sys.stderr.write("calloc failed in new_sdd_manager\\n")
        sys.stderr.flush()
        os._exit(1)

    def loss(self, outputs, batch):
        return sum(o.sum() for o in outputs.values()) * 0.0


def _suite(name, *entries):
    register_suite(Suite(name=name, description="a test suite", entries=list(entries)))


_suite("t-abort", Entry(task="mnist-add", tp={"n_pairs": 32}, methods=[("aborter", {}), ("supervised", {})], seeds=[0],
                        epochs=1, batch_size=8))
_suite("t-budget", Entry(task="mnist-add", tp={"n_pairs": 32}, methods=[("sleeper", {})], seeds=[0, 1, 2], epochs=1,
                         batch_size=8, setup_budget=3.0, run_budget=60.0),
       Entry(task="mnist-add", tp={"n_pairs": 32}, methods=[("supervised", {})], seeds=[0], epochs=1, batch_size=8))
_suite("t-kill", Entry(task="mnist-add", tp={"n_pairs": 400}, methods=[("supervised", {})], seeds=[0, 1], epochs=3,
                       batch_size=8))
'''


def _bench(tmp_path, suite, **kw):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "bench",
        "--suite",
        suite,
        "--plugin",
        str(plugin),
        "--results",
        str(tmp_path / "runs"),
        "--out",
        str(tmp_path / "report.md"),
    ]
    return cmd, {**os.environ, "CI": "1"}


def _finished(tmp_path):
    """Published run files: <16 hex digits>.jsonl (not .part, .killed.jsonl or .failed.jsonl)."""
    return [
        f
        for f in glob.glob(str(tmp_path / "runs" / "**" / "*.jsonl"), recursive=True)
        if re.fullmatch(r"[0-9a-f]{16}\.jsonl", os.path.basename(f))
    ]


def _rows(tmp_path):
    out = []
    for path in glob.glob(str(tmp_path / "runs" / "**" / "*.jsonl*"), recursive=True):
        out += [dict(json.loads(line), _file=os.path.basename(path)) for line in open(path) if line.strip()]
    return out


def test_method_sleeping_in_setup_is_a_timeout_and_the_suite_goes_on(tmp_path):
    cmd, env = _bench(tmp_path, "t-budget")
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = _rows(tmp_path)
    sleeper = sorted((r for r in rows if r["method"] == "sleeper"), key=lambda r: r["seed"])
    assert [r["status"] for r in sleeper] == ["timeout"] * 3 and all(r["timeout_phase"] == "setup" for r in sleeper)
    assert 3.0 <= sleeper[0]["seconds_reached"] < 30 and "not_run" not in sleeper[0]
    # the set-up does not depend on the seed: seeds 1 and 2 are recorded as the same timeout, not run
    assert all(r["not_run"] and r["timeout_seed"] == 0 and "seconds_reached" not in r for r in sleeper[1:])
    assert p.stdout.count("not run, recorded as timeout") == 2
    assert [r["status"] for r in rows if r["method"] == "supervised"] == ["ok"]
    report = (tmp_path / "report.md").read_text()
    assert "| sleeper " in report and "| 3 T/O " in report  # three seeds, each a timeout
    assert "T/O (3 s)" in report  # the summary cell names the set-up budget
    assert time.monotonic() - t0 < 240


def test_child_dying_without_a_row_is_recorded_as_failed_with_its_last_message(tmp_path):
    cmd, env = _bench(tmp_path, "t-abort")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr  # a failed run makes the suite's exit status 1
    rows = {r["method"]: r for r in _rows(tmp_path)}
    assert rows["supervised"]["status"] == "ok"  # the suite went on
    dead = rows["aborter"]
    assert dead["status"] == "failed" and dead["final"] and dead["_file"].endswith(".jsonl")
    assert "exit code 1" in dead["error"] and "calloc failed in new_sdd_manager" in dead["error"]
    assert "calloc failed" in p.stderr  # the child's standard error still reaches the user
    # a finished (failed) run is not started again
    p2 = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert (
        "2 of 2 runs already finished" in p2.stdout
        and len([r for r in _rows(tmp_path) if r["method"] == "aborter"]) == 1
    )


def test_sigkill_mid_suite_loses_no_epoch_and_repeats_no_run(tmp_path):
    cmd, env = _bench(tmp_path, "t-kill")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + 240
    finished = []
    while time.monotonic() < deadline and proc.poll() is None:  # kill once one run is published and another has epochs
        finished = _finished(tmp_path)
        parts = glob.glob(str(tmp_path / "runs" / "**" / "*.jsonl.part"), recursive=True)
        if finished and parts and any(os.path.getsize(p) > 0 for p in parts):
            break
        time.sleep(0.2)
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its child, mid-run
    proc.wait()
    assert alive, "the runner ended before it was killed"
    assert finished, "no run finished in time"
    time.sleep(1.0)  # the child dies with the runner (PR_SET_PDEATHSIG)
    finished = _finished(tmp_path)
    before = {f: open(f).read() for f in finished}
    killed_epochs = [r for r in _rows(tmp_path) if r["_file"].endswith(".part")]
    assert killed_epochs, "the killed run had finished epochs"

    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    for f, text in before.items():  # finished runs untouched, not repeated
        assert open(f).read() == text
    assert f"{len(before)} of 2 runs already finished" in p.stdout
    rows = _rows(tmp_path)
    final = [r for r in rows if r["_file"].endswith(".jsonl") and "killed" not in r["_file"]]
    assert sorted({r["seed"] for r in final}) == [0, 1]
    assert all(sum(1 for r in final if r["seed"] == s and r["epoch"] == 3) == 1 for s in (0, 1))
    kept = [r for r in rows if "killed" in r["_file"]]  # the killed attempt's epochs are kept aside
    assert [r["epoch"] for r in kept] == [r["epoch"] for r in killed_epochs]
