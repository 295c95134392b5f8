"""One run of a suite in its own process, and the rules every executor of a suite follows.

Both executors of ``nesybench bench``, the local one (:func:`harness.bench.run_plan_local`: one run
at a time on this machine) and the Ray one (:mod:`harness.ray_exec`), run each run the same way and
record the same rows:

- :class:`BenchOptions` is what ``nesybench bench`` was asked, built once by the command line;
  :class:`RunSpec` is one run of the plan: its :class:`~harness.loop.RunConfig`, results folder,
  budgets, suite and plug-ins;
- :func:`run_isolated` runs a spec in its own process (:class:`harness.launcher.RunProcess`, which
  calls :func:`run_in_process`) under the set-up and run budgets (a SIGALRM clock inside), the
  address-space cap (``--memory-gb``) and a hard kill after the run budget plus
  :data:`GRACE_SECONDS`, for code stuck in C; the killed run's timeout row is written by the
  caller's process (:func:`overrun_row`), as is the closing row of a process that died without
  one (a C library's abort under the memory cap);
- :func:`final_row` says whether a run is finished (resume: ok, skipped and timeout rows stand, a
  timeout under a smaller budget than the spec's does not);
- the not-run rule (:class:`SetupTimeouts`): a run's set-up (data and the method's symbolic
  preparation) does not depend on its seed, so when it times out at one seed, the later seeds of
  the same entry, method and hyper-parameters are recorded as the same timeout without being run
  (:func:`not_run_row`, ``not_run: true``): a compilation that overruns its budget costs it once;
- :func:`closing_row` is the last row of a run that its own process did not write.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from . import records, registry
from .budget import Budget
from .config import DEFAULT_RESULTS
from .errors import UserError
from .launcher import RunProcess
from .loop import RunConfig, RunIdentity, base_row, end_row, resolve_device, run, run_identity, stale_timeout

#: seconds past its run budget before a run's process is killed (code stuck in C cannot see the alarm)
GRACE_SECONDS = 30.0
#: the exit status of a run process whose run crashed and was recorded as a failed row
RUN_FAILED = 3


@dataclass
class BenchOptions:
    """The options of ``nesybench bench``, one field per command-line flag (its ``dest``), checked
    by the command line before any run starts."""

    suite: str = "default"
    results: str = DEFAULT_RESULTS
    out: str | None = None  # the report file (None: <results>/report/report.md)
    device: str = "auto"
    threads: int = 1
    mnist_dir: str | None = None
    data_dir: list[str] = field(default_factory=list)  # NAME=DIR items
    plugin: list[str] = field(default_factory=list)  # modules or .py files of extra methods and tasks
    quiet: bool = False
    debug: bool = False
    memory_gb: float | None = 16.0  # address-space cap of each run's process
    add_method: list[str] = field(default_factory=list)
    add_task: list[str] = field(default_factory=list)
    executor: str = "local"  # local or ray
    address: str | None = None  # ray: the cluster (None: a local instance)
    max_parallel: int | None = None  # ray: most runs at once
    runs_per_node: int | None = None  # ray: most runs at once on one node (0: no limit)
    argv: list[str] = field(default_factory=list)  # the command line, for the report's provenance

    def __post_init__(self):
        for name in ("data_dir", "plugin", "add_method", "add_task", "argv"):
            setattr(self, name, list(getattr(self, name) or []))


@dataclass(frozen=True)
class RunSpec:
    """One run of a suite: what its process needs (it is pickled to that process)."""

    config: RunConfig
    results: str
    setup_budget: float | None = None  # seconds for data and symbolic set-up
    run_budget: float | None = None  # seconds for the whole run; the process is killed after it plus the grace
    suite: str | None = None  # recorded in every row (``suite``) and named by a timeout as the budget's source
    plugins: tuple[str, ...] = ()  # loaded by the run's process before the run
    quiet: bool = False
    debug: bool = False  # print a crash's traceback

    @classmethod
    def of(cls, entry, cfg: RunConfig, opts: BenchOptions) -> RunSpec:
        """The spec of one (entry, configuration) of a plan (:func:`harness.bench.plan`)."""
        return cls(
            cfg,
            opts.results,
            entry.setup_budget,
            entry.run_budget,
            opts.suite,
            tuple(opts.plugin),
            opts.quiet,
            opts.debug,
        )

    @classmethod
    def read(cls, path: str, results: str, quiet: bool = False, debug: bool = False) -> RunSpec:
        """A spec from a JSON file: ``{"config": {RunConfig's fields}, "setup_budget", "run_budget",
        "suite"}`` (``nesybench run-one``)."""
        with open(path) as f:
            spec = json.load(f)
        return cls(
            RunConfig(**spec["config"]),
            results,
            spec.get("setup_budget"),
            spec.get("run_budget"),
            spec.get("suite"),
            quiet=quiet,
            debug=debug,
        )

    @property
    def budget(self) -> Budget:
        """The run's budgets, each named as set by its suite (a timeout's message says so)."""
        source = f"suite {self.suite}" if self.suite else "the suite"
        return Budget(self.setup_budget, self.run_budget, source, source)


def run_name(cfg: RunConfig) -> str:
    """How progress lines and messages name a run: ``TASK METHOD seed S``."""
    return f"{cfg.task} {cfg.method} seed {cfg.seed}"


def format_seconds(s: float) -> str:
    """Elapsed time for progress lines: ``42s``, ``3m05s``."""
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def crash_message(cfg: RunConfig, e: BaseException, debug: bool) -> str:
    """The one line a crashed run prints (its failed row keeps the traceback)."""
    error = getattr(e, "run_error", None) or f"{type(e).__name__}: {e}"
    return f"nesybench: run failed: {run_name(cfg)}: {error}" + (
        "" if debug else " (the failed row keeps the traceback; --debug prints it)"
    )


# ---- the run's process ----------------------------------------------------------------------


def run_one(spec: RunSpec) -> int:
    """Run ``spec`` in this process (its plug-ins already loaded); returns 0 when the run ended with
    its row (ok, timeout, skipped) or :data:`RUN_FAILED` when it crashed (recorded as a failed row;
    one line on standard error, the traceback too with ``debug``). A user error is raised."""
    cfg = spec.config
    say = None if spec.quiet or os.environ.get("CI") else (lambda m: print("    " + m, flush=True))
    try:
        row = run(
            cfg, spec.results, progress=say, tags={"suite": spec.suite} if spec.suite else None, budget=spec.budget
        )
    except UserError:
        raise
    except Exception as e:  # recorded as a failed row
        if spec.debug:
            traceback.print_exception(e, file=sys.stderr)
        print(crash_message(cfg, e, spec.debug), file=sys.stderr)
        return RUN_FAILED
    if os.environ.get("CI") and not spec.quiet:
        shown = " ".join(f"{k}={v:.2f}" for k, v in (row.get("metrics") or {}).items())
        print(f"    {run_name(cfg)}: {row.get('status')} {shown}", flush=True)
    return 0


def run_in_process(spec: RunSpec) -> int:
    """The entry of a run's process (:func:`run_isolated`): the spec's plug-ins, then the run. Its
    exit status: that of :func:`run_one`, 2 for a user error (printed as one line), 130 when
    interrupted."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        for p in spec.plugins:
            registry.load_plugin(p)
        return run_one(spec)
    except UserError as e:
        print(f"nesybench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run_isolated(spec: RunSpec, say: Callable[[str], None], memory_gb: float | None = None) -> str:
    """Run ``spec`` in its own process under its budgets, the ``memory_gb`` cap and the hard kill;
    returns its outcome: done, timeout (killed at its budget), user-error or failed."""
    cfg = spec.config
    t0 = time.monotonic()
    proc = RunProcess(run_in_process, spec, memory_gb=memory_gb)
    hard = spec.run_budget + GRACE_SECONDS if spec.run_budget else None
    try:
        code = proc.wait(timeout=hard)
        if code is None:
            proc.kill()
            ident = run_identity(cfg, spec.results)
            ident.writer.publish_with(
                overrun_row(cfg, ident, spec.budget, time.monotonic() - t0, "killed by the suite runner")
            )
            say(f"{run_name(cfg)}: killed at its budget, recorded as timeout")
            return "timeout"
    except KeyboardInterrupt:
        proc.kill()
        raise
    finally:
        proc.close()
    if code not in (0, 2, RUN_FAILED) and final_row(cfg, spec.results) is None:
        # the process died without writing its closing row (a C library's abort, a signal)
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        cap = f"; the run's address space is capped at {memory_gb:g} GB (--memory-gb)" if memory_gb else ""
        ident = run_identity(cfg, spec.results)
        ident.writer.publish_with(
            closing_row(
                cfg,
                ident,
                "failed",
                f"the run's process ended ({how}) after {time.monotonic() - t0:.0f} s without a "
                f"result; its last message: {proc.last_line or '(none)'}{cap}",
            )
        )
        say(f"{run_name(cfg)}: process ended ({how}), recorded as failed")
    return {0: "done", 2: "user-error"}.get(code, "failed")


# ---- resume and the not-run rule ------------------------------------------------------------


def final_row(cfg: RunConfig, results: str, budget: Budget | None = None) -> dict | None:
    """The last row of a finished run, or None: not finished, its file damaged, or (with
    ``budget``) a timeout under a smaller budget (the run runs again: :func:`harness.loop.run`)."""
    writer = run_identity(cfg, results).writer
    row = records.last_row(writer.final) if writer.finished() else None
    if row is not None and budget is not None and stale_timeout(row, budget):
        return None
    return row


def is_setup_timeout(row: dict | None) -> bool:
    return bool(row) and row.get("status") == "timeout" and row.get("timeout_phase") == "setup"


class SetupTimeouts:
    """The not-run rule's memory: per set-up (:meth:`key`), the timeout row of its first seed."""

    def __init__(self):
        self._first: dict[str, dict] = {}

    @staticmethod
    def key(entry, cfg: RunConfig) -> str:
        """What a run's set-up depends on besides the seed: the entry, method and hyper-parameters."""
        return json.dumps([id(entry), cfg.method, cfg.hp], sort_keys=True, default=str)

    def note(self, key: str, row: dict | None, earlier: bool = False) -> bool:
        """Remember ``row`` when it is a set-up timeout (``earlier``: a run found finished, which does
        not replace a timeout noted before); returns whether it is one."""
        if not is_setup_timeout(row):
            return False
        if earlier:
            self._first.setdefault(key, row)
        else:
            self._first[key] = row
        return True

    def first(self, key: str) -> dict | None:
        """The set-up timeout a later seed of ``key`` is recorded as (None: run it)."""
        return self._first.get(key)


def not_run_note(first: dict) -> str:
    """The progress line's words for a run recorded by the not-run rule."""
    return f"not run, recorded as timeout (set-up timed out at seed {first['seed']})"


# ---- rows written for a run by its runner ---------------------------------------------------


def closing_row(
    cfg: RunConfig, ident: RunIdentity, status: str, error: str, device: tuple[str, str | None] | None = None, **extra
) -> dict[str, Any]:
    """The last row of a run that its own process did not write (it was killed, died, or never
    ran). ``device``: (device, device name) as the run's other rows record them; None: this
    machine's for the configuration's device."""
    if device is None:
        base = base_row(cfg, ident, resolve_device(cfg.device))
    else:
        import torch

        base = base_row(cfg, ident, torch.device("cpu"))
        base["device"], base["device_name"] = device
    return end_row(base, status, error, **extra)


def not_run_row(cfg: RunConfig, ident: RunIdentity, first: dict, device=None) -> dict[str, Any]:
    """A later seed of a configuration whose set-up timed out at ``first``: the same timeout, not run."""
    return closing_row(
        cfg,
        ident,
        "timeout",
        f"not run: the set-up of this configuration timed out at seed {first['seed']} "
        f"({first.get('error')}); the symbolic set-up does not depend on the seed",
        device,
        timeout_phase="setup",
        not_run=True,
        timeout_seed=first["seed"],
        **{k: first.get(k) for k in ("budget_seconds", "timeout_budget", "budget_source")},
    )


def overrun_row(
    cfg: RunConfig, ident: RunIdentity, budget: Budget, elapsed: float, by: str, device=None
) -> dict[str, Any]:
    """A run stopped from outside past its run budget and the grace (``by``: who stopped it)."""
    return closing_row(
        cfg,
        ident,
        "timeout",
        f"{by} after {elapsed:.0f} s (run budget {budget.run_seconds:g} s + grace)",
        device,
        timeout_phase="run",
        seconds_reached=elapsed,
        budget_seconds=budget.run_seconds,
        timeout_budget="run",
        budget_source=budget.run_source,
    )
