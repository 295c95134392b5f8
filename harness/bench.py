"""Running a suite: each run in its own process, under budgets, resumable; then the report.

For every (entry, method, seed) of a suite:
- the run's id is computed from its configuration and code version; a run already finished
  (ok, skipped or timeout) is not started again, so a second ``make bench`` only renders;
- otherwise a child process (``nesybench run-one``, forked from a server with torch imported:
  :mod:`harness.launcher`) trains it, with a SIGALRM budget for
  set-up and for the whole run inside, an address-space cap (``--memory-gb``), and a hard kill by
  this parent after the run budget plus a grace period for code stuck in C; the parent then
  records the timeout itself;
- a crash is recorded as ``failed`` with the error's last line, and the suite goes on (by the
  parent, with the child's last message on standard error, when the child died without writing
  its closing row: e.g. a C library that aborts when the ``--memory-gb`` cap refuses memory);
- when a run's set-up (data and the method's symbolic preparation, which the seed does not change)
  times out, the entry's later seeds of the same method and hyper-parameters are recorded as the
  same timeout without being run (``not_run: true``), so a compilation that overruns its budget
  costs the budget once.

Runs go one at a time on this machine (:func:`run_plan_local`) or, with ``--executor ray``, as Ray
tasks with the same budgets, run ids and files (:mod:`harness.ray_exec`, docs/ray.md).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import asdict

from . import records
from .budget import Budget
from .config import data_dirs, output_file
from .errors import UserError
from .launcher import RunProcess
from .loop import RunConfig, base_row, end_row, resolve_device, run_identity, stale_timeout, validate_configs
from .registry import get_method, get_task
from .report import write_report
from .suites import Entry, get_suite

GRACE_SECONDS = 30.0


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def plan(entries: list[Entry], args, dirs: dict[str, str]) -> list[tuple[Entry, RunConfig]]:
    """Every (entry, run configuration) of a suite, each checked for user errors (names, parameters,
    data files: :func:`harness.loop.validate_configs`) before the first run starts."""
    out = []
    extra = [(m, {}) for m in (getattr(args, "add_method", None) or [])]
    for m, _ in extra:
        get_method(m)  # a typo in --add-method is found before anything runs
    entries = list(entries) + added_tasks(entries, getattr(args, "add_task", None) or [])
    for entry in entries:
        missing = [n for n in entry.needs if n not in dirs]
        if missing:
            flag = "--mnist-dir DIR" if missing[0] == "mnist" else f"--data-dir {missing[0]}=DIR"
            raise UserError(f"suite {args.suite}: task {entry.task} needs {flag} (paper-scale data)")
        for method, hp in list(entry.methods) + extra:
            for seed in entry.seeds:
                out.append((entry, RunConfig(entry.task, method, seed, entry.epochs, entry.batch_size, entry.lr,
                                             dict(hp), dict(entry.tp), args.device, args.threads, dirs,
                                             lr_schedule=entry.lr_schedule)))
    validate_configs([cfg for _, cfg in out], args.results)
    return out


def added_tasks(entries: list[Entry], keys: list[str]) -> list[Entry]:
    """``--add-task KEY``: an entry per task that runs every method of the suite (with its defaults
    on the task) on the task's default parameters, with the seeds and budgets of the suite's first
    entry and the task's own training settings."""
    out = []
    if not keys:
        return out
    methods = list(dict.fromkeys(m for e in entries for m, _ in e.methods))
    first = entries[0]
    for key in keys:
        get_task(key)  # a typo is found before anything runs
        out.append(Entry(key, {}, [(m, {}) for m in methods], list(first.seeds), None,
                         setup_budget=first.setup_budget, run_budget=first.run_budget))
    return out


def entry_budget(entry: Entry, suite: str) -> Budget:
    """An entry's budgets, each named as set by the suite (a timeout's message says so)."""
    return Budget(entry.setup_budget, entry.run_budget, setup_source=f"suite {suite}", run_source=f"suite {suite}")


def _publish_end_row(cfg: RunConfig, results: str, status: str, error: str, **extra) -> None:
    """Append a run's closing row, written by this parent (the child did not), and publish the file
    with whatever epochs the child finished before it."""
    ident = run_identity(cfg, results)
    ident.writer.publish_with(end_row(base_row(cfg, ident, resolve_device(cfg.device)), status, error, **extra))


def _record_kill(cfg: RunConfig, results: str, phase: str, limit: float, elapsed: float,
                 source: str | None = None) -> None:
    """The child was killed by the parent: a timeout row after the epochs it finished."""
    _publish_end_row(cfg, results, "timeout",
                     f"killed by the suite runner after {elapsed:.0f} s (run budget {limit:g} s + grace)",
                     timeout_phase=phase, seconds_reached=elapsed, budget_seconds=limit, timeout_budget="run",
                     budget_source=source)


def _final_row(cfg: RunConfig, results: str, budget: Budget | None = None) -> dict | None:
    """The last row of a finished run, or None: not finished, its file damaged, or (with
    ``budget``) a timeout under a smaller budget (the run runs again: :func:`harness.loop.run`)."""
    writer = run_identity(cfg, results).writer
    row = records.last_row(writer.final) if writer.finished() else None
    if row is not None and budget is not None and stale_timeout(row, budget):
        return None
    return row


def _setup_key(entry: Entry, cfg: RunConfig) -> str:
    """What a run's set-up depends on besides the seed: the entry, method and hyper-parameters."""
    return json.dumps([id(entry), cfg.method, cfg.hp], sort_keys=True, default=str)


def _record_setup_timeout(cfg: RunConfig, results: str, first: dict) -> None:
    """A later seed of a configuration whose set-up timed out: recorded as the same timeout, not run."""
    _publish_end_row(cfg, results, "timeout",
                     f"not run: the set-up of this configuration timed out at seed {first['seed']} "
                     f"({first.get('error')}); the symbolic set-up does not depend on the seed",
                     timeout_phase="setup", not_run=True, timeout_seed=first["seed"],
                     **{k: first.get(k) for k in ("budget_seconds", "timeout_budget", "budget_source")})


def run_isolated(entry: Entry, cfg: RunConfig, args, say) -> str:
    """Run one configuration in its own process (:class:`harness.launcher.RunProcess`); returns its
    outcome (status)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"config": asdict(cfg), "setup_budget": entry.setup_budget, "run_budget": entry.run_budget,
                   "suite": getattr(args, "suite", None)}, f)
        cfg_path = f.name
    argv = ["run-one", "--config", cfg_path, "--results", args.results]
    for p in getattr(args, "plugin", []) or []:
        argv += ["--plugin", p]
    if args.quiet:
        argv.append("--quiet")
    if getattr(args, "debug", False):
        argv.append("--debug")
    t0 = time.monotonic()
    memory_gb = getattr(args, "memory_gb", None)
    proc = RunProcess(argv, memory_gb)
    hard = entry.run_budget + GRACE_SECONDS if entry.run_budget else None
    try:
        code = proc.wait(timeout=hard)
        if code is None:
            proc.kill()
            _record_kill(cfg, args.results, "run", entry.run_budget, time.monotonic() - t0,
                         f"suite {getattr(args, 'suite', None) or ''}".strip())
            say(f"{cfg.task} {cfg.method} seed {cfg.seed}: killed at its budget, recorded as timeout")
            return "timeout"
    except KeyboardInterrupt:
        proc.kill()
        raise
    finally:
        os.unlink(cfg_path)
        proc.close()
    if code not in (0, 2, RUN_FAILED) and _final_row(cfg, args.results) is None:
        # the child died without writing its closing row (a C library's abort, a signal): the parent does
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        cap = f"; the run's address space is capped at {memory_gb:g} GB (--memory-gb)" if memory_gb else ""
        _publish_end_row(cfg, args.results, "failed",
                         f"the run's process ended ({how}) after {time.monotonic() - t0:.0f} s without a result; "
                         f"its last message: {proc.last_line or '(none)'}{cap}")
        say(f"{cfg.task} {cfg.method} seed {cfg.seed}: process ended ({how}), recorded as failed")
    return {0: "done", 2: "user-error"}.get(code, "failed")


#: the exit status of a run process whose run crashed and was recorded as a failed row
RUN_FAILED = 3


def _note_command(results: str, argv: list[str]) -> None:
    """Append this command line to ``<results>/commands.log``: the report's provenance names it."""
    import shlex

    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "commands.log"), "a") as f:
        f.write("nesybench " + " ".join(shlex.quote(a) for a in argv) + "\n")


def run_suite(args) -> int:
    entries = get_suite(args.suite).entries
    if args.out:
        output_file(args.out, "--out")
    dirs = data_dirs(args)
    say = (lambda m: None) if args.quiet else (lambda m: print(m, flush=True))
    todo = plan(entries, args, dirs)
    _note_command(args.results, getattr(args, "argv", None) or sys.argv[1:])
    t_start = time.monotonic()
    if getattr(args, "executor", "local") == "ray":  # runs as Ray tasks: harness.ray_exec
        from .ray_exec import run_plan
    else:
        run_plan = run_plan_local
    failures, skipped, ran = run_plan(todo, args, say)
    if skipped:
        print(f"{skipped} of {len(todo)} runs already finished (resumed); {ran} run now", flush=True)
    out = args.out or os.path.join(args.results, "report", "report.md")
    write_report(args.results, out, title=f"nesybench report: suite {args.suite}", suite=args.suite)
    print(f"report written to {out} ({_fmt_s(time.monotonic() - t_start)})", flush=True)
    return 1 if failures else 0


def run_plan_local(todo: list[tuple[Entry, RunConfig]], args, say) -> tuple[int, int, int]:
    """The local executor: one run at a time, in plan order; returns (failures, skipped, ran)."""
    t_start = time.monotonic()
    failures = skipped = ran = 0
    setup_timeouts: dict[str, dict] = {}  # set-up key -> the timeout row of its first seed
    for k, (entry, cfg) in enumerate(todo, start=1):
        done = _final_row(cfg, args.results, entry_budget(entry, args.suite))
        if done is not None:
            skipped += 1
            if done.get("status") == "timeout" and done.get("timeout_phase") == "setup":
                setup_timeouts.setdefault(_setup_key(entry, cfg), done)
            continue
        first = setup_timeouts.get(_setup_key(entry, cfg))
        if first is not None:  # a compilation that overran its budget at one seed overruns it at every seed
            _record_setup_timeout(cfg, args.results, first)
            say(f"{cfg.task} {cfg.method} seed {cfg.seed}: not run, recorded as timeout (set-up timed out at seed "
                f"{first['seed']})")
            continue
        elapsed = time.monotonic() - t_start
        left = len(todo) - k + 1
        eta = f", ETA {_fmt_s(elapsed / ran * left)}" if ran else ""
        print(f"[{k}/{len(todo)}] {cfg.task} {cfg.method} seed {cfg.seed} (elapsed {_fmt_s(elapsed)}{eta})",
              flush=True)
        outcome = run_isolated(entry, cfg, args, say)
        ran += 1
        row = _final_row(cfg, args.results)
        if row is not None and row.get("status") == "timeout" and row.get("timeout_phase") == "setup":
            setup_timeouts[_setup_key(entry, cfg)] = row
        if outcome in ("failed", "user-error"):
            failures += 1
    return failures, skipped, ran


def run_one_child(args) -> int:
    """Entry of the child process (``nesybench run-one``)."""
    import traceback

    from .loop import run

    with open(args.config) as f:
        spec = json.load(f)
    cfg = RunConfig(**spec["config"])
    say = None if args.quiet or os.environ.get("CI") else (lambda m: print("    " + m, flush=True))
    suite = spec.get("suite")
    source = f"suite {suite}" if suite else "the suite"
    try:
        row = run(cfg, args.results, progress=say, tags={"suite": suite} if suite else None,
                  budget=Budget(spec.get("setup_budget"), spec.get("run_budget"), source, source))
    except UserError:
        raise
    except Exception as e:  # recorded as a failed row; one line here, the traceback with --debug
        if args.debug:
            traceback.print_exception(e, file=sys.stderr)
        error = getattr(e, "run_error", None) or f"{type(e).__name__}: {e}"
        print(f"nesybench: run failed: {cfg.task} {cfg.method} seed {cfg.seed}: {error}"
              + ("" if args.debug else " (the failed row keeps the traceback; --debug prints it)"), file=sys.stderr)
        return RUN_FAILED
    if os.environ.get("CI") and not args.quiet:
        shown = " ".join(f"{k}={v:.2f}" for k, v in (row.get("metrics") or {}).items())
        print(f"    {cfg.task} {cfg.method} seed {cfg.seed}: {row.get('status')} {shown}", flush=True)
    return 0
