"""The vtrees of :func:`methods._sdd.compile.compile_constraint` built here, and the order to
conjoin a constraint's clauses in along its blocks.

``split`` (:func:`split_vtree`): the root separates the variables that are functions of the
network's outputs from the hidden atoms' evidence variables, each side balanced over its order.

``blocks`` (:func:`block_vtree`, and ``"auto"`` when the constraint has blocks) follows the
constraint's own structure. A task states its structure as ``Constraint.hints["var_blocks"]``: a list
of blocks, each a list of atom columns, in the order a left-to-right reading of the constraint
meets them. For mnist-add's compact encoding a block is one column of the addition, least
significant first: the column's two digits, its carry atoms, its sum digit; the next block
then only depends on this one through the carry.

Why this is linear in N. With a vtree whose root separates block 0 from the rest, block 0's
variables from blocks 1.., and so on (a right-linear vtree over the blocks), the SDD's node at a
block's vtree node only has to tell apart the assignments of the earlier blocks that the later
ones can distinguish: for column addition, the carry (2 values). Every block's part of the SDD is
then the same size, and the whole is linear in the number of blocks (Darwiche, "SDD: A New
Canonical Representation of Propositional Knowledge Bases", IJCAI 2011, on how an SDD's size is
bounded by the vtree's cuts). Within a block the variables are in a balanced vtree (few levels to
evaluate), the block's inputs (the digits) before its outputs (the sum digit).

The clauses are conjoined block by block (a clause when the last block it mentions is reached),
so every intermediate SDD is the constraint on a prefix of the blocks: linear too. Conjoined in the
CNF's own order (all definitions first, then the sum clauses), the intermediate SDDs on the
compact encoding grew with N: 211 s at N = 3 with the ``split`` vtree.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np


def var_blocks(blocks: list[list[int]], vars_of_atom, n_vars: int) -> list[list[int]]:
    """The SDD variables of each block (1-based), in order; variables of no block form one more
    block at the end. ``vars_of_atom(col)`` lists an atom's variables (none for a substituted atom)."""
    seen = np.zeros(n_vars + 1, dtype=bool)
    out = []
    for blk in blocks:
        vs = []
        for a in blk:
            for v in vars_of_atom(int(a)):
                if not seen[v]:
                    seen[v] = True
                    vs.append(v)
        if vs:
            out.append(vs)
    rest = [v for v in range(1, n_vars + 1) if not seen[v]]
    if rest:
        out.append(rest)
    return out


def _write(path: str, blocks: list[list[int]]) -> None:
    """PySDD's vtree file: a right-linear spine over the blocks, each block balanced in its order
    (nodes numbered in-order, as PySDD numbers them; children before parents in the file)."""
    lines, counter = [], [0]

    def leaf(v):
        i = counter[0]
        counter[0] += 1
        lines.append(f"L {i} {v}")
        return i

    def balanced(vs):
        if len(vs) == 1:
            return leaf(vs[0])
        mid = len(vs) // 2
        left = balanced(vs[:mid])
        i = counter[0]
        counter[0] += 1
        right = balanced(vs[mid:])
        lines.append(f"I {i} {left} {right}")
        return i

    def spine(k):
        if k == len(blocks) - 1:
            return balanced(blocks[k])
        left = balanced(blocks[k])
        i = counter[0]
        counter[0] += 1
        right = spine(k + 1)
        lines.append(f"I {i} {left} {right}")
        return i

    spine(0)
    with open(path, "w") as f:
        f.write(f"vtree {counter[0]}\n" + "\n".join(lines) + "\n")


def block_vtree(blocks: list[list[int]]):
    """A PySDD ``Vtree``: right-linear over ``blocks`` (lists of 1-based variables covering every
    variable once), balanced within each block."""
    from pysdd.sdd import Vtree

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "blocks.vtree")
        _write(path, blocks)
        return Vtree.from_file(path.encode())


def split_vtree(left_vars: list[int], right_vars: list[int]):
    """A PySDD ``Vtree`` whose root splits ``left_vars`` | ``right_vars``, each side balanced (one
    side alone when the other is empty): the block vtree of these two blocks."""
    return block_vtree([vs for vs in (left_vars, right_vars) if vs])


def block_rank(blocks: list[list[int]], n_vars: int) -> np.ndarray:
    """(n_vars + 1,) each variable's block index (entry 0 unused)."""
    rank = np.zeros(n_vars + 1, dtype=np.int64)
    for k, vs in enumerate(blocks):
        rank[vs] = k
    return rank


def conjoin_groups(items_vars: list[list[int]], rank: np.ndarray) -> list[list[int]]:
    """The items (clauses, exactly-one constraints: each given by its variables) grouped by the
    last block they mention, blocks in order, items in their given order within a group: each
    group is conjoined on its own (a small SDD over one or two blocks), then onto the result."""
    groups: dict[int, list[int]] = {}
    for i, vs in enumerate(items_vars):
        groups.setdefault(int(rank[vs].max()) if len(vs) else 0, []).append(i)
    return [groups[k] for k in sorted(groups)]
