"""The Ray executor of the suite runner: ``nesybench bench --executor ray [--address A] [--max-parallel K]``.

Each run of the plan is one Ray task (:func:`harness.ray_worker.attempt`) asking for ``num_cpus`` =
``--threads`` and ``num_gpus`` = 1 with ``--device cuda``; it runs the run's spec in its own
process, under the same budgets and memory cap, as the local executor does
(:func:`harness.runner.run_isolated`), with the same run id. The driver (:mod:`harness.ray_driver`)
keeps the results folder: rows stream back as each epoch ends and are written with the same
``.part`` file and atomic publish (:mod:`harness.records`), so a suite started locally can be
finished on Ray and the other way round, and resume skips every finished run.

Faults: an attempt whose Ray worker or node is lost keeps its streamed epochs aside
(``<run_id>.<time>.killed.jsonl``) and is submitted once more (elsewhere when its node died); a
second loss is recorded as ``failed`` with both causes and the suite goes on. The not-run rule
(:class:`harness.runner.SetupTimeouts`) holds as locally: later seeds of a configuration wait until
its first seed has passed set-up, and a set-up timeout there records them as the same timeout
without running them.

Timing: each row streamed through Ray records ``concurrent_runs``, the most runs of this suite that
shared its node while it trained (1: alone). Timing suites (``timing`` of :class:`harness.suites.Suite`)
run one run per node (per GPU with ``--device cuda``) unless ``--runs-per-node`` says otherwise;
:func:`contention_marker` is what reports put beside a time measured under contention.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:  # the command line imports this module for its options: no torch here
    from .runner import BenchOptions

INSTALL_HINT = "pip install 'nesybench[ray]'"


def add_arguments(p) -> None:
    """The executor's options of ``nesybench bench``."""
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: one run at a time in child processes (default); ray: runs as Ray tasks",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster to use (auto or HOST:PORT); default: start a local Ray instance on this machine",
    )
    p.add_argument(
        "--max-parallel",
        type=int,
        default=None,
        help="most runs at once with --executor ray "
        "(default: the local instance's CPUs / --threads, or as many as the cluster fits)",
    )
    p.add_argument(
        "--runs-per-node",
        type=int,
        default=None,
        help="most runs at once on one Ray node (0: no limit; default 1 for timing suites, else no limit)",
    )


def contention_marker(row: dict) -> str:
    """The mark a report puts beside a time measured while other runs of the suite shared its node
    ('' when the run trained alone, or the row predates the field)."""
    n = row.get("concurrent_runs")
    try:
        n = int(n)
    except (TypeError, ValueError):
        return ""
    return f" (shared node: {n} runs)" if n > 1 else ""


def _import_ray(local: bool):
    if local:  # a single-node instance advertises the loopback address, not the machine's network one
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        # Ray's own memory monitor kills workers when the whole machine runs low, whoever uses the
        # memory; runs are capped one by one instead (--memory-gb), as with the local executor
        os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise UserError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None


def _runtime_env() -> dict:
    """Ship the project's packages (whatever the driver imports) to every worker."""
    mods = [os.path.dirname(importlib.import_module(p).__file__) for p in ("harness", "methods", "tasks")]
    return {"py_modules": mods, "excludes": ["__pycache__", "*.pyc"]}


def _check(opts: BenchOptions) -> None:
    if opts.max_parallel is not None and opts.max_parallel < 1:
        raise UserError(f"--max-parallel {opts.max_parallel}: give a number of runs >= 1")
    if opts.runs_per_node is not None and opts.runs_per_node < 0:
        raise UserError(f"--runs-per-node {opts.runs_per_node}: give a number >= 0 (0: no limit)")
    if opts.threads < 1:
        raise UserError(f"--threads {opts.threads}: give a number >= 1")


def connect(opts: BenchOptions):
    """Start a local Ray instance (no ``--address``) or join a cluster; returns the ray module."""
    _check(opts)
    ray = _import_ray(local=not opts.address)
    common = dict(
        runtime_env=_runtime_env(), log_to_driver=not opts.quiet, configure_logging=True, logging_level="WARNING"
    )
    for tries_left in (1, 0):  # a local instance's raylet has 30 s to register: once more on a busy machine
        try:
            if opts.address:
                ray.init(address=opts.address, **common)
            else:
                k = opts.max_parallel or max(1, (os.cpu_count() or 1) // opts.threads)
                ray.init(
                    address="local",
                    num_cpus=k * opts.threads,
                    include_dashboard=False,
                    object_store_memory=200 * 2**20,
                    **common,
                )
            break
        except Exception as e:  # Ray raises bare Exception when a node does not start in time
            ray.shutdown()
            if tries_left and not opts.address:
                continue
            where = opts.address or "a local instance"
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            hint = (
                "; is the cluster up ('ray start --head')? if it uses token authentication, set RAY_AUTH_MODE=token"
                if opts.address
                else "; try again, or use the local executor"
            )
            raise UserError(f"--executor ray: cannot start or reach Ray ({where}): {first}{hint}") from None
    return ray


def run_plan(todo, opts: BenchOptions, say) -> tuple[int, int, int]:
    """Run a suite's plan on Ray; returns (failures, runs already finished, runs run now)."""
    from .ray_driver import Driver
    from .suites import SUITES

    ray = connect(opts)
    try:
        per_node = opts.runs_per_node
        if per_node is None:
            per_node = 1 if opts.suite in SUITES and SUITES[opts.suite].timing else 0
        return Driver(ray, todo, opts, say, per_node or None).run()
    finally:
        ray.shutdown()
