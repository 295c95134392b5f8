"""Seeded generator of 9x9 Sudoku puzzles with a unique solution, and a reader of ``quiz,solution``
CSV files (the Kaggle and Palm format), for the ``sudoku`` task.

Generation, per puzzle: a random complete grid (backtracking with random digit order), then cells
are blanked in a random order, each kept blank only if the puzzle still has exactly one solution
(a bitmask solver that counts up to 2), until ``givens`` clues remain. Blanks are tried in chunks:
blanking a chunk keeps the solution unique only if blanking each of its cells in turn would
(more blanks never remove solutions), so a chunk that passes is accepted at once and a chunk that
fails is halved; the result is the same as trying one cell at a time, with far fewer solver calls.
Puzzle ``i`` of seed ``s`` depends only on (s, i), so a smaller set is a prefix of a larger one.

Hard puzzles: a range of givens (``givens`` to ``givens_max``, as Palm's 17..34) draws each
puzzle's number of clues uniformly from the range. One pass of random blanking stops at a minimal
puzzle (no clue can go), which has about 22 to 27 clues: measured here (one core), 24 clues take
about 0.13 s a puzzle, 22 about 2 s (most grids never get there), and 21 or fewer are out of reach
(:func:`make_puzzle` gives up after ``tries`` grids with a one-line error). Below about 22 givens,
read Palm's files (``read_csv``) instead.

Generated sets are cached as ``.npz`` under ``$NESYBENCH_CACHE`` (default
``$XDG_CACHE_HOME/nesybench`` or ``~/.cache/nesybench``), keyed by (count, givens, seed, version).
"""

from __future__ import annotations

import os
import random

import numpy as np

from harness.errors import UserError

GEN_VERSION = 1
_ROW = [i // 9 for i in range(81)]
_COL = [i % 9 for i in range(81)]
_BOX = [(i // 27) * 3 + (i % 9) // 3 for i in range(81)]
_POP = [bin(m).count("1") for m in range(512)]


def count_solutions(board, limit: int = 2, rng: random.Random | None = None):
    """Number of solutions of ``board`` (81 ints, 0 = blank), counted up to ``limit``, and the
    first solution found (a list of 81 ints, or None). ``rng`` randomises the digit order (used to
    draw a random complete grid). A board whose clues clash has 0 solutions."""
    b = [int(v) for v in board]
    rows, cols, boxes = [0] * 9, [0] * 9, [0] * 9
    for i, v in enumerate(b):
        if v:
            bit = 1 << (v - 1)
            if (rows[_ROW[i]] | cols[_COL[i]] | boxes[_BOX[i]]) & bit:
                return 0, None
            rows[_ROW[i]] |= bit
            cols[_COL[i]] |= bit
            boxes[_BOX[i]] |= bit
    empties = [i for i in range(81) if not b[i]]
    found = [0, None]

    def rec() -> None:
        best, best_m, best_c = -1, 0, 10
        for i in empties:  # the blank with fewest candidates (a naked single: no branching)
            if b[i]:
                continue
            m = ~(rows[_ROW[i]] | cols[_COL[i]] | boxes[_BOX[i]]) & 511
            c = _POP[m]
            if c < best_c:
                best, best_m, best_c = i, m, c
                if c <= 1:
                    break
        if best < 0:
            found[0] += 1
            if found[1] is None:
                found[1] = list(b)
            return
        if best_c == 0:
            return
        bits = [1 << d for d in range(9) if best_m >> d & 1]
        if rng is not None:
            rng.shuffle(bits)
        r, c, x = _ROW[best], _COL[best], _BOX[best]
        for bit in bits:
            b[best] = bit.bit_length()
            rows[r] |= bit
            cols[c] |= bit
            boxes[x] |= bit
            rec()
            rows[r] ^= bit
            cols[c] ^= bit
            boxes[x] ^= bit
            b[best] = 0
            if found[0] >= limit:
                return

    rec()
    return found[0], found[1]


def is_valid_solution(sol) -> bool:
    """True iff 81 digits 1..9 fill every row, column and box exactly once."""
    s = [int(v) for v in sol]
    if len(s) != 81 or any(not 1 <= v <= 9 for v in s):
        return False
    for unit_of in (_ROW, _COL, _BOX):
        seen = [0] * 9
        for i, v in enumerate(s):
            seen[unit_of[i]] |= 1 << (v - 1)
        if any(m != 511 for m in seen):
            return False
    return True


def make_puzzle(rng: random.Random, givens: int, tries: int = 100) -> tuple[list[int], list[int]]:
    """One (quiz, solution) pair with exactly ``givens`` clues and a unique solution (a fresh
    random grid for each of up to ``tries`` attempts)."""
    for _ in range(tries):
        _, sol = count_solutions([0] * 81, limit=1, rng=rng)
        board = list(sol)
        order = list(range(81))
        rng.shuffle(order)
        need, i, chunk = 81 - givens, 0, 16
        while need and i < 81:
            k = min(chunk, need, 81 - i)
            cells = order[i : i + k]
            for c in cells:
                board[c] = 0
            if count_solutions(board, 2)[0] == 1:
                i, need, chunk = i + k, need - k, chunk * 2
                continue
            for c in cells:
                board[c] = sol[c]
            if k == 1:
                i += 1  # this blank would allow a second solution: keep the clue
            else:
                chunk = max(1, k // 2)
        if need == 0:
            return board, sol
    raise UserError(
        f"sudoku: could not make a puzzle with {givens} givens and a unique solution in {tries} tries; "
        "use more givens (random blanking rarely gets below about 22; Palm's files have 17..34)"
    )


def check_givens(givens: int, givens_max: int = 0) -> tuple[int, int]:
    """(low, high) of the givens range; ``givens_max`` 0 means exactly ``givens``."""
    hi = givens_max or givens
    if not 17 <= givens <= 80 or not givens <= hi <= 80:
        raise UserError(
            f"sudoku: givens must be in 17..80 (a unique 9x9 puzzle has at least 17) and givens_max "
            f"0 or in givens..80; got givens={givens}, givens_max={givens_max}"
        )
    return givens, hi


def generate(n: int, givens: int, seed: int, givens_max: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` puzzles: (quizzes (n, 81), solutions (n, 81)) uint8, 0 = blank; with ``givens_max`` >
    ``givens`` each puzzle's number of clues is drawn uniformly from givens..givens_max."""
    lo, hi = check_givens(givens, givens_max)
    q = np.zeros((n, 81), dtype=np.uint8)
    s = np.zeros((n, 81), dtype=np.uint8)
    for i in range(n):
        rng = random.Random(f"{seed}:{i}")
        k = rng.randint(lo, hi) if hi > lo else lo  # a fixed number draws nothing: the same puzzles as v1
        quiz, sol = make_puzzle(rng, k)
        q[i], s[i] = quiz, sol
    return q, s


def cache_dir() -> str:
    base = os.environ.get("NESYBENCH_CACHE")
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nesybench")
    return base


def cached_generate(n: int, givens: int, seed: int, givens_max: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """:func:`generate`, re-using any cached set of the same (givens, seed) with at least n puzzles.
    Returns (quizzes, solutions, cache path)."""
    lo, hi = check_givens(givens, givens_max)
    d = os.path.join(cache_dir(), "sudoku")
    prefix = f"v{GEN_VERSION}-g{lo}-s{seed}-n" if hi == lo else f"v{GEN_VERSION}-g{lo}-{hi}-s{seed}-n"
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            if name.startswith(prefix) and name.endswith(".npz"):
                try:
                    have = int(name[len(prefix) : -4])
                except ValueError:
                    continue
                if have >= n:
                    path = os.path.join(d, name)
                    with np.load(path) as z:
                        return z["quizzes"][:n], z["solutions"][:n], path
    q, s = generate(n, lo, seed, hi)
    path = os.path.join(d, f"{prefix}{n}.npz")
    try:
        os.makedirs(d, exist_ok=True)
        tmp = path + f".{os.getpid()}.tmp.npz"
        np.savez_compressed(tmp, quizzes=q, solutions=s)
        os.replace(tmp, path)
    except OSError:
        path = ""  # a read-only cache is no error: the set was generated
    return q, s, path


def read_csv(path: str, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Read ``quiz,solution`` lines of 81-character row-major strings ('0' or '.' blank); a first
    line that is not a puzzle (Kaggle's ``quizzes,solutions``) is a header. Every line is checked:
    the solution is a valid grid that agrees with the quiz's clues. ``limit`` > 0 keeps the first
    ``limit`` puzzles."""
    if not os.path.isfile(path):
        raise UserError(f"sudoku: CSV file not found: {path}; give a file of 'quiz,solution' lines")
    qs, ss = [], []
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(",")]
            if lineno == 1 and not fields[0].replace(".", "0").isdigit():
                continue  # header
            where = f"{path}, line {lineno}"
            if len(fields) != 2:
                raise UserError(f"{where}: expected 'quiz,solution', got {len(fields)} fields")
            quiz, sol = fields[0].replace(".", "0"), fields[1]
            if len(quiz) != 81 or len(sol) != 81 or not quiz.isdigit() or not sol.isdigit():
                raise UserError(f"{where}: quiz and solution must be 81 digits each (0 or '.' for a blank)")
            qv = [int(c) for c in quiz]
            sv = [int(c) for c in sol]
            if not is_valid_solution(sv):
                raise UserError(f"{where}: the solution is not a valid Sudoku grid")
            if any(a and a != b for a, b in zip(qv, sv)):
                raise UserError(f"{where}: the quiz's clues disagree with the solution")
            qs.append(qv)
            ss.append(sv)
            if limit and len(qs) >= limit:
                break
    if not qs:
        raise UserError(f"{path}: no puzzles")
    return np.asarray(qs, dtype=np.uint8), np.asarray(ss, dtype=np.uint8)
