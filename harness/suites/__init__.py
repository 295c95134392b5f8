"""Suites: named plans of runs, each declared once as a :class:`Suite`.

A suite holds its entries (each a task setting, its methods, seeds and training settings, run under
a set-up and a run budget), the named views its report prints after the summary table, the targets
its report judges, and whether its time columns are results (``timing``: the Ray executor then runs
one run per node). The built-in suites are declared by family, one module each:
:mod:`.basic` (``smoke``, ``default``: what ``make bench`` runs), :mod:`.paper` (the CL-STE paper's
protocols and the baselines on its tasks), :mod:`.peers` (each peer baseline under its own paper's protocol),
:mod:`.scaling` (MNIST addition by N, up to the field's
frontier). A plug-in or a test declares its own with :func:`register_suite`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError, did_you_mean
from ..target import Target  # noqa: F401  (what a suite's targets are; declared below the report)


@dataclass(kw_only=True)
class Entry:
    """Runs of one task setting: every method of ``methods`` with every seed of ``seeds``."""

    task: str
    tp: dict[str, Any]
    methods: list[tuple[str, dict[str, Any]]]
    seeds: list[int]
    epochs: int | None  # None: the task's (and method variant's) default
    batch_size: int | None = None
    lr: float | None = None
    lr_schedule: str | None = None  # None: constant; "cosine" (harness.loop.LR_SCHEDULES)
    needs: list[str] = field(default_factory=list)  # data directories the entry requires
    setup_budget: float | None = 300.0  # seconds for data + symbolic set-up (compilation, grounding)
    run_budget: float | None = 1800.0  # seconds for the whole run; over it the run is a timeout


@dataclass
class View:
    """A named summary table of a suite's report: its rows are the cells of ``tasks`` (all when
    None), its columns the method configurations of ``columns`` in order, each (label, method,
    hyper-parameters the run must have[, task parameters the run must have]); rows of other
    configurations are left out of the view, and so are cells without the task parameters of
    ``where``. ``ablations`` names the columns whose runs exist to show what breaks: their cells are
    left out of the summary table, and the view shows only the rows where one of them ran."""

    title: str
    columns: list[tuple]
    tasks: list[str] | None = None
    ablations: tuple[str, ...] = ()
    where: dict = field(default_factory=dict)


@dataclass(kw_only=True)
class Suite:
    """A named plan of runs with what its report shows (see the module docstring)."""

    name: str
    description: str
    entries: list[Entry]
    views: list[View] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    timing: bool = False  # its time columns are results: the Ray executor gives each run a node
    frontier_table: bool = False  # its report opens with the frontier table (harness/report/frontier.py)
    peers_table: bool = False  # its report opens with the "published vs run here" table (harness/peers.py)


SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite) -> Suite:
    """Declare ``suite`` under its name; a name already taken by another suite is an error."""
    if suite.name in SUITES and SUITES[suite.name] is not suite:
        raise ValueError(f"suite {suite.name!r} declared twice")
    if not all(isinstance(e, Entry) for e in suite.entries):
        raise ValueError(f"suite {suite.name!r}: every entry is an Entry")
    SUITES[suite.name] = suite
    return suite


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise UserError(f"unknown suite {name!r}{did_you_mean(name, SUITES)}; known: {', '.join(SUITES)}")
    return SUITES[name]


from . import basic, paper, peers, scaling  # noqa: E402,F401  (the built-in suites declare themselves)
