"""The driver of the Ray executor: schedules a suite's runs as Ray tasks and keeps the results folder.

See :mod:`harness.ray_exec` for what it guarantees. This module holds the event loop: submission
under ``--max-parallel`` (and a per-node cap for timing suites), the gating of later seeds by the
not-run rule (:class:`harness.runner.SetupTimeouts`: they wait until the first seed has passed
set-up), rows written as they stream in, the mirror of each finished run's files, one retry of a
lost attempt, and the progress line (done / running / failed, with an ETA). Every row it writes
for a run itself (not run, cancelled, lost, not runnable on its worker) is the local executor's
(:mod:`harness.runner`) with the Ray fields added.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import defaultdict

from . import records
from .errors import UserError
from .loop import run_identity
from .ray_worker import attempt
from .runner import (
    GRACE_SECONDS,
    RunSpec,
    SetupTimeouts,
    closing_row,
    final_row,
    format_seconds,
    not_run_note,
    not_run_row,
    overrun_row,
    run_name,
)

BACKSTOP_SECONDS = 60.0  # beyond the worker's own hard kill: a worker that stopped answering
MAX_ATTEMPTS = 2  # a lost attempt is submitted once more
HEARTBEAT_SECONDS = 30.0  # a progress line at least this often


class _Run:
    def __init__(self, index, entry, spec: RunSpec, ident):
        self.index, self.entry, self.spec, self.cfg, self.ident = index, entry, spec, spec.config, ident
        self.key = SetupTimeouts.key(entry, spec.config)
        self.writer = ident.writer
        self.run_dir = os.path.relpath(
            ident.writer.final[: -len(".jsonl")], os.path.dirname(os.path.dirname(ident.writer.dir))
        )
        self.attempts, self.causes, self.avoid = 0, [], set()
        self.gen = self.node_id = self.node_ip = self.t_start = self.t_submit = None
        self.queue_s = self.first_row_s = None
        self.fh = None
        self.peak = 0
        self.streamed: dict[str, str] = {}  # raw line from the worker -> the line written here
        self.device = None

    @property
    def name(self) -> str:
        return run_name(self.cfg)


class Driver:
    """Runs a plan (``todo``: (entry, configuration) pairs) on Ray under ``opts``
    (:class:`harness.runner.BenchOptions`)."""

    def __init__(self, ray, todo, opts, say, per_node: int | None):
        self.ray, self.opts, self.say, self.per_node = ray, opts, say, per_node
        self.results = opts.results
        self.cuda = str(opts.device).startswith("cuda")
        self.git = records.git_info()
        self.plugins = []
        for p in opts.plugin or []:
            if p.endswith(".py") or os.sep in p:
                with open(p) as f:
                    self.plugins.append((p, f.read()))
            else:
                self.plugins.append((p, None))
        self.todo = todo
        self.runs: list[_Run] = []
        self.skipped = self.failures = self.ran = self.done = self.failed = 0
        self.setup_timeouts = SetupTimeouts()
        self.in_setup: dict[str, _Run] = {}  # set-up key -> its first run, until it passes set-up
        self.cleared: set[str] = set()
        self.inflight: dict[object, _Run] = {}  # generator -> run
        self.on_node: dict[str, set] = defaultdict(set)
        self.remote = ray.remote(attempt)
        self.t0 = time.monotonic()
        self.last_beat = 0.0

    # ---- planning -------------------------------------------------------------------------
    def _prepass(self) -> list[_Run]:
        pending = []
        for i, (entry, cfg) in enumerate(self.todo):
            # data paths travel as absolute paths: the run id records them so, and a worker's cwd differs
            cfg = dataclasses.replace(cfg, data_dirs={k: os.path.abspath(v) for k, v in cfg.data_dirs.items()})
            spec = RunSpec.of(entry, cfg, self.opts)
            done = final_row(cfg, self.results, spec.budget)  # a timeout under a smaller budget runs again
            run = _Run(i, entry, spec, run_identity(cfg, self.results))
            if done is not None:
                self.skipped += 1
                self.done += 1
                self.setup_timeouts.note(run.key, done, earlier=True)
                continue
            # the driver writes this run's rows itself (streamed, mirrored, or its closing row)
            os.makedirs(run.writer.dir, exist_ok=True)
            pending.append(run)
        return pending

    def _eligible(self, pending: list[_Run]) -> _Run | None:
        for run in list(pending):
            first = self.setup_timeouts.first(run.key)
            if first is not None:  # the set-up timed out at an earlier seed: the same timeout, not run
                pending.remove(run)
                run.device = first.get("device"), first.get("device_name")
                self._publish(run, not_run_row(run.cfg, run.ident, first, run.device))
                self.done += 1
                self._progress(pending, f"{run.name}: {not_run_note(first)}")
                continue
            if run.key in self.in_setup and self.in_setup[run.key] is not run:
                continue  # wait until the first seed of this configuration has passed set-up
            return run
        return None

    def _free_node(self, run: _Run) -> str | None | bool:
        """With a per-node cap: a node with room (its id), or False when none has; None: no cap."""
        if not self.per_node or self.cuda:
            return None
        busy = defaultdict(int)
        for r in self.inflight.values():
            if r.node_id:
                busy[r.node_id] += 1
        nodes = [
            n["NodeID"]
            for n in self.ray.nodes()
            if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= self.opts.threads
        ]
        # a node that lost this run's last attempt only when no other has room
        for node in sorted(nodes, key=lambda nid: nid in run.avoid):
            if busy[node] < self.per_node:
                return node
        return False

    def _check_fits(self) -> None:
        """A run that no node can hold would wait forever: say so before any run starts."""
        nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        need = f"{self.opts.threads} CPUs (--threads)" + (" and a GPU (--device cuda)" if self.cuda else "")
        if not any(r.get("CPU", 0) >= self.opts.threads and (not self.cuda or r.get("GPU", 0) >= 1) for r in nodes):
            raise UserError(
                f"--executor ray: no node of this Ray cluster has {need}; lower --threads or add such a node"
            )

    def _submit(self, run: _Run, node) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        opts = dict(num_cpus=self.opts.threads, num_gpus=1 if self.cuda else 0, max_retries=0)
        if node:
            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
        run.attempts += 1
        run.node_id = node or None
        run.t_start, run.t_submit, run.queue_s, run.first_row_s = None, time.monotonic(), None, None
        run.streamed, run.peak = {}, 0
        run.writer.set_aside("killed")  # a .part left by a killed driver or a lost attempt: kept aside
        if run.key not in self.cleared:
            self.in_setup.setdefault(run.key, run)
        run.gen = self.remote.options(**opts).remote(run.spec, run.run_dir, self.plugins, self.opts.memory_gb)
        self.inflight[run.gen] = run

    # ---- the loop -------------------------------------------------------------------------
    def run(self) -> tuple[int, int, int]:
        self._check_fits()
        pending = self._prepass()
        total = len(self.todo)
        cap = self.opts.max_parallel
        print(
            f"[ray] {total} runs, {self.skipped} already finished; up to {cap or 'as many as fit'} at once"
            + (f", {self.per_node} per node" if self.per_node and not self.cuda else ""),
            flush=True,
        )
        try:
            while pending or self.inflight:
                while pending and (cap is None or len(self.inflight) < cap):
                    run = self._eligible(pending)
                    if run is None:
                        break
                    node = self._free_node(run)
                    if node is False:
                        break
                    pending.remove(run)
                    self._submit(run, node)
                if not self.inflight:
                    if pending and self._eligible(pending) is None:
                        raise RuntimeError("runs wait on a set-up that nothing is running")
                    time.sleep(1.0)  # every node is full or gone: wait for one
                    continue
                ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=1.0)
                for gen in ready:
                    run = self.inflight.get(gen)
                    if run is not None:
                        self._next(run, pending)
                self._backstop()
                if time.monotonic() - self.last_beat > HEARTBEAT_SECONDS:
                    self._progress(pending)
        except BaseException:
            for gen in list(self.inflight):
                self.ray.cancel(gen, force=True)
            raise
        return self.failures, self.skipped, self.ran

    def _next(self, run: _Run, pending) -> None:
        try:
            ev = self.ray.get(next(run.gen))
        except StopIteration:
            return self._lost(run, pending, "the attempt ended without its closing event")
        except self.ray.exceptions.RayError as e:
            first = (str(e).strip().splitlines() or [""])[0][:240]
            return self._lost(run, pending, f"{type(e).__name__}: {first}")
        op = ev["op"]
        if op == "start":
            run.node_id, run.node_ip, run.t_start = ev["node_id"], ev["node_ip"], time.monotonic()
            run.queue_s = run.t_start - run.t_submit  # Ray's scheduling and the worker's start
            self.on_node[run.node_id].add(run)
            for r in self.on_node[run.node_id]:
                r.peak = max(r.peak, len(self.on_node[run.node_id]))
            self._progress(pending, f"started {run.name} on {run.node_ip} (attempt {run.attempts})")
        elif op == "row":
            self._write_row(run, ev["line"])
        elif op == "user_error":
            raise UserError(ev["message"])
        elif op == "end":
            self._finish(run, ev, pending)

    def _augment(self, run: _Run, line: str) -> str:
        """A row line of the run as the driver writes it (:meth:`_augment_row`); the same line each time."""
        if line in run.streamed:
            return run.streamed[line]
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            return line
        out = json.dumps(self._augment_row(run, row), default=str)
        run.streamed[line] = out
        return out

    def _augment_row(self, run: _Run, row: dict) -> dict:
        """``row`` with the Ray fields: the node, the runs sharing it, the queueing and first-row times."""
        row.update(
            executor="ray",
            node_ip=run.node_ip,
            node_id=run.node_id,
            concurrent_runs=max(run.peak, 1),
            ray_queue_seconds=run.queue_s,
        )
        if run.first_row_s is None and run.t_start and row.get("epoch") == 1:
            # the worker's start to this first epoch's row: the child process's start (what the
            # local executor pays too), data, set-up, the epoch and the streaming
            run.first_row_s = time.monotonic() - run.t_start
            row["ray_first_row_seconds"] = run.first_row_s
        if row.get("git_commit") is None:  # the shipped code is this checkout's
            row.update(self.git)
        run.device = row.get("device"), row.get("device_name")
        if run.node_id:
            run.peak = len(self.on_node[run.node_id])
        return row

    def _write_row(self, run: _Run, line: str) -> None:
        out = self._augment(run, line)
        if run.fh is None:
            run.fh = open(run.writer.part, "a")
        run.fh.write(out + "\n")
        run.fh.flush()
        os.fsync(run.fh.fileno())
        if json.loads(out).get("epoch") is not None:  # an epoch finished: the set-up passed
            self._clear(run.key)

    def _clear(self, key: str) -> None:
        self.cleared.add(key)
        self.in_setup.pop(key, None)

    def _release(self, run: _Run) -> None:
        self.inflight.pop(run.gen, None)
        self.on_node.get(run.node_id, set()).discard(run)
        if run.fh:
            run.fh.close()
            run.fh = None

    def _finish(self, run: _Run, ev: dict, pending) -> None:
        """Mirror the files the run left on its worker (the final one last, atomically)."""
        self._release(run)
        files = ev.get("files") or {}
        final = os.path.basename(run.writer.final)
        if final not in files and not ev.get("error"):
            ours = [n for n in files if n.startswith(os.path.basename(run.run_dir))]
            if not ours and files:
                ev["error"] = (
                    "the worker's run id differs from the driver's (its code or data paths differ): "
                    + ", ".join(sorted(files))
                )
        for name in sorted(files, key=lambda n: n == final):
            lines = [self._augment(run, ln) for ln in files[name].splitlines() if ln.strip()]
            tmp = os.path.join(run.writer.dir, f".{name}.tmp")
            with open(tmp, "w") as f:
                f.write("".join(ln + "\n" for ln in lines))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, os.path.join(run.writer.dir, name))
        if os.path.basename(run.writer.part) not in files and os.path.exists(run.writer.part):
            os.remove(run.writer.part)
        if ev.get("error") and final not in files:
            self._publish_end(run, "failed", f"the Ray worker could not run it: {ev['error']}")
        row = final_row(run.cfg, self.results)
        status = (row or {}).get("status")
        if not self.setup_timeouts.note(run.key, row):
            self._clear(run.key)
        self.ran += 1
        self.done += 1
        bad = ev.get("outcome") in ("failed", "user-error") or ev.get("error") or status == "failed"
        if bad:
            self.failures += 1
            self.failed += 1
        self._progress(pending, f"finished {run.name}: {status or ev.get('outcome')}")

    def _device(self, run: _Run) -> tuple[str, str | None]:
        """The run's device as its worker's rows record it (the driver's machine may have no GPU)."""
        return run.device or ("cuda" if self.cuda else "cpu", None)

    def _publish_end(self, run: _Run, status: str, error: str) -> None:
        self._publish(run, closing_row(run.cfg, run.ident, status, error, self._device(run)))

    def _publish(self, run: _Run, row: dict) -> None:
        """Close the run's file with ``row`` (after the epochs it streamed) and publish it."""
        run.writer.publish_with(self._augment_row(run, row))

    def _lost(self, run: _Run, pending, cause: str) -> None:
        self._release(run)
        where = f" on {run.node_ip}" if run.node_ip else ""
        run.causes.append(f"attempt {run.attempts}{where}: {cause}")
        if run.node_id:
            run.avoid.add(run.node_id)
        if run.attempts < MAX_ATTEMPTS:
            pending.insert(0, run)
            self._progress(pending, f"lost {run.name}{where} ({cause}); submitting it again")
            return
        self._publish_end(
            run,
            "failed",
            f"its Ray worker was lost {run.attempts} times; "
            + "; ".join(run.causes)
            + "; its finished epochs are kept",
        )
        self._clear(run.key)
        self.ran += 1
        self.done += 1
        self.failures += 1
        self.failed += 1
        self._progress(pending, f"failed {run.name}: lost {run.attempts} times")

    def _backstop(self) -> None:
        """A worker silent past the run budget, the grace and the backstop: cancelled, a timeout."""
        now = time.monotonic()
        for run in list(self.inflight.values()):
            budget = run.spec.run_budget
            if budget and run.t_start and now - run.t_start > budget + GRACE_SECONDS + BACKSTOP_SECONDS:
                self.ray.cancel(run.gen, force=True)
                self._release(run)
                self._publish(
                    run,
                    overrun_row(
                        run.cfg,
                        run.ident,
                        run.spec.budget,
                        now - run.t_start,
                        "cancelled by the Ray driver",
                        self._device(run),
                    ),
                )
                self._clear(run.key)
                self.ran += 1
                self.done += 1

    def _progress(self, pending, note: str = "") -> None:
        self.last_beat = time.monotonic()
        elapsed = self.last_beat - self.t0
        running = sum(1 for r in self.inflight.values() if r.t_start)
        queued = len(self.inflight) - running + len(pending)
        total = len(self.todo)
        eta = ""
        if self.ran:
            eta = f", ETA {format_seconds(elapsed / self.ran * (total - self.done))}"
        line = (
            f"[ray {self.done}/{total} done, {running} running, {queued} queued, {self.failed} failed; "
            f"{format_seconds(elapsed)}{eta}]"
        )
        print(f"{line} {note}".rstrip(), flush=True)
