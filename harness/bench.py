"""Running a suite: its plan, each run in its own process under budgets, resumable; then the report.

For every (entry, method, seed) of a suite:
- the run's id is computed from its configuration and code version; a run already finished
  (ok, skipped or timeout) is not started again, so a second ``make bench`` only renders;
- otherwise the run runs in its own process under its set-up and run budgets, the address-space
  cap (``--memory-gb``) and a hard kill after the run budget plus a grace period, and a crash is
  recorded as ``failed`` while the suite goes on (:func:`harness.runner.run_isolated`);
- when a run's set-up times out, the entry's later seeds of the same method and hyper-parameters
  are recorded as the same timeout without being run (the not-run rule of :mod:`harness.runner`).

Runs go one at a time on this machine (:func:`run_plan_local`) or, with ``--executor ray``, as Ray
tasks with the same budgets, run ids and files (:mod:`harness.ray_exec`, docs/ray.md). The options
arrive as one :class:`~harness.runner.BenchOptions`, built by the command line.
"""

from __future__ import annotations

import os
import shlex
import sys
import time

from .config import data_dirs, output_file
from .errors import UserError
from .loop import RunConfig, run_identity, validate_configs
from .registry import get_method, get_task
from .report import write_report
from .runner import (
    BenchOptions,
    RunSpec,
    SetupTimeouts,
    final_row,
    format_seconds,
    not_run_note,
    not_run_row,
    run_isolated,
    run_name,
)
from .suites import Entry, get_suite


def plan(entries: list[Entry], opts: BenchOptions, dirs: dict[str, str]) -> list[tuple[Entry, RunConfig]]:
    """Every (entry, run configuration) of a suite, each checked for user errors (names, parameters,
    data files: :func:`harness.loop.validate_configs`) before the first run starts."""
    out = []
    extra = [(m, {}) for m in opts.add_method]
    for m, _ in extra:
        get_method(m)  # a typo in --add-method is found before anything runs
    entries = list(entries) + added_tasks(entries, opts.add_task)
    for entry in entries:
        missing = [n for n in entry.needs if n not in dirs]
        if missing:
            flag = "--mnist-dir DIR" if missing[0] == "mnist" else f"--data-dir {missing[0]}=DIR"
            raise UserError(f"suite {opts.suite}: task {entry.task} needs {flag} (paper-scale data)")
        out += [(entry, cfg) for cfg in run_configs(entry, opts.device, opts.threads, dirs, extra)]
    validate_configs([cfg for _, cfg in out], opts.results)
    return out


def run_configs(
    entry: Entry, device: str, threads: int, dirs: dict[str, str], extra: list[tuple[str, dict]] = ()
) -> list[RunConfig]:
    """The run configuration of every method of ``entry`` (and of ``extra``) with every seed, unchecked."""
    return [
        RunConfig(
            entry.task,
            method,
            seed,
            entry.epochs,
            entry.batch_size,
            entry.lr,
            dict(hp),
            dict(entry.tp),
            device,
            threads,
            dirs,
            lr_schedule=entry.lr_schedule,
        )
        for method, hp in list(entry.methods) + list(extra)
        for seed in entry.seeds
    ]


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
        out.append(
            Entry(
                task=key,
                tp={},
                methods=[(m, {}) for m in methods],
                seeds=list(first.seeds),
                epochs=None,
                setup_budget=first.setup_budget,
                run_budget=first.run_budget,
            )
        )
    return out


def note_command(results: str, argv: list[str]) -> None:
    """Append this command line to ``<results>/commands.log``: the report's provenance names it."""
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "commands.log"), "a") as f:
        f.write("nesybench " + " ".join(shlex.quote(a) for a in argv) + "\n")


def run_suite(opts: BenchOptions) -> int:
    """``nesybench bench``: plan the suite, run what is not finished, write the report; returns the
    exit status (1 when a run failed)."""
    entries = get_suite(opts.suite).entries
    if opts.out:
        output_file(opts.out, "--out")
    dirs = data_dirs(opts)
    say = (lambda m: None) if opts.quiet else (lambda m: print(m, flush=True))
    todo = plan(entries, opts, dirs)
    note_command(opts.results, opts.argv or sys.argv[1:])
    t_start = time.monotonic()
    if opts.executor == "ray":  # runs as Ray tasks: harness.ray_exec
        from .ray_exec import run_plan
    else:
        run_plan = run_plan_local
    failures, skipped, ran = run_plan(todo, opts, say)
    if skipped:
        print(f"{skipped} of {len(todo)} runs already finished (resumed); {ran} run now", flush=True)
    out = opts.out or os.path.join(opts.results, "report", "report.md")
    write_report(opts.results, out, title=f"nesybench report: suite {opts.suite}", suite=opts.suite)
    print(f"report written to {out} ({format_seconds(time.monotonic() - t_start)})", flush=True)
    return 1 if failures else 0


def run_plan_local(todo: list[tuple[Entry, RunConfig]], opts: BenchOptions, say) -> tuple[int, int, int]:
    """The local executor: one run at a time, in plan order; returns (failures, skipped, ran)."""
    t_start = time.monotonic()
    failures = skipped = ran = 0
    setup_timeouts = SetupTimeouts()
    for k, (entry, cfg) in enumerate(todo, start=1):
        spec = RunSpec.of(entry, cfg, opts)
        key = SetupTimeouts.key(entry, cfg)
        done = final_row(cfg, opts.results, spec.budget)
        if done is not None:
            skipped += 1
            setup_timeouts.note(key, done, earlier=True)
            continue
        first = setup_timeouts.first(key)
        if first is not None:  # a compilation that overran its budget at one seed overruns it at every seed
            ident = run_identity(cfg, opts.results)
            ident.writer.publish_with(not_run_row(cfg, ident, first))
            say(f"{run_name(cfg)}: {not_run_note(first)}")
            continue
        elapsed = time.monotonic() - t_start
        left = len(todo) - k + 1
        eta = f", ETA {format_seconds(elapsed / ran * left)}" if ran else ""
        print(f"[{k}/{len(todo)}] {run_name(cfg)} (elapsed {format_seconds(elapsed)}{eta})", flush=True)
        outcome = run_isolated(spec, say, opts.memory_gb)
        ran += 1
        setup_timeouts.note(key, final_row(cfg, opts.results))
        if outcome in ("failed", "user-error"):
            failures += 1
    return failures, skipped, ran
