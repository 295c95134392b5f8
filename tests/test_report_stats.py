"""The report's statistics (harness/report/stats.py) on samples whose p-values can be worked out by hand.

With n and m seeds there are C(n + m, n) equally likely ways to split the pooled values into the
two samples; the one-sided p-value is the share of splits whose U is at least the observed one."""

import pytest

from harness.report.stats import mann_whitney_greater, mark_row, quartiles


def test_three_against_three_is_exact_with_and_without_ties():
    # every value of a above every value of b: U = 9, reached by 1 split of C(6, 3) = 20
    assert mann_whitney_greater([4, 5, 6], [1, 2, 3]) == pytest.approx(1 / 20)
    # one inversion (4 > 5 fails): U = 8, reached by the splits with U = 9 or 8: 2 of 20
    assert mann_whitney_greater([3, 5, 6], [1, 2, 4]) == pytest.approx(2 / 20)
    # the reverse direction: every split has U >= 0
    assert mann_whitney_greater([1, 2, 3], [4, 5, 6]) == pytest.approx(1.0)
    # two runs that both score 0.00 and the like: equal values split by the permutation itself
    assert mann_whitney_greater([2, 2, 2], [1, 1, 1]) == pytest.approx(1 / 20)
    assert mann_whitney_greater([1, 1, 1], [1, 1, 1]) == pytest.approx(1.0)
    # [2, 3, 4] against [1, 1, 3]: U = 2 + 2.5 + 3 = 7.5 (a tie counts a half); of the 20 splits of
    # {1, 1, 2, 3, 3, 4}, U >= 7.5 for {2, 3, 4} with either 3 and for {3, 3, 4}: 3 of 20
    assert mann_whitney_greater([2, 3, 4], [1, 1, 3]) == pytest.approx(3 / 20)


def test_a_single_seed_can_never_be_significant_against_three():
    # 1 against 3: U = 3 is reached by 1 of the C(4, 1) = 4 splits
    assert mann_whitney_greater([90.0], [80.0, 81.0, 82.0]) == pytest.approx(1 / 4)


def test_empty_or_nan_samples_are_refused():
    with pytest.raises(ValueError):
        mann_whitney_greater([], [1.0])
    with pytest.raises(ValueError):
        mann_whitney_greater([1.0, float("nan")], [1.0, 2.0])


def test_best_only_where_the_top_cell_beats_every_other():
    m = mark_row({"a": [4, 5, 6], "b": [1, 2, 3], "c": [0, 0, 0]})
    assert m.top == "a" and m.best == {"a"} and m.tied == set()
    assert m.p == {"b": pytest.approx(0.05), "c": pytest.approx(0.05)}
    # c has the highest mean (5.33) but does not beat a (p = 0.5); it beats b (p = 0.05):
    # c and a are tied, b is neither
    m = mark_row({"a": [4, 5, 6], "b": [1, 2, 3], "c": [3.5, 5.5, 7]})
    assert m.top == "c" and m.best == set() and m.tied == {"a", "c"}
    # one seed cannot be told apart from anything
    m = mark_row({"a": [99.0], "b": [50.0, 51.0, 52.0]})
    assert m.best == set() and m.tied == {"a", "b"}


def test_rows_with_fewer_than_two_measured_cells_are_not_marked():
    assert mark_row({"a": [1.0, 2.0, 3.0]}).best == set() and mark_row({"a": [1.0], "b": []}).tied == set()


def test_quartiles():
    assert quartiles([1, 2, 3, 4, 5]) == (2.0, 3.0, 4.0)
    assert quartiles([90.0, 92.0, 94.0]) == (91.0, 92.0, 93.0)
