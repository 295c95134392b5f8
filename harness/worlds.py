"""Sampled worlds: the network's variables as categorical random variables, and the check of a
world against the task's constraint and an example's evidence.

Sampling-based gradient estimators (REINFORCE, IndeCateR) need two things from a task: the
distribution over its neural variables and the indicator

    f(w, e) = [w agrees with the evidence e and exists free hidden h: CNF(w, derived(w), h, e)],

whose expectation under the network's distribution is P(constraint AND evidence), the number the
semantic loss computes exactly on a circuit (``methods/_sdd``: the same semantics). This module
computes f for a batch of worlds with tensor operations on the CNF (``harness.cnf``) and the
derived atoms of :mod:`harness.atoms`, nothing compiled.

Variables. Every neural variable of the constraint is one categorical variable, in group order:
a categorical group (B, G, K) gives G variables of K values (value k: atom ``atoms[g, k]`` true,
the others false); a bernoulli group (B, G, 1) gives G variables of 2 values (0: the atom false,
1: true). A world is a (M, V) long tensor of values.

The check of a world (:meth:`WorldCheck.satisfied`):

- the neural atoms take the world's one-hot values;
- the derived atoms (``Constraint.derived``, then each stage of ``derived_ops``) are computed from
  them by :meth:`harness.atoms.AtomLayout.derive` with min for "and" and max for "or" (exact on
  0/1 values);
- an atom the evidence fixes must agree with it when the world determines it (a neural or derived
  atom), and takes the evidence's value otherwise;
- every other (hidden, unobserved) atom is quantified existentially, as the semantic loss does. A
  hidden atom that occurs in the CNF with one polarity only is set to the value that satisfies
  its clauses (false when it occurs only negatively, true when only positively), which decides the
  quantifier exactly. A hidden atom with both polarities would need a search per world: such a
  constraint is refused in the constructor (no task of the suite has one: their hidden atoms are
  labels and functions of the digits, written as derived atoms).
- every clause must hold.

Cost per world: the placed atoms (neural and derived) and the literals of the clauses that the
hidden atoms do not already make true for every example of the batch, in chunks that bound the
memory (:data:`CHUNK_ELEMENTS`); :meth:`WorldCheck.evaluate_changed` checks worlds that differ from
a sample in one variable on the clauses that variable touches only.
"""

from __future__ import annotations

import torch

from .api import Constraint
from .atoms import AtomLayout, cols
from .errors import SkipRun

#: the number of (world, atom) or (world, clause literal) cells one chunk of the check may hold
CHUNK_ELEMENTS = 1 << 24


def _amin(x: torch.Tensor) -> torch.Tensor:
    return x.amin(-1)


def _amax(x: torch.Tensor) -> torch.Tensor:
    return x.amax(-1)


class WorldCheck:
    """The neural variables of a constraint and the check of worlds against its CNF and evidence
    (module docstring). Built once (in a method's ``prepare``); no CNF conversion afterwards."""

    def __init__(self, constraint: Constraint, device: torch.device | None = None):
        cnf = constraint.cnf
        n = cnf.n_atoms
        self.layout = AtomLayout(constraint, n, device)
        self.groups = [(g.name, g.kind, int(g.atoms.shape[0]), int(g.atoms.shape[1])) for g in constraint.groups]
        #: number of values of each variable (V,), and the largest
        self.n_values = torch.tensor(
            [K if kind == "categorical" else 2 for _, kind, G, K in self.groups for _ in range(G)],
            dtype=torch.long,
            device=device,
        )
        self.n_vars = int(self.n_values.numel())
        self.k_max = int(self.n_values.max()) if self.n_vars else 0
        n_placed = n - self.layout.n_rest  # neural and derived atoms come first in layout order
        pos_occ = torch.zeros(n, dtype=torch.bool)
        neg_occ = torch.zeros(n, dtype=torch.bool)
        for cl in cnf.clauses:
            for lit in cl:
                (pos_occ if lit > 0 else neg_occ)[abs(lit) - 1] = True
        rest_cols = self.layout.order[n_placed:].cpu()
        both = pos_occ[rest_cols] & neg_occ[rest_cols]
        if bool(both.any()):
            names = cnf.names or []
            first = int(rest_cols[both.nonzero()[0, 0]])
            shown = names[first] if first < len(names) else f"column {first}"
            raise SkipRun(
                f"the constraint has {int(both.sum())} hidden atoms with both polarities in its CNF (e.g. "
                f"{shown}): checking a sampled world would need a search over them per world"
            )
        #: value of each unobserved hidden atom (layout order): true if it occurs only positively
        self.rest_default = pos_occ[rest_cols].to(device)
        self.n_placed = n_placed
        idx, sign = cnf.padded()
        pos = self.layout.pos.cpu()[idx]  # (m, k) layout positions of the literals
        self.n_clauses, self.clause_width = (int(x) for x in idx.shape)
        self.sign = sign.to(device)  # (m, k) +1 / -1, 0 in padding
        rest = (pos >= n_placed) & (sign != 0)
        lit_world = (pos < n_placed) & (sign != 0)
        self.is_rest = rest.to(device)  # (m, k) literal of a hidden atom (its value comes from the evidence)
        self.is_world = lit_world.to(device)  # (m, k) literal of a neural or derived atom (the world's)
        self.world_pos = torch.where(lit_world, pos, 0).to(device)  # (m, k) positions among the placed atoms
        self.rest_pos = torch.where(rest, pos - n_placed, 0).to(device)  # (m, k) positions among the hidden ones
        # which placed atoms depend on each variable (its neural atoms, then the derived atoms over them)
        # and which clauses mention one of them: what changes when one variable changes (IndeCateR)
        dep = torch.zeros(self.n_vars, n, dtype=torch.bool)  # (V, n) in CNF columns
        at = 0
        for grp in constraint.groups:
            for g in range(grp.atoms.shape[0]):
                dep[at + g, grp.atoms[g]] = True
            at += grp.atoms.shape[0]
        stages = [constraint.derived] if constraint.derived is not None and len(constraint.derived) else []
        for rows in stages + [r for _, r in constraint.derived_ops]:
            rows = torch.as_tensor(rows, dtype=torch.long)
            comps = rows[:, 1:]
            dep[:, rows[:, 0]] = (
                dep[:, comps.clamp(min=0).reshape(-1)].view(self.n_vars, *comps.shape) & (comps >= 0)
            ).any(-1)
        dep = dep[:, self.layout.order.cpu()[:n_placed]]  # (V, n_placed), layout order
        self.var_atoms = dep.to(device)  # (V, n_placed)
        # a variable on which no derived atom depends changes only its own block of neural atoms: its
        # changed worlds need no derivation (value k sets the block to table[k])
        self.blocks = []  # per variable: (first position, width) or None
        at = off = 0
        for name, kind, G, K in self.groups:
            width = K if kind == "categorical" else 1
            for g in range(G):
                own = int(dep[at + g].sum()) == width
                self.blocks.append((off + g * width, width) if own else None)
            at, off = at + G, off + G * width
        self.not_dep = (~dep).to(torch.float32).to(device)  # (V, n_placed)
        touch = (dep[:, self.world_pos.cpu()] & lit_world).any(-1)  # (V, m) clauses whose truth a variable can change
        self.touch = touch.to(device)  # (V, m) the clauses each variable touches
        self.untouched = (~touch).to(torch.float32).to(device)  # (V, m)

    # -- the distribution ---------------------------------------------------------------------
    def log_probs(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, V, k_max) log-probability of each variable's values; -inf where a variable has fewer
        values than k_max. Differentiable in the outputs (logits)."""
        parts = []
        for name, kind, G, K in self.groups:
            logits = outputs[name]
            if kind == "categorical":
                lp = torch.log_softmax(logits, -1)
            else:
                lp = torch.cat([torch.nn.functional.logsigmoid(-logits), torch.nn.functional.logsigmoid(logits)], -1)
            if lp.shape[-1] < self.k_max:
                lp = torch.nn.functional.pad(lp, (0, self.k_max - lp.shape[-1]), value=float("-inf"))
            parts.append(lp)
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def sample(self, log_probs: torch.Tensor, n_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, S, V) independent draws of every variable, S per example."""
        B, V, K = log_probs.shape
        p = log_probs.detach().exp().reshape(B * V, K)
        draws = torch.multinomial(p, n_samples, replacement=True, generator=generator)  # (B * V, S)
        return draws.view(B, V, n_samples).transpose(1, 2)

    # -- the check ----------------------------------------------------------------------------
    def neural_values(self, worlds: torch.Tensor) -> torch.Tensor:
        """(M, n_neural) uint8 0/1 values of the neural atoms of worlds (M, V), layout order."""
        parts, at = [], 0
        for name, kind, G, K in self.groups:
            w = worlds[:, at : at + G]
            at += G
            if kind == "categorical":
                hot = torch.zeros(w.shape[0], G, K, dtype=torch.uint8, device=w.device)
                parts.append(hot.scatter_(2, w.unsqueeze(-1), 1).view(w.shape[0], G * K))
            else:
                parts.append(w.to(torch.uint8))
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def world_values(self, worlds: torch.Tensor) -> torch.Tensor:
        """(M, n_placed) bool: the neural and derived atoms of worlds (M, V), layout order."""
        return self.layout.derive(self.neural_values(worlds.reshape(-1, self.n_vars)), _amin, _amax, pad=False) > 0

    def _per_example(self, evidence: torch.Tensor):
        """What the evidence (B, n) fixes per example: the placed atoms' evidence (B, n_placed) and,
        per clause, whether a hidden atom's literal already makes it true (B, m)."""
        g = evidence[:, self.layout.order]
        gp, gr = g[:, : self.n_placed], g[:, self.n_placed :]
        if gr.shape[1] == 0:  # no hidden atoms
            return gp, torch.zeros(g.shape[0], self.n_clauses, dtype=torch.bool, device=g.device)
        rest = torch.where(gr != 0, gr > 0, self.rest_default.expand_as(gr))  # (B, n_rest)
        lit = cols(rest, self.rest_pos)  # (B, m, k)
        rest_true = (self.is_rest & torch.where(self.sign > 0, lit, ~lit)).any(-1)
        return gp, rest_true

    def _clauses_true(self, v: torch.Tensor, clauses: torch.Tensor) -> torch.Tensor:
        """(M, *clauses.shape) bool: whether the world literals of the given clauses (any shape of
        clause indices) make them true, for placed-atom values v (M, n_placed)."""
        pos, sign, world = self.world_pos[clauses], self.sign[clauses], self.is_world[clauses]
        lit = cols(v, pos)  # (M, *clauses.shape, k)
        return (world & torch.where(sign > 0, lit, ~lit)).any(-1)

    def _chunk(self, per_world: int) -> int:
        return max(1, CHUNK_ELEMENTS // max(per_world, 1))

    def satisfied(self, worlds: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
        """(M,) bool: f(world, evidence) (module docstring) for worlds (M, V) and evidence (M, n)."""
        return self.evaluate(worlds.unsqueeze(1), evidence).squeeze(1) > 0.5

    def evaluate(self, worlds: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
        """f for worlds (B, P, V) against each example's evidence (B, n): (B, P) float.

        Only the clauses that a hidden atom does not already make true for every example of the
        batch are checked on the worlds."""
        B, P, V = worlds.shape
        gp, rest_true = self._per_example(evidence)
        active = (~rest_true).any(0).nonzero().squeeze(1)  # (m_a,)
        rt = rest_true[:, active]  # (B, m_a)
        # worlds per example in one chunk: at most CHUNK_ELEMENTS cells for the whole batch
        per = max(1, self._chunk(self.n_placed + int(active.numel()) * self.clause_width) // max(B, 1))
        out = []
        for i in range(0, P, per):
            w = worlds[:, i : i + per]
            p = w.shape[1]
            v = self.world_values(w)  # (B * p, n_placed)
            agree = ((gp[:, None] == 0) | ((gp[:, None] > 0) == v.view(B, p, -1))).all(-1)  # (B, p)
            ct = self._clauses_true(v, active).view(B, p, -1) | rt[:, None]  # (B, p, m_a)
            out.append(agree & ct.all(-1))
        return torch.cat(out, 1).to(torch.float32)

    def evaluate_changed(self, worlds: torch.Tensor, evidence: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """f of every world that differs from a given one in one variable (IndeCateR's worlds).

        worlds (B, S, V), evidence (B, n), values (V, K) long: the value variable d takes in column
        k. Returns (B, S, V, K) float: f of world s of example b with variable d set to values[d, k].
        A clause that no atom of variable d appears in (itself or through a derived atom) keeps its
        truth in the given world, so only the clauses each variable touches are checked on the
        changed worlds; the others are counted once per given world."""
        B, S, V = worlds.shape
        K = values.shape[1]
        gp, rest_true = self._per_example(evidence)
        active_mask = (~rest_true).any(0)  # (m,) clauses a hidden atom does not make true in every example
        active = active_mask.nonzero().squeeze(1)
        v0 = self.world_values(worlds)  # (B * S, n_placed)
        base = self._clauses_true(v0, active).view(B, S, -1) | rest_true[:, None, active]  # (B, S, m_a)
        # per variable: does a clause it does not touch fail in the given world?
        outside_ok = torch.matmul((~base).to(torch.float32), self.untouched[:, active].T) == 0  # (B, S, V)
        # per variable: does an atom that does not depend on it disagree with the evidence?
        disagree0 = ((gp[:, None] != 0) & ((gp[:, None] > 0) != v0.view(B, S, -1))).to(torch.float32)
        outside_ok &= torch.matmul(disagree0, self.not_dep.T) == 0  # (B, S, V)
        dev = worlds.device
        out = []
        for d in range(V):
            t_idx = (self.touch[d] & active_mask).nonzero().squeeze(1)  # the clauses variable d can change
            block = self.blocks[d]
            if block is not None:  # only the variable's own atoms change: value k sets them to table[k]
                start, width = block
                table = self._block_table(d, values[d], width, dev)  # (K, width) bool
                g = gp[:, start : start + width]  # (B, width)
                agree = ((g[:, None] == 0) | ((g[:, None] > 0) == table)).all(-1)  # (B, K)
                agree = agree[:, None].expand(B, S, K)
                pos, sign, world = self.world_pos[t_idx], self.sign[t_idx], self.is_world[t_idx]
                inb = world & (pos >= start) & (pos < start + width)  # (t, k) literals of the variable's atoms
                lit0 = cols(v0, pos)  # (B * S, t, k) the given worlds' literals
                c0 = (world & ~inb & torch.where(sign > 0, lit0, ~lit0)).any(-1)  # (B * S, t): made true by the others
                litk = table[:, (pos - start).clamp(0, width - 1)]  # (K, t, k)
                ck = (inb & torch.where(sign > 0, litk, ~litk)).any(-1)  # (K, t): made true by the variable's value
                ct = (c0[:, None] | ck).view(B, S, K, -1)
                inside = (ct | rest_true[:, None, None, t_idx]).all(-1)  # (B, S, K)
                out.append(agree & inside & outside_ok[:, :, d, None])
                continue
            w = worlds.unsqueeze(2).repeat(1, 1, K, 1)  # (B, S, K, V)
            w[..., d] = values[d]
            v = self.world_values(w)  # (B * S * K, n_placed)
            sel = self.var_atoms[d]
            gd = gp[:, sel]  # the evidence on the atoms that depend on d
            agree = ((gd[:, None] == 0) | ((gd[:, None] > 0) == v[:, sel].view(B, S * K, -1))).all(-1)  # (B, S * K)
            inside = (self._clauses_true(v, t_idx).view(B, S * K, -1) | rest_true[:, None, t_idx]).all(-1)
            out.append((agree & inside).view(B, S, K) & outside_ok[:, :, d, None])
        return torch.stack(out, 2).to(torch.float32)

    def _block_table(self, d: int, values: torch.Tensor, width: int, device) -> torch.Tensor:
        """(K, width) bool: variable d's own atoms when it takes each of ``values`` (K,)."""
        if width == 1:  # a bernoulli atom: value 1 is true
            return (values == 1).unsqueeze(1)
        return torch.nn.functional.one_hot(values, width).to(torch.bool).to(device)
