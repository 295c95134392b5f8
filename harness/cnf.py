"""CNF core: DIMACS I/O, CNFs built from named atoms, clause matrices for tensor methods.

Atoms are 1-based in DIMACS and in :attr:`CNF.clauses` (signed ints, as in DIMACS); tensor views
(:meth:`CNF.matrix`, :meth:`CNF.padded`) use 0-based columns, atom k -> column k-1 (as the
reference ``sat.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import torch

from .errors import UserError


class CNFError(UserError):
    """A malformed CNF (DIMACS text or clause list)."""


@dataclass
class CNF:
    """A propositional CNF over atoms 1..n_atoms.

    clauses: tuples of non-zero signed ints (k means atom k, -k its negation); duplicate literals
    are merged and tautologies dropped by :meth:`normalized`. names: optional atom names, index k-1
    holds the name of atom k.
    """

    n_atoms: int
    clauses: list[tuple[int, ...]]
    names: list[str] | None = None

    def __post_init__(self):
        if self.n_atoms < 0:
            raise CNFError(f"a CNF needs a non-negative number of atoms, got {self.n_atoms}")
        for j, cl in enumerate(self.clauses):
            for lit in cl:
                if lit == 0 or abs(lit) > self.n_atoms:
                    raise CNFError(f"clause {j + 1} has literal {lit}, outside atoms 1..{self.n_atoms}")
        if self.names is not None and len(self.names) != self.n_atoms:
            raise CNFError(f"{len(self.names)} atom names given for {self.n_atoms} atoms")

    @property
    def n_clauses(self) -> int:
        return len(self.clauses)

    def normalized(self) -> "CNF":
        """Merge duplicate literals and drop tautological clauses (as the reference ``sat.py``)."""
        out = []
        for cl in self.clauses:
            lits = tuple(dict.fromkeys(cl))
            if any(-lit in lits for lit in lits):
                continue
            out.append(lits)
        return CNF(self.n_atoms, out, self.names)

    def index(self, name: str) -> int:
        """1-based atom number of a named atom."""
        if self.names is None:
            raise CNFError("this CNF has no atom names")
        try:
            return self._name_index()[name] + 1
        except KeyError:
            raise CNFError(f"unknown atom {name!r}") from None

    def _name_index(self) -> dict[str, int]:
        cache = getattr(self, "_names_cache", None)
        if cache is None:
            cache = {n: i for i, n in enumerate(self.names or [])}
            object.__setattr__(self, "_names_cache", cache)
        return cache

    # ---- evaluation -------------------------------------------------------------------------
    def satisfied_by(self, assignment: Sequence[int] | Sequence[bool]) -> bool:
        """True iff a 0/1 assignment of length n_atoms (index k-1 for atom k) satisfies every clause."""
        a = [bool(x) for x in assignment]
        return all(any(a[abs(l) - 1] == (l > 0) for l in cl) for cl in self.clauses)

    # ---- tensor views -----------------------------------------------------------------------
    def matrix(self, dtype=torch.float32, device=None) -> torch.Tensor:
        """Dense clause matrix C in {-1,0,1}^(m x n): C[j,i] = +1/-1 if atom i+1 occurs pos./neg."""
        C = torch.zeros(self.n_clauses, self.n_atoms, dtype=dtype)
        for j, cl in enumerate(self.clauses):
            for lit in cl:
                C[j, abs(lit) - 1] = 1.0 if lit > 0 else -1.0
        return C.to(device) if device is not None else C

    def padded(self, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sparse view for large CNFs: (idx, sign) of shape (m, k_max).

        idx holds 0-based atom columns (0 in padding slots), sign holds +1/-1 (0 in padding). It
        represents the same matrix as :meth:`matrix` without its m x n zeros.
        """
        rows = [list(dict.fromkeys(cl)) for cl in self.clauses]  # repeated literals once
        k = max((len(r) for r in rows), default=0)
        lit = np.zeros((self.n_clauses, max(k, 1)), dtype=np.int64)  # one array fill, not a tensor per clause
        for j, r in enumerate(rows):
            lit[j, : len(r)] = r
        idx = torch.from_numpy(np.maximum(np.abs(lit) - 1, 0))
        sign = torch.from_numpy(np.sign(lit).astype(np.float32))
        if device is not None:
            idx, sign = idx.to(device), sign.to(device)
        return idx, sign

    # ---- DIMACS -----------------------------------------------------------------------------
    def to_dimacs(self, comments: Iterable[str] = ()) -> str:
        lines = [f"c {c}" for c in comments]
        if self.names is not None:
            lines += [f"c atom {k + 1} {n}" for k, n in enumerate(self.names)]
        lines.append(f"p cnf {self.n_atoms} {self.n_clauses}")
        lines += [" ".join(str(l) for l in cl) + " 0" for cl in self.clauses]
        return "\n".join(lines) + "\n"

    def write_dimacs(self, path: str | os.PathLike, comments: Iterable[str] = ()) -> None:
        with open(path, "w") as f:
            f.write(self.to_dimacs(comments))

    @classmethod
    def from_dimacs(cls, text: str, source: str = "<text>") -> "CNF":
        """Parse DIMACS text. Errors name the source and the line.

        Comment lines start with 'c' (``c atom K NAME`` lines, as written by :meth:`to_dimacs`,
        restore atom names). Exactly one ``p cnf N M`` line must precede the clauses; each clause
        line ends with 0 (a clause may not span lines, as in the reference parser).
        """
        header = None
        clauses: list[tuple[int, ...]] = []
        names: dict[int, str] = {}
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("%"):
                continue
            where = f"{source}, line {lineno}"
            if line.startswith("c"):
                parts = line.split(maxsplit=3)
                if len(parts) == 4 and parts[1] == "atom" and parts[2].isdigit():
                    names[int(parts[2])] = parts[3]
                continue
            if line.startswith("p"):
                parts = line.split()
                if header is not None:
                    raise CNFError(f"{where}: a second 'p cnf' header; a DIMACS file has exactly one")
                if len(parts) != 4 or parts[1] != "cnf" or not all(p.isdigit() for p in parts[2:]):
                    raise CNFError(f"{where}: bad header {line!r}; expected 'p cnf <atoms> <clauses>'")
                header = (int(parts[2]), int(parts[3]))
                continue
            if header is None:
                raise CNFError(f"{where}: clause before the 'p cnf <atoms> <clauses>' header")
            try:
                lits = [int(t) for t in line.split()]
            except ValueError:
                raise CNFError(f"{where}: non-integer literal in {line!r}") from None
            if lits[-1] != 0:
                raise CNFError(f"{where}: clause does not end with 0: {line!r}")
            if 0 in lits[:-1]:
                raise CNFError(f"{where}: 0 inside a clause; put one clause per line")
            bad = [l for l in lits[:-1] if abs(l) > header[0]]
            if bad:
                raise CNFError(f"{where}: literal {bad[0]} exceeds the {header[0]} atoms declared in the header")
            clauses.append(tuple(lits[:-1]))
        if header is None:
            raise CNFError(f"{source}: no 'p cnf <atoms> <clauses>' header found")
        if len(clauses) != header[1]:
            raise CNFError(f"{source}: header declares {header[1]} clauses but {len(clauses)} were read")
        name_list = None
        if names:
            name_list = [names.get(k, f"x{k}") for k in range(1, header[0] + 1)]
        return cls(header[0], clauses, name_list)

    @classmethod
    def read_dimacs(cls, path: str | os.PathLike) -> "CNF":
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            raise CNFError(f"CNF file not found: {path}; check the path") from None
        except UnicodeDecodeError:
            raise CNFError(f"{path}: not a text DIMACS file") from None
        return cls.from_dimacs(text, source=str(path))


@dataclass
class CNFBuilder:
    """Build a CNF from named atoms.

    >>> b = CNFBuilder(); b.clause("-sum(3)", "aux(0,3)", "aux(1,2)")
    Atoms get numbers in order of first use (or of :meth:`atom`). A literal is a name with an
    optional leading '-' or '~', or a (name, bool) pair.
    """

    names: list[str] = field(default_factory=list)
    clauses: list[tuple[int, ...]] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)

    def atom(self, name: str) -> int:
        """1-based number of the atom, created if new."""
        k = self._index.get(name)
        if k is None:
            self.names.append(name)
            k = self._index[name] = len(self.names)
        return k

    def atoms(self, names: Iterable[str]) -> list[int]:
        return [self.atom(n) for n in names]

    def lit(self, lit) -> int:
        if isinstance(lit, tuple):
            name, positive = lit
            return self.atom(name) if positive else -self.atom(name)
        if isinstance(lit, int):
            if lit == 0 or abs(lit) > len(self.names):
                raise CNFError(f"literal {lit} does not name an existing atom")
            return lit
        s = str(lit)
        if s[:1] in ("-", "~"):
            return -self.atom(s[1:])
        return self.atom(s)

    def clause(self, *lits) -> None:
        if not lits:
            raise CNFError("an empty clause is unsatisfiable; not allowed in a constraint")
        self.clauses.append(tuple(self.lit(l) for l in lits))

    def exactly_one(self, names: Sequence[str]) -> None:
        """Existence clause plus pairwise uniqueness clauses (the paper's UEC clauses)."""
        self.clause(*names)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                self.clause("-" + names[a], "-" + names[b])

    def define(self, kind: str, name: str, comps: Sequence[str]) -> None:
        """Clauses of ``name <-> and(comps)`` (``kind`` "and") or ``name <-> or(comps)`` ("or"):
        a derived atom written into the CNF, so that a method reading only the CNF stays exact."""
        if kind == "or":
            self.clause("-" + name, *comps)
            for c in comps:
                self.clause(name, "-" + c)
        else:
            for c in comps:
                self.clause("-" + name, c)
            self.clause(name, *["-" + c for c in comps])

    def build(self) -> CNF:
        return CNF(len(self.names), list(self.clauses), list(self.names))
