"""Return and trade statistics against empyrical-reloaded and independent pandas oracles.

NaN policy under test: where empyrical gives ``inf`` or ``nan`` (too few points, zero
dispersion, no downside) ours is ``nan``. Series whose dispersion is within rounding of their
level (e.g. identical values but one ulp) are skipped for ratio comparisons: there the Sharpe
ratio is ill-conditioned and two correct summation orders legitimately disagree.
"""

import math

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from replay.metrics import (
    annual_return,
    annual_volatility,
    calmar_ratio,
    compound,
    kurtosis,
    max_drawdown,
    max_drawdown_rows,
    profit_factor,
    profit_factor_rows,
    sharpe_ratio,
    sharpe_ratio_rows,
    skewness,
    sortino_ratio,
)

returns = arrays(np.float64, st.integers(2, 500),
                 elements=st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False))
periods = st.sampled_from([12.0, 52.0, 252.0, 365.0, 98_280.0])


def well_conditioned(r):
    return np.ptp(r) == 0 or np.std(r) > 1e-9 * np.max(np.abs(r))


def assert_matches(ours, expected, rtol=1e-9, atol=1e-12):
    if np.isfinite(expected):
        np.testing.assert_allclose(ours, expected, rtol=rtol, atol=atol)
    else:
        assert math.isnan(ours), f"expected nan where empyrical gives {expected}, was {ours}"


@given(returns, periods, st.sampled_from([0.0, 0.0001, -0.0002]))
@example(np.array([0.01, 0.01, 0.01]), 252.0, 0.0)  # zero dispersion
@example(np.array([0.01, 0.02]), 252.0, 0.0)  # no downside
@example(np.array([-0.1, 0.05]), 252.0, 0.0)  # loses from the start
@example(np.array([0.2, 0.2]), 98_280.0, 0.0)  # CAGR overflows
@example(np.array([-5.32262047e-11, -5.32262047e-11]), 12.0, 0.0)  # drawdown of 1e-10
def test_ratios_match_empyrical(r, ppy, rf):
    """One draw checks all six figures (cheaper than six tests drawing their own series)."""
    with np.errstate(over="ignore"):
        expected_annual = empyrical.annual_return(r, annualization=ppy)
        expected_calmar = empyrical.calmar_ratio(r, annualization=ppy)
    if well_conditioned(r - rf):
        assert_matches(sharpe_ratio(r, ppy, rf),
                       empyrical.sharpe_ratio(r, risk_free=rf, annualization=ppy))
    assert_matches(sortino_ratio(r, ppy), empyrical.sortino_ratio(r, annualization=ppy))
    assert_matches(annual_return(r, ppy), expected_annual, atol=1e-9)
    assert_matches(annual_volatility(r, ppy), empyrical.annual_volatility(r, annualization=ppy),
                   atol=1e-11)
    mdd = max_drawdown(compound(r))
    np.testing.assert_allclose(mdd, -empyrical.max_drawdown(r), rtol=1e-9, atol=1e-12)
    # A tiny drawdown is ill-conditioned: empyrical scales the curve by 100 and subtracts, so
    # its relative error is about 1e-16 / mdd (2.5e-7 for the pinned 1e-10 drawdown).
    if mdd == 0 or mdd > 1e-6:
        assert_matches(calmar_ratio(r, ppy), expected_calmar, atol=1e-9)


def test_calmar_uses_a_given_drawdown():
    r = np.array([0.01, -0.02, 0.03])
    assert calmar_ratio(r, 252.0, drawdown=0.5) == pytest.approx(annual_return(r, 252.0) / 0.5)
    assert math.isnan(calmar_ratio(r, 252.0, drawdown=0.0))
    assert math.isnan(calmar_ratio(np.array([0.01, 0.02]), 252.0))


@pytest.mark.parametrize("func", [sharpe_ratio, sortino_ratio, annual_volatility])
@pytest.mark.parametrize("r", [[], [0.01]])
def test_ratios_of_fewer_than_two_returns_are_nan(func, r):
    assert math.isnan(func(np.array(r), 252.0))


def test_zero_dispersion_gives_nan_ratios_and_zero_volatility():
    r = np.full(7, 0.039533)  # its float mean differs from the values in the last bit
    assert math.isnan(sharpe_ratio(r, 252.0))
    assert math.isnan(sortino_ratio(r, 252.0))  # no downside either
    assert annual_volatility(r, 252.0) == 0.0


def test_annual_return_edge_cases():
    assert math.isnan(annual_return(np.array([]), 252.0))
    assert math.isnan(annual_return(np.array([0.5, 0.5]), 1e9))  # overflows: nan, not inf
    assert annual_return(np.array([0.1]), 1.0) == pytest.approx(0.1)


def test_max_drawdown_by_hand():
    assert max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 65.0])) == 0.5
    assert max_drawdown(np.array([1.0, 2.0, 3.0])) == 0.0
    assert max_drawdown(np.array([5.0])) == 0.0
    assert math.isnan(max_drawdown(np.array([])))
    assert math.isnan(max_drawdown(np.array([0.0, 1.0])))


@st.composite
def seeded_returns(draw, shape):
    """Hypothesis draws the shape, seed and kind; a seeded generator draws the values (cheap):
    normal, right-skewed, heavy-tailed, or a few repeated values (ties, zero dispersion)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "skewed", "heavy", "ties"]))
    if kind == "normal":
        return rng.normal(0.0005, 0.01, shape)
    if kind == "skewed":
        return rng.lognormal(-5.0, 1.0, shape) - 0.01
    if kind == "heavy":
        return np.clip(0.01 * rng.standard_t(3, shape), -0.2, 0.2)
    return rng.choice([-0.01, 0.0, 0.02], shape)


@given(st.tuples(st.integers(1, 5), st.integers(2, 50)).flatmap(seeded_returns))
def test_row_forms_equal_scalar_forms(rows):
    curves = compound(rows)
    np.testing.assert_array_equal(max_drawdown_rows(curves),
                                  [max_drawdown(c) for c in curves])
    np.testing.assert_array_equal(sharpe_ratio_rows(rows, 252.0),
                                  [sharpe_ratio(r, 252.0) for r in rows])
    np.testing.assert_array_equal(profit_factor_rows(rows), [profit_factor(r) for r in rows])


@given(st.integers(4, 300).flatmap(seeded_returns))
def test_skew_and_kurtosis_match_pandas_after_bias_correction(r):
    """pandas reports the adjusted G1 and excess G2; undo the adjustment to get g1 and b2."""
    assume(np.ptp(r) > 0)
    n = r.size
    big_g1, big_g2 = pd.Series(r).skew(), pd.Series(r).kurt()
    g1 = big_g1 * (n - 2) / math.sqrt(n * (n - 1))
    excess = (big_g2 * (n - 2) * (n - 3) / (n - 1) - 6) / (n + 1)
    np.testing.assert_allclose(skewness(r), g1, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(kurtosis(r), excess + 3.0, rtol=1e-7, atol=1e-9)


def test_moments_by_hand_and_undefined():
    # two-point symmetric sample: skew 0, kurtosis 1; constant sample: undefined
    assert skewness(np.array([-1.0, 1.0])) == 0.0
    assert kurtosis(np.array([-1.0, 1.0])) == 1.0
    assert math.isnan(skewness(np.array([0.1, 0.1, 0.1])))
    assert math.isnan(kurtosis(np.array([0.1])))


@pytest.mark.parametrize(("pnl", "expected"), [
    ([300.0, -100.0, -50.0, 0.0], 2.0),
    ([10.0, 0.0], math.inf),
    ([-10.0, -5.0], 0.0),
    ([0.0, 0.0], math.nan),
    ([], math.nan),
])
def test_profit_factor_edge_cases(pnl, expected):
    value = profit_factor(np.array(pnl))
    assert (math.isnan(value) and math.isnan(expected)) or value == expected
