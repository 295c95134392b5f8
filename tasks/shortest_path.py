"""Shortest path on an N x N grid with removed edges (the Semantic Loss benchmark, Xu et al. 2018).

Task of the CL-STE paper (docs/method.md "The paper's settings"). An example is a grid graph with some edges removed and
two
terminal nodes; the network (an MLP) reads the present-edge bits and the one-hot terminals and
predicts, per edge, whether it lies on a shortest path between the terminals. Training labels are
one shortest path (``has_labels``: methods add binary cross-entropy with ``w_label``).

Numbering (the paper's, checked on the data file): node (i, j) is ``N*i + j``; horizontal edge
(i, j)-(i, j+1) is ``(N-1)*i + j``; vertical edge (i, j)-(i+1, j) is ``N*(N-1) + (N-1)*j + i``.
Input: the E edge-present bits, then the N*N terminal bits (E + N^2 = 40 at N = 4).

Encodings (task parameter ``encoding``):
- ``paper`` (docs/method.md "Encodings", ``shortestPath.cnf``, 40 atoms and 68 clauses at N = 4): atoms
  ``terminal(n)`` then ``sp(e)``; a terminal node has exactly one path edge. Nothing else.
- ``simple-path``: the paper's clauses, plus: a non-terminal node has path-degree 0 or 2 (no
  degree 1, no degree >= 3), and a removed edge is not on the path (atoms ``removed(e)`` given as
  evidence). Connectivity (no detached cycles) and optimality are still not encoded.
Evidence: ``terminal(n)`` is 1 for the two terminals and -1 for the other nodes; ``removed(e)`` is
1/-1. (With the paper encoding, -1 rather than the reference's 0 gives CL-STE the same loss and
gradient: a tested fact.)

Data: the paper's file (``data_file``, e.g. ``shortestPath.data``: ``removed,terminals,path[,other
shortest paths]``, 1,610 lines, 4 x 4; ``data_file=paper`` reads it from ``--data-dir clste=DIR``) split 80/20 exactly
as the reference (``random_split`` with
a generator seeded 0: 1,288 / 322), or generated with ``data_seed`` (``n_maps`` random sets of
removed edges, ``n_examples`` random connected terminal pairs, one BFS shortest path as the label,
the same 80/20 split); the split does not depend on the run seed (the seed varies the
initialisation and the batch order, as in the paper).

Metrics on the test split: ``exact_match`` (the binarised 24 edges equal the label, the paper's
metric), ``valid_path`` (the predicted edges form one simple path between the terminals over
present edges), ``shortest`` (a valid path of shortest length: any shortest path counts), and
``train_exact`` (exact match on the training split, as the paper logs it).
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from harness.api import Batch, Constraint, NeuralGroup, Program, Task, shuffled_batches
from harness.cnf import CNF
from harness.errors import UserError
from harness.registry import register_task

from .asp_programs import shortest_path_asp

ENCODINGS = ("paper", "simple-path")


# ---- the grid -----------------------------------------------------------------------------------
def grid_edges(n: int) -> list[tuple[int, int]]:
    """Edges of the n x n grid in the paper's numbering: index -> (node, node)."""
    edges = [(n * i + j, n * i + j + 1) for i in range(n) for j in range(n - 1)]
    edges += [(n * i + j, n * (i + 1) + j) for j in range(n) for i in range(n - 1)]
    return edges


def incident_edges(n: int) -> list[list[int]]:
    """For each node, the indices of its edges (ascending)."""
    inc: list[list[int]] = [[] for _ in range(n * n)]
    for e, (a, b) in enumerate(grid_edges(n)):
        inc[a].append(e)
        inc[b].append(e)
    return [sorted(x) for x in inc]


def shortest_paths(n: int, removed: set[int], s: int, t: int, limit: int = 100_000) -> list[list[int]]:
    """All shortest s-t paths (as sorted edge lists) in the grid without ``removed`` edges, at most
    ``limit`` of them ([] when t is unreachable). BFS distances from s, then a walk back from t."""
    edges = grid_edges(n)
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n * n)]
    for e, (a, b) in enumerate(edges):
        if e not in removed:
            adj[a].append((b, e))
            adj[b].append((a, e))
    dist = [-1] * (n * n)
    dist[s] = 0
    q = deque([s])
    while q:
        u = q.popleft()
        for w, _ in adj[u]:
            if dist[w] < 0:
                dist[w] = dist[u] + 1
                q.append(w)
    if dist[t] < 0:
        return []
    out: list[list[int]] = []

    def back(u: int, acc: list[int]) -> None:
        if len(out) >= limit:
            return
        if u == s:
            out.append(sorted(acc))
            return
        for w, e in adj[u]:
            if dist[w] == dist[u] - 1:
                back(w, acc + [e])

    back(t, [])
    return out


# ---- encodings ----------------------------------------------------------------------------------
def encoding(n: int, name: str) -> CNF:
    """The CNF of an encoding (atoms ``terminal(k)`` 1..N^2, ``sp(e)``, and for simple-path
    ``removed(e)``)."""
    inc = incident_edges(n)
    n_nodes, n_edges = n * n, len(grid_edges(n))
    names = [f"terminal({k})" for k in range(n_nodes)] + [f"sp({e})" for e in range(n_edges)]
    t = lambda k: k + 1  # noqa: E731  (1-based DIMACS atoms)
    sp = lambda e: n_nodes + e + 1  # noqa: E731
    clauses: list[tuple[int, ...]] = []
    for k in range(n_nodes):  # a terminal has at least one path edge
        clauses.append(tuple([-t(k)] + [sp(e) for e in inc[k]]))
    for k in range(n_nodes):  # ... and at most one
        for a, b in itertools.combinations(inc[k], 2):
            clauses.append((-t(k), -sp(a), -sp(b)))
    if name == "simple-path":
        for k in range(n_nodes):  # a non-terminal node has path-degree 0 or 2
            for e in inc[k]:  # not exactly 1: an edge in needs another edge in
                clauses.append(tuple([t(k), -sp(e)] + [sp(f) for f in inc[k] if f != e]))
            for a, b, c in itertools.combinations(inc[k], 3):  # not 3 or more
                clauses.append((t(k), -sp(a), -sp(b), -sp(c)))
        names += [f"removed({e})" for e in range(n_edges)]
        for e in range(n_edges):  # a removed edge is not on the path
            clauses.append((-(n_nodes + n_edges + e + 1), -sp(e)))
    elif name != "paper":
        raise UserError(f"shortest-path: unknown encoding {name!r}; available: {', '.join(ENCODINGS)}")
    return CNF(len(names), clauses, names)


# ---- data ---------------------------------------------------------------------------------------
@dataclass
class Example:
    removed: list[int]
    terminals: tuple[int, int]
    path: list[int]


def read_data_file(path: str, n: int = 4) -> list[Example]:
    """Parse the Semantic Loss file format: ``removed,terminals,path[,other shortest paths]`` with
    fields joined by '-'. Checks every line (indices in range, the path joins the terminals)."""
    if not os.path.isfile(path):
        raise UserError(f"shortest-path: data_file not found: {path}; give the path to shortestPath.data")
    n_edges, n_nodes = len(grid_edges(n)), n * n
    out = []
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {lineno}"
            fields = line.strip().split(",")
            if len(fields) < 3:
                raise UserError(f"{where}: expected 'removed,terminals,path[,...]', got {len(fields)} fields")
            try:
                removed, terms, p = ([int(x) for x in fld.split("-")] for fld in fields[:3])
            except ValueError:
                raise UserError(f"{where}: fields must be integers joined by '-'") from None
            if any(not 0 <= e < n_edges for e in removed + p):
                raise UserError(f"{where}: edge index outside 0..{n_edges - 1} (grid={n})")
            if len(terms) != 2 or any(not 0 <= k < n_nodes for k in terms) or terms[0] == terms[1]:
                raise UserError(f"{where}: expected two distinct terminal nodes in 0..{n_nodes - 1}")
            ex = Example(removed, (terms[0], terms[1]), p)
            if not bool(path_metrics(n, [ex], torch.as_tensor([_multi_hot(p, n_edges)]))["valid"][0]):
                raise UserError(f"{where}: the path {fields[2]} does not join the terminals over present edges")
            best = shortest_paths(n, set(removed), terms[0], terms[1], limit=1)
            if len(p) != len(best[0]):
                raise UserError(f"{where}: the path has {len(p)} edges but a shortest one has {len(best[0])}")
            out.append(ex)
    if not out:
        raise UserError(f"{path}: no examples")
    return out


def generate(n: int, n_examples: int, n_maps: int, seed: int) -> list[Example]:
    """Seeded data of the same kind: ``n_maps`` random sets of removed edges (a third of the edges,
    8 of 24 at N = 4, as the paper's data), each with random distinct connected terminal pairs;
    the label is the BFS shortest path found first (sorted edges)."""
    rng = np.random.default_rng(seed)
    edges = grid_edges(n)
    n_remove = round(len(edges) / 3)
    per_map = [n_examples // n_maps + (1 if m < n_examples % n_maps else 0) for m in range(n_maps)]
    out: list[Example] = []
    for m in range(n_maps):
        for _ in range(1000):  # a map whose graph connects enough pairs
            removed = sorted(int(e) for e in rng.choice(len(edges), n_remove, replace=False))
            pairs = [
                (a, b)
                for a, b in itertools.combinations(range(n * n), 2)
                if shortest_paths(n, set(removed), a, b, limit=1)
            ]
            if len(pairs) >= per_map[m]:
                break
        else:
            raise UserError(
                f"shortest-path: could not draw a map with {per_map[m]} connected pairs; "
                "lower n_examples or raise n_maps"
            )
        for i in rng.choice(len(pairs), per_map[m], replace=False):
            a, b = pairs[int(i)]
            if rng.random() < 0.5:
                a, b = b, a
            out.append(Example(removed, (a, b), shortest_paths(n, set(removed), a, b, limit=1)[0]))
    return out


def _multi_hot(idx: list[int], size: int) -> list[float]:
    v = [0.0] * size
    for i in idx:
        v[i] = 1.0
    return v


def path_metrics(n: int, examples: list[Example], pred: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per example (B,) bool: ``valid`` (pred (B, E) in {0,1} is one simple path between the
    terminals over present edges) and ``shortest`` (valid with as many edges as a shortest path).

    Degrees decide all but cycles: with terminal degree 1 and other degrees 0 or 2, the edge set is
    one terminal-to-terminal path plus detached cycles (edges = nodes - 1 either way), so it is one
    path iff every node it touches is reached from a terminal over the predicted edges.
    """
    edges = torch.as_tensor(grid_edges(n))  # (E, 2)
    n_nodes = n * n
    inc = torch.zeros(len(edges), n_nodes)
    inc[torch.arange(len(edges)), edges[:, 0]] = 1
    inc[torch.arange(len(edges)), edges[:, 1]] = 1
    pred = pred.float().cpu()
    deg = pred @ inc  # (B, N^2)
    term = torch.zeros(len(examples), n_nodes, dtype=torch.bool)
    removed = torch.zeros(len(examples), len(edges))
    dist = torch.zeros(len(examples))
    for b, ex in enumerate(examples):
        term[b, list(ex.terminals)] = True
        removed[b, ex.removed] = 1
        dist[b] = len(ex.path)
    deg_ok = torch.where(term, deg == 1, (deg == 0) | (deg == 2)).all(1)
    reach = torch.zeros(len(examples), n_nodes)  # (B, N^2): reached from the first terminal
    reach[torch.arange(len(examples)), torch.as_tensor([ex.terminals[0] for ex in examples])] = 1
    for _ in range(n_nodes):
        touched = pred * (reach[:, edges[:, 0]] + reach[:, edges[:, 1]]).clamp(max=1)  # (B, E)
        new = ((touched @ inc) + reach).clamp(max=1)
        if torch.equal(new, reach):
            break
        reach = new
    connected = ((deg > 0) & (reach == 0)).sum(1) == 0
    valid = deg_ok & connected & ((pred * removed).sum(1) == 0)
    return {"valid": valid, "shortest": valid & (pred.sum(1) == dist)}


class MLP(nn.Module):
    """Xu et al.'s MLP (docs/method.md "The paper's settings"): in -> ``layers`` x ``hidden`` ReLU -> E edge logits;
    xavier
    uniform weights and zero biases. ``reseed``: the reference re-seeds (64) before every layer, so its
    four 50 x 50 hidden layers start identical; task parameter init=reseed does the same with the run seed."""

    def __init__(self, n_in: int, n_out: int, hidden: int, layers: int, reseed: int | None = None):
        super().__init__()
        sizes = [n_in] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [nn.Linear(a, b), nn.ReLU()]
        mods.append(nn.Linear(sizes[-1], n_out))
        self.nn = nn.Sequential(*mods)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if reseed is not None:  # the reference re-seeds before every layer: equal-shaped layers start equal
                    torch.manual_seed(reseed)
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x (B, E + N^2) -> {"edge": (B, E, 1)}."""
        return {"edge": self.nn(x).unsqueeze(-1)}


@register_task
class ShortestPath(Task):
    key = "shortest-path"
    version = 1
    params = {
        "grid": 4,  # N: the grid is N x N (the paper: 4)
        "encoding": "paper",  # paper (68 clauses at N=4) or simple-path (degree 0/2, no removed edges)
        "data_file": "",  # shortestPath.data (4 x 4); "paper": the one in --data-dir clste=DIR; "": generate
        "n_examples": 1610,  # generated examples (as many as the paper's file)
        "n_maps": 50,  # generated sets of removed edges (the paper's file has 50)
        "data_seed": 0,  # seed of the generated data (fixed across run seeds, like the paper's split)
        "hidden": 50,  # MLP width (the paper: 50)
        "layers": 5,  # MLP hidden layers (the paper: 5)
        # xavier: one draw from the run seed; reseed: the reference's scheme (seed before every layer)
        "init": "xavier",
    }
    train_defaults = {"epochs": 500, "batch_size": 32, "lr": 5e-4}
    main_metric = "exact_match"
    has_labels = True
    size_param = "grid"
    param_bounds = {"grid": (2, None), "hidden": (1, None), "layers": (1, None)}
    tiny_params = {"n_examples": 40, "n_maps": 2}  # the conformance checks' instance

    def __init__(self, data_dirs=None, **tp):
        super().__init__(data_dirs, **tp)
        self.seed_ = 0
        n = self.tp["grid"]
        if self.tp["encoding"] not in ENCODINGS:
            raise UserError(
                f"shortest-path: unknown encoding {self.tp['encoding']!r}; available: {', '.join(ENCODINGS)}"
            )
        if self.tp["data_file"] and n != 4:
            raise UserError(f"shortest-path: the data file is a 4 x 4 grid; drop data_file or set grid=4 (got {n})")
        if self.tp["n_examples"] < 10 or self.tp["n_maps"] < 1 or self.tp["n_maps"] > self.tp["n_examples"]:
            raise UserError("shortest-path: need n_examples >= 10 and 1 <= n_maps <= n_examples")
        if self.tp["init"] not in ("xavier", "reseed"):
            raise UserError(f"shortest-path: init must be xavier or reseed, got {self.tp['init']!r}")
        self.n = n
        self.n_nodes = n * n
        self.n_edges = len(grid_edges(n))
        self._constraint = None

    def constraint(self) -> Constraint:
        if self._constraint is None:
            cnf = encoding(self.n, self.tp["encoding"])
            atoms = torch.arange(self.n_nodes, self.n_nodes + self.n_edges).unsqueeze(1)  # (E, 1)
            self._constraint = Constraint(
                cnf,
                [NeuralGroup("edge", atoms, kind="bernoulli")],
                programs={"asp": Program(shortest_path_asp(grid_edges(self.n), self.n_nodes))},
                hints={"encoding": self.tp["encoding"]},
            )
        return self._constraint

    def network(self) -> nn.Module:
        reseed = self.seed_ if self.tp["init"] == "reseed" else None
        return MLP(self.n_edges + self.n_nodes, self.n_edges, self.tp["hidden"], self.tp["layers"], reseed)

    # ---- data -------------------------------------------------------------------------------
    def examples(self) -> list[Example]:
        path = self.tp["data_file"]
        if path == "paper":  # the paper's file in the directory given as --data-dir clste=DIR
            if "clste" not in self.data_dirs:
                raise UserError(
                    "shortest-path: data_file=paper reads shortestPath.data from the paper's data "
                    "directory; pass --data-dir clste=DIR (or give data_file=PATH)"
                )
            path = os.path.join(self.data_dirs["clste"], "shortestPath.data")
        if path:
            self.source_ = os.path.abspath(path)
            return read_data_file(path, self.n)
        self.source_ = f"generated(seed={self.tp['data_seed']})"
        return generate(self.n, self.tp["n_examples"], self.tp["n_maps"], self.tp["data_seed"])

    def validate(self) -> None:
        """The data file, when one is given (read and checked as ``setup`` does)."""
        if self.tp["data_file"]:
            self.examples()

    def _tensors(self, exs: list[Example], device) -> dict[str, torch.Tensor]:
        E, N = self.n_edges, self.n_nodes
        present = torch.ones(len(exs), E)
        term = torch.zeros(len(exs), N)
        label = torch.zeros(len(exs), E)
        for b, ex in enumerate(exs):
            present[b, ex.removed] = 0
            term[b, list(ex.terminals)] = 1
            label[b, ex.path] = 1
        ev = [2 * term - 1]  # terminal(k): 1 or -1
        if self.tp["encoding"] == "simple-path":
            ev.append(1 - 2 * present)  # removed(e): 1 or -1
        return {
            "x": torch.cat([present, term], 1).to(device),
            "label": label.to(device),
            "evidence": torch.cat([ev[0], label.new_zeros(len(exs), E)] + ev[1:], 1).to(device),
        }

    def setup(self, seed: int, device: torch.device) -> None:
        self.seed_ = seed
        exs = self.examples()
        n_train = int(0.8 * len(exs))
        # the reference's split: torch.manual_seed(0); random_split(dataset, [80%, rest])
        train_idx, test_idx = torch.utils.data.random_split(
            range(len(exs)), [n_train, len(exs) - n_train], generator=torch.Generator().manual_seed(0)
        )
        self.train_ex_ = [exs[i] for i in train_idx.indices]
        self.test_ex_ = [exs[i] for i in test_idx.indices]
        self.train_ = self._tensors(self.train_ex_, device)
        self.test_ = self._tensors(self.test_ex_, device)
        self.constraint()

    def describe(self) -> dict:
        return {
            "source": getattr(self, "source_", None),
            "n_train_examples": len(self.train_ex_),
            "n_test_examples": len(self.test_ex_),
            "n_atoms": self.constraint().n_atoms,
            "n_clauses": self.constraint().cnf.n_clauses,
        }

    def train_batches(self, batch_size: int, generator: torch.Generator, epoch: int = 1):
        d = self.train_
        for sel in shuffled_batches(len(d["x"]), batch_size, generator, d["x"].device):
            yield Batch(x=d["x"][sel], evidence=d["evidence"][sel], labels={"edge": d["label"][sel]})

    @torch.no_grad()
    def predict(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """(B, E) in {0,1}: edges whose logit is >= 0 (the paper's binarisation)."""
        return (net(x)["edge"].squeeze(-1) >= 0).float()

    @torch.no_grad()
    def evaluate(self, net: nn.Module, device: torch.device) -> dict[str, float]:
        pred = self.predict(net, self.test_["x"])
        exact = (pred == self.test_["label"]).all(1).float().mean().item()
        pm = path_metrics(self.n, self.test_ex_, pred)
        train_pred = self.predict(net, self.train_["x"])
        train_exact = (train_pred == self.train_["label"]).all(1).float().mean().item()
        return {
            "exact_match": 100.0 * exact,
            "valid_path": 100.0 * pm["valid"].float().mean().item(),
            "shortest": 100.0 * pm["shortest"].float().mean().item(),
            "train_exact": 100.0 * train_exact,
        }
