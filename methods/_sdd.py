"""SDD compilation of a task's constraint and batched, log-space evaluation of the circuit.

Used by the semantic loss (``methods/semantic_loss.py``); a module starting with ``_`` is not a
plug-in. Two parts:

1. :func:`compile_constraint` compiles, once, with PySDD, the function whose weighted model count
   is the probability that the network's outputs satisfy the constraint given an example's
   evidence, for *every* evidence pattern at once (see "Semantics" below).
2. :class:`FlatCircuit` flattens the SDD into levels of decision nodes (children before parents)
   and evaluates it for a whole batch with tensor gathers and log-sum-exps on the run's device;
   per-example evidence enters only through the literal weights.

Semantics. Atoms are of three kinds. *Neural* atoms (the network's groups) are random: a
categorical variable is one-hot with the softmax probabilities (exactly-one is conjoined, literal
weights p for the positive and 1 for the negative literal, so the count over its K atoms is the
categorical probability, not a product of independent Bernoullis); a bernoulli atom has weights
(p, 1 - p). *Derived* atoms (``aux <-> AND(comps)``) are substituted by the conjunction of their
components, so they are not variables at all. Every other atom is *hidden* (e.g. mnist-add's
``sum(r)``): fixed when the example's evidence fixes it, and existentially quantified when the
evidence leaves it unknown. The value computed is therefore

    P(e) = sum over neural assignments n consistent with e of  P(n) * [exists free hidden h: CNF(n, h, e)]

which for mnist-add (evidence sum(s) = 1, other sums unknown) is P(d1 + d2 = s). Giving a free
hidden atom the weights (1, 1) instead would count an assignment twice whenever the CNF leaves
that atom undetermined, so it is quantified.

Because which hidden atoms are free differs per example, one circuit serves all evidence
patterns: each hidden atom h gets two variables, o_h ("observed") and v_h ("its value"), and the
compiled function is

    F*(n, o, v) = exists h . CNF[derived := AND(comps)](n, h) AND exactly-one(n) AND AND_h (o_h -> (h <-> v_h)).

An example sets o_h = 1, v_h = e_h for an observed atom and o_h = 0 (v_h fixed to 1, which F*
does not depend on then) for a free one, through literal weights (0 or -inf in log space). The
quantified h keep weights (1, 0) so they do not scale the count.

Smoothing: an SDD element does not mention the variables its vtree leaves unconstrained; the
evaluator multiplies each element side by the sum of both literal weights of every variable of
its vtree position that the child's vtree lacks (``LS[u] - LS[v]`` in log space, with ``LS`` the
per-vtree-node sum of log(w + w_bar)), as PySDD's own weighted model count does, so the value is
the count over all the manager's variables.

Version history: v1, first release.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from harness.api import Constraint
from harness.errors import UserError

# PySDD's "left" (left-linear) vtree is left out: on mnist-add it ran for minutes and above 1 GB
# where the others compile in under a second.
VTREES = ("split", "balanced", "right", "vertical")


class CompileTimeout(Exception):
    """SDD compilation went over its time budget."""


@dataclass
class CompiledConstraint:
    """A constraint compiled by :func:`compile_constraint`.

    manager, root: the PySDD manager and the root of F*; n_vars: the manager's variables;
    neural_cols (n_neural,): CNF columns of the neural atoms, whose SDD variables are 1..n_neural
    in that order; neural_kind: 0 categorical, 1 bernoulli per neural atom; hidden_cols
    (n_hidden,): CNF columns of the hidden atoms, obs_vars / val_vars: their o and v variables;
    quant_vars: the quantified h variables (hidden atoms with both polarities); defined_cols: the
    atoms of ``Constraint.derived_ops``, variables n_neural+1.. in that order;
    derived_cols: CNF columns of the substituted derived atoms; seconds: compile time; size: SDD
    size (edges) of the root.
    """

    manager: object
    root: object
    n_vars: int
    neural_cols: np.ndarray
    defined_cols: np.ndarray
    neural_kind: np.ndarray
    hidden_cols: np.ndarray
    obs_vars: np.ndarray
    val_vars: np.ndarray
    quant_vars: np.ndarray
    derived_cols: np.ndarray
    seconds: float
    size: int


def _vtree_file(path: str, left_vars: list[int], right_vars: list[int]) -> None:
    """Write a vtree whose root splits ``left_vars`` | ``right_vars``, each side balanced (PySDD's
    vtree file format: nodes numbered in order, children before parents)."""
    lines, counter = [], [0]

    def build(vs):
        if len(vs) == 1:
            i = counter[0]
            counter[0] += 1
            lines.append(f"L {i} {vs[0]}")
            return i
        mid = len(vs) // 2
        left = build(vs[:mid])
        i = counter[0]
        counter[0] += 1
        right = build(vs[mid:])
        lines.append(f"I {i} {left} {right}")
        return i

    if left_vars and right_vars:
        left = build(left_vars)
        i = counter[0]
        counter[0] += 1
        right = build(right_vars)
        lines.append(f"I {i} {left} {right}")
    else:
        build(left_vars or right_vars)
    with open(path, "w") as f:
        f.write(f"vtree {counter[0]}\n" + "\n".join(lines) + "\n")


def compile_constraint(constraint: Constraint, vtree: str = "split", minimize: bool = False,
                       max_seconds: float = 0.0) -> CompiledConstraint:
    """Compile F* (module docstring) with PySDD.

    vtree: ``split`` (the root separates the neural variables from the hidden atoms' o, v
    variables, each side balanced over its order), or PySDD's ``balanced``, ``right`` or
    ``vertical`` over the order (neural atoms by variable, then o, v, h per hidden atom);
    minimize: turn on PySDD's automatic garbage collection and dynamic vtree minimisation while
    compiling; max_seconds: raise :class:`CompileTimeout` when compilation takes longer (checked
    between clauses; 0 = no limit).

    A hidden atom that occurs with one polarity only needs no quantified variable: exists h is
    then F[h := o AND v] (negative occurrences: h false is always the better choice when free)
    or F[h := NOT o OR v] (positive occurrences). Only atoms with both polarities get an h that
    is quantified out with ``exists_multiple``.
    """
    import os
    import tempfile

    from pysdd.sdd import SddManager, Vtree

    if vtree not in VTREES:
        raise UserError(f"semantic-loss: vtree={vtree!r} unknown; choose one of {', '.join(VTREES)}")
    t0 = time.perf_counter()
    n = constraint.n_atoms
    kind_of = np.full(n, -1)  # -1 hidden, 0 categorical, 1 bernoulli, 2 derived
    neural_cols, neural_kind, cat_rows = [], [], []
    for grp in constraint.groups:
        k = 0 if grp.kind == "categorical" else 1
        for row in grp.atoms.tolist():
            if k == 0:
                cat_rows.append(row)
            for a in row:
                if kind_of[a] != -1:
                    raise ValueError(f"atom {a} belongs to two neural groups")
                kind_of[a] = k
                neural_cols.append(a)
                neural_kind.append(k)
    comps_of: dict[int, list[int]] = {}
    if constraint.derived is not None:
        for row in constraint.derived.tolist():
            target, comps = row[0], [c for c in row[1:] if c >= 0]
            if kind_of[target] != -1:
                raise ValueError(f"derived atom {target} is also a neural or derived atom")
            if any(kind_of[c] not in (0, 1) for c in comps):
                raise ValueError(f"derived atom {target} has a component that is not a neural atom")
            kind_of[target] = 2
            comps_of[target] = comps
    for _, rows in constraint.derived_ops:  # defined by the CNF's own equivalences: plain variables
        for row in rows.tolist():
            if kind_of[row[0]] != -1:
                raise ValueError(f"derived_ops atom {row[0]} is also a neural or derived atom")
            kind_of[row[0]] = 3
    defined_cols = np.flatnonzero(kind_of == 3)
    clauses = constraint.cnf.normalized().clauses
    hidden_cols = np.flatnonzero(kind_of == -1)
    pos_occ, neg_occ = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for cl in clauses:
        for lit in cl:
            (pos_occ if lit > 0 else neg_occ)[abs(lit) - 1] = True
    # variable numbering (1-based): neural atoms, then o, v (and h when both polarities) per hidden atom
    var_of = {a: i + 1 for i, a in enumerate(neural_cols)}
    for i, a in enumerate(defined_cols.tolist()):
        var_of[a] = len(neural_cols) + 1 + i
    n_det = len(neural_cols) + len(defined_cols)  # variables that are functions of the network's outputs
    nxt = n_det + 1
    obs_vars, val_vars, quant_vars = [], [], []
    for a in hidden_cols.tolist():
        obs_vars.append(nxt)
        val_vars.append(nxt + 1)
        nxt += 2
        if pos_occ[a] and neg_occ[a]:
            quant_vars.append(nxt)
            var_of[a] = nxt
            nxt += 1
    n_vars = nxt - 1
    if n_vars == 0:
        raise UserError("semantic-loss: the constraint has no atoms")
    order = list(range(1, n_vars + 1))
    if vtree == "split":
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "split.vtree")
            _vtree_file(path, order[:n_det], order[n_det:])
            vt = Vtree.from_file(path.encode())
    else:
        vt = Vtree(var_count=n_vars, var_order=order, vtree_type=vtree)
    mgr = SddManager.from_vtree(vt)
    if minimize:
        mgr.auto_gc_and_minimize_on()
    hidden_at = {a: i for i, a in enumerate(hidden_cols.tolist())}

    def check_time():
        if max_seconds and time.perf_counter() - t0 > max_seconds:
            raise CompileTimeout(f"SDD compilation exceeded {max_seconds:g} s")

    def lit_sdd(lit: int):
        col = abs(lit) - 1
        if kind_of[col] == 2:
            node = mgr.true()
            for c in comps_of[col]:
                node = node & mgr.literal(var_of[c])
            return node if lit > 0 else ~node
        if kind_of[col] == -1 and col not in var_of:  # pure hidden atom: substituted
            i = hidden_at[col]
            o, v = mgr.literal(obs_vars[i]), mgr.literal(val_vars[i])
            return ~o | ~v if lit < 0 else ~o | v
        v = var_of[col]
        return mgr.literal(v if lit > 0 else -v)

    f = mgr.true()
    f.ref()

    def conj(g):
        nonlocal f
        new = f & g
        new.ref()
        f.deref()
        f = new

    for row in cat_rows:  # exactly one value per categorical variable
        vs = [var_of[a] for a in row]
        one = mgr.false()
        for i, v in enumerate(vs):
            term = mgr.literal(v)
            for j, u in enumerate(vs):
                if j != i:
                    term = term & mgr.literal(-u)
            one = one | term
        conj(one)
    for i, a in enumerate(hidden_cols.tolist()):  # o -> (h <-> v) for the quantified atoms
        if a in var_of:
            o, v, hl = mgr.literal(obs_vars[i]), mgr.literal(val_vars[i]), mgr.literal(var_of[a])
            conj(~o | ((hl & v) | (~hl & ~v)))
    for cl in clauses:
        node = mgr.false()
        for lit in cl:
            node = node | lit_sdd(lit)
        conj(node)
        check_time()
    if quant_vars:
        emap = np.zeros(n_vars + 1, dtype=np.int32)
        emap[quant_vars] = 1
        new = mgr.exists_multiple(emap, f)
        new.ref()
        f.deref()
        f = new
    if minimize:
        mgr.minimize()
    check_time()
    return CompiledConstraint(
        manager=mgr, root=f, n_vars=n_vars, neural_cols=np.asarray(neural_cols, dtype=np.int64),
        defined_cols=defined_cols.astype(np.int64),
        neural_kind=np.asarray(neural_kind, dtype=np.int64), hidden_cols=hidden_cols.astype(np.int64),
        obs_vars=np.asarray(obs_vars, dtype=np.int64), val_vars=np.asarray(val_vars, dtype=np.int64),
        quant_vars=np.asarray(quant_vars, dtype=np.int64), derived_cols=np.asarray(sorted(comps_of), dtype=np.int64),
        seconds=time.perf_counter() - t0, size=int(f.size()))


def literal_log_weights(cc: CompiledConstraint, outputs: dict[str, torch.Tensor], constraint: Constraint,
                        evidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example log weights of both literals of every SDD variable.

    outputs: {group: logits (B, G, K)}; evidence: (B, n) in {-1, 0, 1}.
    Returns (pos, neg), each (B, n_vars + 1); column 0 is unused (variables are 1-based).
    """
    first = next(iter(outputs.values()))
    B, dev, dt = first.shape[0], first.device, first.dtype
    st = _static(cc, dev)
    ninf = torch.tensor(float("-inf"), device=dev, dtype=dt)
    zero = torch.zeros((), device=dev, dtype=dt)
    lp, ln = [], []
    for grp in constraint.groups:
        logits = outputs[grp.name]  # (B, G, K)
        if grp.kind == "categorical":
            lp.append(torch.log_softmax(logits, -1).reshape(B, -1))
            ln.append(torch.zeros_like(lp[-1]))
        else:
            lp.append(torch.nn.functional.logsigmoid(logits).reshape(B, -1))
            ln.append(torch.nn.functional.logsigmoid(-logits).reshape(B, -1))
    lp_n, ln_n = torch.cat(lp, 1), torch.cat(ln, 1)  # (B, n_neural), in cc.neural_cols order
    e_n = evidence[:, st["neural_cols"]]
    lp_n = torch.where(e_n < 0, ninf, lp_n)  # evidence conditions: the contradicted literal weighs 0
    ln_n = torch.where(e_n > 0, ninf, ln_n)
    e_h = evidence[:, st["hidden_cols"]]  # (B, n_hidden)
    obs = e_h != 0
    o_pos, o_neg = torch.where(obs, zero, ninf), torch.where(obs, ninf, zero)
    v_pos, v_neg = torch.where(e_h >= 0, zero, ninf), torch.where(e_h >= 0, ninf, zero)
    e_d = evidence[:, st["defined_cols"]]  # defined atoms: weights (1, 1), conditioned by evidence
    zd = first.new_zeros(B, len(cc.defined_cols))
    d_pos, d_neg = torch.where(e_d < 0, ninf, zd), torch.where(e_d > 0, ninf, zd)
    n_q = len(cc.quant_vars)
    q_pos, q_neg = first.new_zeros(B, n_q), first.new_full((B, n_q), float("-inf"))
    pad = first.new_zeros(B, 1)
    # concatenated as [pad, neural, defined, o, v, h], then permuted into variable order
    pos = torch.cat([pad, lp_n, d_pos, o_pos, v_pos, q_pos], 1)[:, st["perm"]]
    neg = torch.cat([pad, ln_n, d_neg, o_neg, v_neg, q_neg], 1)[:, st["perm"]]
    return pos, neg


def _static(cc: CompiledConstraint, dev) -> dict[str, torch.Tensor]:
    cache = getattr(cc, "_static_cache", None)
    if cache is None or cache["dev"] != dev:
        nn_ = len(cc.neural_cols)
        nd = len(cc.defined_cols)
        src_vars = np.concatenate([[0], np.arange(1, nn_ + nd + 1), cc.obs_vars, cc.val_vars, cc.quant_vars])
        perm = np.empty(cc.n_vars + 1, dtype=np.int64)
        perm[src_vars.astype(np.int64)] = np.arange(len(src_vars))
        cache = {"dev": dev, "neural_cols": torch.as_tensor(cc.neural_cols, device=dev),
                 "hidden_cols": torch.as_tensor(cc.hidden_cols, device=dev),
                 "defined_cols": torch.as_tensor(cc.defined_cols, device=dev),
                 "perm": torch.as_tensor(perm, device=dev)}
        cc._static_cache = cache
    return cache


class FlatCircuit:
    """An SDD flattened for batched evaluation.

    Node slots: 0 false (-inf), 1 true (0), then literal nodes, then decision nodes level by level
    (a node's level is one more than its children's highest), so a level reads only slots written
    before it. A level is held as flat index tensors over its elements: prime and sub slots, the
    row of the element's node within the level, and the id of its smoothing term.
    """

    def __init__(self, manager, root, n_vars: int, device: torch.device | str = "cpu"):
        vt_ids, vt_vars = {}, []  # vtree nodes by position; variables under each

        def walk(v):
            if v.is_leaf():
                vs = [v.var()]
            else:
                vs = walk(v.left()) + walk(v.right())
            vt_ids[v.position()] = len(vt_vars)
            vt_vars.append(vs)
            return vs

        vroot = manager.vtree()
        walk(vroot)
        n_vt = len(vt_vars)
        A = np.zeros((n_vt + 1, n_vars + 1), dtype=np.float64)  # row n_vt: the empty vtree (true)
        for i, vs in enumerate(vt_vars):
            A[i, vs] = 1.0
        self.empty_vt = n_vt
        self.root_vt = vt_ids[vroot.position()]

        slot, vt_of, lits = {}, [], []
        # slot 0 false, 1 true
        vt_of += [n_vt, n_vt]
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
        decisions = []
        for node in order:
            if node.is_false():
                slot[node.id] = 0
            elif node.is_true():
                slot[node.id] = 1
            elif node.is_literal():
                slot[node.id] = 2 + len(lits)
                lit = node.literal
                lits.append(lit)
                vt_of.append(vt_ids[node.vtree().position()])
            else:
                decisions.append(node)
        self.n_lits = len(lits)
        decisions.sort(key=lambda nd: depth[nd.id])
        base = 2 + len(lits)
        for i, nd in enumerate(decisions):
            slot[nd.id] = base + i
            vt_of.append(vt_ids[nd.vtree().position()])
        self.n_slots = base + len(decisions)
        lit_arr = np.asarray(lits, dtype=np.int64)
        self.lit_var = torch.as_tensor(np.abs(lit_arr))
        self.lit_pos = torch.as_tensor(lit_arr > 0)
        vt_of_arr = np.asarray(vt_of)
        self.levels = []
        # smoothing terms: one per distinct (left u, prime's v, right u, sub's v) of the elements,
        # computed once per evaluation; each element then gathers its term by id
        corr_ids: dict[tuple[int, int, int, int], int] = {(n_vt, n_vt, n_vt, n_vt): 0}
        i = 0
        while i < len(decisions):
            d = depth[decisions[i].id]
            j = i
            while j < len(decisions) and depth[decisions[j].id] == d:
                j += 1
            P, S, seg, cid = [], [], [], []
            for r, nd in enumerate(decisions[i:j]):
                vt = nd.vtree()
                left, right = vt_ids[vt.left().position()], vt_ids[vt.right().position()]
                for p, s in nd.elements():
                    P.append(slot[p.id])
                    S.append(slot[s.id])
                    seg.append(r)
                    # the prime is normalised for the vtree's left child, the sub for its right
                    key = (left, int(vt_of_arr[slot[p.id]]), right, int(vt_of_arr[slot[s.id]]))
                    cid.append(corr_ids.setdefault(key, len(corr_ids)))
            self.levels.append({"start": base + i, "end": base + j, "P": torch.as_tensor(P),
                                "S": torch.as_tensor(S), "seg": torch.as_tensor(seg), "cid": torch.as_tensor(cid)})
            i = j
        keys = np.array(list(corr_ids), dtype=np.int64)  # (n_corr, 4), in id order
        self.corr = torch.as_tensor(keys)
        self.root_slot = slot[root.id]
        self.root_node_vt = int(vt_of_arr[self.root_slot])
        self.A = torch.as_tensor(A)  # (n_vt + 1, n_vars + 1)
        self.n_decisions = len(decisions)
        self.n_elements = sum(len(lv["P"]) for lv in self.levels)
        self.to(device)

    def to(self, device) -> "FlatCircuit":
        self.device = torch.device(device)
        self.lit_var, self.lit_pos, self.A, self.corr = (
            t.to(self.device) for t in (self.lit_var, self.lit_pos, self.A, self.corr))
        self.levels = [{k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in lv.items()}
                       for lv in self.levels]
        self._A_cache = {}
        return self

    def log_wmc(self, lw_pos: torch.Tensor, lw_neg: torch.Tensor) -> torch.Tensor:
        """Log weighted model count per example. lw_pos, lw_neg: (B, n_vars + 1) log weights of the
        positive and negative literal of each variable (column 0 unused). Returns (B,).

        Values are held node-major, V (n_slots, B), so that every gather copies contiguous rows;
        a level is evaluated on its flat list of elements (no padding) and reduced per node with a
        scatter-max (for stability, detached) and an index_add of the exponentials.
        """
        B, dt = lw_pos.shape[0], lw_pos.dtype
        pos_t, neg_t = lw_pos.t(), lw_neg.t()  # (n_vars + 1, B)
        ls = torch.logaddexp(pos_t, neg_t)  # log(w + w_bar)
        ls = torch.where(torch.isfinite(ls), ls, torch.zeros_like(ls))
        if dt not in self._A_cache:
            self._A_cache[dt] = self.A.to(dt)
        A = self._A_cache[dt]
        LS = A[:, 1:] @ ls[1:]  # (n_vt + 1, B): per vtree node, the sum over its variables
        c = self.corr
        cor = LS[c[:, 0]] - LS[c[:, 1]] + LS[c[:, 2]] - LS[c[:, 3]]  # (n_corr, B)
        V = lw_pos.new_empty(self.n_slots, B)  # node values, log space
        V[0] = float("-inf")
        V[1] = 0.0
        if self.n_lits:
            V[2:2 + self.n_lits] = torch.where(self.lit_pos[:, None], pos_t[self.lit_var], neg_t[self.lit_var])
        for lv in self.levels:
            x = V[lv["P"]] + V[lv["S"]] + cor[lv["cid"]]  # (E, B)
            L = lv["end"] - lv["start"]
            seg = lv["seg"]
            m = torch.full((L, B), float("-inf"), dtype=dt, device=x.device)
            m = m.scatter_reduce(0, seg[:, None].expand(-1, B), x.detach(), "amax")
            m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
            s = torch.zeros((L, B), dtype=dt, device=x.device).index_add(0, seg, torch.exp(x - m[seg]))
            pos = s > 0
            out = torch.log(torch.where(pos, s, torch.ones_like(s))) + m
            V[lv["start"]:lv["end"]] = torch.where(pos, out, torch.full_like(out, float("-inf")))
        return V[self.root_slot] + LS[self.root_vt] - LS[self.root_node_vt]
