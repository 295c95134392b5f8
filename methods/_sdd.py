"""SDD compilation of a task's constraint and batched, numerically safe evaluation of the circuit.

Used by the semantic loss (``methods/semantic_loss.py``); a module starting with ``_`` is not a
plug-in. Two parts:

1. :func:`compile_constraint` compiles, once, with PySDD, the function whose weighted model count
   is the probability that the network's outputs satisfy the constraint given an example's
   evidence, for *every* evidence pattern at once (see "Semantics" below).
2. :class:`FlatCircuit` flattens the SDD into levels of decision nodes (children before parents)
   and evaluates it for a whole batch with two tensor operations per level on the run's device;
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

Smoothing: an SDD element does not mention the variables its vtree leaves unconstrained, and the
count must be over all the manager's variables, as PySDD's own weighted model count is. The
evaluator normalises every variable's two literal weights to sum 1 (w / (w + w_bar)), so a
variable that an element does not mention counts 1 wherever it is missing, and multiplies the
root's count by the product of every variable's (w + w_bar) (in log space: adds the sum of
log(w + w_bar)); this is the same number as multiplying each element side by the missing
variables' (w + w_bar).

Evaluation (:class:`FlatCircuit`): in linear space, in the input's floating type, on the
normalised weights (every node's count is then at most 1), with a hand-written backward; the
examples whose count is too small for linear space (or exactly 0) are evaluated again in log
space, so the value is exact at any magnitude.

Version history: v1, first release; the batched evaluation later moved to linear space with a
log-space fallback (same values; a variable whose two weights are both 0 now gives a count of
0, as in PySDD).
"""
from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from harness.api import Constraint
from harness.errors import UserError

from . import _sdd_compile

# PySDD's "left" (left-linear) vtree is left out: on mnist-add it ran for minutes and above 1 GB
# where the others compile in under a second.
VTREES = ("auto", "blocks", "split", "balanced", "right", "vertical")


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
    vtree: str = ""


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


def compile_constraint(constraint: Constraint, vtree: str = "auto", minimize: bool = False,
                       max_seconds: float = 0.0) -> CompiledConstraint:
    """Compile F* (module docstring) with PySDD.

    vtree: ``blocks`` (along the constraint's ``meta["var_blocks"]``: right-linear over the
    blocks, balanced within each, the clauses conjoined block by block; ``methods/_sdd_compile.py``),
    ``split`` (the root separates the neural variables from the hidden atoms' o, v variables, each
    side balanced over its order), or PySDD's ``balanced``, ``right`` or ``vertical`` over the
    order (neural atoms by variable, then o, v, h per hidden atom); ``auto``: ``blocks`` when the
    constraint has blocks, else ``split``;
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
    hidden_at = {a: i for i, a in enumerate(hidden_cols.tolist())}

    def vars_of_atom(col: int) -> list[int]:
        if kind_of[col] == 2:
            return [var_of[c] for c in comps_of[col]]
        if kind_of[col] == -1:
            i = hidden_at[col]
            return [obs_vars[i], val_vars[i]] + ([var_of[col]] if col in var_of else [])
        return [var_of[col]]

    if vtree == "auto":
        vtree = "blocks" if constraint.meta.get("var_blocks") else "split"
    rank = None
    if vtree == "blocks":  # methods/_sdd_compile.py
        blocks = _sdd_compile.var_blocks(constraint.meta.get("var_blocks") or [], vars_of_atom, n_vars)
        vt = _sdd_compile.block_vtree(blocks)
        rank = _sdd_compile.block_rank(blocks, n_vars)
    elif vtree == "split":
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "split.vtree")
            _vtree_file(path, order[:n_det], order[n_det:])
            vt = Vtree.from_file(path.encode())
    else:
        vt = Vtree(var_count=n_vars, var_order=order, vtree_type=vtree)
    mgr = SddManager.from_vtree(vt)
    if minimize:
        mgr.auto_gc_and_minimize_on()

    def check_time():
        if max_seconds and time.perf_counter() - t0 > max_seconds:
            raise CompileTimeout(f"SDD compilation exceeded {max_seconds:g} s")

    row_of = {a: row for row in cat_rows for a in row}
    one_hot_cache: dict[int, object] = {}

    def one_hot(a: int):
        """A categorical atom as its value's full term (a AND no other value of its variable): the
        same function under exactly-one, and a much smaller SDD to conjoin than the bare literals
        when a clause is a disjunction of such conjunctions."""
        if a not in one_hot_cache:
            node = mgr.literal(var_of[a])
            for b in row_of[a]:
                if b != a:
                    node = node & mgr.literal(-var_of[b])
            node.ref()  # kept: PySDD's automatic garbage collection (minimize) must not free it
            one_hot_cache[a] = node
        return one_hot_cache[a]

    def lit_sdd(lit: int):
        col = abs(lit) - 1
        if kind_of[col] == 2:
            node = mgr.true()
            for c in comps_of[col]:
                node = node & (one_hot(c) if rank is not None and c in row_of else mgr.literal(var_of[c]))
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

    def exactly_one(row):  # exactly one value of a categorical variable
        vs = [var_of[a] for a in row]
        one = mgr.false()
        for i, v in enumerate(vs):
            term = mgr.literal(v)
            for j, u in enumerate(vs):
                if j != i:
                    term = term & mgr.literal(-u)
            one = one | term
        return one

    def link(i):  # o -> (h <-> v) for a quantified atom
        o, v, hl = mgr.literal(obs_vars[i]), mgr.literal(val_vars[i]), mgr.literal(var_of[hidden_cols[i]])
        return ~o | ((hl & v) | (~hl & ~v))

    def clause(cl):
        node = mgr.false()
        for lit in cl:
            node = node | lit_sdd(lit)
        return node

    items = [(exactly_one, row, [a for a in row]) for row in cat_rows]
    items += [(link, i, [a]) for i, a in enumerate(hidden_cols.tolist()) if a in var_of]
    items += [(clause, cl, [abs(lit) - 1 for lit in cl]) for cl in clauses]
    if rank is None:
        for build, arg, _ in items:
            conj(build(arg))
            check_time()
    else:  # block by block: each block's items conjoined apart, then onto f (methods/_sdd_compile.py)
        for group in _sdd_compile.conjoin_groups([[v for a in cols for v in vars_of_atom(a)]
                                                  for _, _, cols in items], rank):
            g = mgr.true()
            g.ref()
            for i in group:
                build, arg, _ = items[i]
                new = g & build(arg)
                new.ref()
                g.deref()
                g = new
            conj(g)
            g.deref()
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
        seconds=time.perf_counter() - t0, size=int(f.size()), vtree=vtree)


def literal_log_weights(cc: CompiledConstraint, outputs: dict[str, torch.Tensor], constraint: Constraint,
                        evidence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example log weights of both literals of every SDD variable.

    outputs: {group: logits (B, G, K)}; evidence: (B, n) in {-1, 0, 1}.
    Returns (pos, neg), each (B, n_vars + 1); column 0 is unused (variables are 1-based).

    Network part: a categorical atom's positive literal weighs its softmax probability, its
    negative 1; a bernoulli atom's (p, 1 - p); every other variable (1, 1). Evidence then sets
    literals to weight 0 (-inf), per variable by the value e of its evidence column: a neural or
    defined atom's positive literal when e < 0, its negative when e > 0; an o variable's positive
    when e = 0 (unobserved), its negative when e != 0; a v variable's positive when e < 0, its
    negative when e >= 0; a quantified h's negative always. All of these are one test per literal,
    c1 * e + c2 * |e| + c3 < 0, with per-literal constants (``_static``).
    """
    first = next(iter(outputs.values()))
    B, dev, dt = first.shape[0], first.device, first.dtype
    st = _static(cc, dev)
    lp, ln = [], []
    for grp in constraint.groups:
        logits = outputs[grp.name]  # (B, G, K)
        if grp.kind == "categorical":
            lp.append(torch.log_softmax(logits, -1).reshape(B, -1))
            ln.append(None)
        else:
            lp.append(torch.nn.functional.logsigmoid(logits).reshape(B, -1))
            ln.append(torch.nn.functional.logsigmoid(-logits).reshape(B, -1))
    nn_ = len(cc.neural_cols)
    out = first.new_zeros(B, 2, cc.n_vars + 1)  # [pos, neg] per variable, neural ones at 1..nn_
    out[:, 0, 1:1 + nn_] = lp[0] if len(lp) == 1 else torch.cat(lp, 1)
    if any(x is not None for x in ln):
        out[:, 1, 1:1 + nn_] = torch.cat([x if x is not None else torch.zeros_like(y) for x, y in zip(ln, lp)], 1)
    e = evidence.index_select(1, st["src_col"])  # (B, n_vars + 1): each variable's evidence
    if not e.is_floating_point():
        e = e.to(dt)
    c = st["coef"].get(e.dtype)
    if c is None:
        c = st["coef"][e.dtype] = st["coef_np"].to(dev, e.dtype)
    test = torch.addcmul(c[2], e[:, None], c[0]).addcmul_(e.abs()[:, None], c[1])  # (B, 2, n_vars + 1)
    out = out.masked_fill(test < 0, float("-inf"))
    return out[:, 0], out[:, 1]


def _static(cc: CompiledConstraint, dev) -> dict:
    cache = getattr(cc, "_static_cache", None)
    if cache is None or cache["dev"] != dev:
        nv, nn_, nd = cc.n_vars, len(cc.neural_cols), len(cc.defined_cols)
        src = np.zeros(nv + 1, dtype=np.int64)  # each variable's evidence column (0: none)
        coef = np.zeros((3, 2, nv + 1))  # (c1, c2, c3) x (pos, neg) x variable; see literal_log_weights
        coef[2, :, 0] = 1.0  # column 0: never
        src[1:1 + nn_] = cc.neural_cols
        src[1 + nn_:1 + nn_ + nd] = cc.defined_cols
        coef[0, 0, 1:1 + nn_ + nd] = 1.0  # e < 0 kills pos
        coef[0, 1, 1:1 + nn_ + nd] = -1.0  # e > 0 kills neg
        src[cc.obs_vars] = src[cc.val_vars] = cc.hidden_cols
        coef[1, 0, cc.obs_vars], coef[2, 0, cc.obs_vars] = 1.0, -0.5  # e = 0 kills pos
        coef[1, 1, cc.obs_vars], coef[2, 1, cc.obs_vars] = -1.0, 0.5  # e != 0 kills neg
        coef[0, 0, cc.val_vars] = 1.0  # e < 0 kills pos
        coef[0, 1, cc.val_vars], coef[2, 1, cc.val_vars] = -1.0, -0.5  # e >= 0 kills neg
        coef[2, 0, cc.quant_vars], coef[2, 1, cc.quant_vars] = 1.0, -1.0  # pos never, neg always
        cache = {"dev": dev, "src_col": torch.as_tensor(src, device=dev), "coef_np": torch.as_tensor(coef),
                 "coef": {}}
        cc._static_cache = cache
    return cache


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
            self.levels.append((vrow[lv[0].id], vrow[lv[-1].id] + 1, torch.as_tensor([vrow[p] for p in P] + [vrow[s] for s in S]),
                                torch.as_tensor(rel)))
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
        # the same bags as one CSR table for the compiled CPU pass (methods/_sdd_cpu.py): per
        # level [X row, E, first forward bag, first Y row] and [first backward bag, C offset]
        ptr, rows, starts = _csr([fb for _, _, fb, _, _ in self.fwd] + [bb for *_, bb in self.fwd]
                                 + [self.root_bag, self.leaf_bag])
        L = len(self.fwd)
        y0 = np.cumsum([0] + [2 * E for _, E, _, _, _ in self.fwd])
        self.cpu_pass = {
            "lv": np.array([[x0, E, starts[i], y0[i]] for i, (x0, E, _, _, _) in enumerate(self.fwd)],
                           dtype=np.int64).reshape(L, 4),
            "bwd": np.array([[starts[L + i], c0] for i, (_, _, _, c0, _) in enumerate(self.fwd)],
                            dtype=np.int64).reshape(L, 2),
            "ptr": ptr, "rows": rows, "root": starts[2 * L], "leaf": starts[2 * L + 1], "n_y": int(y0[-1])}
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
        self.fwd = [(x0, E, tuple(t.to(dev) for t in fb), c0, tuple(t.to(dev) for t in bb))
                    for x0, E, fb, c0, bb in self.fwd]
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
        B = lw_pos.shape[0]
        ls = torch.logaddexp(lw_pos[:, 1:], lw_neg[:, 1:])
        lsf = torch.where(torch.isfinite(ls), ls, torch.zeros_like(ls))
        V = lw_pos.new_empty(self.n_rows, B)
        V[0] = float("-inf")
        V[1] = 0.0
        n = self.n_vars
        V[2:2 + n] = (lw_pos[:, 1:] - lsf).t()
        V[2 + n:2 + 2 * n] = (lw_neg[:, 1:] - lsf).t()
        for s, e, PS, rel in self.levels:
            E = len(rel)
            x = V[PS[:E]] + V[PS[E:]]
            m = torch.full((e - s, B), float("-inf"), dtype=x.dtype, device=x.device)
            m = m.scatter_reduce(0, rel[:, None].expand(-1, B), x.detach(), "amax")
            m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
            t = torch.zeros((e - s, B), dtype=x.dtype, device=x.device).index_add(0, rel, torch.exp(x - m[rel]))
            pos = t > 0
            out = torch.log(torch.where(pos, t, torch.ones_like(t))) + m
            V[s:e] = torch.where(pos, out, torch.full_like(out, float("-inf")))
        return V[self.root_row] + ls.sum(1)


HAVE_NUMBA = importlib.util.find_spec("numba") is not None  # the compiled CPU pass (methods/_sdd_cpu.py)


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
        wp, wn = X[1:1 + nv], X[1 + nv:1 + 2 * nv]
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
            torch.mul(y[:E], y[E:], out=X[x0:x0 + E])
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
        """The same pass as one compiled loop (:mod:`methods._sdd_cpu`), same buffers."""
        from . import _sdd_cpu  # numba is imported on first use, not with the method registry
        k, dt, B = fc.cpu_pass, lw_pos.dtype, lw_pos.shape[0]
        grad = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        if grad:  # kept for the backward: buffers of its own
            X, Y = torch.empty(fc.n_x, B, dtype=dt), torch.empty(k["n_y"], B, dtype=dt)
        else:  # nothing is kept: the circuit's scratch buffer (no fresh megabyte a call)
            X, Y = fc.scratch("x", fc.n_x, B, dt), torch.empty(0, B, dtype=dt)
        out = torch.empty(B, dtype=dt)
        ok = torch.empty(B, dtype=torch.bool)
        r = _sdd_cpu.forward(lw_pos.detach().contiguous().numpy(), lw_neg.detach().contiguous().numpy(),
                             X.numpy(), Y.numpy(), k["lv"], k["ptr"], k["rows"], k["root"],
                             1e-30 if dt == torch.float32 else 1e-280, out.numpy(), ok.numpy())
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
            from . import _sdd_cpu
            X, Y, r, ok = ctx.saved_tensors
            k, (B, nv) = fc.cpu_pass, (X.shape[1], fc.n_vars)
            gpos = X.new_zeros(B, nv + 1)
            gneg = X.new_zeros(B, nv + 1)
            _sdd_cpu.backward(g.to(X.dtype).contiguous().numpy(), r.numpy(), ok.numpy(), X.numpy(), Y.numpy(),
                              k["lv"], k["bwd"], k["ptr"], k["rows"], k["leaf"],
                              fc.scratch("c", fc.n_c, B, X.dtype).numpy(), gpos.numpy(), gneg.numpy())
            return None, gpos, gneg
        X, r, ok, *ys = ctx.saved_tensors
        B, nv = X.shape[1], fc.n_vars
        g = g.to(X.dtype)
        C = X.new_empty(fc.n_c, B)
        torch.where(ok, g / r, torch.zeros((), dtype=X.dtype, device=X.device), out=C[0])
        for (x0, E, _, c0, bb), y in zip(reversed(fc.fwd), reversed(ys)):
            ge = _eb(bb, C)  # (E, B): each element's node's gradient
            torch.mul(y.view(2, E, B), ge, out=C[c0:c0 + 2 * E].view(2, E, B))
        w = X[1:1 + 2 * nv].view(2, nv, B)  # normalised weights, positive then negative
        a = _eb(fc.leaf_bag, C).view(2, nv, B).mul_(w)  # d value / d log w, through the circuit
        rest = torch.sub(g, a[0]).sub_(a[1])  # (nv, B)
        grads = X.new_zeros(2, nv + 1, B, dtype=ctx.dtype)  # returned transposed: (B, nv + 1)
        grads[:, 1:] = torch.addcmul(a, w, rest)
        return None, grads[0].t(), grads[1].t()
