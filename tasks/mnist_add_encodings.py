"""mnist-add's ``column`` encoding: one clause per column that fixes the column's total.

Why a third encoding (docs/mnist-add-scaling.md has the measurements): on the ``compact`` encoding
the evidence fixes the sum's top digit with a unit clause, ``-sdig(N,o) | [carry(N) = o]``, which
CL-STE's unit-propagation term L_deduce counts in every example, satisfied or not, as a *sum* over
the batch, while each column's clause enters L_unsat as a *mean* over the batch's unsatisfied
clauses. The top carry's gradient (about batch-size times larger) runs down the carry chain and
pushes every column's digits towards large or small values, whatever the column's own clause says,
so from N = 3 on the digits collapse to one class. Here no clause is a unit clause on a carry: the
sum's two top digits are read as the total of the top column, and each column's clause is a
disjunction of exclusive events "carry-in c AND digits (d1, d2)" whose b_p values are exact
probabilities, so the straight-through gradient of an unsatisfied clause is the gradient of the
probability that the column is right, carries included.

Columns j = 0..N-1 count from the least significant digit; column j reads images a_j = N-1-j (first
number) and b_j = 2N-1-j (second). Atoms:

- ``digit(i,k)`` (2N x 10): the network's outputs;
- ``pair(j,d1,d2)`` (100 N): digit(a_j,d1) AND digit(b_j,d2) (``Constraint.derived``);
- ``hi(j)`` / ``nine(j)`` / ``lo(j)``: "or" of the pairs of column j with d1 + d2 >= 10 / = 9 / <= 8;
- ``c1(j)`` / ``c0(j)`` (1 <= j < N): the carry into column j is 1 / 0. c1(1) = hi(0), c0(1) = OR of
  column 0's pairs with d1 + d2 <= 9; then c1(j+1) = hi(j) OR t1(j), c0(j+1) = lo(j) OR t0(j), with
  t1(j) = nine(j) AND c1(j), t0(j) = nine(j) AND c0(j). Every "or" is over exclusive events;
- ``col(j,c,d1,d2)`` (j >= 1): c_c(j) AND pair(j,d1,d2), the column's outcomes;
- evidence atoms ``sdig(j,s)`` (j < N-1, s in 0..9): the sum's digit j; ``top(t)`` (t in 0..19, 0..18 at
  N = 1): the top column's total a + b + carry-in, i.e. the sum's digits N-1 and N read as t.

Clauses: the definitions of hi, nine, lo, c1, c0, t1, t0, col as equivalences (so the latent atoms
are functions of the digits and a model count over them is exact; the pair atoms' definitions are
left out, as in the other encodings: methods compute them), ``-sdig(j,s) | OR outcome(j,c,d1,d2) with
(d1 + d2 + c) mod 10 = s`` for j < N-1 (outcomes: col, or the pairs at j = 0 where c = 0), and
``-top(t) | OR outcome(N-1,c,d1,d2) with d1 + d2 + c = t``. On one-hot digits and the label's
evidence atoms it holds exactly when the numbers add up to the label (brute force in the tests). At
N = 1 it is the paper encoding with the sums renamed top(t). Size: 337 N - 202 atoms and 725 N - 718
clauses for N >= 2 (139 atoms and 19 clauses at N = 1; 4,853 and 10,157 at N = 15), linear in N.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.cnf import CNF, CNFBuilder


def column_encoding(n_digits: int) -> tuple[CNF, torch.Tensor, torch.Tensor, list, np.ndarray]:
    """Returns (cnf, digit atoms (2N, 10), derived pair rows (100N, 3), derived_ops, evidence
    columns (N, 20): row j < N-1 holds sdig(j, s) at s, row N-1 holds top(t) at t; -1 where the
    atom does not exist)."""
    N = n_digits
    b = CNFBuilder()
    b.atoms(f"digit({i},{k})" for i in range(2 * N) for k in range(10))
    digit_atoms = torch.arange(2 * N * 10).reshape(2 * N, 10)

    def col(name):  # 0-based column of a named atom (created on first use)
        return b.atom(name) - 1

    pair_rows = []
    for j in range(N):
        a_img, b_img = N - 1 - j, 2 * N - 1 - j
        for d1 in range(10):
            for d2 in range(10):
                pair_rows.append((col(f"pair({j},{d1},{d2})"), 10 * a_img + d1, 10 * b_img + d2))

    def pairs(j, pred):
        return [f"pair({j},{d1},{d2})" for d1 in range(10) for d2 in range(10) if pred(d1 + d2)]

    def define(kind, name, comps):
        """name <-> and/or(comps) as clauses; returns the derived row (0-based columns)."""
        b.define(kind, name, comps)
        return [col(name)] + [col(c) for c in comps]

    ors = []
    if N > 1:
        ors.append(define("or", "c1(1)", pairs(0, lambda s: s >= 10)))
        ors.append(define("or", "c0(1)", pairs(0, lambda s: s <= 9)))
    for j in range(1, N - 1):
        ors.append(define("or", f"hi({j})", pairs(j, lambda s: s >= 10)))
        ors.append(define("or", f"nine({j})", pairs(j, lambda s: s == 9)))
        ors.append(define("or", f"lo({j})", pairs(j, lambda s: s <= 8)))
    stages = [("or", ors)] if ors else []
    for j in range(1, N - 1):
        stages.append(
            (
                "and",
                [
                    define("and", f"t1({j})", [f"nine({j})", f"c1({j})"]),
                    define("and", f"t0({j})", [f"nine({j})", f"c0({j})"]),
                ],
            )
        )
        stages.append(
            (
                "or",
                [
                    define("or", f"c1({j + 1})", [f"hi({j})", f"t1({j})"]),
                    define("or", f"c0({j + 1})", [f"lo({j})", f"t0({j})"]),
                ],
            )
        )

    def outcomes(j):
        """(atom name, column total) of every outcome of column j."""
        if j == 0:
            return [(f"pair(0,{d1},{d2})", d1 + d2) for d1 in range(10) for d2 in range(10)]
        return [(f"col({j},{c},{d1},{d2})", d1 + d2 + c) for c in (0, 1) for d1 in range(10) for d2 in range(10)]

    cols_and = [
        define("and", f"col({j},{c},{d1},{d2})", [f"c{c}({j})", f"pair({j},{d1},{d2})"])
        for j in range(1, N)
        for c in (0, 1)
        for d1 in range(10)
        for d2 in range(10)
    ]
    if cols_and:
        stages.append(("and", cols_and))
    ev_cols = np.full((N, 20), -1, dtype=np.int64)
    for j in range(N):
        outs = outcomes(j)
        if j < N - 1:
            for s in range(10):
                ev_cols[j, s] = col(f"sdig({j},{s})")
                b.clause(f"-sdig({j},{s})", *[a for a, t in outs if t % 10 == s])
        else:
            for t in range(max(t for _, t in outs) + 1):
                ev_cols[j, t] = col(f"top({t})")
                b.clause(f"-top({t})", *[a for a, tt in outs if tt == t])
    width = {kind: max(len(r) for k, rows in stages if k == kind for r in rows) for kind, _ in stages}
    ops = [(kind, [r + [-1] * (width[kind] - len(r)) for r in rows]) for kind, rows in stages]
    return b.build(), digit_atoms, torch.tensor(pair_rows), ops, ev_cols


def column_targets(digits: torch.Tensor) -> torch.Tensor:
    """(B, N+1) sum digits, least significant first -> (B, N) evidence index per column: the sum's
    digit j for j < N-1, and the top column's total (digit N-1 + 10 * digit N) in the last slot."""
    out = digits[:, :-1].clone()
    out[:, -1] = digits[:, -2] + 10 * digits[:, -1]
    return out
