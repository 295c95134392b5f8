"""A target of a suite: a bar that its report shows as met or not met with the figure measured.

A target names the cells it is about (task, method, and the task parameters, hyper-parameters and
training settings those cells must have) and one bar: the headline metric's mean over seeds at
least ``at_least`` with at least ``seeds`` seeds, the seconds per epoch at most ``max_ratio`` times
the reference (``supervised``) method's at the same size parameter, batch size and device, the
set-up seconds at most ``max_setup``, or every finished run's total training minutes at most
``max_minutes``. Suites declare theirs (``targets`` of :class:`harness.suites.Suite`); the report judges them
(:func:`harness.report.targets.evaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Target:
    label: str  # what is asked and by whom, e.g. "N = 3: sum accuracy >= 94.5 (DeepStochLog's published)"
    task: str
    method: str
    tp: dict = field(default_factory=dict)  # task parameters the cells must have
    hp: dict = field(default_factory=dict)  # hyper-parameters the cells must have
    train: dict = field(default_factory=dict)  # epochs, batch_size, lr, lr_schedule the cells must have
    metric: str | None = None  # None: the task's headline metric
    at_least: float | None = None
    max_ratio: float | None = None
    max_setup: float | None = None  # set-up seconds (data, compilation) at most this
    max_minutes: float | None = None  # every finished run's total training minutes at most this
    seeds: int = 3
