"""L_cnf of the training step in one autograd node, on the padded clause view split into blocks.

:class:`_FusedCnf` has the value and gradient of :func:`methods.cl_ste.formula.cnf_loss` with a
hand-written backward (CL-STE's step must cost little beside the network); :class:`ClauseBlocks`
prepares the padded clauses (:meth:`harness.cnf.CNF.padded`) once, in blocks of equal length.
"""

from __future__ import annotations

import torch

from harness.atoms import cols as _cols

from .formula import _others_prod


def cnf_loss_padded(
    idx: torch.Tensor,
    sign: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor,
    clause_mask: torch.Tensor | None = None,
    norm: str = "subset",
) -> torch.Tensor:
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
        return grad_v[:, : ctx.free.shape[1]].mul_(ctx.free), None, None, None, None, None

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

    def _kept_block(self, dtype: torch.dtype, clause_mask: torch.Tensor) -> tuple | None:
        """The training step's clauses that some example of the batch keeps, as one block (None when
        they are half of the CNF or more: then the prepared blocks cost less).

        mnist-add's column encoding keeps N of its ~725 N clauses per example, the rest being the
        derived atoms' definitions. The rows are taken in block order and padded to the longest
        (an empty slot has q = 1 and adds 0), so every sum and every gradient slot is added in the
        same order as over the whole blocks, where a dropped clause adds exactly 0: value and
        gradient are bit-identical (CPU only: the selection reads the batch's mask on the host).
        """
        full = getattr(self, "_padded", None)
        if full is None or full[0] != dtype:
            prep = self.prepared(dtype)
            k = max(int(b[1].shape[1]) for b in prep)

            def cat(i, fill):
                return torch.cat([torch.nn.functional.pad(b[i], (0, k - b[i].shape[1]), value=fill) for b in prep])

            order = torch.cat([b[0] for b in prep])
            lengths = torch.cat([b[4] for b in prep])
            # idx, -sign, 1 - 1[sign < 0], the falsifying fact, literal count - 1 (ClauseBlocks.prepared)
            self._padded = full = (
                dtype,
                order,
                lengths,
                cat(1, 0),
                cat(5, 0.0),
                cat(6, 1.0),
                cat(7, 2.0),
                torch.cat([b[8] for b in prep]),
            )
        _, order, lengths, idx, nsign, pos1, fv, nl1 = full
        sel = clause_mask.any(0)[order].nonzero().squeeze(1)  # kept clauses, positions in block order
        if 2 * sel.numel() >= len(order):
            return None
        k = max(int(lengths[sel].max()), 1) if sel.numel() else 1
        return (idx[sel, :k], nsign[sel, :k], pos1[sel, :k], fv[sel, :k], nl1[sel], clause_mask[:, order[sel]])

    def loss(
        self,
        v: torch.Tensor,
        g: torch.Tensor,
        clause_mask: torch.Tensor | None,
        norm: str = "subset",
        w: float = 1.0,
        facts: bool = False,
        select: bool = True,
    ) -> torch.Tensor:
        """w * L_cnf of v (B, n); ``facts``: v holds the network's values of the first atoms and the
        facts g override them (:class:`_FusedCnf`); ``select``: with ``facts`` on CPU, only the
        clauses some example keeps (:meth:`_kept_block`, the same value and gradient)."""
        if select and facts and clause_mask is not None and v.device.type == "cpu":
            kept = self._kept_block(v.dtype, clause_mask)
            if kept is not None:
                return _FusedCnf.apply(v, g, [kept], w, norm == "all", True)
        blocks = []
        for ids, idx, sign, neg, n_lits, nsign, pos1, fv, nl1 in self.prepared(v.dtype):
            mask = clause_mask if clause_mask is None or len(self.blocks) == 1 else clause_mask[:, ids]
            blocks.append((idx, nsign, pos1, fv, nl1, mask) if facts else (idx, sign, neg, n_lits, mask))
        return _FusedCnf.apply(v, g, blocks, w, norm == "all", facts)
