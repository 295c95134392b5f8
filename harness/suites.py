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
    hyper-parameters the run must have); rows of other configurations are left out of the view."""

    title: str
    columns: list[tuple]
    tasks: list[str] | None = None


SUITES: dict[str, list[Entry]] = {
    "smoke": [
        Entry("mnist-add", {"n_pairs": 200}, [("cl-ste", {}), ("supervised", {})], [0], 1),
    ],
    "default": [
        # 2,000 pairs of the 4,000 embedded training digits, batch 16: CL-STE reaches about 96 %
        # digit accuracy by epoch 6 there (and 97 % by epoch 10); 6 epochs keep make bench under
        # 10 minutes on 2 cores
        Entry("mnist-add", {}, [("cl-ste", {}), ("supervised", {}), ("semantic-loss", {})], [0, 1, 2], 6),
        # LTN (LTNtorch) and the fuzzy log-product loss on the same protocol, one seed each
        Entry("mnist-add", {}, [("ltn", {}), ("fuzzy", {})], [0], 6),
        # DeepProbLog's exact engine evaluates one circuit per example in Python (about 36 ms a pair
        # here): one seed, one epoch on 300 pairs; at N = 2 its compilation of the 199 sum queries
        # (and the semantic loss's of the paper encoding) overruns a 10 s set-up budget: timeout rows
        # (the paper suite gives them 10 minutes)
        Entry("mnist-add", {"n_pairs": 300}, [("deepproblog", {})], [0], 1, run_budget=300.0),
        Entry("mnist-add", {"digits": 2}, [("deepproblog", {}), ("semantic-loss", {})], [0], 1, setup_budget=10.0),
        # shortest path on generated 4x4 data (1,610 examples like the paper's file), 60 of the
        # paper's 500 epochs; each method with its paper settings (harness.presets)
        Entry("shortest-path", {}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 60),
        Entry("shortest-path", {"encoding": "simple-path"}, [("cl-ste", {})], [0], 60),
        # Sudoku at CPU scale: 1,000 generated puzzles (36 givens), a narrow CNN, 3 epochs; the
        # inference trick on 100 test puzzles (it costs one forward pass per blank)
        Entry("sudoku", {"n_train": 1000, "n_test": 200, "trick_test": 100, "width": 64, "depth": 5},
              [("cl-ste", {}), ("supervised", {})], [0], 3, 16, 1e-3),
        # NeuroLog tasks on the embedded digits and synthetic operators, the paper's batch 1 and lr,
        # 1 epoch (member needs the paper's 3,000 examples: with 500 CL-STE stays at chance)
        Entry("add2x2", {"n_train": 1000}, [("cl-ste", {}), ("supervised", {})], [0], 1),
        Entry("member", {"n": 3}, [("cl-ste", {}), ("supervised", {})], [0], 1),
        Entry("apply2x2", {"n_train": 300}, [("cl-ste", {}), ("supervised", {})], [0], 1),
        # mnist-add with two 3-digit numbers on the 666 embedded examples, 5 epochs, on the column
        # encoding: the fuzzy product t-norm learns from it (93 % digits, 63 % sums measured), CL-STE
        # at batch 16 with every column from the start does not (about 20-35 % digits); CL-STE with
        # the top column first (top_epochs=5, batch 4, 10 epochs: docs/mnist-add-scaling.md) does; the
        # exact semantic loss on the compact encoding (carry-chain SDD; 95 % / 72 % measured)
        Entry("mnist-add", {"digits": 3, "encoding": "column"}, [("cl-ste", {}), ("fuzzy", {}), ("supervised", {})],
              [0], 5),
        Entry("mnist-add", {"digits": 3, "encoding": "column", "top_epochs": 5}, [("cl-ste", {})], [0], 10, 4),
        Entry("mnist-add", {"digits": 3, "encoding": "compact"}, [("semantic-loss", {})], [0], 5),
    ],
    "paper": [
        # docs/method.md "The paper's settings": 30,000 pairs, batch 16, lr 0.001, 1 epoch, b_p + iSTE with weights (3, 0.4)
        Entry("mnist-add", {}, [("cl-ste", {}), ("supervised", {}), ("semantic-loss", {})], [0, 1, 2], 1, 16, 1e-3,
              needs=["mnist"]),
        # DeepProbLog (exact engine) on the same protocol: about 0.04 s per pair, 20 min per epoch on a CPU
        Entry("mnist-add", {}, [("deepproblog", {})], [0], 1, 16, 1e-3, needs=["mnist"], run_budget=3600.0),
        Entry("mnist-add", {"digits": 2}, [("deepproblog", {})], [0], 1, 16, 1e-3, needs=["mnist"],
              setup_budget=600.0, run_budget=3600.0),
        # docs/method.md "The paper's settings": the paper's file and split (--data-dir clste=DIR), 500 epochs, batch 32
        Entry("shortest-path", {"data_file": "paper"}, [("cl-ste", {}), ("supervised", {}), ("semantic-loss", {})],
              [0, 1, 2, 3, 4], 500, needs=["clste"]),
        # docs/method.md "The paper's settings" at the paper's scale on generated puzzles (Park 70k is not shipped): 56,000 /
        # 14,000 puzzles with 36 givens, the 512-wide 9-layer CNN, batch 1, lr 5e-4, 30 epochs; a GPU
        # run of hours. The first run generates and caches the 70,000 puzzles (about 20 CPU minutes).
        Entry("sudoku", {"n_train": 56000, "n_test": 14000}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 30,
              1, 5e-4, setup_budget=3600.0, run_budget=None),
        # docs/method.md "The paper's settings" (Table A): 3,000 rows of the paper's files (--data-dir clste=DIR; apply2x2 reads
        # its hasy/ operators), 10 seeds, every CL-STE variant; epochs, batch 1, lr and the weights
        # per variant are the task's paper defaults (member(5) b(x): 10 epochs)
        *[Entry(task, {**tp, "data_file": "paper"},
                [("cl-ste", {"ste": ste}) for ste in ("bp-iste", "b-iste", "b-sste")] + [("supervised", {})],
                list(range(10)), None, needs=needs)
          for task, tp, needs in (("add2x2", {}, ["clste", "mnist"]), ("member", {"n": 3}, ["clste", "mnist"]),
                                  ("member", {"n": 5}, ["clste", "mnist"]), ("apply2x2", {}, ["clste"]))],
        # mnist-add scaling with N-digit numbers (docs/method.md "The paper's settings" and A-NeSI's N = 15): every training
        # digit used once (15,000 pairs at N = 2 and 10,000 at N = 3, as the paper), 1 epoch
        *[Entry("mnist-add", {"digits": n}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 1, 16, 1e-3,
                needs=["mnist"]) for n in (2, 3, 4, 15)],
    ],
}


# mnist-add scaling with two N-digit numbers on the full MNIST, N in {1, 2, 3, 4, 15}: one epoch
# (every training digit once: 30,000 examples at N = 1 ... 2,000 at N = 15), batch 16, lr 1e-3, per
# run, so that the s/epoch columns compare methods at each N; one seed per cell, so that the suite
# fits in about an hour of a 2-core CPU shared with other work (an epoch of the LeNet over 60,000
# digits costs minutes there; `seeds` below adds more). CL-STE on the column encoding
# (docs/mnist-add-scaling.md; its multi-epoch accuracy runs are listed there) and on the paper
# encoding where it is generated (N <= 4), the supervised ceiling, the fuzzy product t-norm on the
# column encoding; the semantic loss (compact encoding, its SDD over the carry-chain vtree) and
# DeepProbLog's exact engine with 2 minutes of set-up and 15 / 3 minutes per run: the symbolic
# methods that blow up are timeout cells with their budget. Every other run has 25 minutes.
SCALING_N = (1, 2, 3, 4, 15)


def _scaling(method, hp, tp, seeds=(0,), setup=120.0, run=1500.0):
    return [Entry("mnist-add", {"digits": n, **tp}, [(method, dict(hp))], list(seeds), 1, 16, 1e-3, needs=["mnist"],
                  setup_budget=setup, run_budget=run) for n in SCALING_N]


SUITES["scaling"] = (
    _scaling("cl-ste", {}, {"encoding": "column"}) + _scaling("supervised", {}, {})
    + _scaling("semantic-loss", {}, {"encoding": "compact"}, run=900.0)
    + _scaling("deepproblog", {}, {}, run=180.0)
    + [e for e in _scaling("cl-ste", {}, {"encoding": "paper"}) if e.tp["digits"] <= 4]
    + _scaling("fuzzy", {}, {"encoding": "column"})
)


# The time columns of the scaling table on the embedded digits, for a quiet CPU: the same methods and
# encodings, N in {1, 2, 3, 4, 15}, every one of the 4,000 training digits once per epoch at every N
# (2,000 examples at N = 1 ... 133 at N = 15), 3 epochs, one seed. The little data makes the accuracy
# columns meaningless; the s/epoch cells (the median epoch) compare each method with the supervised
# method at the same N. DeepProbLog is left out: it times out from N = 2 on (the scaling suite).
def _scaling_time(method, hp, tp, ns=SCALING_N, batch=16):
    return [Entry("mnist-add", {"digits": n, **tp}, [(method, dict(hp))], [0], 3, batch, 1e-3, setup_budget=60.0,
                  run_budget=600.0) for n in ns]


SUITES["scaling-time"] = (
    _scaling_time("supervised", {}, {}) + _scaling_time("cl-ste", {}, {"encoding": "column"})
    + _scaling_time("semantic-loss", {}, {"encoding": "compact"}) + _scaling_time("fuzzy", {}, {"encoding": "column"})
    + _scaling_time("cl-ste", {}, {"encoding": "paper"}, ns=(1, 2, 3, 4))
    # CL-STE with the top column first learns N >= 3 at batch 4 (docs/mnist-add-scaling.md): its time
    # beside the supervised method's at the same batch
    + _scaling_time("cl-ste", {}, {"encoding": "column", "top_epochs": 1}, ns=(2, 3, 4, 15), batch=4)
    + _scaling_time("supervised", {}, {}, ns=(2, 3, 4, 15), batch=4)
)


# CL-STE at N in {2, 3, 4, 15} for as many epochs as it needs, on the full MNIST: the column encoding
# with the top column's total alone first (top_epochs: 1 epoch at N <= 4, 4 at N = 15, where an epoch
# has 2,000 examples), batch 4, Adam at lr 1e-3 with a cosine schedule over the run, 12 epochs
# (20 at N = 15), 3 seeds; the supervised ceiling at the same settings, one seed. Every setting was
# chosen on a validation split (docs/mnist-add-scaling.md); the runs here score on the test set.
# About 2 hours of one core in all (CL-STE: 7-9 minutes a run at N <= 4, 13 at N = 15 for 40 epochs).
CURRICULUM = {2: (1, 12), 3: (1, 12), 4: (1, 12), 15: (4, 20)}  # N: (top_epochs, epochs)


def _curriculum_tp(method: str, top: int) -> dict:
    """Each method's encoding: CL-STE's column one with the top column first, the semantic loss's compact one."""
    if method == "cl-ste":
        return {"encoding": "column", "top_epochs": top}
    return {"encoding": "compact"} if method == "semantic-loss" else {}


def _curriculum(method, seed, batch=4, ns=tuple(CURRICULUM), plan=CURRICULUM):
    return [Entry("mnist-add", {"digits": n, **_curriculum_tp(method, plan[n][0])}, [(method, {})], [seed], plan[n][1],
                  batch, 1e-3, lr_schedule="cosine", needs=["mnist"], setup_budget=120.0, run_budget=3600.0)
            for n in ns]


# N = 15 is still rising at epoch 20 (2,000 examples an epoch, 500 steps): 40 epochs, the number the
# validation split's run reached its best in
LONG = {15: (4, 40)}

# seed by seed (every N of seed 0 first; N = 15 for 20 epochs with seeds 0 and 1 only), so that a
# suite stopped early has every N; then N = 15 for 40 epochs; then the exact semantic loss with the
# same schedule at its own batch 16, one seed
SUITES["scaling-curriculum"] = (
    _curriculum("cl-ste", 0) + _curriculum("supervised", 0) + _curriculum("cl-ste", 1)
    + _curriculum("cl-ste", 2, ns=(2, 3, 4))
    + [e for seed in (0, 1, 2) for e in _curriculum("cl-ste", seed, plan=LONG, ns=(15,))]
    + _curriculum("semantic-loss", 0, 16, (3,)) + _curriculum("semantic-loss", 0, 16, (15,), plan=LONG))


# The other rows of the paper's NeuroLog table (Table A): the supervised ceiling and the symbolic baselines on the
# NeuroLog tasks, the paper's files (3,000 rows) and settings (batch 1, lr 5e-4, 3 epochs), beside
# the CL-STE runs of scripts/table_a.sh. Semantic loss: 5 seeds, apply2x2 once (its 42,388-clause
# CNF does not compile within the runner's 16 GB: a failed row); DeepProbLog: 3 seeds, 2 minutes to
# ground and compile its queries (add2x2's 1,794 distinct labels are 1,794 queries, which run out of
# memory; apply2x2 has no program: a skipped row).
_NEUROLOG = (("add2x2", {}, ["clste", "mnist"]), ("member", {"n": 3}, ["clste", "mnist"]),
             ("member", {"n": 5}, ["clste", "mnist"]), ("apply2x2", {}, ["clste"]))
SUITES["neurolog-baselines"] = [
    Entry(task, {**tp, "data_file": "paper"},
          [("supervised", {})] + ([("semantic-loss", {})] if task != "apply2x2" else []), [0, 1, 2, 3, 4], None,
          needs=needs)
    for task, tp, needs in _NEUROLOG
] + [
    Entry("apply2x2", {"data_file": "paper"}, [("semantic-loss", {})], [0], None, needs=["clste"]),
] + [
    Entry(task, {**tp, "data_file": "paper"}, [("deepproblog", {})], [0] if task == "apply2x2" else [0, 1, 2],
          None, needs=needs, setup_budget=120.0)
    for task, tp, needs in _NEUROLOG
] + [
    # CL-STE (b_p + iSTE) once per task in the same suite, so that the time column compares
    # (its accuracy over 10 seeds is scripts/table_a.sh's)
    Entry(task, {**tp, "data_file": "paper"}, [("cl-ste", {})], [0], None, needs=needs)
    for task, tp, needs in _NEUROLOG
]


# Palm's RRN on Sudoku with fewer labels (docs/method.md "The paper's settings"), at a CPU scale (each run well under
# 30 minutes on 2 shared cores, 1 thread): 1,000 generated puzzles with 50 givens, of which a fixed
# half (or quarter) is labelled; a small RRN (hidden 32, 8 steps; the paper's 4-layer MLPs and edge
# dropout 0.4); 10 epochs, batch 16, lr 2e-3. cl-ste: the paper's cross + cont + L_cnf (step 0) +
# 0.1 L_bound on every puzzle, cross-entropy on the labelled ones; supervised: the labelled puzzles
# alone. Board accuracy at the final step, and with the inference trick on 100 test puzzles.
RRN_CPU = {"net": "rrn", "hidden": 32, "steps": 8, "givens": 50, "n_train": 1000, "n_test": 200, "trick_test": 100}
SUITES["rrn"] = [
    Entry("sudoku", {**RRN_CPU, "labelled_fraction": f}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 10, 16,
          2e-3, run_budget=1800.0)
    for f in (0.5, 0.25)
]
# docs/method.md "The paper's settings" at the paper's scale on generated hard puzzles (24..34 givens: random blanking does not
# reach Palm's 17..23; pass data_file=Palm's train.csv for the real set): Table D (10,000 labelled
# puzzles, cl-ste with cross-entropy against cross-entropy alone) and the semi-supervised README
# setting (20,000 puzzles, half labelled); the RRN at the paper's size, 100 epochs, batch 16, lr 1e-4
# (the task's defaults for net=rrn). GPU runs of hours; generating 21,000 puzzles takes CPU minutes.
SUITES["paper"] += [
    Entry("sudoku", {"net": "rrn", "givens": 24, "givens_max": 34, "n_train": n, "n_test": 1000, "trick_test": -1,
                     "labelled_fraction": f}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], None,
          setup_budget=7200.0, run_budget=None)
    for n, f in ((10000, 1.0), (20000, 0.5))
]


# The paper suite's timing subset for a lent GPU (scripts/gpu_timing.sh): one seed, one epoch per
# configuration; MNIST comes from --mnist-dir when given, else the embedded digits.
SUITES["gpu"] = [
    Entry("mnist-add", {"digits": n}, [("cl-ste", {}), ("supervised", {}), ("semantic-loss", {})], [0], 1, 16, 1e-3)
    for n in (1, 2, 4, 15)
] + [
    Entry("shortest-path", {}, [("cl-ste", {}), ("supervised", {})], [0], 20),
    Entry("sudoku", {"n_train": 5000, "n_test": 500, "trick_test": 200}, [("cl-ste", {}), ("supervised", {})],
          [0], 1, 16, 5e-4),
]


# The CL-STE paper's mnistAdd2 and mnistAdd3 as it ran them (docs/method.md): its index files
# (--data-dir clste=DIR: 15,000 and 10,000 examples), full MNIST, the paper encoding (generated per
# example at N = 3), b_p + iSTE, batch 1, lr 1e-3, one epoch, (w_cnf, w_bound) = (1, 0.01) and (1, 0.001)
# (the presets of pairs_file=paper, harness/presets.py)
SUITES["paper-add"] = [
    Entry("mnist-add", {"digits": n, "encoding": "paper", "pairs_file": "paper"},
          [("cl-ste", {})], [0, 1, 2], 1, 1, 1e-3, needs=["mnist", "clste"], run_budget=3600.0)
    for n in (2, 3)
]


# Named summary tables per suite (the report prints each after the suite's full summary table).
VIEWS: dict[str, list[View]] = {
    "paper": [View("Table A: the CL-STE variants on the NeuroLog tasks",
                   [("b_p + iSTE", "cl-ste", {"ste": "bp-iste"}), ("b + iSTE", "cl-ste", {"ste": "b-iste"}),
                    ("b + sSTE", "cl-ste", {"ste": "b-sste"}), ("supervised", "supervised", {})],
                   ["add2x2", "apply2x2", "member"])],
    "scaling": [View("mnist-add by N: every method, one epoch (sum accuracy)",
                     [("CL-STE column", "cl-ste", {"w_cnf": 3.0}, {"encoding": "column"}),
                      ("CL-STE paper", "cl-ste", {"w_cnf": 3.0}, {"encoding": "paper"}),
                      ("CL-STE paper, batch 1", "cl-ste", {"w_cnf": 1.0}, {}),
                      ("semantic loss", "semantic-loss", {}, {}), ("fuzzy", "fuzzy", {}, {}),
                      ("DeepProbLog", "deepproblog", {}, {}), ("supervised", "supervised", {}, {})])],
    "scaling-time": [View("mnist-add by N on the embedded digits: time per epoch against the supervised method",
                          [("CL-STE column", "cl-ste", {"w_cnf": 3.0}, {"encoding": "column"}),
                           ("CL-STE paper", "cl-ste", {"w_cnf": 3.0}, {"encoding": "paper"}),
                           ("semantic loss", "semantic-loss", {}, {}), ("fuzzy", "fuzzy", {}, {}),
                           ("supervised", "supervised", {}, {})])],
    "neurolog-baselines": [View("Table A: CL-STE and the baselines on the NeuroLog tasks",
                                [("CL-STE b_p + iSTE", "cl-ste", {"ste": "bp-iste"}), ("supervised", "supervised", {}),
                                 ("semantic loss", "semantic-loss", {}), ("DeepProbLog", "deepproblog", {})])],
}


# Targets per suite, shown in its report as met or not met with the figure (harness/report/targets.py):
# the best published sum accuracies at N = 2, 3, 4 (DeepStochLog) and 15 (A-NeSI), CL-STE's time per
# epoch at most 1.5 times the supervised method's at the same N, the paper's digit accuracy of CL-STE
# at N = 1 (98.0 %) on its mnistAdd2 / mnistAdd3, and a compile of seconds for the exact semantic loss.
def _targets() -> dict:
    from .report.targets import Target

    sums = {2: (96.4, "DeepStochLog"), 3: (94.5, "DeepStochLog"), 4: (92.7, "DeepStochLog"), 15: (76.8, "A-NeSI")}

    def accuracy(method, tp, who="", ns=tuple(sums)):
        return [Target(f"N = {n}: {who}sum accuracy >= {sums[n][0]} ({sums[n][1]}'s published), 3 seeds", "mnist-add",
                       method, {"digits": n, **tp}, at_least=sums[n][0]) for n in ns]

    def time(ns, tp, train, who="CL-STE"):
        return [Target(f"N = {n}: {who}'s s/epoch <= 1.5x supervised's (batch {train['batch_size']})", "mnist-add",
                       "cl-ste", {"digits": n, **tp}, train=train, max_ratio=1.5) for n in ns]

    return {
        # its runs may share the CPU (scripts/bench_parallel.py): the time bar is checked in scaling-time
        "scaling-curriculum": accuracy("cl-ste", {"encoding": "column"})
        + accuracy("semantic-loss", {"encoding": "compact"}, "semantic loss, ", (3, 15)),
        "scaling-time": time(SCALING_N, {"encoding": "column", "top_epochs": 0}, {"batch_size": 16})
        + time((2, 3, 4, 15), {"encoding": "column", "top_epochs": 1}, {"batch_size": 4}, "CL-STE top column first")
        # the compilation does not depend on the data: timed here, on a quiet machine
        + [Target("N = 15: the semantic loss's SDD compiled in <= 10 s", "mnist-add", "semantic-loss",
                  {"digits": 15, "encoding": "compact"}, max_setup=10.0, seeds=1)],
        "scaling": accuracy("semantic-loss", {"encoding": "compact"}, "semantic loss, "),
        "paper-add": [Target(f"mnistAdd{n}: digit accuracy >= 98.0 (CL-STE's at N = 1, one epoch), 3 seeds",
                             "mnist-add", "cl-ste", {"digits": n, "encoding": "paper"}, metric="digit_acc",
                             at_least=98.0) for n in (2, 3)],
    }


TARGETS = _targets()


# Suites whose time columns are results: the Ray executor runs them one run per node (per GPU with
# --device cuda) unless --runs-per-node says otherwise, so that no run shares a node while timed.
TIMING_SUITES = {"gpu", "scaling", "scaling-time", "scaling-curriculum"}


def get_suite(name: str) -> list[Entry]:
    if name not in SUITES:
        raise UserError(f"unknown suite {name!r}{did_you_mean(name, SUITES)}; known: {', '.join(SUITES)}")
    return SUITES[name]


# NeurASP's semantics on clingo (methods/neurasp.py) beside CL-STE and the MLP. Shortest path on the
# paper's file and split, 500 epochs: first with NeurASP's own settings (its shortest_path/train.py:
# batch 1, lr 1e-3, no labels, constraints p, r, o; the task's method defaults) under a one-hour run
# budget (about 5 CPU seconds an epoch here: a timeout row with the epochs reached); then at the
# task's batch 32, which finishes. mnist-add on the full MNIST, 1 epoch: NeurASP's batch 1 and the
# suite's batch 16 at N = 1; N = 2 at batch 1; N = 3 (up to 1,000 models a label) under a budget.
SUITES["neurasp"] = [
    Entry("shortest-path", {"data_file": "paper"}, [("neurasp", {})], [0], 500, needs=["clste"], run_budget=3600.0),
    Entry("shortest-path", {"data_file": "paper"}, [("neurasp", {})], [0, 1, 2], 500, 32, needs=["clste"]),
    Entry("shortest-path", {"data_file": "paper"}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 500,
          needs=["clste"]),
    Entry("mnist-add", {}, [("neurasp", {})], [0], 1, 1, 1e-3, needs=["mnist"]),
    Entry("mnist-add", {}, [("neurasp", {})], [0, 1, 2], 1, 16, 1e-3, needs=["mnist"]),
    Entry("mnist-add", {"digits": 2}, [("neurasp", {})], [0], 1, 1, 1e-3, needs=["mnist"]),
    Entry("mnist-add", {"digits": 3}, [("neurasp", {})], [0], 1, 16, 1e-3, needs=["mnist"], run_budget=900.0),
]


# The peer baselines under their own published protocols on the full MNIST (harness/peers.py: each
# protocol with its source; docs/baselines.md, "Published protocols"), beside their published sum
# accuracies (harness/data/literature.csv): DeepProbLog (batch 2, 1 epoch), NeurASP (batch 1, 1
# epoch), DeepStochLog (batch 32, 2 epochs) at N = 1 to 4. scripts/peers_table.py prints the
# "published vs run here" table from the rows; the targets below are the published figures less
# their std.
def _peers():
    from .peers import PROTOCOLS

    return [Entry("mnist-add", {"digits": p.digits}, [(p.method, dict(p.hp))], list(p.seeds), p.epochs, p.batch_size,
                  p.lr, needs=["mnist"], setup_budget=p.setup_budget, run_budget=p.run_budget) for p in PROTOCOLS]


def _peer_targets() -> list:
    from .peers import PROTOCOLS, published
    from .report.targets import Target

    pub, out = published(), []
    for p in PROTOCOLS:
        ref = pub.get((p.label, p.digits))
        if ref is None:
            continue
        bar = ref["value"] - (ref["std"] or 0.0)
        shown = f"{ref['value']}" + (f" ± {ref['std']}" if ref["std"] else "")
        out.append(Target(f"N = {p.digits}: {p.label} sum accuracy >= {bar:.1f} (published {shown}) under its own "
                          f"protocol", "mnist-add", p.method, {"digits": p.digits},
                          train={"batch_size": p.batch_size, "epochs": p.epochs}, at_least=bar, seeds=len(p.seeds)))
    return out


SUITES["peers-published"] = _peers()
TARGETS["peers-published"] = _peer_targets()
