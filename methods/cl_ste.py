"""CL-STE: constraint loss on a CNF through straight-through estimators.

Yang, Lee, Park. "Injecting Logical Constraints into Neural Networks via Straight-Through
Estimators", ICML 2022 (reference code: github.com/azreasoners/cl-ste, ``ste.py``).

The CNF is the clause matrix C in {-1,0,1}^(m x n); the network's outputs are binarized into
v in {0,1}^n (given facts g override them) and L_cnf = L_deduce + L_unsat + L_sat pushes the
binarized assignment towards satisfying C, with gradients passed straight through the binarization.

L_cnf follows the **top-level ``ste.py``** of the reference code (PAPER.md 1.4): L_unsat and L_sat
are means over the unsatisfied and over the satisfied clauses (of the batch) respectively, and the
unit-propagation term L_deduce is a *sum* over every (example, clause) pair where all literals but
one are falsified by the facts, satisfied or not. Means are written as masked sums over counts,
which have the same value and gradient as the reference's boolean indexing but no data-dependent
shapes (no host synchronisation on a GPU).

One deliberate generalisation: v = 1[g = 1] + b(x) * 1[g = 0], so that a fact g = -1 gives v = 0;
the reference writes v = g + b(x) * 1[g = 0], which is the same for the g in {0,1} that all of its
problems use.

Recurrent networks (outputs with per-step outputs, ``harness.api.STEPS``; the Sudoku RRN, PAPER.md
4.5): L_cnf is taken on the step ``cnf_step`` (-1, the default, is the final output: the only one of
a network without steps; the paper's RRN uses step 0, ``--idx 0``); L_bound and L_cont are means
over every step. ``cnf_norm=all`` selects the normalisation of ``sudoku_gnn/ste.py`` that the
paper's RRN experiments use (PAPER.md 1.4): L_unsat and L_sat are means over all (example, clause)
pairs and L_deduce sums over the unsatisfied unit-propagation clauses only. ``w_cont`` weighs the
"cont" regularizer of ``sudoku_gnn`` (PAPER.md 1.10): for each family of exactly-one sets of the
constraint (``Constraint.exactly_one``; Sudoku: rows, columns, boxes), the mean over its sets of
(sum of the set's probabilities - 1)^2, summed over the families.

Version history: v1, first release; derived atoms may come in further "and"/"or" stages
(``Constraint.derived_ops``, e.g. mnist-add's compact carries), which leaves every earlier
constraint's loss unchanged; ``cnf_step``, ``cnf_norm`` and ``w_cont`` added, whose defaults leave
the loss unchanged; L_cnf of the training step computed in one autograd node (:class:`_FusedCnf`,
same value and gradient, fewer tensor operations; in the training step, where every value is 0
or 1, a leaner binary path, bit-identical on the tested tasks); constraints whose clauses are
generated per example (``harness.combinations``, :mod:`methods.cl_ste_sparse`), where the CNF
could not be listed before.
"""
from __future__ import annotations

import warnings

import torch

from harness.api import Batch, Constraint, Method, step_outputs
from harness.cnf import CNF
from harness.errors import UserError
from harness.registry import register_method

STES = ("bp-iste", "b-iste", "b-sste")
NORMS = ("subset", "all")


class _BinarizeProb(torch.autograd.Function):
    """b_p(x) = 1[x >= 0.5] on probabilities, identity STE (the reference's ``B``)."""

    @staticmethod
    def forward(ctx, x):
        return (x >= 0.5).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _BinarizeLogitI(torch.autograd.Function):
    """b(x) = 1[x >= 0] on logits, identity STE (the reference's ``Bi``)."""

    @staticmethod
    def forward(ctx, x):
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _BinarizeLogitS(torch.autograd.Function):
    """b(x) = 1[x >= 0] on logits, saturated STE: grad * 1[-1 <= x <= 1] (the reference's ``Bs``)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def bp_iste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeProb.apply(x)


def b_iste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeLogitI.apply(x)


def b_sste(x: torch.Tensor) -> torch.Tensor:
    return _BinarizeLogitS.apply(x)


BINARIZE = {"bp-iste": bp_iste, "b-iste": b_iste, "b-sste": b_sste}


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


def _cols(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x[:, idx] for x (B, n) and an index tensor of any shape: (B, *idx.shape). ``index_select``
    on the flattened index, a third of the cost of advanced indexing here (and its backward is an
    ``index_add``, not an accumulating ``index_put``)."""
    return x.index_select(1, idx.reshape(-1)).view(x.shape[0], *idx.shape)


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


def _term_sums(lit_v: torch.Tensor, lit_c: torch.Tensor, lit_g: torch.Tensor, mask: torch.Tensor | None,
               unsat_deduce: bool = False):
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


def cnf_loss(C: torch.Tensor, v: torch.Tensor, g: torch.Tensor, clause_mask: torch.Tensor | None = None,
             norm: str = "subset") -> torch.Tensor:
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


def cnf_loss_padded(idx: torch.Tensor, sign: torch.Tensor, v: torch.Tensor, g: torch.Tensor,
                    clause_mask: torch.Tensor | None = None, norm: str = "subset") -> torch.Tensor:
    """The same L_cnf on the padded clause view of :meth:`harness.cnf.CNF.padded` (m, k)."""
    return ClauseBlocks(idx, sign, split=False).loss(v, g, clause_mask, norm)


def _host_scalars(t: torch.Tensor) -> bool:
    """Whether the loss's few scalars are combined on the host: on CPU, where reading them costs
    less than a tensor operation each; not on a GPU, where it would wait for the device."""
    return t.device.type == "cpu"


def _terms(ded, n_un, n_sat, norm_all: bool):
    """L_cnf's value (before its weight) and the coefficients 1 / count of L_unsat and L_sat, from
    the L_deduce sum and the counts of kept unsatisfied and satisfied clauses: Python floats (the
    host, :func:`_host_scalars`) or 0-dim tensors (on the device). L_unsat's value is 1 when a kept
    clause is unsatisfied (``norm_all``: their share of the pairs), L_sat's always 0."""
    host = isinstance(ded, float)
    if norm_all:  # sudoku_gnn/ste.py: both over every kept (example, clause) pair
        n = n_un + n_sat
        d_un = d_sat = 1.0 / (max(n, 1.0) if host else n.clamp(min=1))
        return ded + n_un * d_un, d_un, d_sat
    d_un = 1.0 / (max(n_un, 1.0) if host else n_un.clamp(min=1))
    d_sat = 1.0 / (max(n_sat, 1.0) if host else n_sat.clamp(min=1))
    return ded + (float(n_un > 0) if host else (n_un > 0).to(ded.dtype)), d_un, d_sat


class _FusedCnf(torch.autograd.Function):
    """w * L_cnf on the padded clause view in one autograd node, with a hand-written backward.

    Forward (no graph): with ``facts`` (the training step), v = 1[g = 1] + v_nn * 1[g = 0], where
    atoms past v_nn's width (e.g. mnist-add's sums) have no network value (0), and every value is
    0 or 1 (:meth:`_forward_binary`, the same terms in fewer operations); else v = v_nn, any value
    in [0, 1] (``cnf_loss_padded``, the general case below). Per clause block and
    literal slot, the literal's value (v for a positive literal, 1 - v for a negative one, 0 for an
    empty slot); per clause, unsat = the product of (1 - literal), whether it is a unit-propagation
    clause (exactly one literal not falsified by g), unsatisfied (unsat = 1) or satisfied (unsat =
    0), within ``mask``; then the terms combined as :func:`_combine`. The sum of unsat over the
    unsatisfied clauses is their count, so L_unsat's value is 1 when a kept clause is unsatisfied
    and 0 otherwise (``norm_all``: their share of the pairs), and L_sat's value is always 0: only
    their gradients matter.

    Backward, per literal slot of clause j (the masks being constants, as in the reference): the
    clause's coefficient c_unsat (1 if unit-propagation, plus 1 / count if unsatisfied) times
    d unsat_j / d lit = -prod of (1 - lit) over its other literals, plus c_sat (1 / count if
    satisfied) times d keep / d lit = 1[lit = 0] - 1[lit = 1]; d lit / d v = the slot's sign;
    slots are summed back onto v with one ``index_add`` per block (with ``facts``, masked by
    1[g = 0]). One node instead of the graph of the terms and their combination (CL-STE's step
    must cost little beside the network); the tests compare it with the dense :func:`cnf_loss`.

    blocks: list of (idx (m, k) positions into v, sign (m, k), neg (m, k) = 1[sign < 0], both in
    v's dtype, n_lits (m,), mask (B, m) bool or None); with ``facts``, (idx, nsign, pos1, fv, nl1,
    mask) (:meth:`ClauseBlocks.prepared`).
    """

    @staticmethod
    def forward(ctx, v_nn, g, blocks, w, norm_all, facts):
        ctx.binary = facts
        if facts:
            return _FusedCnf._forward_binary(ctx, v_nn, g, blocks, w, norm_all)
        v = v_nn  # v itself (cnf_loss_padded), any value in [0, 1]
        dt = v.dtype
        ded = v.new_zeros(())
        n_un = v.new_zeros(())
        n_sat = v.new_zeros(())
        saved = []
        for idx, sign, neg, n_lits, mask in blocks:
            q = torch.addcmul(neg, sign, _cols(v, idx)).neg_().add_(1)  # 1 - literal value, (B, m, k)
            unsat = q.prod(-1)  # (B, m)
            up = (n_lits - ((sign * _cols(g, idx)) == -1).sum(-1)) == 1
            is_unsat = unsat == 1
            is_sat = unsat == 0
            if mask is not None:
                up, is_unsat, is_sat = up & mask, is_unsat & mask, is_sat & mask
            if norm_all:  # sudoku_gnn/ste.py: unit propagation on unsatisfied clauses only
                up = up & is_unsat
            upf = up.to(dt)
            ded += (unsat * upf).sum()
            n_un += is_unsat.sum()
            n_sat += is_sat.sum()
            saved.append((q, upf, is_unsat, is_sat, idx, sign))
        value, ctx.d_un, ctx.d_sat = _terms(ded, n_un, n_sat, norm_all)
        ctx.saved, ctx.n, ctx.w = saved, v.shape[1], w
        return value * w

    @staticmethod
    def _forward_binary(ctx, v_nn, g, blocks, w, norm_all):
        """The training step's case: v_nn (B, n_nn) is the network's binarized part of v and the
        facts g override it, so every literal value is 0 or 1. Then is_unsat is unsat itself and
        is_sat its complement, and the three sums of all blocks come back to the host in one read
        (on CPU; on a GPU the combination stays on the device), so the node costs about half the
        tensor operations of the general case. Per block (:meth:`ClauseBlocks.prepared`): q = 1 -
        literal = pos1 + nsign * v (pos1 = 1 - 1[sign < 0], 1 on empty slots; nsign = -sign), and a
        slot is falsified by the facts where g equals fv (-sign; 2 on empty slots, never)."""
        B, n_nn = v_nn.shape
        dt = v_nn.dtype
        free = (g[:, :n_nn] == 0).to(dt)
        v = g.clamp(min=0)  # the facts: 1 where g = 1, else 0
        v[:, :n_nn].addcmul_(v_nn, free)
        sums, saved = None, []
        for idx, nsign, pos1, fv, nl1, mask in blocks:
            q = torch.addcmul(pos1, nsign, _cols(v, idx))  # (B, m, k) 1 - literal value
            unsat = q.prod(-1)  # (B, m), 0 or 1
            up = (_cols(g, idx) == fv).sum(-1) == nl1  # unit propagation: all literals but one falsified
            if mask is None:
                mf, um = None, unsat
            else:
                up = up & mask
                mf = mask.to(dt)
                um = unsat * mf  # the kept unsatisfied clauses
            upf = up.to(dt)
            if norm_all:  # sudoku_gnn/ste.py: unit propagation on unsatisfied clauses only
                upf = upf * unsat
            part = torch.stack([unsat * upf, um] if mf is None else [unsat * upf, um, mf]).sum((1, 2))
            if mf is None:
                part = torch.cat([part, part.new_full((1,), float(unsat.numel()))])
            sums = part if sums is None else sums.add_(part)
            saved.append((q, upf, um, mf, idx, nsign))
        host = _host_scalars(sums)  # host arithmetic: no tensor operation per scalar
        ded, n_un, n_kept = sums.tolist() if host else sums.unbind()
        value, ctx.d_un, ctx.d_sat = _terms(ded, n_un, n_kept - n_un, norm_all)
        ctx.saved, ctx.free, ctx.n, ctx.w = saved, free, v.shape[1], w
        return sums.new_tensor(value * w) if host else value * w

    @staticmethod
    def _backward_binary(ctx, grad):
        """d w L_cnf / d v_nn for :meth:`_forward_binary`: per slot, nsign times (c_unsat * the
        product of the other slots' q, plus c_sat * (1 - 2 q)); with q in {0, 1}, that product is
        1 exactly when the other slots' q sum to k - 1."""
        gw = float(grad) * ctx.w if _host_scalars(grad) else grad * ctx.w
        grad_v = None
        for q, upf, um, mf, idx, nsign in ctx.saved:
            B, k = q.shape[0], q.shape[-1]
            others = (q.sum(-1, keepdim=True) - q == k - 1).to(q.dtype)
            c_unsat = (um * ctx.d_un + upf).mul_(gw).unsqueeze(-1)  # (B, m, 1)
            sat = 1 - um if mf is None else mf - um
            c_sat = (sat * (ctx.d_sat * gw)).unsqueeze(-1)
            d_v = torch.addcmul(c_sat, q, c_sat, value=-2.0).addcmul_(others, c_unsat).mul_(nsign)
            part = q.new_zeros(B, ctx.n).index_add_(1, idx.reshape(-1), d_v.reshape(B, -1))
            grad_v = part if grad_v is None else grad_v.add_(part)
        ctx.saved = None
        return grad_v[:, :ctx.free.shape[1]].mul_(ctx.free), None, None, None, None, None

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        if ctx.binary:
            return _FusedCnf._backward_binary(ctx, grad)
        gw = grad * ctx.w
        B = ctx.saved[0][0].shape[0]
        grad_v = None
        for q, upf, is_unsat, is_sat, idx, sign in ctx.saved:
            others = _others_prod(q)  # per slot, the product of the other literals' (1 - value)
            c_unsat = torch.addcmul(upf, is_unsat.to(q.dtype), ctx.d_un).mul_(gw)  # (B, m)
            c_sat = (is_sat.to(q.dtype) * (ctx.d_sat * gw)).unsqueeze(-1)
            d_keep = (q == 1).to(q.dtype).sub_((q == 0).to(q.dtype))  # d keep / d literal
            d_lit = d_keep.mul_(c_sat).sub_(others.mul_(c_unsat.unsqueeze(-1))).mul_(sign)
            part = q.new_zeros(B, ctx.n).index_add_(1, idx.reshape(-1), d_lit.reshape(B, -1))
            grad_v = part if grad_v is None else grad_v.add_(part)
        ctx.saved = None
        return grad_v, None, None, None, None, None


class ClauseBlocks:
    """The padded clause view split into blocks of equal clause length (prepared once).

    Sudoku's 8,991 clauses are 8,748 of 2 literals and 243 of 9: one padded (m, 9) view would
    evaluate 4 times the slots. The terms' sums and counts add up across blocks, so L_cnf is the same.
    """

    def __init__(self, idx: torch.Tensor, sign: torch.Tensor, split: bool = True):
        lengths = (sign != 0).sum(1)
        self.blocks = []
        # blocks pay a few tensor operations each: worth it only on large CNFs that padding inflates
        if not split or len(lengths) < 1000 or sign.numel() < 2 * int(lengths.sum()):
            self.blocks.append((torch.arange(len(lengths), device=idx.device), idx, sign))
            return
        for k in torch.unique(lengths).tolist():
            ids = (lengths == k).nonzero().squeeze(1)
            kk = max(int(k), 1)
            self.blocks.append((ids, idx[ids, :kk], sign[ids, :kk]))

    def prepared(self, dtype: torch.dtype) -> list[tuple]:
        """Per block (ids, idx, sign, 1[sign < 0], literal count) with the signs in ``dtype``, and
        the constants of the binary case (:meth:`_FusedCnf._forward_binary`): -sign, 1 - 1[sign <
        0] (1 on empty slots), the fact that falsifies each slot (-sign; 2 on empty slots) and the
        literal count - 1."""
        cache = getattr(self, "_prepared", None)
        if cache is None or cache[0] != dtype:
            prep = []
            for ids, idx, sign in self.blocks:
                sg, n_lits = sign.to(dtype), (sign != 0).sum(-1)
                fv = torch.where(sign == 0, torch.full_like(sg, 2.0), -sg)
                prep.append((ids, idx, sg, (sign < 0).to(dtype), n_lits, -sg, (sign >= 0).to(dtype), fv, n_lits - 1))
            self._prepared = cache = (dtype, prep)
        return cache[1]

    def loss(self, v: torch.Tensor, g: torch.Tensor, clause_mask: torch.Tensor | None,
             norm: str = "subset", w: float = 1.0, facts: bool = False) -> torch.Tensor:
        """w * L_cnf of v (B, n); ``facts``: v holds the network's values of the first atoms and the
        facts g override them (:class:`_FusedCnf`)."""
        blocks = []
        for ids, idx, sign, neg, n_lits, nsign, pos1, fv, nl1 in self.prepared(v.dtype):
            mask = clause_mask if clause_mask is None or len(self.blocks) == 1 else clause_mask[:, ids]
            blocks.append((idx, nsign, pos1, fv, nl1, mask) if facts else (idx, sign, neg, n_lits, mask))
        return _FusedCnf.apply(v, g, blocks, w, norm == "all", facts)


def bound_loss(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """L_bound = mean of the squared raw outputs (logits) over every neural variable."""
    if len(outputs) == 1:
        return next(iter(outputs.values())).pow(2).mean()
    flat = torch.cat([o.reshape(o.shape[0], -1) for o in outputs.values()], dim=1)
    return flat.pow(2).mean()


def cont_loss(p: torch.Tensor, families: list[torch.Tensor]) -> torch.Tensor:
    """L_cont (``sudoku_gnn``'s ``reg_sudoku_cont``, PAPER.md 1.10) for probabilities p (B, n_neural)
    and families of (E, k) positions into p: the sum over families of the mean over sets of
    (sum of the set's probabilities - 1)^2. For Sudoku's row family this is the paper's
    mean(((A_row + I) y - 1)^2): the 9 cells of a row share the value of its (row, digit) set."""
    return sum((_cols(p, f).sum(-1) - 1).pow(2).mean() for f in families)


def _step_mean(steps: list[dict[str, torch.Tensor]], fn) -> torch.Tensor:
    """The mean of ``fn`` over a network's steps (no extra operation for a network without steps)."""
    if len(steps) == 1:
        return fn(steps[0])
    return torch.stack([fn(o) for o in steps]).mean()


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


class ValueLayout:
    """Where each atom's value lives in the vector CL-STE builds per batch (prepared once).

    The vector is ``[1, 0, neural atoms (group order), derived atoms (stage order), other atoms]``:
    two constant slots (padding of "and" / "or" components), then values produced by concatenation,
    so a batch needs no scatter into the n atoms. ``order[j]`` is the CNF column at position
    ``j + 2``; ``pos[col]`` the reverse; clause indices are remapped with ``pos`` at prepare time.
    """

    def __init__(self, constraint: Constraint, n_atoms: int, device=None):
        cols = [grp.atoms.reshape(-1) for grp in constraint.groups]
        stages = []
        if constraint.derived is not None and len(constraint.derived):
            stages.append(("and", constraint.derived))
        stages += list(getattr(constraint, "derived_ops", []) or [])
        placed = torch.cat(cols + [rows[:, 0] for _, rows in stages]) if (cols or stages) else torch.zeros(0, dtype=torch.long)
        if len(torch.unique(placed)) != len(placed):
            raise ValueError("an atom is both neural and derived, or derived twice")
        rest = torch.ones(n_atoms, dtype=torch.bool)
        rest[placed] = False
        self.order = torch.cat([placed, rest.nonzero().squeeze(1)]).to(device)  # (n,)
        self.pos = torch.empty(n_atoms, dtype=torch.long)
        self.pos[self.order.cpu()] = torch.arange(n_atoms)
        self.pos = self.pos.to(device)
        self.n_rest = int(rest.sum())
        self.groups = [(grp.name, grp.kind) for grp in constraint.groups]
        # component indices of each stage, as positions in the working vector (+2: constant slots)
        self.stages = []
        for kind, rows in stages:
            comps = rows[:, 1:].to(device)
            pad = 0 if kind == "and" else 1
            self.stages.append((kind, torch.where(comps < 0, torch.full_like(comps, pad), self.pos[comps.clamp(min=0)] + 2)))
        # without padded components the constant slots are not needed: positions shifted by 2
        self.direct = all(bool((c >= 2).all()) for _, c in self.stages)
        self.direct_stages = [(kind, c - 2) for kind, c in self.stages] if self.direct else []

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, n_neural): softmax (categorical) or sigmoid (bernoulli) of each group, layout order."""
        B = outputs[self.groups[0][0]].shape[0]
        parts = [(torch.sigmoid(outputs[name]) if kind == "bernoulli" else torch.softmax(outputs[name], dim=-1))
                 .reshape(B, -1) for name, kind in self.groups]
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def derive(self, neural: torch.Tensor, and_fn, or_fn, pad: bool = True) -> torch.Tensor:
        """(B, n) values in layout order: the neural values, then each derived stage's atoms from
        their components (``and_fn``/``or_fn`` over the last dimension of (B, rows, k)), then 0
        for every other atom (``pad=False``: without those, (B, n - n_rest))."""
        B = neural.shape[0]
        if self.direct:
            w, stages = neural, self.direct_stages
        else:  # constant slots first
            w, stages = torch.cat([neural.new_tensor([1.0, 0.0]).expand(B, 2), neural], 1), self.stages
        for kind, comps in stages:
            g = _cols(w, comps)  # (B, rows, k)
            w = torch.cat([w, and_fn(g) if kind == "and" else or_fn(g)], 1)
        v = w if self.direct else w[:, 2:]
        return torch.cat([v, v.new_zeros(B, self.n_rest)], 1) if self.n_rest and pad else v

    def values(self, outputs: dict[str, torch.Tensor], ste: str, pad: bool = True) -> torch.Tensor:
        """(B, n) binarized values in layout order (other atoms 0; ``pad=False``: without them)."""
        binarize = BINARIZE[ste]
        if ste == "bp-iste":
            # derived atoms from probabilities: product ("and": independent images) or sum ("or":
            # mutually exclusive events); every value is b_p of its probability, in one call
            p = self.derive(self.probabilities(outputs), _prod, lambda g: g.sum(-1).clamp(max=1.0), pad)
            return binarize(p)  # b_p(0) = 0 for the other atoms
        # b(x) variants: binarize the logits, then derived atoms as Boolean functions written
        # arithmetically so the STE gradient passes: and = product, or = 1 - prod(1 - x)
        B = outputs[self.groups[0][0]].shape[0]
        parts = [outputs[name].reshape(B, -1) for name, _ in self.groups]
        logits = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
        return self.derive(binarize(logits), _prod, lambda g: 1 - _prod(1 - g), pad)


def neural_values(constraint: Constraint, outputs: dict[str, torch.Tensor], ste: str, n_atoms: int):
    """Binarized values of the neural and derived atoms, (B, n) in CNF column order, zero elsewhere.

    b_p variant: b_p of softmax (categorical) or sigmoid (bernoulli) probabilities, and each derived
    conjunction atom is b_p of the *product of probabilities* of its components (reference ``aux``).
    b(x) variants: b of the logits, and a derived atom is the product of binarized components.
    Further stages of ``constraint.derived_ops`` follow in order: an "or" atom is b_p of the sum of
    its (mutually exclusive) components' probabilities, or 1 - prod(1 - b) for the b(x) variants.
    """
    first = next(iter(outputs.values()))
    layout = ValueLayout(constraint, n_atoms, first.device)
    return layout.values(outputs, ste)[:, layout.pos]


@register_method
class CLSTE(Method):
    """CL-STE (Yang, Lee, Park, ICML 2022): L = w_cnf * L_cnf + w_bound * L_bound."""

    key = "cl-ste"
    version = 1
    conformance_hp = {"w_bound": 0.0}  # checks look at L_cnf alone (L_bound is not a constraint term)
    hparams = {
        "w_cnf": 1.0,  # weight of L_cnf (reference default 1)
        "w_bound": 0.1,  # weight of L_bound (reference default 0.1)
        "ste": "bp-iste",  # bp-iste (b_p + iSTE), b-iste (b + iSTE) or b-sste (b + sSTE)
        "filter_clauses": True,  # keep only clauses with a negated true fact (PAPER.md 1.8)
        "uec": "auto",  # add exactly-one clauses per categorical variable: auto (b variants), yes, no
        "cnf_step": -1,  # recurrent networks: the step whose output L_cnf uses (-1 final; the paper's RRN: 0)
        "cnf_norm": "subset",  # subset (top-level ste.py) or all (sudoku_gnn/ste.py, the paper's RRN)
        "w_cont": 0.0,  # weight of L_cont over the constraint's exactly-one sets, every step (PAPER.md 1.10)
    }

    def prepare(self, constraint: Constraint, device: torch.device) -> None:
        super().prepare(constraint, device)
        if self.hp["ste"] not in STES:
            raise UserError(f"method cl-ste: ste={self.hp['ste']!r} unknown; choose one of {', '.join(STES)}")
        if self.hp["uec"] not in ("auto", "yes", "no"):
            raise UserError(f"method cl-ste: uec={self.hp['uec']!r}; choose auto, yes or no")
        if self.hp["cnf_norm"] not in NORMS:
            raise UserError(f"method cl-ste: cnf_norm={self.hp['cnf_norm']!r}; choose subset or all")
        if self.hp["w_cont"] and not constraint.exactly_one:
            raise UserError("method cl-ste: w_cont > 0 needs a task whose constraint declares exactly-one sets "
                            "(sudoku); set w_cont=0")
        add_uec = self.hp["uec"] == "yes" or (self.hp["uec"] == "auto" and self.hp["ste"] != "bp-iste")
        self.generated_ = None
        if getattr(constraint, "combination", None) is not None:  # clauses generated per example
            from .cl_ste_sparse import CombinationCnfLoss

            self.generated_ = CombinationCnfLoss(constraint, self.hp, add_uec, device)
            return
        cnf = constraint.cnf
        keep = constraint.always_keep.clone()
        if add_uec:
            extra = exactly_one_clauses(constraint)
            cnf = CNF(cnf.n_atoms, list(cnf.clauses) + extra, cnf.names)
            keep = torch.cat([keep, torch.ones(len(extra), dtype=torch.bool)])
        self.n_atoms_ = cnf.n_atoms
        self.n_clauses_ = cnf.n_clauses
        self.layout_ = ValueLayout(constraint, cnf.n_atoms, device)
        idx, self.sign_ = cnf.padded(device)
        self.idx_ = self.layout_.pos[idx]  # (m, k) positions in the layout order of ValueLayout
        self.always_keep_ = keep.to(device)
        self.blocks_ = ClauseBlocks(self.idx_, self.sign_)
        n_neural = sum(grp.atoms.numel() for grp in constraint.groups)
        self.cont_ = [self.layout_.pos[f.to(device)] for f in constraint.exactly_one]  # positions in p
        if any(len(f) and int(f.max()) >= n_neural for f in self.cont_):
            raise UserError("method cl-ste: an exactly-one set of the constraint holds an atom the network does not predict")
        # clause filtering needs g C^T per batch: a dense product for small CNFs (mnist-add: 19 x 139),
        # a sparse (CSR) one for large ones (apply2x2: 42,388 clauses), both O(what they touch)
        used = self.sign_ != 0
        rows = torch.arange(self.n_clauses_, device=device).unsqueeze(1).expand_as(idx)[used]
        coo = torch.sparse_coo_tensor(torch.stack([self.idx_[used], rows]), self.sign_[used],
                                      (self.n_atoms_, self.n_clauses_), check_invariants=True).coalesce()  # (n, m) = C^T, layout rows
        self.dense_filter_ = self.n_atoms_ * self.n_clauses_ <= 4_000_000
        if self.dense_filter_:
            self.Ct_ = coo.to_dense()
        else:
            with warnings.catch_warnings():  # "CSR support is in beta": a plain CSR @ dense product is used
                warnings.simplefilter("ignore", UserWarning)
                self.C_sparse_ = coo.t().coalesce().to_sparse_csr()  # (m, n)

    def g_ct(self, evidence: torch.Tensor) -> torch.Tensor:
        """(B, m) = g C^T for evidence in CNF column order (what clause filtering thresholds)."""
        g = _cols(evidence.to(torch.float32), self.layout_.order)
        if self.dense_filter_:
            return g @ self.Ct_
        return (self.C_sparse_ @ g.t()).t()

    def loss(self, outputs: dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        steps = step_outputs(outputs)
        k = self.hp["cnf_step"]
        if not -len(steps) <= k < len(steps):
            raise UserError(f"method cl-ste: cnf_step={k} but the network has {len(steps)} step(s)")
        if self.generated_ is not None:  # methods/cl_ste_sparse.py: only the kept clauses are built
            return (self.generated_.loss(steps[k], batch.evidence, self.hp["w_cnf"])
                    + self.hp["w_bound"] * _step_mean(steps, bound_loss))
        g = _cols(batch.evidence.to(torch.float32), self.layout_.order)  # (B, n) in layout order
        v_nn = self.layout_.values(steps[k], self.hp["ste"], pad=False)  # the atoms the network sets
        norm, w_cnf = self.hp["cnf_norm"], self.hp["w_cnf"]
        if not self.hp["filter_clauses"]:
            l_cnf = self.blocks_.loss(v_nn, g, None, norm, w_cnf, facts=True)
        elif self.dense_filter_:
            mask = (g @ self.Ct_ == -1) | self.always_keep_  # (B, m): g C^T == -1 (PAPER.md 1.8)
            l_cnf = self.blocks_.loss(v_nn, g, mask, norm, w_cnf, facts=True)
        else:
            gc = (self.C_sparse_ @ g.t()).t()  # (B, m) = g C^T
            mask = (gc == -1) | self.always_keep_
            # only the clauses some example keeps: a dropped clause adds 0 to every term, so the
            # value and gradient are those over all m clauses (e.g. 4 of apply2x2's 42,388)
            rows = mask.any(0).nonzero().squeeze(1)
            l_cnf = ClauseBlocks(self.idx_[rows], self.sign_[rows], split=False).loss(
                v_nn, g, mask[:, rows], norm, w_cnf, facts=True)
        loss = l_cnf + self.hp["w_bound"] * _step_mean(steps, bound_loss)
        if self.hp["w_cont"]:
            loss = loss + self.hp["w_cont"] * _step_mean(
                steps, lambda o: cont_loss(self.layout_.probabilities(o), self.cont_))
        return loss
