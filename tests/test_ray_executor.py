"""The Ray executor on a local cluster (loopback only): same rows and resume as the local executor,
one retry of a lost worker, a killed driver, a stopped node. One head node serves every test; each
test stops what it started."""
import glob
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.ray,
              pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")]

RAY_BIN = os.path.join(os.path.dirname(sys.executable), "ray")
HEAD_IP, NODE_IP = "127.0.0.2", "127.0.0.3"  # loopback; Ray rewrites 127.0.0.1 to the network address
ENV = {**os.environ, "CI": "1", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
       "RAY_memory_monitor_refresh_ms": "0"}

PLUGIN = '''
import os, signal, time
from harness.api import Method
from harness.registry import register_method
from harness.suites import SUITES, Entry


def _zero(outputs):
    return sum(o.sum() for o in outputs.values()) * 0.0


@register_method
class Napper(Method):
    """Trains nothing, slowly: a run long enough to be interrupted."""
    key = "napper"
    hparams = {"nap": 0.3}

    def loss(self, outputs, batch):
        time.sleep(self.hp["nap"])
        return _zero(outputs)


@register_method
class WorkerKiller(Method):
    """At its second epoch kills the Ray worker running it, the first `kills` times (counted in a file)."""
    key = "worker-killer"
    hparams = {"dir": "", "kills": 0}

    def prepare(self, constraint, device):
        self.calls_ = 0

    def loss(self, outputs, batch):
        self.calls_ += 1
        if self.calls_ == 5:  # 4 steps an epoch: epoch 1's row is written
            path = os.path.join(self.hp["dir"], f"kills-{self.hp['kills']}")
            n = int(open(path).read()) if os.path.exists(path) else 0
            if n < self.hp["kills"]:
                open(path, "w").write(str(n + 1))
                time.sleep(1.5)  # the worker streams the row first
                os.kill(os.getppid(), signal.SIGKILL)
                time.sleep(60)
        return _zero(outputs)


@register_method
class Sleeper(Method):
    key = "sleeper"
    hparams = {}

    def prepare(self, constraint, device):
        while True:
            time.sleep(1)

    def loss(self, outputs, batch):
        return _zero(outputs)


T = {"n_pairs": 32}
SUITES["r-one"] = [Entry("mnist-add", T, [("supervised", {})], [0], 2, 8)]
SUITES["r-seed1"] = [Entry("mnist-add", T, [("supervised", {})], [1], 2, 8)]
SUITES["r-two"] = [Entry("mnist-add", T, [("supervised", {})], [0, 1], 2, 8),
                   Entry("mnist-add", T, [("sleeper", {})], [0, 1], 1, 8, setup_budget=2.0)]
SUITES["r-kill"] = [Entry("mnist-add", T, [("worker-killer", {"dir": os.environ.get("KILL_DIR", ""), "kills": k})
                                           for k in (1, 2)], [0], 2, 8)]
SUITES["r-slow"] = [Entry("mnist-add", T, [("napper", {})], [0, 1, 2], 3, 8)]
SUITES["r-spread"] = [Entry("mnist-add", T, [("napper", {"nap": 0.5})], [0, 1, 2, 3], 3, 8)]
'''


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args, log):
    """A `ray start --block` in its own process session (setsid); returns the process once its node is up."""
    out = open(log, "w")
    proc = subprocess.Popen([RAY_BIN, "start", "--block", "--disable-usage-stats", *args], stdout=out,
                            stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        text = open(log).read()
        if "Ray runtime started" in text:
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    _stop(proc)
    raise RuntimeError(f"ray start failed: {open(log).read()[-2000:]}")


def _stop(proc):
    """Kill a `ray start` and every process of its process session (raylet, workers, training children)."""
    sid = proc.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(p) for p, s in (line.split() for line in subprocess.run(
            ["ps", "-e", "-o", "pid=,sid="], capture_output=True, text=True).stdout.splitlines()) if int(s) == sid]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(1.0 if sig == signal.SIGTERM else 0)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node with 2 CPUs on a loopback address; yields its address."""
    tmp = tmp_path_factory.mktemp("ray")
    port = _free_port()
    head = _start(["--head", "--node-ip-address", HEAD_IP, "--port", str(port), "--num-cpus", "2",
                   "--include-dashboard=false", "--temp-dir", str(tmp)], str(tmp / "head.log"))
    try:
        yield f"{HEAD_IP}:{port}"
    finally:
        _stop(head)


def _cmd(tmp_path, suite, address=None, results="runs", *extra):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN)
    cmd = [sys.executable, "-m", "harness", "bench", "--suite", suite, "--plugin", str(plugin),
           "--results", str(tmp_path / results), "--out", str(tmp_path / results / "report.md"), *extra]
    if address:
        cmd += ["--executor", "ray", "--address", address]
    return cmd


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, env={**ENV, **kw}, timeout=600)


def _files(tmp_path, results="runs", pattern="*.jsonl*"):
    return sorted(glob.glob(str(tmp_path / results / "**" / pattern), recursive=True))


def _rows(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def _published(tmp_path, results="runs"):
    return [f for f in _files(tmp_path, results) if re.fullmatch(r"[0-9a-f]{16}\.jsonl", os.path.basename(f))]


def test_a_suite_started_locally_is_finished_on_ray_with_the_same_rows(cluster, tmp_path):
    p = _run(_cmd(tmp_path, "r-one"))  # the local executor: seed 0
    assert p.returncode == 0, p.stdout + p.stderr
    (seed0,) = _published(tmp_path)
    before = open(seed0).read()
    p = _run(_cmd(tmp_path, "r-two", cluster, "runs", "--max-parallel", "2"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 of 4 runs already finished" in p.stdout and open(seed0).read() == before
    assert re.search(r"\[ray 4/4 done, 0 running, 0 queued, 0 failed; .*\]", p.stdout)
    by = {(r["method"], r["seed"]): r for f in _published(tmp_path) for r in _rows(f)[-1:]}
    ray1 = by[("supervised", 1)]
    assert ray1["executor"] == "ray" and ray1["node_ip"] == HEAD_IP and ray1["concurrent_runs"] in (1, 2)
    assert ray1["git_commit"] == by[("supervised", 0)]["git_commit"]
    # the same budgets: the set-up timeout of seed 0 is seed 1's too, without running it
    s0, s1 = by[("sleeper", 0)], by[("sleeper", 1)]
    assert s0["status"] == s1["status"] == "timeout" and s0["timeout_phase"] == "setup" and 2.0 <= s0["seconds_reached"]
    assert s1["not_run"] and s1["timeout_seed"] == 0
    # the same run, locally: the same run id and metrics
    p = _run(_cmd(tmp_path, "r-seed1", None, "local"))
    assert p.returncode == 0, p.stdout + p.stderr
    (local1,) = [r for f in _published(tmp_path, "local") for r in _rows(f)[-1:]]
    assert local1["run_id"] == ray1["run_id"] and local1["metrics"] == ray1["metrics"]
    # and the local executor takes the runs Ray finished as finished
    p = _run(_cmd(tmp_path, "r-two"))
    assert p.returncode == 0 and "4 of 4 runs already finished" in p.stdout, p.stdout + p.stderr


def test_a_lost_worker_is_retried_once_then_the_run_is_failed_with_its_cause(cluster, tmp_path):
    p = _run(_cmd(tmp_path, "r-kill", cluster, "runs", "--max-parallel", "2"), KILL_DIR=str(tmp_path))
    assert p.returncode == 1, p.stdout + p.stderr  # a failed run: exit status 1, the suite completed
    assert (tmp_path / "runs" / "report.md").exists()
    runs = {}
    for f in _files(tmp_path):
        rows = _rows(f)
        runs.setdefault(rows[0]["hp"]["kills"], {})["killed" if ".killed." in f else "final"] = rows
    once, twice = runs[1], runs[2]
    # killed once: its first attempt's epoch is kept aside, the second attempt finished
    assert [r["epoch"] for r in once["killed"]] == [1] and [r["status"] for r in once["final"]] == ["ok", "ok"]
    # killed twice: failed with the cause; both attempts' finished epochs kept
    assert [r["epoch"] for r in twice["killed"]] == [1]
    assert [(r["epoch"], r["status"]) for r in twice["final"]] == [(1, "ok"), (None, "failed")]
    err = twice["final"][-1]["error"]
    assert "lost 2 times" in err and err.count("WorkerCrashedError") == 2, err


def test_a_killed_driver_started_again_repeats_no_finished_run(cluster, tmp_path):
    cmd = _cmd(tmp_path, "r-slow", cluster, "runs", "--max-parallel", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                            start_new_session=True)
    deadline, finished = time.monotonic() + 300, []
    try:
        while time.monotonic() < deadline:  # one run published, another with an epoch streamed
            finished = _published(tmp_path)
            parts = _files(tmp_path, pattern="*.jsonl.part")
            if finished and any(os.path.getsize(p) for p in parts):
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver; Ray ends its job's workers
        proc.wait()
    assert finished, "no run finished in time"
    before = {f: open(f).read() for f in _published(tmp_path)}
    streamed = [r for p in _files(tmp_path, pattern="*.jsonl.part") for r in _rows(p)]
    assert streamed
    p = _run(cmd)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{len(before)} of 3 runs already finished" in p.stdout
    assert all(open(f).read() == text for f, text in before.items())
    final = [r for f in _published(tmp_path) for r in _rows(f)]
    assert sorted(r["seed"] for r in final if r["epoch"] == 3) == [0, 1, 2]
    kept = [r for f in _files(tmp_path, pattern="*.killed.jsonl") for r in _rows(f)]
    assert [r["epoch"] for r in kept] == [r["epoch"] for r in streamed]


def test_runs_of_a_stopped_node_are_retried_on_another(cluster, tmp_path):
    node = _start(["--address", cluster, "--node-ip-address", NODE_IP, "--num-cpus", "2"], str(tmp_path / "node.log"))
    try:
        proc = subprocess.Popen(_cmd(tmp_path, "r-spread", cluster, "runs", "--max-parallel", "4"),
                                stdout=open(tmp_path / "driver.log", "w"), stderr=subprocess.STDOUT, env=ENV,
                                start_new_session=True)
        deadline, on_node = time.monotonic() + 300, False
        while time.monotonic() < deadline and not on_node and proc.poll() is None:
            on_node = any(r.get("node_ip") == NODE_IP for p in _files(tmp_path, pattern="*.jsonl.part") for r in _rows(p))
            time.sleep(0.2)
        assert on_node, "no run streamed an epoch from the second node"
    finally:
        _stop(node)
    proc.wait(timeout=600)
    log = (tmp_path / "driver.log").read_text()
    assert proc.returncode == 0, log
    assert "NodeDiedError" in log or "WorkerCrashedError" in log
    kept = [r for f in _files(tmp_path, pattern="*.killed.jsonl") for r in _rows(f)]
    assert kept and all(r["node_ip"] == NODE_IP for r in kept)
    finals = [_rows(f)[-1] for f in _published(tmp_path)]
    assert len(finals) == 4 and all(r["status"] == "ok" and r["epoch"] == 3 for r in finals)
    retried = {r["run_id"] for r in kept}
    assert all(r["node_ip"] == HEAD_IP for r in finals if r["run_id"] in retried)
