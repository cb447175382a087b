"""Targets: win-rate posterior against integration and Monte Carlo, order, pass/fail logic,
probabilities of each method, undefined figures, determinism."""

import math

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.backtest_config import MetricsConfig, TargetsConfig
from replay.metrics import (
    EquityAccumulator,
    beta_posterior_probability,
    compute_metrics,
    evaluate_targets,
    probabilistic_sharpe_ratio,
)

CONFIG = MetricsConfig(bootstrap_samples=400)
TARGETS = TargetsConfig()


def integrated_beta_tail(wins, losses, threshold, points=20_001):
    """P(p > t) for p ~ Beta(wins + 1, losses + 1) by the trapezoid rule on a grid split at t."""
    def weight(p):
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 * log(0) is masked
            log_pdf = (np.where(wins, wins * np.log(p), 0.0)
                       + np.where(losses, losses * np.log1p(-p), 0.0))
        return np.exp(log_pdf - log_max)

    mode = wins / (wins + losses) if wins + losses else 0.5
    log_max = (wins * math.log(mode) if wins else 0.0) + (losses * math.log1p(-mode)
                                                          if losses else 0.0)
    below = np.linspace(0.0, threshold, points)
    above = np.linspace(threshold, 1.0, points)
    lower, upper = np.trapezoid(weight(below), below), np.trapezoid(weight(above), above)
    return upper / (lower + upper)


@given(st.integers(0, 200), st.integers(0, 200), st.floats(0.01, 0.99))
def test_win_rate_posterior_matches_numeric_integration(wins, losses, threshold):
    expected = integrated_beta_tail(wins, losses, threshold)
    assert beta_posterior_probability(wins, losses, threshold) == pytest.approx(expected,
                                                                                abs=1e-6)


@pytest.mark.parametrize(("wins", "losses", "threshold"), [(30, 20, 0.55), (3, 9, 0.2),
                                                            (600, 400, 0.62)])
def test_win_rate_posterior_matches_monte_carlo(wins, losses, threshold):
    draws = np.random.default_rng(1).beta(wins + 1, losses + 1, 400_000)
    assert beta_posterior_probability(wins, losses, threshold) == pytest.approx(
        np.mean(draws > threshold), abs=0.003)


def test_win_rate_posterior_closed_forms_with_many_trades():
    # no wins: P(p > t) = (1 - t)**(losses + 1); no losses: 1 - t**(wins + 1)
    assert beta_posterior_probability(0, 5000, 1e-4) == pytest.approx((1 - 1e-4) ** 5001,
                                                                      rel=1e-9)
    assert beta_posterior_probability(4000, 0, 0.9995) == pytest.approx(1 - 0.9995 ** 4001,
                                                                       rel=1e-9)
    assert beta_posterior_probability(60_000, 40_000, 0.6) == pytest.approx(
        integrated_beta_tail(60_000, 40_000, 0.6, points=400_001), abs=1e-6)
    assert beta_posterior_probability(3, 4, 0.0) == 1.0
    assert beta_posterior_probability(3, 4, 1.0) == 0.0


def run(daily_returns, pnl, seed=0):
    """A run with one bar per day: the bar and daily curves coincide."""
    equity = 1e5 * np.cumprod(1 + np.asarray(daily_returns, dtype=float))
    n = equity.size
    acc = EquityAccumulator(1e5)
    acc.update(np.arange(1, n + 1) * 86_400 * 10**9, equity, np.ones(n), np.arange(n))
    pnl = np.asarray(pnl, dtype=float)
    metrics = compute_metrics(acc, pnl, np.full(pnl.size, np.nan), np.ones(pnl.size), CONFIG,
                              252.0, seed)
    return metrics, acc.daily_returns(), pnl


@pytest.fixture(scope="module")
def typical():
    rng = np.random.default_rng(42)
    return run(rng.normal(0.001, 0.01, 300), rng.normal(30.0, 200.0, 150))


def test_results_come_in_order_with_their_ops_and_methods(typical):
    results = evaluate_targets(*typical, TARGETS, CONFIG, 0)
    assert [(r.name, r.op, r.method) for r in results] == [
        ("sharpe", ">", "PSR"), ("max_drawdown", "<", "bootstrap"),
        ("win_rate", ">", "beta posterior"), ("profit_factor", ">", "bootstrap")]
    metrics = typical[0]
    assert [r.value for r in results] == [metrics.sharpe, metrics.max_drawdown,
                                          metrics.win_rate, metrics.profit_factor]
    assert [r.threshold for r in results] == [1.5, 0.15, 0.55, 1.3]
    assert all(0.0 <= r.probability <= 1.0 for r in results)


def test_sharpe_probability_is_psr_against_the_per_day_target(typical):
    metrics, daily, _ = typical
    sharpe = evaluate_targets(*typical, TARGETS, CONFIG, 0)[0]
    expected = probabilistic_sharpe_ratio(metrics.sharpe / math.sqrt(252), daily.size,
                                          metrics.daily_skew, metrics.daily_kurtosis,
                                          sr_benchmark=1.5 / math.sqrt(252))
    assert sharpe.probability == expected


@pytest.mark.parametrize("delta", [-1e-9, 0.0, 1e-9])
def test_passed_is_the_point_value_strictly_meeting_the_target(typical, delta):
    metrics, daily, pnl = typical
    at = msgspec.structs.replace(metrics, sharpe=1.5 + delta, max_drawdown=0.15 - delta,
                                 win_rate=0.55 + delta, profit_factor=1.3 + delta)
    assert all(r.passed == (delta > 0) for r in evaluate_targets(at, daily, pnl, TARGETS,
                                                                 CONFIG, 0))


def test_no_trades_fail_with_probability_zero():
    results = evaluate_targets(*run(np.full(20, 0.001), []), TARGETS, CONFIG, 0)
    for r in results[2:]:
        assert math.isnan(r.value) and not r.passed and r.probability == 0.0


def test_clear_cases_have_extreme_probabilities():
    # steady gains, winners only: no drawdown in any resample, profit factor inf in all
    results = evaluate_targets(*run(np.full(60, 0.002), [100.0] * 40), TARGETS, CONFIG, 0)
    assert results[1].value == 0.0 and results[1].probability == 1.0
    assert results[3].value == math.inf and results[3].passed and results[3].probability == 1.0
    # 5% lost every day for 10 days: every resample compounds to a 40% drawdown
    losing = evaluate_targets(*run(np.full(10, -0.05), [-100.0] * 5), TARGETS, CONFIG, 0)
    assert not losing[1].passed and losing[1].probability == 0.0
    assert losing[3].value == 0.0 and losing[3].probability == 0.0
    assert msgspec.json.decode(msgspec.json.encode(results[3]))["value"] is None  # inf -> null


def test_same_seed_gives_identical_results(typical):
    first = msgspec.json.encode(evaluate_targets(*typical, TARGETS, CONFIG, 7))
    assert msgspec.json.encode(evaluate_targets(*typical, TARGETS, CONFIG, 7)) == first
    others = {msgspec.json.encode(evaluate_targets(*typical, TARGETS, CONFIG, s))
              for s in range(5)}
    assert len(others) > 1  # the bootstraps do depend on the seed
