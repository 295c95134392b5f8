"""The two passes that evaluate a :class:`methods._sdd.circuit.FlatCircuit` for a batch.

:class:`_LinearPass`: log WMC in linear space on normalised weights, with a hand-written backward
(tensor operations, two per level, or the compiled CPU loops of :mod:`methods._sdd.cpu`);
:func:`logspace_pass`: the same value in log space with plain autograd operations, exact at any
magnitude (the fallback where linear space underflows, and the tests' reference).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .circuit import FlatCircuit


def _log_ratio(r: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
    """log(r / product over dim 0 of big (n, B)), entries of big in [1/2, 1]: one product when
    n <= 100 (at least 2^-100, no underflow in float32), else a sum of logs of partial products."""
    n, B = big.shape
    if n <= 100:
        return torch.log(r / big.prod(0))
    parts = torch.cat([big, big.new_ones(-n % 100, B)]).view(-1, 100, B).prod(1)
    return torch.log(r) - torch.log(parts).sum(0)


def _eb(bag: tuple[torch.Tensor, torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """Per bag, the sum of its rows of ``rows`` (ATen's embedding_bag in sum mode, called directly:
    functional.embedding_bag's Python-side checks cost more than the operation here)."""
    return torch.embedding_bag(rows, bag[0], bag[1], False, 0, False, None, False, None)[0]


class _LinearPass(torch.autograd.Function):
    """log WMC in linear space on normalised weights, with a hand-written backward.

    Normalisation: per variable, with d = p - n (the two log weights), the normalised weights
    w / (w + w_bar) are sigmoid(d) and sigmoid(-d), and ls = log(w + w_bar) = max(p, n) -
    log(the larger normalised weight, in [1/2, 1]), summed over the variables as the sum of the
    maxima minus the log of the product of the larger weights. With normalised weights every
    node's count is at most 1 and a variable that an element does not mention counts 1, so no
    smoothing is needed; the value is log(root count) + sum of ls over the variables. (A variable
    with both weights 0 gives nan here, so ok is False and the log-space pass answers -inf.)

    Forward, per level: Y = [sub values; prime values] (2E, B) by one embedding_bag over X, and
    the element rows X = Y[:E] * Y[E:]. Backward, top-down, on C (n_c, B) where each row is the
    gradient carried by one reference to a node (row 0: g / root count): an element's gradient is
    the sum of its node's references (one embedding_bag over C), and the level's references
    are Y * that gradient (first half: to the primes, the sub's value times it; second half: to
    the subs). The literals' gradients are the sums of their references; with a = G * w per
    literal and rest = g - a_pos - a_neg, d value / d p = a_pos + w_pos * rest (w_pos being also
    d ls / d p), likewise for n. Outputs: the value (B,) in the input's dtype and ok (B,),
    whether the root count is at least TINY (the value is only valid there; elsewhere its
    gradient is 0).
    """

    @staticmethod
    def forward(ctx, fc: FlatCircuit, lw_pos, lw_neg):
        if fc.use_kernel and lw_pos.device.type == "cpu" and lw_pos.dtype in (torch.float32, torch.float64):
            return _LinearPass._forward_cpu(ctx, fc, lw_pos, lw_neg)
        ctx.cpu = False
        dt = torch.promote_types(lw_pos.dtype, torch.float32)
        nv, B = fc.n_vars, lw_pos.shape[0]
        X = lw_pos.new_empty(fc.n_x, B, dtype=dt)
        X[0] = 1.0
        wp, wn = X[1 : 1 + nv], X[1 + nv : 1 + 2 * nv]
        p, n = lw_pos[:, 1:].t(), lw_neg[:, 1:].t()
        torch.sub(p, n, out=wn)  # d, transposed into (nv, B)
        torch.sigmoid(wn, out=wp)
        wn.neg_().sigmoid_()
        big = torch.maximum(wp, wn)
        mx = torch.maximum(p, n)
        keep = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        ys = []
        for x0, E, fb, _, _ in fc.fwd:
            y = _eb(fb, X)
            torch.mul(y[:E], y[E:], out=X[x0 : x0 + E])
            if keep:
                ys.append(y)
        r = _eb(fc.root_bag, X)[0]
        out = _log_ratio(r, big).add_(mx.sum(0))
        # valid where the count did not underflow (False where r is nan) and out is finite (a
        # variable with both weights 0 makes it nan; the log-space pass gives -inf there)
        ok = (r >= (1e-30 if dt == torch.float32 else 1e-280)).logical_and_(out > float("-inf"))
        if keep:
            ctx.fc, ctx.dtype = fc, lw_pos.dtype
            ctx.save_for_backward(X, r, ok, *ys)
        ctx.mark_non_differentiable(ok)
        return out.to(lw_pos.dtype), ok

    @staticmethod
    def _forward_cpu(ctx, fc: FlatCircuit, lw_pos, lw_neg):
        """The same pass as one compiled loop (:mod:`methods._sdd.cpu`), same buffers."""
        from . import cpu  # numba is imported on first use, not with the method registry

        k, dt, B = fc.cpu_pass, lw_pos.dtype, lw_pos.shape[0]
        grad = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        if grad:  # kept for the backward: buffers of its own
            X, Y = torch.empty(fc.n_x, B, dtype=dt), torch.empty(k["n_y"], B, dtype=dt)
        else:  # nothing is kept: the circuit's scratch buffer (no fresh megabyte a call)
            X, Y = fc.scratch("x", fc.n_x, B, dt), torch.empty(0, B, dtype=dt)
        out = torch.empty(B, dtype=dt)
        ok = torch.empty(B, dtype=torch.bool)
        r = cpu.forward(
            lw_pos.detach().contiguous().numpy(),
            lw_neg.detach().contiguous().numpy(),
            X.numpy(),
            Y.numpy(),
            k["lv"],
            k["ptr"],
            k["rows"],
            k["root"],
            1e-30 if dt == torch.float32 else 1e-280,
            out.numpy(),
            ok.numpy(),
        )
        ctx.cpu, ctx.fc = True, fc
        if grad:
            ctx.save_for_backward(X, Y, torch.from_numpy(r), ok)
        ctx.mark_non_differentiable(ok)
        return out, ok

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g, _g_ok):
        # g is 0 where ok is False: the caller replaces those values (FlatCircuit.log_wmc)
        fc = ctx.fc
        if ctx.cpu:
            from . import cpu

            X, Y, r, ok = ctx.saved_tensors
            k, (B, nv) = fc.cpu_pass, (X.shape[1], fc.n_vars)
            gpos = X.new_zeros(B, nv + 1)
            gneg = X.new_zeros(B, nv + 1)
            cpu.backward(
                g.to(X.dtype).contiguous().numpy(),
                r.numpy(),
                ok.numpy(),
                X.numpy(),
                Y.numpy(),
                k["lv"],
                k["bwd"],
                k["ptr"],
                k["rows"],
                k["leaf"],
                fc.scratch("c", fc.n_c, B, X.dtype).numpy(),
                gpos.numpy(),
                gneg.numpy(),
            )
            return None, gpos, gneg
        X, r, ok, *ys = ctx.saved_tensors
        B, nv = X.shape[1], fc.n_vars
        g = g.to(X.dtype)
        C = X.new_empty(fc.n_c, B)
        torch.where(ok, g / r, torch.zeros((), dtype=X.dtype, device=X.device), out=C[0])
        for (x0, E, _, c0, bb), y in zip(reversed(fc.fwd), reversed(ys)):
            ge = _eb(bb, C)  # (E, B): each element's node's gradient
            torch.mul(y.view(2, E, B), ge, out=C[c0 : c0 + 2 * E].view(2, E, B))
        w = X[1 : 1 + 2 * nv].view(2, nv, B)  # normalised weights, positive then negative
        a = _eb(fc.leaf_bag, C).view(2, nv, B).mul_(w)  # d value / d log w, through the circuit
        rest = torch.sub(g, a[0]).sub_(a[1])  # (nv, B)
        grads = X.new_zeros(2, nv + 1, B, dtype=ctx.dtype)  # returned transposed: (B, nv + 1)
        grads[:, 1:] = torch.addcmul(a, w, rest)
        return None, grads[0].t(), grads[1].t()


def logspace_pass(fc: FlatCircuit, lw_pos: torch.Tensor, lw_neg: torch.Tensor) -> torch.Tensor:
    """:meth:`FlatCircuit.log_wmc_logspace`: per level of ``fc.levels``, a scatter-max and an
    index_add of the exponentials on the node rows V (n_rows, B), in plain autograd operations."""
    B = lw_pos.shape[0]
    ls = torch.logaddexp(lw_pos[:, 1:], lw_neg[:, 1:])
    lsf = torch.where(torch.isfinite(ls), ls, torch.zeros_like(ls))
    V = lw_pos.new_empty(fc.n_rows, B)
    V[0] = float("-inf")
    V[1] = 0.0
    n = fc.n_vars
    V[2 : 2 + n] = (lw_pos[:, 1:] - lsf).t()
    V[2 + n : 2 + 2 * n] = (lw_neg[:, 1:] - lsf).t()
    for s, e, PS, rel in fc.levels:
        E = len(rel)
        x = V[PS[:E]] + V[PS[E:]]
        m = torch.full((e - s, B), float("-inf"), dtype=x.dtype, device=x.device)
        m = m.scatter_reduce(0, rel[:, None].expand(-1, B), x.detach(), "amax")
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        t = torch.zeros((e - s, B), dtype=x.dtype, device=x.device).index_add(0, rel, torch.exp(x - m[rel]))
        pos = t > 0
        out = torch.log(torch.where(pos, t, torch.ones_like(t))) + m
        V[s:e] = torch.where(pos, out, torch.full_like(out, float("-inf")))
    return V[fc.root_row] + ls.sum(1)
