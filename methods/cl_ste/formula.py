"""L_cnf written as a formula on dense or per-literal tensors, and the exactly-one (UEC) clauses.

:func:`cnf_loss` is the paper's L_cnf = L_deduce + L_unsat + L_sat on the clause matrix C (the
reference top-level ``ste.py::reg_cnf``; ``norm="all"``: ``sudoku_gnn/ste.py::reg_cnf``); the
tests take it as the reference of the fused training-step node (:mod:`methods.cl_ste.fused`).
:func:`_term_sums` and :func:`_combine` are its parts, shared with the per-example clauses of
:mod:`methods.cl_ste_sparse`.
"""

from __future__ import annotations

import torch

from harness.api import Constraint

NORMS = ("subset", "all")


class _Prod(torch.autograd.Function):
    """Product over the last dimension with the gradient from exclusive prefix/suffix products.

    Same value and gradient as ``x.prod(-1)``; torch's own backward takes a slow path whenever an
    input is 0, which CL-STE's {0,1} literal values always contain.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.prod(-1)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.unsqueeze(-1) * _others_prod(x)


def _others_prod(x: torch.Tensor) -> torch.Tensor:
    """Per slot of the last dimension, the product of the other slots (exclusive prefix times
    suffix products; no division, so exact where an entry is 0)."""
    if x.shape[-1] == 2:
        return x.flip(-1)
    ones = torch.ones_like(x[..., :1])
    left = torch.cat([ones, x[..., :-1]], -1).cumprod(-1)  # prod of x[..., :i]
    right = torch.cat([x[..., 1:], ones], -1).flip(-1).cumprod(-1).flip(-1)  # prod of x[..., i+1:]
    return left.mul_(right)


def _prod(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] == 2:
        return x[..., 0] * x[..., 1]
    return _Prod.apply(x)


def _term_sums(
    lit_v: torch.Tensor, lit_c: torch.Tensor, lit_g: torch.Tensor, mask: torch.Tensor | None, unsat_deduce: bool = False
):
    """L_cnf's sums from per-literal tensors, so that clause blocks can be combined.

    lit_v (B, m, k): truth value under v of each literal slot (0 for an empty slot);
    lit_c (m, k) or (B, m, k): the slot's sign (+1/-1, 0 empty); lit_g (B, m, k): C * g per slot;
    mask (B, m) bool: the clauses kept by clause filtering (None: all); unsat_deduce: L_deduce
    over unsatisfied clauses only (``sudoku_gnn/ste.py``).
    Returns (L_deduce, sum over unsatisfied, their count, keep-sum over satisfied, their count).
    """
    unsat = _prod(1 - lit_v)  # (B, m): 1 iff every literal is false
    n_lits = (lit_c != 0).sum(-1)  # (m,) or (B, m)
    up = (n_lits - (lit_g == -1).sum(-1)) == 1  # exactly one literal not falsified by the facts
    one = (lit_v == 1).to(lit_v.dtype)
    zero = (lit_v == 0).to(lit_v.dtype)
    keep = (one * (1 - lit_v) + zero * lit_v).sum(-1)  # value 0; gradient keeps each literal's value
    m = torch.ones_like(unsat, dtype=torch.bool) if mask is None else mask
    up = up & m
    is_unsat = ((unsat == 1) & m).to(unsat.dtype)
    is_sat = ((unsat == 0) & m).to(unsat.dtype)
    if unsat_deduce:
        up = up & (unsat == 1)
    l_deduce = (unsat * up.to(unsat.dtype)).sum()
    return l_deduce, (unsat * is_unsat).sum(), is_unsat.sum(), (keep * is_sat).sum(), is_sat.sum()


def _combine(parts: list[torch.Tensor], norm: str = "subset") -> torch.Tensor:
    """L_cnf = L_deduce + L_unsat + L_sat from the (5,) sums of one or more clause blocks: L_unsat and
    L_sat are means over the unsatisfied and over the satisfied kept clauses of the whole batch
    (``norm="subset"``, top-level ``ste.py``), or both over all kept (example, clause) pairs
    (``norm="all"``, ``sudoku_gnn/ste.py``; a clause is either satisfied or not, so the pairs are
    the two counts together)."""
    ded, un, n_un, sat, n_sat = (parts[0] if len(parts) == 1 else torch.stack(parts).sum(0)).unbind()
    if norm == "all":
        return ded + (un + sat) / (n_un + n_sat).clamp(min=1)
    return ded + un / n_un.clamp(min=1) + sat / n_sat.clamp(min=1)


def cnf_loss(
    C: torch.Tensor, v: torch.Tensor, g: torch.Tensor, clause_mask: torch.Tensor | None = None, norm: str = "subset"
) -> torch.Tensor:
    """L_cnf in the paper's notation (reference top-level ``ste.py::reg_cnf``; ``norm="all"``:
    ``sudoku_gnn/ste.py::reg_cnf``).

    C: (m, n) or (B, m, n) in {-1,0,1}; v: (B, n) in {0,1}, differentiable; g: (B, n) in
    {-1,0,1}; clause_mask: optional (B, m) bool of clauses to use. Returns a scalar.
    """
    if v.dim() != 2 or g.shape != v.shape:
        raise ValueError(f"v and g must both be (B, n); got {tuple(v.shape)} and {tuple(g.shape)}")
    Cb = C if C.dim() == 3 else C.unsqueeze(0)  # (B|1, m, n)
    v3 = v.unsqueeze(1)  # (B, 1, n)
    L_v = (Cb == 1).to(v.dtype) * v3 + (Cb == -1).to(v.dtype) * (1 - v3)  # (B, m, n)
    L_g = Cb * g.unsqueeze(1)
    return _combine([torch.stack(_term_sums(L_v, Cb, L_g, clause_mask, norm == "all"))], norm)


def exactly_one_clauses(constraint: Constraint) -> list[tuple[int, ...]]:
    """The paper's UEC clauses for each categorical variable: one existence clause and pairwise
    uniqueness clauses over its K atoms (1-based DIMACS literals)."""
    out = []
    for grp in constraint.groups:
        if grp.kind != "categorical" or grp.atoms.shape[1] < 2:
            continue
        for row in grp.atoms.tolist():
            lits = [a + 1 for a in row]
            out.append(tuple(lits))
            for i in range(len(lits)):
                for j in range(i + 1, len(lits)):
                    out.append((-lits[i], -lits[j]))
    return out
