"""Probabilistic and deflated Sharpe ratios: hand-computed values, the paper's example, laws.

The oracle for the normal CDF is ``statistics.NormalDist`` (the code uses ``math.erfc``).
"""

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.metrics import (
    EULER_GAMMA,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
)

PHI = NormalDist().cdf
sharpes = st.floats(-0.5, 0.5)
lengths = st.integers(2, 5000)


@st.composite
def shapes(draw):
    """Skewness and a Pearson kurtosis that a distribution can have (kurtosis >= 1 + skew**2)."""
    skew = draw(st.floats(-2.0, 2.0))
    return skew, draw(st.floats(1.0 + skew * skew, 12.0))


def test_psr_by_hand_normal_returns():
    # SR 0.1 per period over 101 periods, normal: sigma(SR)^2 = (1 + SR^2 / 2) / 100
    z = 0.1 / math.sqrt((1 + 0.5 * 0.01) / 100)
    assert probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0) == pytest.approx(PHI(z), abs=1e-12)


def test_psr_by_hand_skewed_returns_with_benchmark():
    # 1 - (-1)(0.2) + (6 - 1)/4 * 0.04 = 1.25;  z = 0.15 * sqrt(252) / sqrt(1.25)
    z = 0.15 * math.sqrt(252) / math.sqrt(1.25)
    value = probabilistic_sharpe_ratio(0.2, 253, -1.0, 6.0, sr_benchmark=0.05)
    assert value == pytest.approx(PHI(z), abs=1e-12)
    assert value == pytest.approx(0.98341, abs=1e-5)


def test_expected_max_sharpe_by_hand():
    inv = NormalDist().inv_cdf
    z = (1 - EULER_GAMMA) * inv(1 - 1 / 10) + EULER_GAMMA * inv(1 - 1 / (10 * math.e))
    assert expected_max_sharpe(10, 0.04) == pytest.approx(0.2 * z, rel=1e-12)
    assert expected_max_sharpe(1, 0.04) == 0.0
    assert math.isnan(expected_max_sharpe(5, math.nan))
    with pytest.raises(ValueError, match="n_trials"):
        expected_max_sharpe(0, 0.04)


@pytest.mark.parametrize("n_trials", [10, 100, 1000])
def test_expected_max_sharpe_approximates_the_simulated_maximum(n_trials):
    """The formula is an approximation of E[max of N iid N(0, V)]: within 5% here."""
    rng = np.random.default_rng(0)
    simulated = rng.normal(0.0, 0.3, size=(4000, n_trials)).max(axis=1).mean()
    assert expected_max_sharpe(n_trials, 0.09) == pytest.approx(simulated, rel=0.05)


def test_dsr_paper_example():
    """Bailey & López de Prado (2014), numerical example: annualised SR 2.5 over 1250 days,
    100 trials with annualised Sharpe variance 0.5, skew -3, kurtosis 10 -> DSR 0.9004."""
    sr, variance = 2.5 / math.sqrt(250), 0.5 / 250
    assert expected_max_sharpe(100, variance) == pytest.approx(0.1132, abs=1e-4)
    dsr = deflated_sharpe_ratio(sr, 1250, -3.0, 10.0, 100, variance)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


@given(sharpes, lengths, shapes(), st.integers(2, 10_000))
def test_dsr_of_one_trial_is_psr_and_unknown_variance_is_the_estimator_variance(
        sr, n, shape, n_trials):
    skew, kurt = shape
    psr = probabilistic_sharpe_ratio(sr, n, skew, kurt, 0.0)
    assert deflated_sharpe_ratio(sr, n, skew, kurt, 1) == psr
    assert deflated_sharpe_ratio(sr, n, skew, kurt, 1, sharpe_variance=0.3) == psr
    variance = (1 - skew * sr + (kurt - 1) / 4 * sr * sr) / (n - 1)
    expected = probabilistic_sharpe_ratio(sr, n, skew, kurt,
                                          expected_max_sharpe(n_trials, variance))
    assert deflated_sharpe_ratio(sr, n, skew, kurt, n_trials) == expected


@given(sharpes, lengths, shapes(), st.integers(1, 1000), st.floats(0.0, 0.1))
def test_dsr_falls_with_more_trials_and_never_exceeds_psr(sr, n, shape, n_trials, variance):
    skew, kurt = shape
    fewer = deflated_sharpe_ratio(sr, n, skew, kurt, n_trials, variance)
    more = deflated_sharpe_ratio(sr, n, skew, kurt, n_trials + 1, variance)
    assert more <= fewer <= probabilistic_sharpe_ratio(sr, n, skew, kurt) + 1e-15


@given(sharpes, sharpes, lengths, shapes(), st.floats(0.0, 0.2))
def test_psr_is_monotone(sr, benchmark, n, shape, step):
    """Is 1/2 at its own benchmark, rises with SR (for |skew * SR| < 2, where sigma(SR) grows
    slower than SR), falls with the benchmark, and moves away from 1/2 with the track record."""
    skew, kurt = shape
    psr = probabilistic_sharpe_ratio(sr, n, skew, kurt, benchmark)
    assert probabilistic_sharpe_ratio(sr, n, skew, kurt, sr_benchmark=sr) == 0.5
    if benchmark == 0.0:
        assert probabilistic_sharpe_ratio(sr + step, n, skew, kurt) >= psr - 1e-15
    assert probabilistic_sharpe_ratio(sr, n, skew, kurt, benchmark + step) <= psr + 1e-15
    longer = probabilistic_sharpe_ratio(sr, n + 100, skew, kurt, benchmark)
    assert (longer - 0.5) * (psr - 0.5) >= 0
    assert abs(longer - 0.5) >= abs(psr - 0.5) - 1e-15


@pytest.mark.parametrize("args", [
    (0.1, 1, 0.0, 3.0),
    (math.nan, 100, 0.0, 3.0),
    (0.1, 100, math.nan, 3.0),
    (0.1, 100, 0.0, math.nan),
])
def test_undefined_psr_and_dsr_are_nan(args):
    assert math.isnan(probabilistic_sharpe_ratio(*args))
    assert math.isnan(deflated_sharpe_ratio(*args, n_trials=1))
    assert math.isnan(deflated_sharpe_ratio(*args, n_trials=5))
