"""Batched SDD evaluation (the semantic loss's) against PySDD's weighted model count per example.

Compiles a task's constraint as the semantic loss does, draws a batch of random network outputs and
the evidence of random labels, and times (a) ``FlatCircuit.log_wmc`` for the whole batch (forward
alone; and the training step's forward + backward, literal weights from the logits included),
(b) PySDD's ``WmcManager`` example by example (set every literal weight, ``propagate``). Checks
that both give the same values and prints microseconds per example and the ratios.

The measurements are interleaved, so that a shared machine's changing load falls on both sides
alike: ``--repeats`` rounds, each timing ``--calls`` consecutive batched forwards, as many batched
forwards + backwards, and PySDD on every example of the batch, after a warm-up of each; both sides
are thus timed in a steady loop. Printed: the median over the rounds of each side's time per
example, and their ratio (the mean over the rounds beside it). ``--calls 1`` times a single call
per round, right after the other side's work (caches cold).

    .venv/bin/python scripts/bench_sdd.py --batch 256 --digits 1 --encoding paper --threads 1
"""
from __future__ import annotations

import argparse
import math
import statistics
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
    ap.add_argument("--vtree", default="auto")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    if a.repeats < 1 or a.calls < 1 or a.batch < 1:
        sys.exit("bench_sdd: --batch, --repeats and --calls must be at least 1")
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
    fwd, fwd_bwd, per_ex = [], [], []  # per round, seconds per example
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(a.calls):
            forward()
        t1 = time.perf_counter()
        for _ in range(a.calls):
            forward_backward()
        t2 = time.perf_counter()
        for b in range(a.batch):
            ref[b] = pysdd(b)
        t3 = time.perf_counter()
        fwd.append((t1 - t0) / a.calls / a.batch)
        fwd_bwd.append((t2 - t1) / a.calls / a.batch)
        per_ex.append((t3 - t2) / a.batch)
    err = max(abs(r - float(v)) for r, v in zip(ref, batched.cpu().tolist()))
    med, mean = statistics.median, statistics.fmean
    print(f"mnist-add digits={a.digits} encoding={a.encoding} vtree={a.vtree}: SDD size {cc.size}, "
          f"{fc.n_decisions} decision nodes in {len(fc.levels)} levels, {cc.n_vars} variables; "
          f"batch {a.batch}, device {dev}, threads {a.threads}")
    print(f"max |log WMC batched - log WMC PySDD| = {err:.2e}")
    print(f"{a.repeats} rounds, {a.calls} batched calls a round; median (mean) over the rounds")
    print(f"PySDD per example:            {1e6 * med(per_ex):9.2f} us/example ({1e6 * mean(per_ex):.2f})")
    for name, t in (("batched forward:", fwd), ("batched forward + backward:", fwd_bwd)):
        print(f"{name:29} {1e6 * med(t):9.2f} us/example ({1e6 * mean(t):.2f})  "
              f"{med(per_ex) / med(t):6.1f}x faster ({mean(per_ex) / mean(t):.1f}x)")
    assert math.isfinite(err) and err < 1e-3


if __name__ == "__main__":
    try:
        main()
    except UserError as e:  # a wrong task, method, parameter or data directory: one line, non-zero exit
        sys.exit(f"bench_sdd: {e}")
