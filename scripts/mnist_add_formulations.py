"""CL-STE formulations on mnist-add's column encoding, compared on a validation split.

Trains the task's LeNet with CL-STE (the method's own code) on ``--tp holdout`` data, like
``nesybench run``, with one change to what the loss sees (``--variant``), and prints the held-out
digit / sum accuracy after every epoch (docs/mnist-add-scaling.md has the measurements):

- ``full``: the column encoding as it is (``nesybench run ... --tp encoding=column``);
- ``top-first``: the first ``--top-epochs`` epochs see only the top column's total (the task's
  ``top_epochs``; ``--top-epochs`` >= ``--epochs``: the top column only, throughout);
- ``top-repeat``: the top column's clauses listed ``--repeat`` times, so that they take that many
  shares of L_unsat's mean over the unsatisfied clauses;
- ``carry-detach``: the carry atoms' probabilities pass no gradient into the column outcomes;
- ``carry-hard``: the carries are those of the network's argmax digits (0 or 1, no gradient);
- ``gate-chain``: per example, a lower column's clause is kept only while every column above it is
  right under the network's argmax digits; ``gate-top``: while the top column is.

    PYTHONPATH=. python scripts/mnist_add_formulations.py --digits 3 --variant top-first --top-epochs 5 \
        --batch-size 4 --epochs 10
"""

from __future__ import annotations

import argparse
import re
import time

import torch

from harness.atoms import cols
from harness.cnf import CNF
from harness.loop import RunConfig, build, make_optimizer, seed_everything, train_step
from methods import cl_ste

VARIANTS = ("full", "top-first", "top-repeat", "carry-detach", "carry-hard", "gate-chain", "gate-top")


def argmax_columns(d: torch.Tensor, sums: torch.Tensor, n: int) -> torch.Tensor:
    """(B, N) bool: column j right under the argmax digits d (B, 2N) with their own carries (the
    sum's digit j for j < N-1, the top column's total for j = N-1)."""
    carry = torch.zeros_like(sums)
    right = []
    for j in range(n):
        t = d[:, n - 1 - j] + d[:, 2 * n - 1 - j] + carry
        carry = (t >= 10).long()
        right.append(t == sums // 10**j if j == n - 1 else t % 10 == (sums // 10**j) % 10)
    return torch.stack(right, 1)


def carry_values(method, names: list[str], n: int, mode: str):
    """CL-STE's b_p values with the carries c0(j) / c1(j) detached or replaced by the argmax
    digits' carries (``mode``): the same stages as :meth:`methods.cl_ste.ValueLayout.values`."""
    lay = method.layout_
    off = 0 if lay.direct else 2
    carry = {}
    for i, name in enumerate(names):
        m = re.fullmatch(r"c([01])\((\d+)\)", name)
        if m:
            carry[int(lay.pos[i]) + off] = (int(m.group(2)), int(m.group(1)))
    digit_pos = lay.pos[torch.arange(2 * n * 10)].reshape(2 * n, 10)

    def values(outputs, ste, pad=True):
        p = lay.probabilities(outputs)
        B = p.shape[0]
        hard = {}
        if mode == "carry-hard":
            d = torch.stack([p[:, digit_pos[i]].argmax(-1) for i in range(2 * n)], 1)
            c = torch.zeros(B, dtype=torch.long)
            for j in range(n - 1):
                c = ((d[:, n - 1 - j] + d[:, 2 * n - 1 - j] + c) >= 10).long()
                hard[j + 1] = c.to(p.dtype)
        if lay.direct:
            w, stages = p, lay.direct_stages
        else:
            w, stages = torch.cat([p.new_tensor([1.0, 0.0]).expand(B, 2), p], 1), lay.stages
        for kind, comps in stages:
            g = cols(w, comps)
            start = w.shape[1]
            w = torch.cat([w, cl_ste._prod(g) if kind == "and" else g.sum(-1).clamp(max=1.0)], 1)
            fix = [q for q in carry if start <= q < w.shape[1]]
            if fix:
                idx = torch.tensor(fix)
                if mode == "carry-detach":
                    new = w[:, idx].detach()
                else:
                    new = torch.stack([hard[carry[q][0]] if carry[q][1] else 1 - hard[carry[q][0]] for q in fix], 1)
                w = w.index_copy(1, idx, new)
        v = w if lay.direct else w[:, 2:]
        if lay.n_rest and pad:
            v = torch.cat([v, v.new_zeros(B, lay.n_rest)], 1)
        return cl_ste.bp_iste(v)

    return values


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--digits", type=int, default=3)
    ap.add_argument("--variant", choices=VARIANTS, default="full")
    ap.add_argument("--top-epochs", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE", help="CL-STE hyper-parameter")
    ap.add_argument("--holdout", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mnist-dir", default=None)
    a = ap.parse_args(argv)
    if a.variant != "top-first" and a.top_epochs:
        ap.error("--top-epochs goes with --variant top-first")
    hp = {}
    for kv in a.hp:
        k, v = kv.split("=", 1)
        hp[k] = float(v) if re.fullmatch(r"[0-9.eE+-]+", v) else v
    torch.set_num_threads(1)
    n = a.digits
    cfg = RunConfig(
        "mnist-add",
        "cl-ste",
        seed=a.seed,
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        hp=hp,
        tp={"digits": n, "encoding": "column", "holdout": a.holdout},
        data_dirs={"mnist": a.mnist_dir} if a.mnist_dir else {},
    )
    task, method, train = build(cfg)
    dev = torch.device("cpu")
    seed_everything(a.seed)
    task.setup(a.seed, dev)
    c = task.constraint()
    names = c.cnf.names
    if a.variant == "top-repeat":
        top = [cl for cl in c.cnf.clauses if names[abs(cl[0]) - 1].startswith("top(")]
        c.cnf = CNF(c.cnf.n_atoms, list(c.cnf.clauses) + top * (a.repeat - 1), names)
        c.hints["always_keep"] = torch.zeros(c.cnf.n_clauses, dtype=torch.bool)
    method.prepare(c, dev)
    if a.variant.startswith("carry"):
        method.layout_.values = carry_values(method, names, n, a.variant)
    lower = [torch.tensor([names.index(f"sdig({j},{s})") for s in range(10)]) for j in range(n - 1)]
    seed_everything(a.seed)
    net = task.network()
    opt = make_optimizer(list(net.parameters()), train["lr"])
    gen = torch.Generator().manual_seed(a.seed)
    hist = []
    for ep in range(1, train["epochs"] + 1):
        net.train()
        t0 = time.perf_counter()
        for batch in task.train_batches(train["batch_size"], gen):
            if a.variant == "top-first" and ep <= a.top_epochs:
                for cj in lower:
                    batch.evidence[:, cj] = 0
            elif a.variant.startswith("gate"):
                with torch.no_grad():
                    right = argmax_columns(net(batch.x)["digit"].argmax(-1), torch.as_tensor(batch.target), n)
                above = right[:, n - 1]
                for j in range(n - 2, -1, -1):  # column j kept while the columns above it are right
                    batch.evidence[:, lower[j]] *= above.unsqueeze(1).float()
                    if a.variant == "gate-chain":
                        above = above & right[:, j]
            train_step(task, method, net, opt, batch, 0.0)
        net.eval()
        m = task.evaluate(net, dev)
        hist.append(f"{m['digit_acc']:.1f}/{m['sum_acc']:.1f}")
        print(
            f"epoch {ep}: digit_acc {m['digit_acc']:.2f} sum_acc {m['sum_acc']:.2f} ({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    print("digit/sum per epoch:", " ".join(hist))


if __name__ == "__main__":
    main()
