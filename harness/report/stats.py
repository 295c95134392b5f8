"""Statistics of the reports, on scipy: which cell of a row is the best, and by which test.

- :func:`mann_whitney_greater`: the p-value of the one-sided Mann-Whitney U test that the values
  of one sample tend to be larger than those of another (the per-seed final metrics of two cells);
- :func:`mark_row`: the "best" and "tied" cells of a row of samples: the top cell (highest mean) is
  the best only where it beats every other cell by that test at ``alpha``; otherwise the top cell
  and every cell it does not beat are tied;
- :func:`quartiles`: the median and quartiles of a sample (``report --stat median``).

Seeds are few (3 to 10), so the p-value is exact: every split of the pooled values into the two
samples is enumerated (scipy's permutation method), which also handles equal values (two runs that
both score 0.00). With 3 seeds against 3 the smallest p-value is 1 / C(6, 3) = 0.05: the test can
only call a difference when all three runs of one cell beat all three of the other. A cell with a
single seed is compared by scipy's exact null distribution of U (it needs 20 seeds on the other
side before a p-value <= 0.05 exists), and large samples by the normal approximation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb
from typing import Hashable, Mapping, Sequence

import numpy as np
from scipy import stats as _st

#: how the report names the test behind its bold cells
TEST_NAME = "one-sided Mann-Whitney U test over seeds"
ALPHA = 0.05
#: up to this many distinct splits of the pooled sample the p-value is computed exactly
EXACT_SPLITS = 100_000


def mann_whitney_greater(a: Sequence[float], b: Sequence[float]) -> float:
    """p-value of the one-sided Mann-Whitney U test of H1: values of ``a`` tend to exceed those of
    ``b``. ``a``, ``b``: one value per seed (NaN not allowed). [4, 5, 6] against [1, 2, 3] gives
    1 / 20 = 0.05 (U = 9, the largest of the 20 equally likely splits); equal samples give 1."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size == 0 or y.size == 0:
        raise ValueError("mann_whitney_greater: each sample needs at least one value")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("mann_whitney_greater: NaN in a sample")
    if min(x.size, y.size) >= 2 and comb(x.size + y.size, x.size) <= EXACT_SPLITS:
        method = _st.PermutationMethod(n_resamples=EXACT_SPLITS)  # every split: exact, ties included
    elif min(x.size, y.size) < 2:
        method = "exact"  # scipy's permutation test wants two values a side
    else:
        method = "asymptotic"
    return float(_st.mannwhitneyu(x, y, alternative="greater", method=method).pvalue)


@dataclass(frozen=True)
class RowMarks:
    """The marks of one row: ``best`` holds the one cell that beats every other cell (or nothing),
    ``tied`` the cells that cannot be told apart from the top cell when there is no best one, and
    ``p`` the p-value of "top > cell" for every other cell."""

    top: Hashable | None = None
    best: frozenset = frozenset()
    tied: frozenset = frozenset()
    p: Mapping[Hashable, float] = field(default_factory=dict)


def mark_row(samples: Mapping[Hashable, Sequence[float]], alpha: float = ALPHA) -> RowMarks:
    """Mark the best cell of a row, or the tied ones.

    ``samples``: {cell key: values over seeds} of the cells that compete (a reference column such
    as the supervised ceiling is left out by the caller; cells without values are ignored). The top
    cell has the highest mean (on equal means the first in ``samples`` order). It is the best when
    the one-sided test "top > other" gives p <= ``alpha`` against every other cell; otherwise the top
    cell and every cell with p > ``alpha`` are tied. A row with fewer than two cells is not marked.

    >>> m = mark_row({"a": [4, 5, 6], "b": [1, 2, 3]})
    >>> sorted(m.best), sorted(m.tied), m.p["b"]
    (['a'], [], 0.05)
    """
    cells = {k: [float(v) for v in vals] for k, vals in samples.items() if len(vals)}
    if len(cells) < 2:
        return RowMarks()
    top = max(cells, key=lambda k: float(np.mean(cells[k])))  # first of equal means (max keeps the first)
    p = {k: mann_whitney_greater(cells[top], v) for k, v in cells.items() if k != top}
    if all(pv <= alpha for pv in p.values()):
        return RowMarks(top, frozenset([top]), frozenset(), p)
    return RowMarks(top, frozenset(), frozenset([top] + [k for k, pv in p.items() if pv > alpha]), p)


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of a sample, numpy's linear interpolation."""
    q1, med, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(q1), float(med), float(q3)
