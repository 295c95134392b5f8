"""The suites every clone runs: ``smoke`` (seconds; tests and CI) and ``default`` (``make bench``:
the CL-STE paper's story in miniature on the embedded data, under 10 minutes of a 2-core CPU)."""

from __future__ import annotations

from . import Entry, Suite, View, register_suite

register_suite(
    Suite(
        name="smoke",
        description="seconds: CL-STE and the supervised reference on 200 pairs",
        entries=[
            Entry(
                task="mnist-add", tp={"n_pairs": 200}, methods=[("cl-ste", {}), ("supervised", {})], seeds=[0], epochs=1
            ),
        ],
    )
)

# The default suite (make bench): the CL-STE paper's story in miniature, on the embedded data, in
# under 10 minutes of a 2-core CPU (set-up included), three seeds a summary cell.
# mnist-add at N = 1 to 4 on the 4,000 embedded training digits (each once an epoch: 2,000
# examples at N = 1 ... 500 at N = 4), the same epochs for every method at one N (more at larger N,
# where CL-STE needs them), each method in the setting it learns with:
# - CL-STE: the column encoding at batch 4, the top column's total alone for its first epochs from
#   N = 2 on (docs/mnist-add-scaling.md: without it CL-STE does not learn N >= 3: the ablation);
# - the semantic loss: the compact encoding (the carry-chain SDD); LTN: the paper encoding at N = 1
#   (49.6 ± 20.8 % of the sums after 3 epochs over 3 seeds, 37.9 ± 1.1 % on the compact one), the
#   compact one at N = 2 (seed 0 after 3 epochs: 71 %, 27 % on the column one; at N = 3 and 4 LTNtorch's
#   runs would take a quarter of the suite's time and reach 61 % and 23 %: left out); the fuzzy
#   log-product loss: the column encoding (seed 0 at N = 2 after 3 epochs: 78 %, 7 % on the compact
#   one); NeurASP: its ASP program; the supervised reference at batch 16;
# - where a method's time per epoch has grown several-fold (fuzzy from N = 3, NeurASP at N = 3),
#   one seed under a run budget of 10 s, more than the others take: a T/O cell with its budget;
# - DeepProbLog's exact engine costs about 60 ms a pair here: 500 pairs at batch 2 for one epoch
#   at N = 1 (it learns: about 68 % of the sums); at N = 2 its grounding of the 199 sum queries
#   overruns a 10 s set-up budget (once: the set-up does not depend on the seed).
# add2x2 (NeuroLog) on 500 generated rows, 3 epochs of batch 1: CL-STE, NeurASP and the reference;
# the semantic loss's compilation overruns 10 s of set-up (DeepProbLog's exhausts the run's memory:
# the neurolog-baselines suite has that row). Shortest path on the
# generated 4x4 maps, 40 epochs: CL-STE, the semantic loss and the MLP (the reference). The
# ablations (the "ablations" views): CL-STE at N = 3 with every column from the start, and shortest
# path's simple-path encoding. Sudoku does not learn at this scale: the gpu and paper suites have it.
DEFAULT_EPOCHS = {1: 3, 2: 6, 3: 10, 4: 12}  # N: epochs of every method
DEFAULT_TOP = {1: 0, 2: 1, 3: 5, 4: 8}  # N: CL-STE's epochs on the top column alone
_S3 = [0, 1, 2]


def _default() -> list[Entry]:
    out = []
    for n, ep in DEFAULT_EPOCHS.items():
        out += [
            Entry(
                task="mnist-add",
                tp={"digits": n, "encoding": "column", "top_epochs": DEFAULT_TOP[n]},
                methods=[("cl-ste", {})],
                seeds=_S3,
                epochs=ep,
                batch_size=4,
            ),
            Entry(
                task="mnist-add",
                tp={"digits": n, "encoding": "compact"},
                methods=[("semantic-loss", {})],
                seeds=_S3,
                epochs=ep,
                setup_budget=30.0,
            ),
            Entry(task="mnist-add", tp={"digits": n}, methods=[("supervised", {})], seeds=_S3, epochs=ep),
        ]
        if n <= 2:
            out.append(
                Entry(
                    task="mnist-add",
                    tp={"digits": n, **({"encoding": "compact"} if n > 1 else {})},
                    methods=[("ltn", {})],
                    seeds=_S3,
                    epochs=ep,
                )
            )
        slow = n >= 3
        out.append(
            Entry(
                task="mnist-add",
                tp={"digits": n, "encoding": "column"},
                methods=[("fuzzy", {})],
                seeds=[0] if slow else _S3,
                epochs=ep,
                run_budget=10.0 if slow else 1800.0,
            )
        )
        if n <= 3:
            out.append(
                Entry(
                    task="mnist-add",
                    tp={"digits": n},
                    methods=[("neurasp", {})],
                    seeds=[0] if slow else _S3,
                    epochs=ep,
                    run_budget=10.0 if slow else 1800.0,
                )
            )
    out += [
        Entry(
            task="mnist-add",
            tp={"n_pairs": 500},
            methods=[("deepproblog", {})],
            seeds=_S3,
            epochs=1,
            batch_size=2,
            run_budget=180.0,
        ),
        Entry(
            task="mnist-add", tp={"digits": 2}, methods=[("deepproblog", {})], seeds=[0], epochs=1, setup_budget=10.0
        ),
        Entry(
            task="add2x2",
            tp={"n_train": 500},
            methods=[("cl-ste", {}), ("neurasp", {}), ("supervised", {})],
            seeds=_S3,
            epochs=None,
        ),
        Entry(
            task="add2x2",
            tp={"n_train": 500},
            methods=[("semantic-loss", {})],
            seeds=[0],
            epochs=None,
            setup_budget=10.0,
        ),
        Entry(
            task="shortest-path",
            tp={},
            methods=[("cl-ste", {}), ("semantic-loss", {}), ("supervised", {})],
            seeds=_S3,
            epochs=40,
        ),
        # the ablations
        Entry(
            task="mnist-add",
            tp={"digits": 3, "encoding": "column", "top_epochs": 0},
            methods=[("cl-ste", {})],
            seeds=_S3,
            epochs=DEFAULT_EPOCHS[3],
            batch_size=4,
        ),
        Entry(task="shortest-path", tp={"encoding": "simple-path"}, methods=[("cl-ste", {})], seeds=[0], epochs=40),
    ]
    return out


register_suite(
    Suite(
        name="default",
        description="make bench: mnist-add at N = 1-4 for every method, add2x2, shortest path, 3 seeds a cell",
        entries=_default(),
        views=[
            View(
                "Ablations: CL-STE at N = 3 without the top column first",
                [
                    ("CL-STE, top column first", "cl-ste", {}, {"encoding": "column", "top_epochs": DEFAULT_TOP[3]}),
                    ("CL-STE, every column from the start", "cl-ste", {}, {"encoding": "column", "top_epochs": 0}),
                ],
                ["mnist-add"],
                ablations=("CL-STE, every column from the start",),
                where={"digits": 3},
            ),
            View(
                "Ablations: shortest path's encoding",
                [
                    ("CL-STE, the paper's encoding", "cl-ste", {}, {"encoding": "paper"}),
                    ("CL-STE, simple-path encoding", "cl-ste", {}, {"encoding": "simple-path"}),
                ],
                ["shortest-path"],
                ablations=("CL-STE, simple-path encoding",),
            ),
        ],
    )
)
