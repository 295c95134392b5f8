"""An SDD flattened into levels of decision nodes for batched evaluation (:class:`FlatCircuit`).

The flattening turns PySDD's node graph into index tensors, once; the passes that evaluate them
for a batch are in :mod:`methods._sdd.passes` (linear space, with the numba loops of
:mod:`methods._sdd.cpu` on CPU) and fall back to log space where the count underflows.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import torch

from .passes import _LinearPass, logspace_pass

HAVE_NUMBA = importlib.util.find_spec("numba") is not None  # the compiled CPU pass (methods/_sdd/cpu.py)


class FlatCircuit:
    """An SDD flattened for batched evaluation, batch last.

    Linear-space pass (:class:`_LinearPass`), on the rows of a buffer X (n_x, B): row 0 all ones
    (true), rows 1..n_vars the normalised positive literal of each variable, rows n_vars + 1..
    2 n_vars the negative ones, then one row per *element* (prime x sub) of every decision node,
    level by level (a node's level is one more than its children's highest), a node's elements
    in consecutive rows. A node's value is never stored: it is the sum of its element rows (a
    literal's: its row; true: row 0; false: no row). A level is therefore two operations: one
    ``embedding_bag`` (sum mode) that gathers and sums, per element, the rows of its sub and of
    its prime, and one product written into the level's element rows. The backward pass mirrors
    it on a buffer of per-reference gradients (see :class:`_LinearPass`).

    Log-space pass (:meth:`log_wmc_logspace`, the exact fallback and the tests' reference): node
    values in rows of V (n_rows, B): 0 false, 1 true, 2.. positive literals, 2 + n_vars..
    negative literals, then the decision nodes level by level; ``levels`` holds per level the
    first and end node row, ``PS`` (2E,) the element's prime rows then sub rows, and ``rel`` (E,)
    the element's node relative to the level's first row.
    """

    def __init__(self, manager, root, n_vars: int, device: torch.device | str = "cpu"):
        self.n_vars = n_vars
        nv = n_vars
        order, depth = [], {}
        stack = [(root, False)]
        seen = set()
        while stack:  # iterative post-order: children before parents
            node, done = stack.pop()
            nid = node.id
            if done:
                if node.is_decision():
                    depth[nid] = 1 + max(max(depth.get(p.id, 0), depth.get(s.id, 0)) for p, s in node.elements())
                else:
                    depth[nid] = 0
                order.append(node)
                continue
            if nid in seen:
                continue
            seen.add(nid)
            stack.append((node, True))
            if node.is_decision():
                for p, s in node.elements():
                    for c in (p, s):
                        if c.id not in seen:
                            stack.append((c, False))
        # node kinds and their rows: V rows (log-space pass) and X rows (linear pass, a list)
        vrow: dict[int, int] = {}
        xrows: dict[int, list[int]] = {}
        lit_x: dict[int, int] = {}  # node id -> its literal's X row
        decisions, elems = [], {}
        self.n_lits = 0
        for node in order:
            nid = node.id
            if node.is_false():
                vrow[nid], xrows[nid] = 0, []
            elif node.is_true():
                vrow[nid], xrows[nid] = 1, [0]
            elif node.is_literal():
                lit = node.literal
                v = abs(lit)
                vrow[nid] = (2 if lit > 0 else 2 + nv) + v - 1
                lit_x[nid] = (1 if lit > 0 else 1 + nv) + v - 1
                xrows[nid] = [lit_x[nid]]
                self.n_lits += 1
            else:
                decisions.append(node)
                elems[nid] = [(p.id, s.id) for p, s in node.elements()]
        decisions.sort(key=lambda nd: depth[nd.id])
        vbase = 2 + 2 * nv
        for i, nd in enumerate(decisions):
            vrow[nd.id] = vbase + i
        self.n_rows = vbase + len(decisions)
        by_level = []
        i = 0
        while i < len(decisions):
            j = i
            while j < len(decisions) and depth[decisions[j].id] == depth[decisions[i].id]:
                j += 1
            by_level.append(decisions[i:j])
            i = j
        # linear pass: element rows in X, and per-reference rows in the gradient buffer C (row 0:
        # the seed d value / d root count; then per level, E rows for the primes' references and E
        # for the subs')
        # An element with a false sub (or prime) counts 0: it gets no row, and a node that only
        # such elements use is not evaluated. An element with a true sub counts its prime's value:
        # it gets no row either, its node's sum takes the prime's rows in (likewise a true prime,
        # the sub's), and the node's references are added to the prime's after the levels are
        # built (``alias``), so that its gradient reaches the prime.
        x_next = 1 + 2 * nv
        c_next = 1
        refs: dict[int, list[int]] = {root.id: [0]}
        alias: list[tuple[int, int]] = []  # (node, the child whose value an element passes on)
        fwd, self.levels = [], []
        false = {nid for nid, r in xrows.items() if not r}
        live, todo = {root.id}, [root.id]  # the nodes the root's value depends on
        while todo:
            for p, s in elems.get(todo.pop(), ()):
                if p not in false and s not in false:
                    for c in (p, s):
                        if c not in live:
                            live.add(c)
                            todo.append(c)
        for lv in by_level:
            x0 = x_next
            owner = []  # per element with a row, its node
            P, S = [], []
            for nd in lv:
                if nd.id not in live:
                    continue
                rows = []
                for p, s in elems[nd.id]:
                    if not xrows.get(s) or not xrows.get(p):  # false (a prime of a false sub is not evaluated)
                        continue
                    one = s if xrows[p] == [0] else p if xrows[s] == [0] else None  # true
                    if one is not None:
                        rows.extend(xrows[one])
                        alias.append((nd.id, one))
                        continue
                    P.append(p)
                    S.append(s)
                    owner.append(nd.id)
                    rows.append(x_next)
                    x_next += 1
                xrows[nd.id] = rows
            E = len(P)
            for e in range(E):
                refs.setdefault(P[e], []).append(c_next + e)
                refs.setdefault(S[e], []).append(c_next + E + e)
            if E:
                fwd.append((x0, E, _bags([xrows[s] for s in S] + [xrows[p] for p in P]), c_next, owner))
            c_next += 2 * E
            P = [p for nd in lv for p, _ in elems[nd.id]]  # the log-space pass keeps every element
            S = [s for nd in lv for _, s in elems[nd.id]]
            rel = [vrow[nd.id] - vrow[lv[0].id] for nd in lv for _ in elems[nd.id]]
            self.levels.append(
                (
                    vrow[lv[0].id],
                    vrow[lv[-1].id] + 1,
                    torch.as_tensor([vrow[p] for p in P] + [vrow[s] for s in S]),
                    torch.as_tensor(rel),
                )
            )
        for nd, one in reversed(alias):  # top-down: a node's references are complete before they pass on
            refs.setdefault(one, []).extend(refs.get(nd, []))
        self.n_x, self.n_c = x_next, c_next
        # per level: X row of its first element, E, forward bags (subs then primes), C offset,
        # backward bags (each element's node's references)
        self.fwd = [(x0, E, fb, c0, _bags([refs.get(n, []) for n in owner])) for x0, E, fb, c0, owner in fwd]
        self.root_bag = _bags([xrows[root.id]])
        lit_refs = [[] for _ in range(2 * nv)]
        for nid, xr in lit_x.items():
            lit_refs[xr - 1] = refs.get(nid, [])
        self.leaf_bag = _bags(lit_refs)
        self.root_row = vrow[root.id]
        self.n_decisions = len(decisions)
        self.n_elements = sum(len(e) for e in elems.values())
        # the same bags as one CSR table for the compiled CPU pass (methods/_sdd/cpu.py): per
        # level [X row, E, first forward bag, first Y row] and [first backward bag, C offset]
        ptr, rows, starts = _csr(
            [fb for _, _, fb, _, _ in self.fwd] + [bb for *_, bb in self.fwd] + [self.root_bag, self.leaf_bag]
        )
        L = len(self.fwd)
        y0 = np.cumsum([0] + [2 * E for _, E, _, _, _ in self.fwd])
        self.cpu_pass = {
            "lv": np.array(
                [[x0, E, starts[i], y0[i]] for i, (x0, E, _, _, _) in enumerate(self.fwd)], dtype=np.int64
            ).reshape(L, 4),
            "bwd": np.array(
                [[starts[L + i], c0] for i, (_, _, _, c0, _) in enumerate(self.fwd)], dtype=np.int64
            ).reshape(L, 2),
            "ptr": ptr,
            "rows": rows,
            "root": starts[2 * L],
            "leaf": starts[2 * L + 1],
            "n_y": int(y0[-1]),
        }
        # the compiled pass serves CPU float32/float64 inputs unless numba is missing or
        # NESYBENCH_SDD_KERNEL=0; the tensor pass serves everything else (and the tests compare them)
        self.use_kernel = HAVE_NUMBA and os.environ.get("NESYBENCH_SDD_KERNEL", "1") != "0"
        self._scratch: dict[str, torch.Tensor] = {}
        self.to(device)

    def scratch(self, name: str, rows: int, B: int, dtype: torch.dtype) -> torch.Tensor:
        """A (rows, B) CPU buffer kept between calls for what one call of the compiled pass uses
        and drops (the forward's X when nothing is kept for a backward, the backward's C): a fresh
        megabyte a call costs its page faults, and more after the allocator has given it back."""
        buf = self._scratch.get(name)
        if buf is None or buf.shape != (rows, B) or buf.dtype != dtype:
            buf = self._scratch[name] = torch.empty(rows, B, dtype=dtype)
        return buf

    def warm_up(self) -> None:
        """Compile the CPU pass now (float32 forward and backward): numba compiles at the first
        call (seconds the first time, then read from its disk cache), which should count as set-up,
        not as the first training step's time."""
        if self.use_kernel and self.device.type == "cpu":
            z = torch.zeros(1, self.n_vars + 1, requires_grad=True)
            self.log_wmc(z, z).sum().backward()

    def to(self, device) -> "FlatCircuit":
        self.device = dev = torch.device(device)
        self.levels = [(s, e, PS.to(dev), rel.to(dev)) for s, e, PS, rel in self.levels]
        self.fwd = [
            (x0, E, tuple(t.to(dev) for t in fb), c0, tuple(t.to(dev) for t in bb)) for x0, E, fb, c0, bb in self.fwd
        ]
        self.root_bag = tuple(t.to(dev) for t in self.root_bag)
        self.leaf_bag = tuple(t.to(dev) for t in self.leaf_bag)
        return self

    def log_wmc(self, lw_pos: torch.Tensor, lw_neg: torch.Tensor) -> torch.Tensor:
        """Log weighted model count per example. lw_pos, lw_neg: (B, n_vars + 1) log weights of the
        positive and negative literal of each variable (column 0 unused). Returns (B,).

        The circuit is evaluated in linear space on normalised weights, in the input's floating
        type (float32 at least), with a hand-written backward (:class:`_LinearPass`). An example
        whose normalised root count falls below the type's TINY (float32: 1e-30, a log count
        about 69 below the sum of the variables' log(w + w_bar); float64: 1e-280), exactly 0
        included, is evaluated again in log space (:meth:`log_wmc_logspace`), so the value is
        exact at any magnitude; that check reads one flag back to the host per call.
        """
        out, ok = _LinearPass.apply(self, lw_pos, lw_neg)
        if not bool(ok.all()):
            bad = torch.nonzero(~ok).squeeze(1)
            out = out.index_put((bad,), self.log_wmc_logspace(lw_pos[bad], lw_neg[bad]).to(out.dtype))
        return out

    def log_wmc_logspace(self, lw_pos: torch.Tensor, lw_neg: torch.Tensor) -> torch.Tensor:
        """The same value computed in log space with plain autograd operations (per level, a
        scatter-max and an index_add of the exponentials): slower, exact at any magnitude. Used
        for the examples whose linear-space count underflows, and by the tests as the reference.

        Smoothing is implicit here too: with ls = log(w + w_bar) per variable, the literal log
        weights are normalised to lw - ls, so a variable an element does not mention counts 1, and
        sum(ls) is added at the root; the same number as multiplying every element side by the
        missing variables' (w + w_bar), as PySDD does. A variable with both weights 0 (ls = -inf)
        makes the count 0 (-inf), as in PySDD.
        """
        return logspace_pass(self, lw_pos, lw_neg)


def _csr(groups: list[tuple]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One CSR table of bags from groups of ``(flat, offsets)`` (as :func:`_bags` builds them): the
    pointer array (n_bags + 1,), the rows, and the index of each group's first bag."""
    ptr, rows, starts, n, total = [np.zeros(1, dtype=np.int64)], [], [], 0, 0
    for flat, offsets in groups:
        flat, offsets = np.asarray(flat, dtype=np.int64), np.asarray(offsets, dtype=np.int64)
        starts.append(n)
        ends = np.append(offsets[1:], len(flat)) if len(offsets) else np.zeros(0, dtype=np.int64)
        ptr.append(ends + total)
        rows.append(flat)
        total += len(flat)
        n += len(offsets)
    return np.concatenate(ptr), np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64), starts


def _bags(lists: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Index and offset tensors of ``embedding_bag`` for bags of rows (an empty bag sums to 0)."""
    flat = [r for lst in lists for r in lst]
    offsets = np.cumsum([0] + [len(lst) for lst in lists[:-1]]) if lists else np.zeros(0)
    return torch.as_tensor(flat, dtype=torch.int64), torch.as_tensor(offsets, dtype=torch.int64)
