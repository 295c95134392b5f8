"""Batched SDD evaluation (the semantic loss's) against PySDD's weighted model count per example.

Compiles a task's constraint as the semantic loss does, draws a batch of random network outputs and
the evidence of random labels, and times (a) ``FlatCircuit.log_wmc`` for the whole batch (forward
alone; and the training step's forward + backward, literal weights from the logits included),
(b) PySDD's ``WmcManager`` example by example (set every literal weight, ``propagate``). Checks
that both give the same values and prints microseconds per example and the ratios.

The measurements are interleaved, so that a shared machine's changing load falls on both sides
alike: ``--repeats`` rounds, each timing one batched forward, one batched forward + backward and
PySDD on the next 1/repeats of the batch (every example once in all), after a warm-up of each.

    .venv/bin/python scripts/bench_sdd.py --batch 256 --digits 1 --encoding paper --threads 1
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import torch

from harness.errors import UserError
from harness.registry import get_task
from methods._sdd import FlatCircuit, compile_constraint, literal_log_weights


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--digits", type=int, default=1)
    ap.add_argument("--encoding", default="paper")
    ap.add_argument("--vtree", default="split")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    task = get_task("mnist-add")(digits=a.digits, encoding=a.encoding)
    c = task.constraint()
    cc = compile_constraint(c, a.vtree)
    fc = FlatCircuit(cc.manager, cc.root, cc.n_vars, dev)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(a.batch, 2 * a.digits, 10, generator=g).to(dev)
    sums = torch.randint(0, 2 * (10 ** a.digits - 1) + 1, (a.batch,), generator=g).to(dev)
    ev = task.evidence_for(sums).to(dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    with torch.no_grad():
        pos, neg = literal_log_weights(cc, {"digit": logits}, c, ev)
        batched = fc.log_wmc(pos, neg)
    x = logits.clone().requires_grad_(True)

    def forward():
        with torch.no_grad():
            fc.log_wmc(pos, neg)
        sync()

    def forward_backward():
        p, n = literal_log_weights(cc, {"digit": x}, c, ev)
        fc.log_wmc(p, n).sum().backward()
        sync()

    pos_c, neg_c = pos.double().cpu().tolist(), neg.double().cpu().tolist()
    wmc = cc.root.wmc(log_mode=True)
    lits = [(cc.manager.literal(v), cc.manager.literal(-v)) for v in range(1, cc.n_vars + 1)]

    def pysdd(b):
        for v, (lp, ln) in enumerate(lits, start=1):
            wmc.set_literal_weight(lp, pos_c[b][v])
            wmc.set_literal_weight(ln, neg_c[b][v])
        return wmc.propagate()

    for _ in range(3):  # warm-up
        forward()
        forward_backward()
        pysdd(0)
    ref = [0.0] * a.batch
    fwd = fwd_bwd = per_ex = 0.0
    for chunk in np.array_split(np.arange(a.batch), a.repeats):
        t0 = time.perf_counter()
        forward()
        t1 = time.perf_counter()
        forward_backward()
        t2 = time.perf_counter()
        for b in chunk.tolist():
            ref[b] = pysdd(b)
        t3 = time.perf_counter()
        fwd, fwd_bwd, per_ex = fwd + t1 - t0, fwd_bwd + t2 - t1, per_ex + t3 - t2
    fwd, fwd_bwd = fwd / a.repeats, fwd_bwd / a.repeats
    err = max(abs(r - float(v)) for r, v in zip(ref, batched.cpu().tolist()))
    print(f"mnist-add digits={a.digits} encoding={a.encoding} vtree={a.vtree}: SDD size {cc.size}, "
          f"{fc.n_decisions} decision nodes in {len(fc.levels)} levels, {cc.n_vars} variables; "
          f"batch {a.batch}, device {dev}, threads {a.threads}")
    print(f"max |log WMC batched - log WMC PySDD| = {err:.2e}")
    print(f"PySDD per example:            {1e6 * per_ex / a.batch:9.2f} us/example")
    print(f"batched forward:              {1e6 * fwd / a.batch:9.2f} us/example  ({per_ex / fwd:6.1f}x faster)")
    print(f"batched forward + backward:   {1e6 * fwd_bwd / a.batch:9.2f} us/example  ({per_ex / fwd_bwd:6.1f}x faster)")
    assert math.isfinite(err) and err < 1e-3


if __name__ == "__main__":
    try:
        main()
    except UserError as e:  # a wrong task, method, parameter or data directory: one line, non-zero exit
        sys.exit(f"bench_sdd: {e}")
