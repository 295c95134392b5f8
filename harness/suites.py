"""Suites: plain Python lists of runs.

A suite entry is (task, task parameters, [(method, hyper-parameters)], seeds, epochs, extra
training settings). ``smoke`` is seconds long (tests, CI); ``default`` is what ``make bench`` runs
on the embedded data at CPU scale; ``paper`` is the paper-scale protocol (full MNIST, meant for a
GPU or a long CPU run; pass --mnist-dir).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import UserError, did_you_mean


@dataclass
class Entry:
    task: str
    tp: dict[str, Any]
    methods: list[tuple[str, dict[str, Any]]]
    seeds: list[int]
    epochs: int
    batch_size: int | None = None
    lr: float | None = None
    needs: list[str] = field(default_factory=list)  # data directories the entry requires
    setup_budget: float | None = 300.0  # seconds for data + symbolic set-up (compilation, grounding)
    run_budget: float | None = 1800.0  # seconds for the whole run; over it the run is a timeout


SUITES: dict[str, list[Entry]] = {
    "smoke": [
        Entry("mnist-add", {"n_pairs": 200}, [("cl-ste", {}), ("supervised", {})], [0], 1),
    ],
    "default": [
        # 2,000 pairs of the 4,000 embedded training digits; batch 16 needs about 10 epochs there
        Entry("mnist-add", {}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 10),
    ],
    "paper": [
        # PAPER.md 4.1: 30,000 pairs, batch 16, lr 0.001, 1 epoch, b_p + iSTE with weights (3, 0.4)
        Entry("mnist-add", {}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 1, 16, 1e-3, needs=["mnist"]),
    ],
}


def get_suite(name: str) -> list[Entry]:
    if name not in SUITES:
        raise UserError(f"unknown suite {name!r}{did_you_mean(name, SUITES)}; known: {', '.join(SUITES)}")
    return SUITES[name]
