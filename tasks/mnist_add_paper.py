"""mnist-add's paper encoding beyond N = 2, generated per example.

The paper encoding (:mod:`tasks.mnist_add`, docs/method.md) has one combination atom per tuple of
the 2N digit values and, per sum r, the clause ``-sum(r) | OR of the combinations whose numbers add
up to r``: 10^(2N) atoms, 10^6 at N = 3, so it is listed only up to N = 2. Beyond, the constraint is
a :class:`~harness.combinations.CombinationConstraint`: the CNF's columns are the 20N digit atoms
and the 2 * 10^N - 1 sum atoms (the evidence), and the clause of a sum r is generated when a
method asks for it. Its combinations are the pairs (x, r - x) of N-digit numbers,
x = max(0, r - 10^N + 1) .. min(r, 10^N - 1): at most 10^N of them (1,000 at N = 3, 10,000 at N = 4).

With clause filtering an example keeps only the clause of its own sum, so CL-STE's loss reads at
most 10^N combinations per example (``methods/cl_ste_sparse.py``); methods that need the whole
clause list are skipped with the reason. The encoding is limited to N <= 4: at N = 5 one clause
holds up to 10^5 combinations of 10 digits per example.
"""

from __future__ import annotations

import torch

from harness.api import NeuralGroup
from harness.combinations import CombinationClauses, CombinationConstraint, ImplicitCNF
from harness.errors import UserError

MAX_SPARSE_DIGITS = 4
_BYTES_PER_SLOT = 4 * 8  # float32; the gathered digit values, their products and the loss's temporaries


def clause_size(n_digits: int) -> int:
    """The most combinations one sum's clause holds: 10^N (the sum 10^N - 1)."""
    return 10**n_digits


def check_size(n_digits: int) -> None:
    """UserError (one line, nothing allocated) when the per-example clause is too large."""
    if n_digits > MAX_SPARSE_DIGITS:
        k = clause_size(n_digits)
        mb = k * 2 * n_digits * _BYTES_PER_SLOT / 2**20
        raise UserError(
            f"mnist-add: the paper encoding at N={n_digits} has 10^{2 * n_digits} combination atoms and up "
            f"to {k:,} of them in one example's clause (about {mb:,.0f} MB of loss tensors per example "
            f"and step); it is limited to N <= {MAX_SPARSE_DIGITS}: use encoding=compact"
        )


def sum_combinations(n_digits: int):
    """The generator of clause r's combinations: r (E,) long -> (values (E, Kc, 2N), valid (E, Kc)).

    Row e lists the pairs (x, r_e - x) of N-digit numbers as digits, most significant first (the
    first number's N digits, then the second's), Kc the largest count in the batch."""
    top = 10**n_digits - 1
    place = 10 ** torch.arange(n_digits - 1, -1, -1)

    def combos(r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = r.long()
        lo = (r - top).clamp(min=0)
        count = torch.minimum(r, torch.full_like(r, top)) - lo + 1  # (E,)
        kc = int(count.max()) if len(r) else 0
        x = lo.unsqueeze(1) + torch.arange(kc, device=r.device)  # (E, Kc)
        valid = x < (lo + count).unsqueeze(1)
        x = torch.where(valid, x, lo.unsqueeze(1))  # padding: a real combination, masked by valid
        y = r.unsqueeze(1) - x
        p = place.to(r.device)
        digits = lambda z: torch.div(z.unsqueeze(-1), p, rounding_mode="floor") % 10  # (E, Kc, N)
        return torch.cat([digits(x), digits(y)], -1), valid

    return combos


def sparse_paper_constraint(n_digits: int, **kw) -> tuple[CombinationConstraint, torch.Tensor]:
    """The generated paper encoding for N digits. Returns (constraint, sum atom columns (R,)).

    Columns: digit(i,k) at 10 i + k (i < 2N), then sum(r) for r = 0 .. 2 (10^N - 1); ``kw`` are
    further Constraint fields (the ProbLog program, its query)."""
    check_size(n_digits)
    n_img = 2 * n_digits
    n_sums = 2 * (10**n_digits - 1) + 1
    names = [f"digit({i},{k})" for i in range(n_img) for k in range(10)] + [f"sum({r})" for r in range(n_sums)]
    sum_cols = torch.arange(10 * n_img, 10 * n_img + n_sums)
    reason = (
        f"mnist-add: the paper encoding at N={n_digits} has 10^{2 * n_digits} combination atoms and is "
        "generated per example for cl-ste only; use encoding=compact for this method"
    )
    cnf = ImplicitCNF(len(names), names, reason)
    spec = CombinationClauses("digit", sum_cols, sum_combinations(n_digits), 10**n_img)
    c = CombinationConstraint(
        cnf, [NeuralGroup("digit", torch.arange(10 * n_img).reshape(n_img, 10))], combination=spec, **kw
    )
    return c, sum_cols
