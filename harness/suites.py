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
    needs: list[str] = field(default_factory=list)  # data directories the entry requires
    setup_budget: float | None = 300.0  # seconds for data + symbolic set-up (compilation, grounding)
    run_budget: float | None = 1800.0  # seconds for the whole run; over it the run is a timeout


SUITES: dict[str, list[Entry]] = {
    "smoke": [
        Entry("mnist-add", {"n_pairs": 200}, [("cl-ste", {}), ("supervised", {})], [0], 1),
    ],
    "default": [
        # 2,000 pairs of the 4,000 embedded training digits; batch 16 needs about 10 epochs there
        Entry("mnist-add", {}, [("cl-ste", {}), ("supervised", {}), ("semantic-loss", {})], [0, 1, 2], 10),
        # DeepProbLog's exact engine evaluates one circuit per example in Python (about 36 ms a pair
        # here): one seed, one epoch on 500 pairs; at N = 2 its compilation of the 199 sum queries
        # (and the semantic loss's of the paper encoding) overruns a 15 s set-up budget: timeout rows
        # (the paper suite gives them 10 minutes)
        Entry("mnist-add", {"n_pairs": 500}, [("deepproblog", {})], [0], 1, run_budget=300.0),
        Entry("mnist-add", {"digits": 2}, [("deepproblog", {}), ("semantic-loss", {})], [0], 1, setup_budget=15.0),
        # shortest path on generated 4x4 data (1,610 examples like the paper's file), 60 of the
        # paper's 500 epochs; each method with its paper settings (task method_defaults)
        Entry("shortest-path", {}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 60),
        Entry("shortest-path", {"encoding": "simple-path"}, [("cl-ste", {})], [0], 60),
        # Sudoku at CPU scale: 1,000 generated puzzles (36 givens), a narrow CNN, 3 epochs; the
        # inference trick on 100 test puzzles (it costs one forward pass per blank)
        Entry("sudoku", {"n_train": 1000, "n_test": 200, "trick_test": 100, "width": 64, "depth": 5},
              [("cl-ste", {}), ("supervised", {})], [0], 3, 16, 1e-3),
        # NeuroLog tasks on the embedded digits and synthetic operators, the paper's batch 1 and lr,
        # 1 epoch (member needs the paper's 3,000 examples: with 500 CL-STE stays at chance);
        # mnist-add with two 3-digit numbers (compact encoding) on the 666 embedded examples
        Entry("add2x2", {"n_train": 1000}, [("cl-ste", {}), ("supervised", {})], [0], 1),
        Entry("member", {"n": 3}, [("cl-ste", {}), ("supervised", {})], [0], 1),
        Entry("apply2x2", {"n_train": 300}, [("cl-ste", {}), ("supervised", {})], [0], 1),
        Entry("mnist-add", {"digits": 3}, [("cl-ste", {}), ("supervised", {})], [0], 5),
    ],
    "paper": [
        # PAPER.md 4.1: 30,000 pairs, batch 16, lr 0.001, 1 epoch, b_p + iSTE with weights (3, 0.4)
        Entry("mnist-add", {}, [("cl-ste", {}), ("supervised", {}), ("semantic-loss", {})], [0, 1, 2], 1, 16, 1e-3,
              needs=["mnist"]),
        # DeepProbLog (exact engine) on the same protocol: about 0.04 s per pair, 20 min per epoch on a CPU
        Entry("mnist-add", {}, [("deepproblog", {})], [0], 1, 16, 1e-3, needs=["mnist"], run_budget=3600.0),
        Entry("mnist-add", {"digits": 2}, [("deepproblog", {})], [0], 1, 16, 1e-3, needs=["mnist"],
              setup_budget=600.0, run_budget=3600.0),
        # PAPER.md 4.3: the paper's file and split (--data-dir clste=DIR), 500 epochs, batch 32
        Entry("shortest-path", {"data_file": "paper"}, [("cl-ste", {}), ("supervised", {}), ("semantic-loss", {})],
              [0, 1, 2, 3, 4], 500, needs=["clste"]),
        # PAPER.md 4.4 at the paper's scale on generated puzzles (Park 70k is not shipped): 56,000 /
        # 14,000 puzzles with 36 givens, the 512-wide 9-layer CNN, batch 1, lr 5e-4, 30 epochs; a GPU
        # run of hours. The first run generates and caches the 70,000 puzzles (about 20 CPU minutes).
        Entry("sudoku", {"n_train": 56000, "n_test": 14000}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 30,
              1, 5e-4, setup_budget=3600.0, run_budget=None),
        # PAPER.md 4.2 (Table A): 3,000 rows of the paper's files (--data-dir clste=DIR; apply2x2 reads
        # its hasy/ operators), 10 seeds, every CL-STE variant; epochs, batch 1, lr and the weights
        # per variant are the task's paper defaults (member(5) b(x): 10 epochs)
        *[Entry(task, {**tp, "data_file": "paper"},
                [("cl-ste", {"ste": ste}) for ste in ("bp-iste", "b-iste", "b-sste")] + [("supervised", {})],
                list(range(10)), None, needs=needs)
          for task, tp, needs in (("add2x2", {}, ["clste", "mnist"]), ("member", {"n": 3}, ["clste", "mnist"]),
                                  ("member", {"n": 5}, ["clste", "mnist"]), ("apply2x2", {}, ["clste"]))],
        # mnist-add scaling with N-digit numbers (PAPER.md 4.1 and A-NeSI's N = 15): every training
        # digit used once (15,000 pairs at N = 2 and 10,000 at N = 3, as the paper), 1 epoch
        *[Entry("mnist-add", {"digits": n}, [("cl-ste", {}), ("supervised", {})], [0, 1, 2], 1, 16, 1e-3,
                needs=["mnist"]) for n in (2, 3, 4, 15)],
    ],
}


# Issue 4's scaling table: mnist-add with two N-digit numbers on the full MNIST (every training digit
# used once: 30,000 pairs at N = 1, 15,000 at 2, 10,000 at 3, 7,500 at 4, 2,000 at 15), one epoch,
# batch 16, lr 1e-3, 3 seeds. CL-STE and the semantic loss on the paper encoding up to N = 2 and
# the compact carry encoding beyond; DeepProbLog's exact engine with a 5-minute run budget (about
# 18 minutes an epoch at N = 1) and 2 minutes to ground its program: the timeouts are the result.
SUITES["scaling"] = [
    Entry("mnist-add", {"digits": n}, [("cl-ste", {}), ("supervised", {})] + ([("semantic-loss", {})] if n <= 3 else []),
          [0, 1, 2], 1, 16, 1e-3, needs=["mnist"], setup_budget=300.0, run_budget=900.0)
    for n in (1, 2, 3, 4, 15)
] + [
    # the semantic loss's epoch costs about 7 minutes of this CPU from N = 3 on: one seed beyond it
    Entry("mnist-add", {"digits": n}, [("semantic-loss", {})], [0], 1, 16, 1e-3, needs=["mnist"],
          setup_budget=300.0, run_budget=900.0)
    for n in (4, 15)
] + [
    Entry("mnist-add", {"digits": n}, [("deepproblog", {})], [0], 1, 16, 1e-3, needs=["mnist"],
          setup_budget=120.0, run_budget=300.0)
    for n in (1, 2, 3, 4, 15)
] + [
    # the paper's own mnistAdd2/3 setting (PAPER.md 4.1, README): batch 1, lr 1e-3, weights (1, 0.01)
    # and (1, 0.001); one epoch of batch 16 is too few steps for CL-STE beyond N = 1
    Entry("mnist-add", {"digits": n}, [("cl-ste", {"w_cnf": 1.0, "w_bound": wb})], [0, 1, 2], 1, 1, 1e-3,
          needs=["mnist"], setup_budget=300.0, run_budget=900.0)
    for n, wb in ((2, 0.01), (3, 0.001))
]


# Issue 4's other rows of PAPER.md Table A: the supervised ceiling and the symbolic baselines on the
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
    # CL-STE (b_p + iSTE) once per task in the same session, so that the time column compares
    # (its accuracy over 10 seeds is scripts/table_a.sh's)
    Entry(task, {**tp, "data_file": "paper"}, [("cl-ste", {})], [0], None, needs=needs)
    for task, tp, needs in _NEUROLOG
]


# Issue 7: Palm's RRN on Sudoku with fewer labels (PAPER.md 4.5), at a CPU scale (each run well under
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
# PAPER.md 4.5 at the paper's scale on generated hard puzzles (24..34 givens: random blanking does not
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


# Suites whose time columns are results: the Ray executor runs them one run per node (per GPU with
# --device cuda) unless --runs-per-node says otherwise, so that no run shares a node while timed.
TIMING_SUITES = {"gpu", "scaling"}


def get_suite(name: str) -> list[Entry]:
    if name not in SUITES:
        raise UserError(f"unknown suite {name!r}{did_you_mean(name, SUITES)}; known: {', '.join(SUITES)}")
    return SUITES[name]
