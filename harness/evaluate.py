"""Evaluate a network kept by ``nesybench run --save-models DIR`` (``nesybench eval``).

The saved file holds {state_dict, config, run_id}; the task is rebuilt from the config, the network
loaded, and scored either on the task's own test split (as at the end of training) or on a data
file the user names, through the task's optional ``evaluate_file(net, path, device, limit)``
(e.g. a Sudoku ``quiz,solution`` CSV file).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from .errors import UserError
from .loop import RunConfig, build, resolve_device, seed_everything


def load_saved(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise UserError(f"--model {path}: no such file; give a .pt file written by 'nesybench run --save-models DIR'")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a torch.load failure on a user file is a user error
        raise UserError(f"--model {path}: not a saved nesybench network ({type(e).__name__})") from None
    if not isinstance(saved, dict) or not {"state_dict", "config"} <= set(saved):
        raise UserError(f"--model {path}: not a saved nesybench network (no state_dict/config)")
    return saved


def load_network(model: str, device: torch.device) -> tuple[RunConfig, Any, torch.nn.Module]:
    """The run's config, its task (built, not set up) and the kept network on ``device`` in eval mode."""
    saved = load_saved(model)
    try:
        cfg = RunConfig(**saved["config"])
    except TypeError:
        raise UserError(f"--model {model}: its config does not match this version of nesybench") from None
    task, _, _ = build(cfg)
    seed_everything(cfg.seed)
    net = task.network()
    try:
        net.load_state_dict(saved["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise UserError(f"--model {model}: the weights do not fit task {cfg.task}'s network ({first})") from None
    return cfg, task, net.to(device).eval()


def evaluate_saved(
    model: str, data: str | None = None, device: str = "auto", threads: int = 1, limit: int = 0
) -> dict[str, float]:
    """Metrics of the network in ``model`` on ``data`` (a file for the task's ``evaluate_file``) or,
    without ``data``, on the task's test split of the saved run's seed."""
    torch.set_num_threads(threads)
    dev = resolve_device(device)
    cfg, task, net = load_network(model, dev)
    if data:
        if not hasattr(task, "evaluate_file"):
            raise UserError(f"task {task.key} cannot score a data file; leave out --data to use its test split")
        return task.evaluate_file(net, data, dev, limit)
    task.setup(cfg.seed, dev)
    return task.evaluate(net, dev)
