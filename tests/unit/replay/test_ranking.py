"""Ranking statistics: Spearman and AUC against hand and brute-force oracles, paired bootstrap
intervals, the logistic baseline recovering a known model, the ranking row and table."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.train.ranking import (
    LogisticBaseline,
    RankingRow,
    auc,
    bootstrap_ci,
    ranking_row,
    ranking_table,
    spearman,
)


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def _brute_ranks(x: np.ndarray) -> np.ndarray:
    """1-based average ranks by counting: 1 + #smaller + (#equal - 1) / 2."""
    return np.array([1 + (x < v).sum() + ((x == v).sum() - 1) / 2 for v in x], dtype=float)


def test_spearman_matches_a_hand_computed_value_with_ties():
    # ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4): centred products 4.5, squares 4.5 and 5
    assert spearman([1.0, 2.0, 2.0, 4.0], [10.0, 30.0, 20.0, 40.0]) == pytest.approx(
        3.0 / math.sqrt(10.0), rel=1e-12)
    # ties on both sides: ranks (1.5, 1.5, 3, 4) and (1, 2.5, 2.5, 4), centred products 3.75,
    # squares 4.5 and 4.5
    assert spearman([0.0, 0.0, 1.0, 2.0], [5.0, 7.0, 7.0, 9.0]) == pytest.approx(
        3.75 / 4.5, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_spearman_equals_corrcoef_of_ranks_on_random_data(seed):
    rng = _rng(seed)
    x = np.round(rng.normal(size=60), 1)  # rounding makes ties
    y = np.round(x + rng.normal(size=60), 1)
    expected = np.corrcoef(_brute_ranks(x), _brute_ranks(y))[0, 1]
    assert spearman(x, y) == pytest.approx(expected, rel=1e-12)


@given(st.lists(st.integers(-50, 50), min_size=2, max_size=40, unique=True))
def test_spearman_of_a_monotone_transform_is_one(values):
    x = np.array(values, dtype=float)  # integers: the transform stays strictly increasing
    assert spearman(x, np.exp(x / 10.0) + x**3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)


@pytest.mark.parametrize("score, outcome", [
    ([], []),
    ([1.0], [2.0]),
    ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]),
    ([1.0, 2.0, 3.0], [4.0, 4.0, 4.0]),
])
def test_spearman_is_nan_when_undefined(score, outcome):
    assert math.isnan(spearman(score, outcome))


def _brute_auc(score: np.ndarray, win: np.ndarray) -> float:
    pairs = list(itertools.product(score[win], score[~win]))
    if not pairs:
        return math.nan
    return sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in pairs) / len(pairs)


@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), max_size=30))
def test_auc_is_the_fraction_of_correctly_ordered_pairs(rows):
    score = np.array([float(s) for s, _ in rows])  # few distinct values: many ties
    win = np.array([w for _, w in rows], dtype=bool)
    expected = _brute_auc(score, win)
    if math.isnan(expected):
        assert math.isnan(auc(score, win))
    else:
        assert auc(score, win) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_auc_of_a_perfect_score_is_one_and_of_its_negation_zero():
    score = _rng(1).normal(size=50)
    win = score > 0.2
    assert auc(score, win) == 1.0
    assert auc(-score, win) == 0.0
    assert auc(np.zeros(50), win) == 0.5
    assert auc(score, win.astype(int)) == 1.0  # 0/1 labels are accepted


def test_bootstrap_ci_contains_the_point_estimate_for_a_large_sample():
    x = _rng(2).normal(1.0, 2.0, size=2000)
    point, low, high = bootstrap_ci(lambda a: float(a.mean()), x, samples=500, seed=3)
    assert point == pytest.approx(float(x.mean()))
    assert low < point < high
    # about 1.96 standard errors each side
    assert high - low == pytest.approx(2 * 1.96 * 2.0 / math.sqrt(2000), rel=0.2)


def test_bootstrap_ci_is_deterministic_for_a_seed():
    rng = _rng(4)
    score, outcome = rng.normal(size=80), rng.normal(size=80)
    first = bootstrap_ci(spearman, score, outcome, samples=300, seed=7)
    assert bootstrap_ci(spearman, score, outcome, samples=300, seed=7) == first
    assert bootstrap_ci(spearman, score, outcome, samples=300, seed=8) != first


def test_bootstrap_ci_applies_the_same_indices_to_every_array():
    x = np.arange(30.0)
    x2 = np.column_stack([x, -x])  # 2-D arrays resample rows
    same = bootstrap_ci(lambda a, b: float(np.array_equal(a, b[:, 0])), x, x2, samples=50)
    assert same == (1.0, 1.0, 1.0)


def test_bootstrap_ci_drops_nan_resamples_and_reports_nan_bounds_when_none_is_finite():
    score = np.array([0.1, 0.9, 0.4])
    win = np.array([False, True, False])  # many resamples miss a class
    point, low, high = bootstrap_ci(auc, score, win, samples=200)
    assert point == 1.0 and (low, high) == (1.0, 1.0)
    point, low, high = bootstrap_ci(lambda a: math.nan, score, samples=20)
    assert math.isnan(point) and math.isnan(low) and math.isnan(high)


def _logistic_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    rng = _rng(seed)
    x = rng.normal(size=(n, 3)) * np.array([1.0, 2.0, 0.5]) + np.array([0.0, 1.0, -2.0])
    coefficients, intercept = np.array([1.2, -0.6, 0.8]), 2.0  # mean logit about 0
    p = 1.0 / (1.0 + np.exp(-(intercept + x @ coefficients)))
    return x, rng.random(n) < p, coefficients, intercept


def test_logistic_baseline_recovers_known_coefficients():
    x, y, coefficients, intercept = _logistic_sample(4000, seed=5)
    model = LogisticBaseline().fit(x, y, l2=1.0)
    assert model.converged and model.n_iterations < 20
    # standard errors are about 0.05 to 0.1 at n=4000
    np.testing.assert_allclose(model.coefficients, coefficients, atol=0.2)
    assert model.intercept == pytest.approx(intercept, abs=0.3)
    assert auc(model.predict_proba(x), y) > 0.7


def test_logistic_baseline_is_deterministic_and_ignores_constant_columns():
    x, y, _, _ = _logistic_sample(500, seed=6)
    with_constant = np.column_stack([x, np.full(500, 3.0)])
    a = LogisticBaseline().fit(with_constant, y)
    b = LogisticBaseline().fit(with_constant, y)
    np.testing.assert_array_equal(a.predict_proba(with_constant), b.predict_proba(with_constant))
    assert a.coefficients[-1] == 0.0
    plain = LogisticBaseline().fit(x, y)
    np.testing.assert_allclose(a.coefficients[:-1], plain.coefficients, rtol=1e-10)
    # a constant column contributes 0 at prediction time too, whatever its value there
    moved = with_constant.copy()
    moved[:, -1] = -100.0
    np.testing.assert_allclose(a.predict_proba(moved), plain.predict_proba(x), rtol=1e-10)


def test_logistic_baseline_does_not_penalise_the_intercept():
    x, y, _, _ = _logistic_sample(1000, seed=7)
    model = LogisticBaseline().fit(x, y, l2=1e12)
    np.testing.assert_allclose(model.coefficients, 0.0, atol=1e-6)
    np.testing.assert_allclose(model.predict_proba(x), y.mean(), atol=1e-6)


@pytest.mark.parametrize("x, y, l2, message", [
    (np.zeros(4), [0, 1, 0, 1], 1.0, "expected a 2-D array"),
    (np.zeros((0, 2)), [], 1.0, "expected at least 1 row"),
    ([[0.0], [np.nan], [1.0]], [0, 1, 1], 1.0, "expected finite values, was 1 non-finite"),
    ([[0.0], [1.0], [2.0]], [0, 1], 1.0, "expected arrays of one length, was 3 and 2"),
    ([[0.0], [1.0], [2.0]], [0, 2, 1], 1.0, r"expected labels in \{0, 1\}, was 2.0"),
    ([[0.0], [1.0], [2.0]], [1, 1, 1], 1.0, "expected both classes in y, was 3 of 3"),
    ([[0.0], [1.0], [2.0]], [0, 1, 1], 0.0, "expected a finite l2 > 0, was 0.0"),
    ([[0.0], [1.0], [2.0]], [0, 1, 1], math.nan, "expected a finite l2 > 0, was nan"),
])
def test_logistic_baseline_refuses_bad_fit_input(x, y, l2, message):
    with pytest.raises(ValueError, match=message):
        LogisticBaseline().fit(x, y, l2=l2)


def test_logistic_baseline_refuses_bad_predict_input():
    with pytest.raises(ValueError, match="expected a fitted LogisticBaseline, was unfitted"):
        LogisticBaseline().predict_proba([[0.0]])
    model = LogisticBaseline().fit([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]], [0, 1, 1])
    with pytest.raises(ValueError, match="expected 2 columns, was 3"):
        model.predict_proba(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="expected finite values"):
        model.predict_proba([[0.0, np.inf]])


@pytest.mark.parametrize("call, message", [
    (lambda: spearman([1.0, 2.0], [1.0]), "expected arrays of one length, was 2 and 1"),
    (lambda: spearman([[1.0, 2.0]], [[1.0, 2.0]]), "expected a 1-D array, was 2-D"),
    (lambda: spearman([1.0, np.nan], [1.0, 2.0]), "expected finite values"),
    (lambda: auc([1.0, 2.0], [True, False, True]), "expected arrays of one length"),
    (lambda: auc([1.0, 2.0], [0.5, 1.0]), r"expected labels in \{0, 1\}, was 0.5"),
    (lambda: bootstrap_ci(spearman), "expected at least one array, was none"),
    (lambda: bootstrap_ci(spearman, [1.0], [1.0], samples=0), "expected samples >= 1, was 0"),
    (lambda: bootstrap_ci(spearman, [1.0], [1.0], level=1.0), "expected 0 < level < 1"),
    (lambda: bootstrap_ci(spearman, [1.0], [1.0, 2.0]), "expected arrays of one length"),
    (lambda: ranking_row("a", [1.0, 2.0], [1.0]), "expected arrays of one length"),
])
def test_bad_statistic_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_ranking_row_counts_wins_as_positive_r_multiples():
    rng = _rng(8)
    score = rng.normal(size=200)
    r_multiple = np.round(score + rng.normal(size=200), 0)  # many exact zeros: losses
    row = ranking_row("edge", score, r_multiple, samples=200, seed=9)
    assert row.name == "edge" and row.n == 200
    assert row.spearman[0] == spearman(score, r_multiple)
    assert row.auc[0] == auc(score, r_multiple > 0)
    assert row.spearman[1] < row.spearman[0] < row.spearman[2]
    assert row.auc[1] < row.auc[0] < row.auc[2]
    assert ranking_row("edge", score, r_multiple, samples=200, seed=9) == row


def test_ranking_table_aligns_columns_and_writes_nan_as_na():
    nan = math.nan
    rows = [RankingRow("long_name", 1234, (0.123, -0.001, 0.456), (0.6789, 0.5, 0.75)),
            RankingRow("x", 2, (nan, nan, nan), (1.0, nan, nan))]
    lines = ranking_table(rows).splitlines()
    assert len(lines) == 3
    assert lines[1].split()[:3] == ["long_name", "1234", "0.12"]
    assert "[0.00, 0.46]" in lines[1] and "0.68 [0.50, 0.75]" in lines[1]
    assert "n/a [n/a, n/a]" in lines[2] and "1.00 [n/a, n/a]" in lines[2]
    # every column starts at the same offset on every line
    for title in ("Spearman", "AUC"):
        start = lines[0].index(title)
        assert all(line[start - 2:start] == "  " and line[start] != " " for line in lines)
    assert ranking_table([]) == "name  n  Spearman [lo, hi]  AUC [lo, hi]"
