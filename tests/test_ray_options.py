"""The Ray executor's parts that need no cluster: its user errors, the per-node cap, the row tail,
the contention marker. These run whether Ray is installed or not."""

import os
import sys
from types import SimpleNamespace

from harness import cli
from harness.ray_exec import contention_marker
from harness.ray_worker import _Tail


def test_without_ray_the_executor_is_a_one_line_user_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    for var in ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_memory_monitor_refresh_ms"):
        monkeypatch.setenv(var, os.environ.get(var, "0"))
    code = cli.main(["bench", "--suite", "smoke", "--executor", "ray", "--results", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "pip install 'nesybench[ray]'" in err
    assert not list(tmp_path.rglob("*.jsonl*"))


def test_bad_executor_options_are_user_errors_before_any_run(tmp_path, capsys):
    for flags, says in (
        (["--max-parallel", "0"], "--max-parallel 0"),
        (["--runs-per-node", "-1"], "--runs-per-node"),
        (["--executor", "dask"], "invalid choice"),
    ):
        code = cli.main(["bench", "--suite", "smoke", "--executor", "ray", *flags, "--results", str(tmp_path)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and says in err and len(err.splitlines()) == 1
    assert not list(tmp_path.rglob("*.jsonl*"))


class _FakeRay:
    def __init__(self, nodes):
        self._nodes = nodes

    def remote(self, fn):
        return fn

    def nodes(self):
        return self._nodes


def _driver(nodes, per_node=1, device="cpu", threads=1):
    from harness.ray_driver import Driver

    args = SimpleNamespace(results="unused", device=device, threads=threads, plugin=[], max_parallel=None, quiet=True)
    return Driver(_FakeRay(nodes), [], args, lambda m: None, per_node)


def test_timing_suites_put_one_run_on_a_node_and_prefer_a_node_that_lost_nothing():
    node = lambda nid, cpu=2, alive=True: {"NodeID": nid, "Alive": alive, "Resources": {"CPU": cpu}}
    d = _driver([node("a"), node("dead", alive=False), node("small", cpu=1), node("b")], threads=2)
    run = SimpleNamespace(avoid=set())
    assert d._free_node(run) == "a"
    d.inflight = {1: SimpleNamespace(node_id="a")}
    assert d._free_node(run) == "b"  # a is taken; the dead node and the 1-CPU one do not count
    d.inflight[2] = SimpleNamespace(node_id="b")
    assert d._free_node(run) is False  # every node has its run: wait
    d.inflight = {}
    assert d._free_node(SimpleNamespace(avoid={"a"})) == "b"
    assert _driver([node("a")], per_node=None)._free_node(run) is None  # no cap: Ray places the run
    assert _driver([node("a")], device="cuda")._free_node(run) is None  # with CUDA: one run per GPU, by Ray


def test_the_worker_streams_complete_lines_across_the_publish_rename_only(tmp_path):
    part = tmp_path / "abc.jsonl.part"
    part.write_text('{"epoch": 1}\n{"epo')
    tail = _Tail(str(part))
    assert tail.new_lines() == ['{"epoch": 1}']
    with open(part, "a") as f:
        f.write('ch": 2}\n')
    os.replace(part, tmp_path / "abc.jsonl")  # the atomic publish
    assert tail.new_lines() == ['{"epoch": 2}'] and tail.new_lines() == []
    os.remove(tmp_path / "abc.jsonl")
    part.write_text('{"other": "attempt"}\n')  # a new file under the name: not this attempt's rows
    assert tail.new_lines() == []


def test_rows_timed_on_a_shared_node_are_marked():
    assert contention_marker({"concurrent_runs": 3}) == " (shared node: 3 runs)"
    assert contention_marker({"concurrent_runs": 1}) == contention_marker({}) == ""
    assert contention_marker({"concurrent_runs": float("nan")}) == ""
