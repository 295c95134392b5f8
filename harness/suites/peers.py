"""The peer baselines under their own published protocols on the full MNIST (:mod:`harness.peers`: each
protocol with its source; docs/baselines.md, "Published protocols"), beside their published sum
accuracies (``harness/data/literature.csv``): DeepProbLog (batch 2, 1 epoch), NeurASP (batch 1, 1
epoch), DeepStochLog (batch 32, 2 epochs) at N = 1 to 4. Its report opens with the "published vs run
here" table (:func:`harness.peers.published_vs_run`); the targets are the published figures less their std."""

from __future__ import annotations

from ..peers import PROTOCOLS, SCHEDULE_CHECKS, published
from . import Entry, Suite, Target, register_suite


def _peers() -> list[Entry]:
    return [
        Entry(
            task="mnist-add",
            tp={"digits": p.digits},
            methods=[(p.method, dict(p.hp))],
            seeds=list(p.seeds),
            epochs=p.epochs,
            batch_size=p.batch_size,
            lr=p.lr,
            needs=["mnist"],
            setup_budget=p.setup_budget,
            run_budget=p.run_budget,
        )
        for p in _run_order()
    ]


def _run_order() -> list:
    """The protocols, then the schedule checks, then the protocols expected to time out: a suite cut
    short still has its finished rows."""
    return (
        [p for p in PROTOCOLS if not p.expect_timeout]
        + list(SCHEDULE_CHECKS)
        + [p for p in PROTOCOLS if p.expect_timeout]
    )


def _peer_targets() -> list[Target]:
    pub, out = published(), []
    for p in PROTOCOLS:
        ref = pub.get((p.label, p.digits))
        if ref is None:
            continue
        bar = ref["value"] - (ref["std"] or 0.0)
        shown = f"{ref['value']}" + (f" ± {ref['std']}" if ref["std"] else "")
        out.append(
            Target(
                f"N = {p.digits}: {p.label} sum accuracy >= {bar:.1f} (published {shown}) under its own protocol",
                "mnist-add",
                p.method,
                {"digits": p.digits},
                train={"batch_size": p.batch_size, "epochs": p.epochs},
                at_least=bar,
                seeds=len(p.seeds),
            )
        )
    return out


register_suite(
    Suite(
        name="peers-published",
        description="each peer baseline under its own paper's protocol on the full MNIST (--mnist-dir)",
        entries=_peers(),
        targets=_peer_targets(),
        peers_table=True,
    )
)
