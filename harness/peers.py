"""The peer baselines under their own published protocols, and their published figures beside ours.

:data:`PROTOCOLS` lists, per (method, N), the training protocol the peer's authors used on MNIST
addition (network, pairs, batch, epochs, optimiser), each with its source; the ``peers-published``
suite (:mod:`harness.suites`) runs them on the full MNIST. The published figures come from
``harness/data/literature.csv`` (each with its source there). :func:`published_vs_run` puts the
two side by side: the published figure, our mean over seeds under the same protocol, the
difference and a verdict.

Every protocol uses the task's LeNet (the network of DeepProbLog's, DeepStochLog's and NeurASP's
MNIST examples: two convolutions and three linear layers), every training pair of the full MNIST
(floor(60000 / 2N)) and Adam. Where a peer's protocol holds part of the training set out for
validation, or pretrains, it is said in ``differs``.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field

LITERATURE = os.path.join(os.path.dirname(__file__), "data", "literature.csv")


@dataclass
class Protocol:
    method: str  # the harness's method key
    label: str  # the peer's name in literature.csv
    digits: int
    batch_size: int
    epochs: int
    lr: float
    source: str  # where the protocol is read
    seeds: tuple = (0, 1, 2)
    setup_budget: float = 300.0
    run_budget: float | None = 3600.0
    differs: str = ""  # what differs from the source's protocol here
    hp: dict = field(default_factory=dict)


_DPL = (
    "DeepProbLog 2.0's own example, deepproblog/examples/MNIST/addition.py (installed with the package): "
    "MNIST_Net, every training pair, DataLoader batch 2, train_model for 1 epoch, Adam lr 1e-3"
)
_DSL = (
    "DeepStochLog's example examples/addition/addition.py (repository ML-KULeuven/deepstochlog), its run() "
    "defaults: MNISTNet, batch 32, 2 epochs, Adam lr 1e-3"
)
_NASP = (
    "NeurASP's MNIST addition example (repository azreasoners/NeurASP, examples/mnistAdd) as this project's "
    "neurasp suite reads it: batch 1, 1 epoch, Adam lr 1e-3"
)

PROTOCOLS: list[Protocol] = [  # cheapest first: a suite cut short by a session still has its quick rows
    *[
        Protocol(
            "deepstochlog",
            "DeepStochLog",
            n,
            32,
            2,
            1e-3,
            _DSL,
            seeds=(0, 1, 2) if n <= 2 else (0,),
            setup_budget=1800.0,
            run_budget=7200.0,
            differs="the example holds 500 training pairs out for validation; here every pair trains",
        )
        for n in (1, 2, 3, 4)
    ],
    Protocol("neurasp", "NeurASP", 1, 1, 1, 1e-3, _NASP),
    Protocol("deepproblog", "DeepProbLog", 1, 2, 1, 1e-3, _DPL, run_budget=7200.0),
    Protocol("neurasp", "NeurASP", 2, 1, 1, 1e-3, _NASP, seeds=(0,)),
    # about a second per example at N = 2 here (exact inference over 199 compiled queries): one seed,
    # its 15,000 pairs do not fit a two-hour run budget, which the row records as a timeout
    Protocol("deepproblog", "DeepProbLog", 2, 2, 1, 1e-3, _DPL, seeds=(0,), setup_budget=600.0, run_budget=7200.0),
]


def published() -> dict[tuple[str, int], dict]:
    """{(peer label, N): {"value", "std", "source", "status"}} of mnist-add's sum accuracy in
    literature.csv (numbers only; a T/O entry is left out)."""
    out = {}
    with open(LITERATURE, newline="") as f:
        for r in csv.DictReader(f):
            if r["task"] != "mnist-add" or r["metric"] != "sum_acc" or not r["setting"].startswith("digits="):
                continue
            try:
                value = float(r["value"])
            except ValueError:
                continue
            n = int(r["setting"].split("=")[1].split(";")[0])
            out[(r["method"], n)] = {
                "value": value,
                "std": float(r["std"]) if r["std"] else None,
                "source": r["source"],
                "status": r["status"],
            }
    return out


def _mean_std(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, (math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan"))


def published_vs_run(rows: list[dict]) -> list[dict]:
    """One record per protocol: the published figure (with its std and source), our final-epoch sum
    accuracy under the protocol (mean, std, seeds, or the status of a run that did not finish), the
    difference (ours - published) and the verdict: "within the published std" when |difference| <=
    std, "above" when ours is higher by more, "below (figure)" otherwise; without a published std,
    the difference alone."""
    pub = published()
    out = []
    for p in PROTOCOLS:
        mine = [
            r
            for r in rows
            if r.get("task") == "mnist-add"
            and r.get("method") == p.method
            and int(r.get("tp", {}).get("digits", 1)) == p.digits
            and r.get("batch_size") == p.batch_size
            and r.get("epochs") == p.epochs
            and float(r.get("lr", 0)) == p.lr
        ]
        done = [r for r in mine if r.get("status") == "ok" and r.get("final")]
        ref = pub.get((p.label, p.digits))
        rec = {
            "method": p.method,
            "digits": p.digits,
            "protocol": f"batch {p.batch_size}, {p.epochs} epoch(s), lr {p.lr:g}",
            "published": ref["value"] if ref else None,
            "published_std": ref["std"] if ref else None,
            "source": ref["source"] if ref else "",
            "seeds": len(done),
            "ours": None,
            "ours_std": None,
            "difference": None,
            "verdict": "not run",
        }
        if done:
            acc = [float(r["metrics"]["sum_acc"]) for r in done]
            rec["ours"], rec["ours_std"] = _mean_std(acc)
            rec["per_seed"] = {int(r["seed"]): float(r["metrics"]["sum_acc"]) for r in done}
        elif mine:
            rec["verdict"] = ", ".join(sorted({str(r.get("status")) for r in mine}))
        if rec["ours"] is not None and ref:
            d = rec["ours"] - ref["value"]
            rec["difference"] = d
            if ref["std"] is None:
                rec["verdict"] = f"no published std: {d:+.2f} points"
            elif abs(d) <= ref["std"]:
                rec["verdict"] = "within the published std"
            else:
                rec["verdict"] = f"{'above' if d > 0 else 'below'} the published std ({d:+.2f} points)"
        out.append(rec)
    return out


def markdown(records: list[dict]) -> str:
    """The "published vs run here" table."""
    lines = [
        "| method | N | protocol | published | ours (seeds) | difference | verdict | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        pub = (
            ""
            if r["published"] is None
            else (f"{r['published']:.1f}" + (f" ± {r['published_std']:.1f}" if r["published_std"] else ""))
        )
        ours = (
            ""
            if r["ours"] is None
            else (f"{r['ours']:.2f}" + (f" ± {r['ours_std']:.2f}" if r["seeds"] > 1 else "") + f" ({r['seeds']})")
        )
        diff = "" if r["difference"] is None else f"{r['difference']:+.2f}"
        lines.append(
            f"| {r['method']} | {r['digits']} | {r['protocol']} | {pub} | {ours} | {diff} | {r['verdict']} | "
            f"{r['source']} |"
        )
    return "\n".join(lines) + "\n"
