"""The training loop. The harness owns the step: methods only return losses.

One run = one (task, task parameters, method, hyper-parameters, seed, epochs, batch size, lr).
Per epoch: train (timed with CUDA synchronisation where it applies), evaluate (timed apart), append
one result row. Set-up is timed in two parts: ``data_seconds`` (the task loads or generates data)
and ``setup_seconds`` (the method's one-off symbolic work in ``prepare``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
import torch

from . import presets, records
from .budget import Budget, BudgetExceeded, Clock
from .config import output_dir
from .diagnostics import CollapseWatch
from .errors import SkipRun, UserError, did_you_mean
from .provenance import code_hash, defining_file, display_path, local_modules, loop_hash, loop_modules
from .registry import get_method, get_task

log = logging.getLogger("nesybench")


@dataclass
class RunConfig:
    task: str
    method: str
    seed: int = 0
    epochs: int | None = None  # None: the task's default
    batch_size: int | None = None
    lr: float | None = None
    hp: dict[str, Any] = field(default_factory=dict)
    tp: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"
    threads: int = 1
    data_dirs: dict[str, str] = field(default_factory=dict)
    save_model: str | None = None  # directory to keep the trained network in
    lr_schedule: str | None = None  # None: the preset's (constant); see LR_SCHEDULES


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available here; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return platform.processor() or platform.machine() or "cpu"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


#: learning-rate schedules over a run's epochs: ``constant``, or ``cosine``: epoch e of E trains at
#: lr * (1 + cos(pi (e - 1) / E)) / 2 (the full lr in epoch 1, lr (1 + cos(pi (E - 1) / E)) / 2 in
#: the last), which lets a noisy small-batch run settle (docs/mnist-add-scaling.md)
LR_SCHEDULES = ("constant", "cosine")


def epoch_lr(train: dict[str, Any], epoch: int) -> float:
    """The learning rate of 1-based ``epoch`` under the run's schedule."""
    if train.get("lr_schedule", "constant") == "cosine":
        return train["lr"] * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / train["epochs"]))
    return train["lr"]


def build(cfg: RunConfig):
    """Instantiate the task and method of a config, with the pair's presets (:mod:`harness.presets`)
    and the task's training defaults applied.
    Raises UserError for unknown names, keys or values."""
    task_cls = get_task(cfg.task)
    method_cls = get_method(cfg.method)
    task = task_cls(data_dirs=cfg.data_dirs, **cfg.tp)
    hp, train_md = presets.resolve(task_cls, method_cls, cfg.hp, task.tp)  # the paper's settings of the pair
    method = method_cls(**hp)
    train = {**task_cls.train_defaults, **train_md}
    for k in ("epochs", "batch_size", "lr", "lr_schedule"):
        if getattr(cfg, k) is not None:
            train[k] = getattr(cfg, k)
    if train["epochs"] < 1 or train["batch_size"] < 1 or not train["lr"] > 0:
        raise UserError(f"epochs and batch size must be >= 1 and lr > 0; got {train}")
    schedule = train.pop("lr_schedule", "constant")
    if schedule not in LR_SCHEDULES:
        raise UserError(
            f"unknown lr schedule {schedule!r}{did_you_mean(str(schedule), LR_SCHEDULES)}; "
            f"choose one of {', '.join(LR_SCHEDULES)}"
        )
    if schedule != "constant":  # a constant rate adds no key: the run ids of constant-rate runs stay
        train["lr_schedule"] = schedule
    return task, method, train


def run_config_key(cfg: RunConfig, task, method, train) -> dict[str, Any]:
    """What identifies a run: equal keys are the same experiment on the same code version."""
    return {
        "task": task.key,
        "task_version": task.version,
        "task_hash": code_hash(type(task)),
        "method": method.key,
        "method_version": method.version,
        "method_hash": code_hash(type(method)),
        "loop_hash": loop_hash(),
        "hp": method.hp,
        "tp": task.tp,
        "seed": cfg.seed,
        **train,
        "data": {k: os.path.abspath(v) for k, v in cfg.data_dirs.items()},
        "device": cfg.device,
        "threads": cfg.threads,
    }


@dataclass
class RunIdentity:
    """A configuration resolved without loading any data: what identifies the run and its file."""

    task: Any
    method: Any
    train: dict[str, Any]
    key: dict[str, Any]
    run_id: str
    writer: records.RunWriter


def run_identity(cfg: RunConfig, results_dir: str) -> RunIdentity:
    task, method, train = build(cfg)
    key = run_config_key(cfg, task, method, train)
    run_id = records.config_id(key)
    return RunIdentity(task, method, train, key, run_id, records.RunWriter(results_dir, task.key, method.key, run_id))


def validate_configs(cfgs: list[RunConfig], results_dir: str) -> None:
    """Find every user error of these runs before the first one starts: names, hyper-parameters,
    task parameters, training settings, the device and the tasks' data files (``Task.validate``,
    once per task configuration). Raises :class:`UserError`; loads no data beyond what validation
    reads and writes nothing."""
    validated = set()
    for cfg in cfgs:
        check_seed(cfg.seed)
        if cfg.save_model:
            output_dir(cfg.save_model, "--save-models")
        ident = run_identity(cfg, results_dir)
        resolve_device(cfg.device)
        key = json.dumps([cfg.task, ident.task.tp, cfg.data_dirs], sort_keys=True, default=str)
        ident.writer.check_free()  # another process writing this very run
        if key not in validated:
            validated.add(key)
            ident.task.validate()


#: seeds are what numpy's generator accepts: 0 <= seed < 2**32
MAX_SEED = 2**32 - 1


def check_seed(seed: Any) -> None:
    """UserError for a seed that is not a whole number in 0..2**32-1."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UserError(f"seed {seed!r}: seeds are whole numbers from 0 to {MAX_SEED}; e.g. --seeds 0 1 2")


class LossContractError(Exception):
    """A method's ``loss`` broke the contract: a 0-dim tensor that requires grad (a bug of the
    method, recorded as a failed run that names the method and ``nesybench check``)."""

    def __init__(self, method, got: str):
        path = display_path(defining_file(type(method)))
        plugin = f"--plugin {path} " if path and os.path.isabs(path) else ""
        super().__init__(
            f"method {method.key}: loss() returned {got}, but must return a 0-dim tensor that requires "
            f"grad (e.g. the .mean() over the batch of a differentiable expression of the outputs); "
            f"'nesybench check {plugin}--method {method.key}' shows which contract check fails"
        )


def _loss_text(loss: Any) -> str:
    if not isinstance(loss, torch.Tensor):
        return f"a {type(loss).__name__}"
    if loss.dim() != 0:
        return f"a tensor of shape {tuple(loss.shape)}"
    return "a tensor that does not require grad (detached from the network's outputs)"


def crash_site(e: BaseException, files: list[str | None]) -> str | None:
    """Where a crash happened, as "FILE, line N, in FUNC": the innermost frame in one of ``files``
    (the run's plug-in files) if any, else the innermost frame of code outside the Python
    installation (the harness, a task, a method)."""
    frames = traceback.extract_tb(e.__traceback__)
    wanted = {os.path.abspath(f) for f in files if f}
    own = [f for f in frames if os.path.abspath(f.filename) in wanted]
    if not own:
        prefixes = tuple(p for p in {os.path.dirname(os.__file__), os.path.dirname(torch.__file__)} if p)
        own = [f for f in frames if not f.filename.startswith(prefixes) and "site-packages" not in f.filename]
    if not own:
        return None
    f = own[-1]
    return f"{display_path(f.filename)}, line {f.lineno}, in {f.name}"


def stale_timeout(row: dict[str, Any], budget: Budget) -> str | None:
    """Why a finished timeout row no longer stands under ``budget``: it ran out of a set-up or run
    budget smaller than the one the run would have now (None: it stands, or it ran out of a limit of
    the method's own, which is part of the run's configuration)."""
    if row.get("status") != "timeout" or row.get("timeout_budget") not in ("setup", "run"):
        return None
    limit, phase = row.get("budget_seconds"), row.get("timeout_phase") or "setup"
    if not limit:
        return None
    now = budget.for_phase(phase)
    if now is not None and now <= float(limit) * (1 + 1e-9):
        return None
    source = f" ({row['budget_source']})" if row.get("budget_source") else ""
    return f"it timed out under a {row['timeout_budget']} budget of {float(limit):g} s{source}; " + (
        "there is no budget now" if now is None else f"the budget now is {now:g} s"
    )


def end_row(base: dict[str, Any], status: str, error: str, **extra) -> dict[str, Any]:
    """The last row of a run that ended without finishing its epochs (timeout, skipped, failed)."""
    return {
        **base,
        "epoch": None,
        "status": status,
        "error": error,
        "metrics": {},
        "final": True,
        **extra,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def render_facts(task, method) -> dict[str, Any]:
    """What a report needs to know of the task and method classes, recorded so that the rows of a
    plug-in render the same without it: the headline metric, the task parameters' defaults (and
    which apply only in one setting) and the hyper-parameters the method gets by default on this
    task (its presets applied)."""
    hp, _ = presets.resolve(type(task), type(method), {}, task.tp)
    try:
        hp_defaults = type(method)(**hp).hp
    except UserError:  # presets this code rejects: the method's own defaults
        hp_defaults = {"w_label": 0.0, **type(method).hparams}
    return {
        "main_metric": type(task).main_metric or None,
        "tp_defaults": dict(type(task).params),
        "param_applies": dict(getattr(type(task), "param_applies", {}) or {}),
        "hp_defaults": hp_defaults,
    }


def base_row(cfg: RunConfig, ident: RunIdentity, device: torch.device) -> dict[str, Any]:
    """The fields every row of a run carries (provenance, configuration)."""
    task, method, train, key, run_id = ident.task, ident.method, ident.train, ident.key, ident.run_id
    return {
        "schema_version": records.SCHEMA_VERSION,
        "run_id": run_id,
        "task": task.key,
        "task_version": task.version,
        "task_key": f"{task.key}-v{task.version}",
        "method": method.key,
        "method_version": method.version,
        "method_key": f"{method.key}-v{method.version}",
        "method_hash": key["method_hash"],
        "task_hash": key["task_hash"],
        "loop_hash": key["loop_hash"],
        "method_file": display_path(defining_file(type(method))),
        "task_file": display_path(defining_file(type(task))),
        "method_modules": local_modules(type(method)),
        "task_modules": local_modules(type(task)),
        "loop_modules": loop_modules(),
        "hp": method.hp,
        "tp": task.tp,
        "size_param": getattr(task, "size_param", None),
        **render_facts(task, method),
        "seed": cfg.seed,
        "epochs": train["epochs"],
        "batch_size": train["batch_size"],
        "lr": train["lr"],
        "lr_schedule": train.get("lr_schedule", "constant"),
        "device": device.type,
        "device_name": device_name(device),
        "threads": cfg.threads,
        "versions": records.package_versions(),
        **records.git_info(),
        **records.host_info(),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def observes(task) -> bool:
    """Whether ``task`` overrides :meth:`~harness.api.Task.observe` (the loop then calls it per step)."""
    from .api import Task

    return type(task).observe is not Task.observe


def train_step(task, method, net, opt, batch, w_label: float, observe: bool = False) -> torch.Tensor:
    """One optimizer step of the training loop: the method's loss on the network's outputs, plus
    the task's supervised loss weighted by ``w_label`` when it is not 0; returns the loss. With
    ``observe`` the task sees the step's outputs (:meth:`~harness.api.Task.observe`)."""
    outputs = net(batch.x)
    if observe:
        with torch.no_grad():
            task.observe(outputs, batch)
    loss = method.loss(outputs, batch)
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise LossContractError(method, _loss_text(loss))
    if w_label:
        loss = loss + w_label * task.label_loss(outputs, batch)
    if not loss.requires_grad:
        raise LossContractError(method, _loss_text(loss))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def _load_average() -> float | None:
    """The machine's 1-minute load average as the epoch ends: above the run's threads, other work
    shared the CPU with it (its times are then not a quiet machine's)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def make_optimizer(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam for every method. The fused kernel (one call for all parameters, on CPU since torch 2.4)
    is the same update as the per-tensor loop at a quarter of its cost for small networks (0.25 against
    0.94 ms per step for the LeNet on 2 CPU threads), which matters at the NeuroLog tasks' batch 1."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # a device or torch version without the fused kernel
        return torch.optim.Adam(params, lr=lr)


def run(
    cfg: RunConfig,
    results_dir: str,
    progress: Callable[[str], None] | None = None,
    resume: bool = True,
    budget: Budget | None = None,
    tags: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and evaluate one run, appending a row per epoch. Returns the last row.

    A run already finished with the same configuration and code version (status ok, skipped or
    timeout) is not repeated (its last row is returned with ``skipped_existing`` set) unless
    ``resume`` is False, or unless it timed out under a smaller budget than ``budget``
    (:func:`stale_timeout`) or its file is damaged: then the file is set aside and the run runs
    again, saying so. ``budget`` bounds set-up and the whole run; over budget, the run is recorded
    with status ``timeout``, the phase, the budget, where it was set and the seconds reached.
    ``tags`` are extra fields of every row (the suite a run belongs to). A crash is a ``failed``
    row with the error, where it happened (the plug-in's file and line) and the traceback.
    """
    budget = budget or Budget()
    check_seed(cfg.seed)
    ident = run_identity(cfg, results_dir)
    task, method, train, run_id, writer = ident.task, ident.method, ident.train, ident.run_id, ident.writer
    who = f"{task.key} {method.key} seed {cfg.seed}"
    if writer.finished():
        done = records.last_row(writer.final)
        if done is None:
            kept = writer.set_aside_final("damaged")
            log.warning(
                f"{who}: run {run_id}'s row file is damaged (no final row); running it again (the file is "
                f"kept as {kept})"
            )
        elif resume:
            why = stale_timeout(done, budget)
            if why is None:
                return {**done, "skipped_existing": True}
            kept = writer.set_aside_final("timeout")
            log.warning(f"{who}: running run {run_id} again: {why} (its timeout row is kept in {kept})")
    task.validate()  # the task's data files, before any row is written

    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    base = {**base_row(cfg, ident, device), **(tags or {})}
    earlier = writer.interrupted()
    if earlier:
        log.warning(
            f"{task.key} {method.key} seed {cfg.seed}: restarting run {run_id} from epoch 1; an earlier "
            f"attempt was interrupted (its finished epochs are kept in {earlier[-1]})"
        )
    writer.open()
    clock = Clock(budget)
    try:
        clock.enter("setup")
        seed_everything(cfg.seed)
        t0 = time.perf_counter()
        task.setup(cfg.seed, device)
        if method.labelled_only:  # e.g. the supervised ceiling in a semi-supervised run
            task.select_labelled()
        constraint = task.constraint()
        _sync(device)
        data_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        method.prepare(constraint, device)
        _sync(device)
        setup_seconds = time.perf_counter() - t0
        seed_everything(cfg.seed)  # the network's init depends on the seed only
        net = task.network().to(device)
        params = list(net.parameters()) + list(method.trainable())
        opt = make_optimizer(params, train["lr"])
        gen = torch.Generator().manual_seed(cfg.seed)
        base.update(
            describe=task.describe(),
            method_describe=method.describe(),
            data_seconds=data_seconds,
            setup_seconds=setup_seconds,
            n_parameters=sum(p.numel() for p in net.parameters()),
        )
        w_label = float(method.hp.get("w_label", 0.0))
        observe = observes(task)
        row: dict[str, Any] = {}
        for epoch in range(1, train["epochs"] + 1):
            clock.enter("train")
            for group in opt.param_groups:
                group["lr"] = epoch_lr(train, epoch)
            net.train()
            _sync(device)
            t0 = time.perf_counter()
            n_steps = 0
            loss_sum = torch.zeros((), device=device)  # summed on the device: no sync per step
            for batch in task.train_batches(train["batch_size"], gen, epoch):
                loss = train_step(task, method, net, opt, batch, w_label, observe)
                loss_sum += loss.detach()
                n_steps += 1
                if n_steps % 200 == 1:  # cheap divergence check without a sync per step
                    val = float(loss.detach())
                    if not math.isfinite(val):
                        raise FloatingPointError(f"loss became {val} at epoch {epoch}, step {n_steps}")
            _sync(device)
            train_loss = float(loss_sum) / max(n_steps, 1)
            train_seconds = time.perf_counter() - t0
            net.eval()
            clock.enter("eval")
            t0 = time.perf_counter()
            with CollapseWatch(net) as watch:
                metrics = task.evaluate(net, device)
            _sync(device)
            eval_seconds = time.perf_counter() - t0
            row = {
                **base,
                "epoch": epoch,
                "status": "ok",
                "error": None,
                "metrics": metrics,
                "collapsed": watch.collapsed(),
                "train_seconds": train_seconds,
                "eval_seconds": eval_seconds,
                "steps": n_steps,
                "train_loss": train_loss,
                "load_avg_1m": _load_average(),
                "final": epoch == train["epochs"],
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            writer.append(row)
            if progress:
                shown = " ".join(f"{k}={v:.2f}" for k, v in metrics.items())
                progress(
                    f"{task.key} {method.key} seed {cfg.seed} epoch {epoch}/{train['epochs']}: {shown} "
                    f"({train_seconds:.1f}s train, {eval_seconds:.1f}s eval)"
                )
        clock.stop()
        if cfg.save_model:
            os.makedirs(cfg.save_model, exist_ok=True)
            torch.save(
                {"state_dict": net.state_dict(), "config": asdict(cfg), "run_id": run_id},
                os.path.join(cfg.save_model, f"{run_id}.pt"),
            )
        writer.publish()
        return row
    except BudgetExceeded as e:
        clock.stop()
        writer.append(
            end_row(
                base,
                "timeout",
                str(e),
                timeout_phase=e.phase,
                seconds_reached=e.elapsed,
                budget_seconds=e.limit,
                timeout_budget=e.budget,
                budget_source=e.source,
            )
        )
        writer.publish()  # a timeout is a result: not retried on resume
        if progress:
            progress(f"{task.key} {method.key} seed {cfg.seed}: timeout ({e})")
        return {**base, "status": "timeout", "error": str(e)}
    except SkipRun as e:
        clock.stop()
        writer.append(end_row(base, "skipped", str(e)))
        writer.publish()  # a skip is a finished result: not retried on resume
        return {**base, "status": "skipped", "error": str(e)}
    except UserError:
        clock.stop()
        writer.discard()  # a user error is no result of a valid run: no row stays
        raise
    except BaseException as e:
        clock.stop()
        status = "failed"
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            status = "killed"
            error = f"interrupted ({type(e).__name__}) during {clock.phase}"
            extra = {}
        else:
            last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            error = f"{type(e).__name__}: {last}"
            site = (
                None
                if isinstance(e, LossContractError)
                else crash_site(e, [defining_file(type(method)), defining_file(type(task))])
            )
            if site:
                error += f" (at {site})"
            extra = {"error_at": site, "traceback": "".join(traceback.format_exception(e))}
            try:
                e.run_error = error  # the row's one line, for the command's message
            except AttributeError:
                pass
        writer.append(end_row(base, status, error, **extra))
        writer.close()
        # a failed run is a result too, kept beside the run; a later attempt with the same
        # configuration runs again rather than being skipped
        writer.set_aside(status)
        raise
