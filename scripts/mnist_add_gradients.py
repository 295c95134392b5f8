"""Where CL-STE's gradient on mnist-add's digit outputs comes from, per encoding and N.

For a batch of random examples (true digits drawn uniformly) and synthetic logits that put a margin
`--margin` on the true digit plus Gaussian noise (margin 0: an untrained network; larger: a partly
trained one), it splits L_cnf (b_p + iSTE, clause filtering) into L_deduce, L_unsat and L_sat,
takes each term's gradient on the logits, and prints per term its norm share and the cosine
between the term's descent direction and the supervised one (-grad of the cross-entropy on the true
digits; the labels are read only here, for the diagnosis). A term whose descent direction has a
negative cosine pushes the digits away from the truth.

    PYTHONPATH=. python scripts/mnist_add_gradients.py --digits 1 2 3 4 --encoding compact column
"""

from __future__ import annotations

import argparse

import torch

from harness.atoms import cols as _cols
from methods.cl_ste import CLSTE
from methods.cl_ste.formula import _term_sums
from tasks.mnist_add import MnistAdd, number_weights


def term_gradients(task: MnistAdd, logits: torch.Tensor, sums: torch.Tensor) -> dict[str, torch.Tensor]:
    m = CLSTE(w_cnf=1.0, w_bound=0.0)
    c = task.constraint()
    m.prepare(c, torch.device("cpu"))
    ev = task.evidence_for(sums)
    g = _cols(ev, m.layout_.order)
    out = {}
    for name in ("deduce", "unsat", "sat"):
        x = logits.clone().requires_grad_()
        v_nn = m.layout_.values({"digit": x}, "bp-iste", pad=True)
        v = torch.where(g != 0, (g == 1).float(), v_nn)
        mask = (m.g_ct(ev) == -1) | m.always_keep_
        idx, sign = m.idx_, m.sign_
        lit_v = torch.where(sign > 0, _cols(v, idx), 1 - _cols(v, idx)) * (sign != 0)
        lit_g = sign * _cols(g, idx)
        ded, un, n_un, sat, n_sat = _term_sums(lit_v, sign, lit_g, mask)
        term = {"deduce": ded, "unsat": un / n_un.clamp(min=1), "sat": sat / n_sat.clamp(min=1)}[name]
        (gr,) = torch.autograd.grad(term, x, allow_unused=True)
        out[name] = torch.zeros_like(x) if gr is None else gr
    return out


def main():
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser()
    ap.add_argument("--digits", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--encoding", nargs="+", default=["compact", "column"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--margin", type=float, nargs="+", default=[0.0, 2.0])
    args = ap.parse_args()
    print(
        "encoding N margin | share of |grad|: deduce unsat sat | cos(descent, supervised): deduce unsat sat all"
        " no-deduce | top-column cos(all)"
    )
    for enc in args.encoding:
        for n in args.digits:
            task = MnistAdd(digits=n, encoding=enc)
            for margin in args.margin:
                torch.manual_seed(0)
                gold = torch.randint(0, 10, (args.batch, 2 * n))
                sums = (gold * torch.as_tensor(number_weights(n))).sum(1)
                logits = margin * torch.nn.functional.one_hot(gold, 10).float() + torch.randn(args.batch, 2 * n, 10)
                grads = term_gradients(task, logits, sums)
                x = logits.clone().requires_grad_()
                ce = torch.nn.functional.cross_entropy(x.reshape(-1, 10), gold.reshape(-1), reduction="sum")
                (sup,) = torch.autograd.grad(ce, x)
                total = sum(grads.values())
                norms = {k: float(v.norm()) for k, v in grads.items()}
                tot = sum(norms.values()) or 1.0

                def cos(a, b):
                    return float((a * b).sum() / (a.norm() * b.norm()).clamp(min=1e-12))

                top = [0, n]  # the images of the most significant column
                print(
                    f"{enc:8s} {n:2d} {margin:4.1f} | "
                    + " ".join(f"{norms[k] / tot:6.2f}" for k in grads)
                    + " | "
                    + " ".join(f"{cos(grads[k], sup):6.2f}" for k in grads)
                    + f" {cos(total, sup):6.2f} {cos(grads['unsat'] + grads['sat'], sup):6.2f}"
                    + f" | {cos(total[:, top], sup[:, top]):6.2f}"
                )


if __name__ == "__main__":
    main()
