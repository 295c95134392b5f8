"""SDD compilation of a task's constraint with PySDD: the function F* of :mod:`methods._sdd`.

:func:`compile_constraint` compiles, once, the function whose weighted model count is the
probability that the network's outputs satisfy the constraint given an example's evidence, for
every evidence pattern at once (the package docstring, "Semantics"); the vtrees it can use are
built in :mod:`methods._sdd.vtrees`. Compilation runs on the run's budget clock
(:mod:`harness.budget`): past the run's set-up budget, or past ``max_seconds`` of its own, it
stops with :class:`harness.budget.BudgetExceeded`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from harness import budget
from harness.api import Constraint
from harness.errors import UserError

from . import vtrees

# PySDD's "left" (left-linear) vtree is left out: on mnist-add it ran for minutes and above 1 GB
# where the others compile in under a second.
VTREES = ("auto", "blocks", "split", "balanced", "right", "vertical")


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


def compile_constraint(
    constraint: Constraint, vtree: str = "auto", minimize: bool = False, max_seconds: float = 0.0
) -> CompiledConstraint:
    """Compile F* (the package docstring of :mod:`methods._sdd`) with PySDD.

    vtree: ``blocks`` (along the constraint's ``hints["var_blocks"]``: right-linear over the
    blocks, balanced within each, the clauses conjoined block by block; ``methods/_sdd/vtrees.py``),
    ``split`` (the root separates the neural variables from the hidden atoms' o, v variables, each
    side balanced over its order), or PySDD's ``balanced``, ``right`` or ``vertical`` over the
    order (neural atoms by variable, then o, v, h per hidden atom); ``auto``: ``blocks`` when the
    constraint has blocks, else ``split``;
    minimize: turn on PySDD's automatic garbage collection and dynamic vtree minimisation while
    compiling; max_seconds: a limit of its own on the run's budget clock (:func:`harness.budget.limit`;
    0 = none): past it, or past the run's set-up budget, :class:`harness.budget.BudgetExceeded` is
    raised (by the clock's alarm, and by :func:`harness.budget.check` between clauses where no
    alarm can be armed).

    A hidden atom that occurs with one polarity only needs no quantified variable: exists h is
    then F[h := o AND v] (negative occurrences: h false is always the better choice when free)
    or F[h := NOT o OR v] (positive occurrences). Only atoms with both polarities get an h that
    is quantified out with ``exists_multiple``.
    """
    if vtree not in VTREES:
        raise UserError(f"semantic-loss: vtree={vtree!r} unknown; choose one of {', '.join(VTREES)}")
    with budget.limit(max_seconds):
        return _compile(constraint, vtree, minimize)


def _compile(constraint: Constraint, vtree: str, minimize: bool) -> CompiledConstraint:
    """:func:`compile_constraint` inside its limit (the budget is polled between clauses)."""
    from pysdd.sdd import SddManager, Vtree

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
        vtree = "blocks" if constraint.hints.get("var_blocks") else "split"
    rank = None
    if vtree == "blocks":  # methods/_sdd/vtrees.py
        blocks = vtrees.var_blocks(constraint.hints.get("var_blocks") or [], vars_of_atom, n_vars)
        vt = vtrees.block_vtree(blocks)
        rank = vtrees.block_rank(blocks, n_vars)
    elif vtree == "split":
        vt = vtrees.split_vtree(order[:n_det], order[n_det:])
    else:
        vt = Vtree(var_count=n_vars, var_order=order, vtree_type=vtree)
    mgr = SddManager.from_vtree(vt)
    if minimize:
        mgr.auto_gc_and_minimize_on()

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
            budget.check()
    else:  # block by block: each block's items conjoined apart, then onto f (methods/_sdd/vtrees.py)
        for group in vtrees.conjoin_groups([[v for a in cols for v in vars_of_atom(a)] for _, _, cols in items], rank):
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
            budget.check()
    if quant_vars:
        emap = np.zeros(n_vars + 1, dtype=np.int32)
        emap[quant_vars] = 1
        new = mgr.exists_multiple(emap, f)
        new.ref()
        f.deref()
        f = new
    if minimize:
        mgr.minimize()
    budget.check()
    return CompiledConstraint(
        manager=mgr,
        root=f,
        n_vars=n_vars,
        neural_cols=np.asarray(neural_cols, dtype=np.int64),
        defined_cols=defined_cols.astype(np.int64),
        neural_kind=np.asarray(neural_kind, dtype=np.int64),
        hidden_cols=hidden_cols.astype(np.int64),
        obs_vars=np.asarray(obs_vars, dtype=np.int64),
        val_vars=np.asarray(val_vars, dtype=np.int64),
        quant_vars=np.asarray(quant_vars, dtype=np.int64),
        derived_cols=np.asarray(sorted(comps_of), dtype=np.int64),
        seconds=time.perf_counter() - t0,
        size=int(f.size()),
        vtree=vtree,
    )
