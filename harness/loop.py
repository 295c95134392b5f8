"""The training loop. The harness owns the step: methods only return losses.

One run = one (task, task parameters, method, hyper-parameters, seed, epochs, batch size, lr).
Per epoch: train (timed with CUDA synchronisation where it applies), evaluate (timed apart), append
one result row. Set-up is timed in two parts: ``data_seconds`` (the task loads or generates data)
and ``setup_seconds`` (the method's one-off symbolic work in ``prepare``).
"""
from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
import torch

from . import records
from .budget import Budget, BudgetExceeded, Clock
from .errors import SkipRun, UserError
from .api import source_hash
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


def build(cfg: RunConfig):
    """Instantiate the task and method of a config, with the task's defaults applied.
    Raises UserError for unknown names, keys or values."""
    task_cls = get_task(cfg.task)
    method_cls = get_method(cfg.method)
    task = task_cls(data_dirs=cfg.data_dirs, **cfg.tp)
    md = dict(task_cls.method_defaults.get(method_cls.key, {}))
    # variant keys "method|k=value|..." (e.g. "cl-ste|ste=b-iste", "cl-ste|ste=b-iste|n=5") add
    # defaults that the paper tuned for some values: k is a hyper-parameter (the value the run ends
    # up with: given, the task's default or the method's) or else a task parameter; text compare
    def _value(k):
        if k in cfg.hp or k in md or k in method_cls.hparams:
            return cfg.hp.get(k, md.get(k, method_cls.hparams.get(k)))
        return task.tp.get(k)

    for vkey, vdefaults in task_cls.method_defaults.items():
        mkey, *conds = vkey.split("|")
        if conds and mkey == method_cls.key and all(str(_value(k)) == want for k, _, want in
                                                     (c.partition("=") for c in conds)):
            md = {**md, **vdefaults, "_train": {**md.get("_train", {}), **vdefaults.get("_train", {})}}
    # reserved key "_train": training settings (epochs, batch_size, lr) the paper tuned per method
    # on this task, e.g. {"_train": {"lr": 0.002}}; the run's own settings still override them
    train_md = md.pop("_train", {})
    hp = {**md, **cfg.hp}
    method = method_cls(**hp)
    train = {**task_cls.train_defaults, **train_md}
    for k in ("epochs", "batch_size", "lr"):
        if getattr(cfg, k) is not None:
            train[k] = getattr(cfg, k)
    if train["epochs"] < 1 or train["batch_size"] < 1 or not train["lr"] > 0:
        raise UserError(f"epochs and batch size must be >= 1 and lr > 0; got {train}")
    return task, method, train


def run_config_key(cfg: RunConfig, task, method, train) -> dict[str, Any]:
    """What identifies a run: equal keys are the same experiment on the same code version."""
    return {
        "task": task.key, "task_version": task.version, "task_hash": source_hash(type(task)),
        "method": method.key, "method_version": method.version, "method_hash": source_hash(type(method)),
        "hp": method.hp, "tp": task.tp, "seed": cfg.seed, **train,
        "data": {k: os.path.abspath(v) for k, v in cfg.data_dirs.items()},
        "device": cfg.device, "threads": cfg.threads,
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


def end_row(base: dict[str, Any], status: str, error: str, **extra) -> dict[str, Any]:
    """The last row of a run that ended without finishing its epochs (timeout, skipped, failed)."""
    return {**base, "epoch": None, "status": status, "error": error, "metrics": {}, "final": True, **extra,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def base_row(cfg: RunConfig, ident: RunIdentity, device: torch.device) -> dict[str, Any]:
    """The fields every row of a run carries (provenance, configuration)."""
    task, method, train, key, run_id = ident.task, ident.method, ident.train, ident.key, ident.run_id
    return {
        "schema_version": records.SCHEMA_VERSION, "run_id": run_id,
        "task": task.key, "task_version": task.version, "task_key": f"{task.key}-v{task.version}",
        "method": method.key, "method_version": method.version, "method_key": f"{method.key}-v{method.version}",
        "method_hash": key["method_hash"], "task_hash": key["task_hash"],
        "hp": method.hp, "tp": task.tp, "size_param": getattr(task, "size_param", None),
        "seed": cfg.seed, "epochs": train["epochs"],
        "batch_size": train["batch_size"], "lr": train["lr"], "device": device.type,
        "device_name": device_name(device), "threads": cfg.threads,
        "versions": records.package_versions(), **records.git_info(), **records.host_info(),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def train_step(task, method, net, opt, batch, w_label: float) -> torch.Tensor:
    """One optimizer step of the training loop: the method's loss on the network's outputs, plus
    the task's supervised loss weighted by ``w_label`` when it is not 0; returns the loss."""
    outputs = net(batch.x)
    loss = method.loss(outputs, batch)
    if w_label:
        loss = loss + w_label * task.label_loss(outputs, batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def make_optimizer(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam for every method. The fused kernel (one call for all parameters, on CPU since torch 2.4)
    is the same update as the per-tensor loop at a quarter of its cost for small networks (0.25 against
    0.94 ms per step for the LeNet on 2 CPU threads), which matters at the NeuroLog tasks' batch 1."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # a device or torch version without the fused kernel
        return torch.optim.Adam(params, lr=lr)


def run(cfg: RunConfig, results_dir: str, progress: Callable[[str], None] | None = None,
        resume: bool = True, budget: Budget | None = None) -> dict[str, Any]:
    """Train and evaluate one run, appending a row per epoch. Returns the last row.

    A run already finished with the same configuration and code version (status ok, skipped or
    timeout) is not repeated (its last row is returned with ``skipped_existing`` set) unless
    ``resume`` is False. ``budget`` bounds set-up and the whole run; over budget, the run is
    recorded with status ``timeout``, the phase and the seconds reached.
    """
    ident = run_identity(cfg, results_dir)
    task, method, train, run_id, writer = ident.task, ident.method, ident.train, ident.run_id, ident.writer
    if resume and writer.finished():
        rows = [r for r in records.iter_rows(writer.dir) if r.get("run_id") == run_id]
        last = rows[-1] if rows else {}
        return {**last, "skipped_existing": True}

    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    base = base_row(cfg, ident, device)
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
        base.update(describe=task.describe(), method_describe=method.describe(),
                    data_seconds=data_seconds, setup_seconds=setup_seconds,
                    n_parameters=sum(p.numel() for p in net.parameters()))
        w_label = float(method.hp.get("w_label", 0.0))
        row: dict[str, Any] = {}
        for epoch in range(1, train["epochs"] + 1):
            clock.enter("train")
            net.train()
            _sync(device)
            t0 = time.perf_counter()
            n_steps, loss_sum = 0, 0.0
            for batch in task.train_batches(train["batch_size"], gen):
                loss = train_step(task, method, net, opt, batch, w_label)
                n_steps += 1
                if n_steps % 200 == 1:  # cheap divergence check without a sync per step
                    val = float(loss.detach())
                    if not math.isfinite(val):
                        raise FloatingPointError(f"loss became {val} at epoch {epoch}, step {n_steps}")
                    loss_sum += val
            _sync(device)
            train_seconds = time.perf_counter() - t0
            net.eval()
            clock.enter("eval")
            t0 = time.perf_counter()
            metrics = task.evaluate(net, device)
            _sync(device)
            eval_seconds = time.perf_counter() - t0
            row = {**base, "epoch": epoch, "status": "ok", "error": None, "metrics": metrics,
                   "train_seconds": train_seconds, "eval_seconds": eval_seconds, "steps": n_steps,
                   "final": epoch == train["epochs"], "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            writer.append(row)
            if progress:
                shown = " ".join(f"{k}={v:.2f}" for k, v in metrics.items())
                progress(f"{task.key} {method.key} seed {cfg.seed} epoch {epoch}/{train['epochs']}: {shown} "
                         f"({train_seconds:.1f}s train, {eval_seconds:.1f}s eval)")
        clock.stop()
        if cfg.save_model:
            os.makedirs(cfg.save_model, exist_ok=True)
            torch.save({"state_dict": net.state_dict(), "config": asdict(cfg), "run_id": run_id},
                       os.path.join(cfg.save_model, f"{run_id}.pt"))
        writer.publish()
        return row
    except BudgetExceeded as e:
        clock.stop()
        writer.append(end_row(base, "timeout", str(e), timeout_phase=e.phase, seconds_reached=e.elapsed,
                              budget_seconds=e.limit))
        writer.publish()  # a timeout is a result: not retried on resume
        if progress:
            progress(f"{task.key} {method.key} seed {cfg.seed}: timeout ({e})")
        return {**base, "status": "timeout", "error": str(e)}
    except SkipRun as e:
        clock.stop()
        writer.append(end_row(base, "skipped", str(e)))
        writer.publish()  # a skip is a finished result: not retried on resume
        return {**base, "status": "skipped", "error": str(e)}
    except BaseException as e:
        clock.stop()
        status = "failed"
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            status = "killed"
        last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        writer.append(end_row(base, status, f"{type(e).__name__}: {last}"))
        writer.close()
        # a failed run is a result too, kept beside the run; a later attempt with the same
        # configuration runs again rather than being skipped
        writer.set_aside(status)
        raise
