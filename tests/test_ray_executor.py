"""The Ray executor on a local cluster (loopback only): same rows and resume as the local executor,
one retry of a lost worker, a killed driver, a stopped node. One head node serves every test; each
test stops what it started, and the module checks that no process of its nodes is left.

Each test has a hard limit (pytest-timeout, ``TEST_SECONDS``) and every wait inside it a deadline
that also ends when the driver exits, so a stalled cluster or driver fails the test in minutes."""

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

TEST_SECONDS = 240  # one test's hard limit: a stall fails it instead of holding the suite
WAIT_SECONDS = 150  # one wait inside a test (a node starting, a run streaming its first epoch)

HAVE_RAY = importlib.util.find_spec("ray") is not None
# skipped where Ray is not installed, except under CI (CI set), where the tests fail instead
pytestmark = [
    pytest.mark.ray,
    pytest.mark.timeout(TEST_SECONDS),
    pytest.mark.skipif(not HAVE_RAY and not os.environ.get("CI"), reason="Ray is not installed"),
]

RAY_BIN = os.path.join(os.path.dirname(sys.executable), "ray")
HEAD_IP, NODE_IP = "127.0.0.2", "127.0.0.3"  # loopback; Ray rewrites 127.0.0.1 to the network address
ENV = {
    **os.environ,
    "CI": "1",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_memory_monitor_refresh_ms": "0",
}

PLUGIN = '''
import os, signal, time
from harness.api import Method
from harness.registry import register_method
from harness.suites import Entry, Suite, register_suite


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
                os.kill(int(os.environ["NESYBENCH_RUNNER_PID"]), signal.SIGKILL)  # the Ray worker
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
def _suite(name, *entries):
    register_suite(Suite(name=name, description="a test suite", entries=list(entries)))


_suite("r-one", Entry(task="mnist-add", tp=T, methods=[("supervised", {})], seeds=[0], epochs=2, batch_size=8))
_suite("r-two", Entry(task="mnist-add", tp=T, methods=[("supervised", {})], seeds=[0, 1], epochs=2, batch_size=8),
       Entry(task="mnist-add", tp=T, methods=[("sleeper", {})], seeds=[0, 1], epochs=1, batch_size=8,
             setup_budget=2.0))
_suite("r-kill", Entry(task="mnist-add", tp=T, methods=[("worker-killer", {"dir": os.environ.get("KILL_DIR", ""),
                                                                         "kills": k}) for k in (1, 2)],
                       seeds=[0], epochs=2, batch_size=8))
_suite("r-slow", Entry(task="mnist-add", tp=T, methods=[("napper", {})], seeds=[0, 1], epochs=3, batch_size=8))
_suite("r-spread", Entry(task="mnist-add", tp=T, methods=[("napper", {"nap": 0.5})], seeds=[0, 1, 2, 3], epochs=3,
                         batch_size=8))
'''


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args, log):
    """A `ray start --block` under a new POSIX sid (setsid); returns the process once its node is up."""
    out = open(log, "w")
    proc = subprocess.Popen(
        [RAY_BIN, "start", "--block", "--disable-usage-stats", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=ENV,
        start_new_session=True,
    )
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        text = open(log).read()
        if "Ray runtime started" in text:
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    _stop(proc)
    raise RuntimeError(f"ray start failed: {open(log).read()[-2000:]}")


def _session(sid):
    """The processes whose POSIX sid is ``sid``, but zombies (exited, not yet reaped)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,sid=,stat="], capture_output=True, text=True).stdout
    return [int(p) for p, s, stat in (line.split() for line in out.splitlines()) if int(s) == sid and "Z" not in stat]


def _stop(proc):
    """Kill a `ray start` and every process with its POSIX sid (raylet, workers, training
    children); fails when one is still alive seconds later (a leak)."""
    sid = proc.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _session(sid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(1.0 if sig == signal.SIGTERM else 0)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _session(sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _session(sid)
    assert not left, f"processes of a stopped Ray node still alive: {left}"


def _kill_driver(proc):
    """SIGKILL a driver started with start_new_session and its process group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node with 2 CPUs on a loopback address; yields its address."""
    if not HAVE_RAY:
        pytest.fail("Ray is not installed (pip install -e '.[ray]'; make test installs it)")
    tmp = tmp_path_factory.mktemp("ray")
    port = _free_port()
    head = _start(
        [
            "--head",
            "--node-ip-address",
            HEAD_IP,
            "--port",
            str(port),
            "--num-cpus",
            "2",
            "--include-dashboard=false",
            "--temp-dir",
            str(tmp),
        ],
        str(tmp / "head.log"),
    )
    try:
        yield f"{HEAD_IP}:{port}"
    finally:
        _stop(head)


def _cmd(tmp_path, suite, address=None, results="runs", *extra):
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
        str(tmp_path / results),
        "--out",
        str(tmp_path / results / "report.md"),
        *extra,
    ]
    if address:
        cmd += ["--executor", "ray", "--address", address]
    return cmd


def _bench(monkeypatch, capsys, cmd, **env):
    """``nesybench bench`` in this process (the CLI's own code, without a driver process's start-up
    and imports); the plug-in's methods and suites are registered for the call only. Returns
    (exit status, standard output)."""
    from harness import cli, registry, suites

    for k, v in {**ENV, **env}.items():
        if os.environ.get(k) != v:
            monkeypatch.setenv(k, v)
    registry.load_builtins()  # once per process: kept, unlike the plug-in's
    methods, named = dict(registry.METHODS), dict(suites.SUITES)
    capsys.readouterr()
    try:
        code = cli.main(cmd[cmd.index("harness") + 1 :])
    finally:
        registry.METHODS.clear()
        registry.METHODS.update(methods)
        suites.SUITES.clear()
        suites.SUITES.update(named)
        sys.modules.pop("nesybench_plugin_plugin", None)
    out, err = capsys.readouterr()
    return code, out + err


def _files(tmp_path, results="runs", pattern="*.jsonl*"):
    return sorted(glob.glob(str(tmp_path / results / "**" / pattern), recursive=True))


def _rows(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def _published(tmp_path, results="runs"):
    return [f for f in _files(tmp_path, results) if re.fullmatch(r"[0-9a-f]{16}\.jsonl", os.path.basename(f))]


def test_a_suite_started_locally_is_finished_on_ray_with_the_same_rows(cluster, tmp_path, monkeypatch, capsys):
    code, out = _bench(monkeypatch, capsys, _cmd(tmp_path, "r-one"))  # the local executor: seed 0
    assert code == 0, out
    (seed0,) = _published(tmp_path)
    before = open(seed0).read()
    code, out = _bench(monkeypatch, capsys, _cmd(tmp_path, "r-two", cluster, "runs", "--max-parallel", "2"))
    assert code == 0, out
    assert "1 of 4 runs already finished" in out and open(seed0).read() == before
    assert re.search(r"\[ray 4/4 done, 0 running, 0 queued, 0 failed; .*\]", out), out
    by = {(r["method"], r["seed"]): r for f in _published(tmp_path) for r in _rows(f)[-1:]}
    ray1 = by[("supervised", 1)]
    assert ray1["executor"] == "ray" and ray1["node_ip"] == HEAD_IP and ray1["concurrent_runs"] in (1, 2)
    assert ray1["git_commit"] == by[("supervised", 0)]["git_commit"]
    # the same budgets: the set-up timeout of seed 0 is seed 1's too, without running it
    s0, s1 = by[("sleeper", 0)], by[("sleeper", 1)]
    assert s0["status"] == s1["status"] == "timeout" and s0["timeout_phase"] == "setup" and 2.0 <= s0["seconds_reached"]
    assert s1["not_run"] and s1["timeout_seed"] == 0
    # the same run by the local loop (what the local executor's child runs), here in this process:
    # the same run id and metrics, and the run Ray finished counts as finished there
    from harness.loop import RunConfig, run

    cfg = RunConfig("mnist-add", "supervised", seed=1, epochs=2, batch_size=8, tp={"n_pairs": 32})
    local1 = run(cfg, str(tmp_path / "local"))
    assert local1["run_id"] == ray1["run_id"] and local1["metrics"] == ray1["metrics"]
    resumed = run(cfg, str(tmp_path / "runs"))
    assert resumed.get("skipped_existing") and resumed["run_id"] == ray1["run_id"]
    assert resumed["metrics"] == ray1["metrics"] and resumed["executor"] == "ray"


def test_a_lost_worker_is_retried_once_then_the_run_is_failed_with_its_cause(cluster, tmp_path, monkeypatch, capsys):
    code, out = _bench(
        monkeypatch, capsys, _cmd(tmp_path, "r-kill", cluster, "runs", "--max-parallel", "2"), KILL_DIR=str(tmp_path)
    )
    assert code == 1, out  # a failed run: exit status 1, the suite completed
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


def test_a_killed_driver_started_again_repeats_no_finished_run(cluster, tmp_path, monkeypatch, capsys):
    cmd = _cmd(tmp_path, "r-slow", cluster, "runs", "--max-parallel", "1")
    proc = subprocess.Popen(
        cmd, stdout=open(tmp_path / "driver.log", "w"), stderr=subprocess.STDOUT, env=ENV, start_new_session=True
    )
    deadline, finished = time.monotonic() + WAIT_SECONDS, []
    try:
        while time.monotonic() < deadline and proc.poll() is None:  # one run published, another with an epoch streamed
            finished = _published(tmp_path)
            parts = _files(tmp_path, pattern="*.jsonl.part")
            if finished and any(os.path.getsize(p) for p in parts):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the driver ended before it was killed: " + (tmp_path / "driver.log").read_text()
    finally:
        _kill_driver(proc)  # the driver; Ray ends its job's workers
    assert finished, "no run finished in time: " + (tmp_path / "driver.log").read_text()
    before = {f: open(f).read() for f in _published(tmp_path)}
    streamed = [r for p in _files(tmp_path, pattern="*.jsonl.part") for r in _rows(p)]
    assert streamed
    code, out = _bench(monkeypatch, capsys, cmd)  # started again (in this process)
    assert code == 0, out
    assert f"{len(before)} of 2 runs already finished" in out
    assert all(open(f).read() == text for f, text in before.items())
    final = [r for f in _published(tmp_path) for r in _rows(f)]
    assert sorted(r["seed"] for r in final if r["epoch"] == 3) == [0, 1]
    kept = [r for f in _files(tmp_path, pattern="*.killed.jsonl") for r in _rows(f)]
    assert [r["epoch"] for r in kept] == [r["epoch"] for r in streamed]


def test_runs_of_a_stopped_node_are_retried_on_another(cluster, tmp_path):
    node = _start(["--address", cluster, "--node-ip-address", NODE_IP, "--num-cpus", "2"], str(tmp_path / "node.log"))
    proc = None
    try:
        try:
            proc = subprocess.Popen(
                _cmd(tmp_path, "r-spread", cluster, "runs", "--max-parallel", "4"),
                stdout=open(tmp_path / "driver.log", "w"),
                stderr=subprocess.STDOUT,
                env=ENV,
                start_new_session=True,
            )
            deadline, on_node = time.monotonic() + WAIT_SECONDS, False
            while time.monotonic() < deadline and not on_node and proc.poll() is None:
                on_node = any(
                    r.get("node_ip") == NODE_IP for p in _files(tmp_path, pattern="*.jsonl.part") for r in _rows(p)
                )
                time.sleep(0.2)
            assert on_node, "no run streamed an epoch from the second node: " + (tmp_path / "driver.log").read_text()
        finally:
            _stop(node)
        proc.wait(timeout=WAIT_SECONDS)
    finally:
        if proc is not None and proc.poll() is None:
            _kill_driver(proc)
    log = (tmp_path / "driver.log").read_text()
    assert proc.returncode == 0, log
    assert "NodeDiedError" in log or "WorkerCrashedError" in log
    kept = [r for f in _files(tmp_path, pattern="*.killed.jsonl") for r in _rows(f)]
    assert kept and all(r["node_ip"] == NODE_IP for r in kept)
    finals = [_rows(f)[-1] for f in _published(tmp_path)]
    assert len(finals) == 4 and all(r["status"] == "ok" and r["epoch"] == 3 for r in finals)
    retried = {r["run_id"] for r in kept}
    assert all(r["node_ip"] == HEAD_IP for r in finals if r["run_id"] in retried)
