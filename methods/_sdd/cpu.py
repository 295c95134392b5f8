"""The linear-space pass of :class:`methods._sdd.circuit.FlatCircuit` as two compiled CPU loops (numba).

The tensor version (``_LinearPass`` in ``methods/_sdd/passes.py``) is two operations per level; on a CPU
each costs a fixed 5-25 µs whatever its size, which is most of the pass on a small circuit (mnist-add
N = 1: about 30 operations for 453 element rows). Here the whole forward pass, and the whole
backward pass, is one call each, over the same buffers and in the same order of operations: X
(n_x, B) holds row 0 (all ones), the normalised literal weights and the element rows; Y per level
the bag sums of the elements' subs then primes; C (n_c, B) the gradients of the references. The
bags of every level, of the root and of the literals are one CSR table (``ptr``, ``rows``).

Imported on first use (numba's import takes a good part of a second). Used by ``_LinearPass`` on
CPU for float32 and float64 inputs when numba is installed and ``NESYBENCH_SDD_KERNEL`` is not
``0``; the tests compare it with the tensor version (values and gradients) and run the rest of
the circuit tests on both.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _bag_sum(src, ptr, rows, j, out):
    """out = the sum of the rows of bag j of src (0 for an empty bag)."""
    a, b = ptr[j], ptr[j + 1]
    if a == b:
        out[:] = 0.0
        return
    r = rows[a]
    for t in range(out.shape[0]):
        out[t] = src[r, t]
    for i in range(a + 1, b):
        r = rows[i]
        for t in range(out.shape[0]):
            out[t] += src[r, t]


@numba.njit(cache=True, nogil=True)
def forward(pos, neg, X, Y, lv, ptr, rows, root_bag, tiny, out, ok):
    """pos, neg (B, nv + 1) log weights; fills X, Y, out (B,) and ok (B,) as ``_LinearPass``:
    out = log(root count) - sum of log(larger normalised weight) + sum of max(p, n). Y (the bag
    sums, for the backward) may have no rows: then they are not kept."""
    B, nv = pos.shape[0], pos.shape[1] - 1
    keep = Y.shape[0] > 0
    s0 = np.empty(B, dtype=X.dtype)
    q0 = np.empty(B, dtype=X.dtype)
    X[0, :] = 1.0
    one = X[0, 0]  # 1 in X's type: the weights' arithmetic stays in float32 for float32 inputs
    corr = np.zeros(B, dtype=X.dtype)  # sum over the variables of max(p, n) - log(larger weight)
    big = np.ones(B, dtype=X.dtype)  # product of the larger weights (each in [1/2, 1]) since the last log
    for v in range(nv):
        for t in range(B):
            p, n = pos[t, v + 1], neg[t, v + 1]
            d = abs(p - n)  # the weights are 1 / (1 + e) and e / (1 + e), e = exp(-d)
            e = one - one if d == np.inf else np.exp(-d)  # evidence (a weight 0): no exp needed
            hi = one / (one + e)
            lo = e * hi
            X[1 + v, t] = hi if p >= n else lo
            X[1 + nv + v, t] = lo if p >= n else hi
            corr[t] += max(p, n)
            big[t] *= hi
        if v % 100 == 99 or v == nv - 1:  # at least 2^-100 in between: no underflow
            for t in range(B):
                corr[t] -= np.log(big[t])
                big[t] = 1.0
    for lvl in range(lv.shape[0]):
        x0, E, bag0, y0 = lv[lvl, 0], lv[lvl, 1], lv[lvl, 2], lv[lvl, 3]
        for e in range(E):
            s, q = (Y[y0 + e], Y[y0 + E + e]) if keep else (s0, q0)
            _bag_sum(X, ptr, rows, bag0 + e, s)
            _bag_sum(X, ptr, rows, bag0 + E + e, q)
            for t in range(B):
                X[x0 + e, t] = s[t] * q[t]
    r = np.empty(B, dtype=X.dtype)
    _bag_sum(X, ptr, rows, root_bag, r)
    for t in range(B):
        out[t] = np.log(r[t]) + corr[t]
        ok[t] = r[t] >= tiny and out[t] > -np.inf
    return r


@numba.njit(cache=True, nogil=True)
def backward(g, r, ok, X, Y, lv, bwd, ptr, rows, leaf_bag, C, gpos, gneg):
    """d value / d (p, n) into gpos, gneg (B, nv + 1) (column 0 untouched) for the upstream
    gradient g (B,), as ``_LinearPass.backward``; C (n_c, B) is scratch."""
    B = g.shape[0]
    nv = gpos.shape[1] - 1
    for t in range(B):
        C[0, t] = g[t] / r[t] if ok[t] else 0.0
    ge = np.empty(B, dtype=X.dtype)
    for lvl in range(lv.shape[0] - 1, -1, -1):
        E, y0 = lv[lvl, 1], lv[lvl, 3]
        bag0, c0 = bwd[lvl, 0], bwd[lvl, 1]
        for e in range(E):
            _bag_sum(C, ptr, rows, bag0 + e, ge)  # the element's node's gradient
            for t in range(B):
                C[c0 + e, t] = Y[y0 + e, t] * ge[t]  # to the prime: the sub's value
                C[c0 + E + e, t] = Y[y0 + E + e, t] * ge[t]  # to the sub: the prime's value
    ap = np.empty(B, dtype=X.dtype)
    an = np.empty(B, dtype=X.dtype)
    for v in range(nv):
        _bag_sum(C, ptr, rows, leaf_bag + v, ap)
        _bag_sum(C, ptr, rows, leaf_bag + nv + v, an)
        for t in range(B):
            wp, wn = X[1 + v, t], X[1 + nv + v, t]
            a_p, a_n = ap[t] * wp, an[t] * wn
            rest = g[t] - a_p - a_n
            gpos[t, v + 1] = a_p + wp * rest
            gneg[t, v + 1] = a_n + wn * rest
