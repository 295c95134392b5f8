"""CL-STE's training dynamics on mnist-add without images: does an encoding's loss lead to the digits?

The "network" is a table of logits per true digit class, W (10, 10), plus per-image Gaussian noise
(noise std `--noise`), so one step costs only the constraint's tensor operations and a run of
hundreds of steps takes seconds. The loss is CL-STE's (the method's own code) on random examples
with their sums as evidence; the true digits are read only to look up W's row (the stand-in for an
image) and to score: accuracy = the share of classes k whose row's argmax is k. A collapse shows as
one column of W winning every row.

    PYTHONPATH=. python scripts/mnist_add_toy.py --digits 3 --encoding compact column --steps 2000
"""

from __future__ import annotations

import argparse
import time

import torch

from harness.api import Batch
from methods.cl_ste import CLSTE
from tasks.mnist_add import MnistAdd, number_weights


def run(n, enc, steps, batch, lr, w_cnf, w_bound, noise, seed):
    torch.manual_seed(seed)
    task = MnistAdd(digits=n, encoding=enc)
    m = CLSTE(w_cnf=w_cnf, w_bound=w_bound)
    m.prepare(task.constraint(), torch.device("cpu"))
    W = (0.01 * torch.randn(10, 10)).requires_grad_()
    opt = torch.optim.Adam([W], lr=lr)
    w = torch.as_tensor(number_weights(n))
    hist = []
    for step in range(1, steps + 1):
        gold = torch.randint(0, 10, (batch, 2 * n))
        logits = W[gold] + noise * torch.randn(batch, 2 * n, 10)
        loss = m.loss({"digit": logits}, Batch(x=None, evidence=task.evidence_for((gold * w).sum(1))))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % max(1, steps // 5) == 0:
            hist.append(float((W.argmax(1) == torch.arange(10)).float().mean()) * 100)
    return hist, W.detach().argmax(1).tolist()


def main():
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser()
    ap.add_argument("--digits", type=int, nargs="+", default=[3])
    ap.add_argument("--encoding", nargs="+", default=["compact", "column"])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, nargs="+", default=[16])
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--w", type=str, nargs="+", default=["3,0.4"], help="w_cnf,w_bound pairs")
    ap.add_argument("--noise", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    print("encoding N batch w_cnf,w_bound seed | class accuracy after each fifth of the steps | argmax per class")
    for enc in args.encoding:
        for n in args.digits:
            for b in args.batch:
                for wpair in args.w:
                    wc, wb = map(float, wpair.split(","))
                    for seed in args.seeds:
                        t0 = time.time()
                        hist, am = run(n, enc, args.steps, b, args.lr, wc, wb, args.noise, seed)
                        print(
                            f"{enc:8s} {n:2d} {b:3d} {wpair:9s} {seed} | "
                            + " ".join(f"{h:5.0f}" for h in hist)
                            + f" | {am} ({time.time() - t0:.0f} s)",
                            flush=True,
                        )


if __name__ == "__main__":
    main()
