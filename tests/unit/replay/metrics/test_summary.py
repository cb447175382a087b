"""compute_metrics: every field on a hand-built run, risk-free handling, trials, bootstrap
intervals, determinism to the byte, and the empty run."""

import math

import msgspec
import numpy as np
import pytest

from engine.core.backtest_config import MetricsConfig
from replay.metrics import (
    EquityAccumulator,
    Metrics,
    annual_return,
    annual_volatility,
    bootstrap_interval,
    compute_metrics,
    days_per_year_for,
    deflated_sharpe_ratio,
    kurtosis,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
    sharpe_ratio_rows,
    skewness,
    sortino_ratio,
)

HOUR = 3600 * 10**9
CONFIG = MetricsConfig(bootstrap_samples=300)


def hand_run():
    """Three days, six bars. Spells: 101 -> 99 -> 102 (2 bars), 102 -> 100 -> 104 (2 bars),
    104 -> 103 to the end (1 bar); the deepest fall is 101 -> 99."""
    acc = EquityAccumulator(100.0)
    acc.update(np.array([1, 2, 3]) * HOUR, np.array([101.0, 99.0, 102.0]),
               np.array([1.0, 1.0, 0.0]), np.array([10, 10, 10]))
    acc.update(np.array([30, 40, 41]) * HOUR, np.array([100.0, 104.0, 103.0]),
               np.array([-1.0, 0.0, 0.0]), np.array([11, 11, 12]))
    return acc


def test_every_field_of_a_hand_built_run():
    acc = hand_run()
    pnl, r, held = np.array([2.0, -1.0, 3.0]), np.array([1.0, -0.5, np.nan]), np.array([2, 1, 1])
    m = compute_metrics(acc, pnl, r, held, CONFIG, 252.0, seed=3)
    daily = np.array([102 / 100, 104 / 102, 103 / 104]) - 1
    np.testing.assert_allclose(acc.daily_returns(), daily, rtol=1e-15)
    assert (m.start_ts, m.end_ts, m.bars, m.days) == (HOUR, 41 * HOUR, 6, 3)
    assert (m.days_per_year, m.bars_per_year) == (252.0, 504.0)
    assert (m.initial_equity, m.final_equity) == (100.0, 103.0)
    assert m.total_return == pytest.approx(0.03)
    assert m.annual_return == annual_return(daily, 252.0)
    assert m.annual_volatility == annual_volatility(daily, 252.0)
    assert m.sharpe == sharpe_ratio(daily, 252.0)
    assert m.sortino == sortino_ratio(daily, 252.0)
    assert m.sharpe_bar == acc.bar_sharpe(504.0)
    assert m.sortino_bar == acc.bar_sortino(504.0)
    assert (m.daily_skew, m.daily_kurtosis) == (skewness(daily), kurtosis(daily))
    assert m.max_drawdown == pytest.approx(2 / 101)
    assert m.max_drawdown_usd == pytest.approx(2.0)
    assert m.max_drawdown_bars == 2
    assert m.max_drawdown_days == pytest.approx(37 / 24)  # peak 102 at 3 h, back at 40 h
    assert m.calmar == pytest.approx(m.annual_return / (2 / 101))
    assert (m.trades, m.win_rate, m.profit_factor) == (3, 2 / 3, 5.0)
    assert (m.expectancy_usd, m.avg_win_usd, m.avg_loss_usd) == (4 / 3, 2.5, -1.0)
    assert (m.largest_win_usd, m.largest_loss_usd, m.avg_r) == (3.0, -1.0, 0.25)
    assert m.avg_bars_held == pytest.approx(4 / 3)
    assert m.exposure == 0.5
    sr_day = m.sharpe / math.sqrt(252.0)
    assert m.probabilistic_sharpe == probabilistic_sharpe_ratio(sr_day, 3, m.daily_skew,
                                                                m.daily_kurtosis)
    assert m.deflated_sharpe == m.probabilistic_sharpe  # one trial
    assert m.trials == 1
    assert m.sharpe_ci.level == m.max_drawdown_ci.level == 0.95


def test_risk_free_rate_is_spread_over_periods_and_only_moves_sharpe():
    acc = hand_run()
    empty = np.array([])
    base = compute_metrics(acc, empty, empty, empty, CONFIG, 252.0, 0)
    m = compute_metrics(acc, empty, empty, empty, MetricsConfig(bootstrap_samples=300,
                                                                risk_free_rate=0.05), 252.0, 0)
    assert m.sharpe == sharpe_ratio(acc.daily_returns(), 252.0, 0.05 / 252.0)
    assert m.sharpe_bar == acc.bar_sharpe(504.0, 0.05 / 504.0)
    assert m.sharpe < base.sharpe and m.sharpe_bar < base.sharpe_bar
    assert (m.sortino, m.sortino_bar) == (base.sortino, base.sortino_bar)


def long_run(seed=1, days=250, bars_per_day=4):
    rng = np.random.default_rng(seed)
    n = days * bars_per_day
    equity = 1e5 * np.cumprod(1 + rng.normal(0.0004, 0.004, n))
    acc = EquityAccumulator(1e5)
    acc.update(np.arange(1, n + 1) * HOUR, equity, rng.choice([0.0, 1.0], n),
               np.repeat(np.arange(days), bars_per_day))
    pnl = rng.normal(50, 300, 120)
    return acc, pnl, rng.normal(0.2, 1, 120), rng.integers(1, 30, 120)


def test_more_trials_deflate_the_sharpe_ratio():
    acc, pnl, r, held = long_run()
    one = compute_metrics(acc, pnl, r, held, CONFIG, 252.0, 0)
    many = compute_metrics(acc, pnl, r, held, MetricsConfig(bootstrap_samples=300, trials=50),
                           252.0, 0)
    assert many.trials == 50
    assert many.deflated_sharpe < one.deflated_sharpe == one.probabilistic_sharpe
    assert many.deflated_sharpe == deflated_sharpe_ratio(
        one.sharpe / math.sqrt(252), one.days, one.daily_skew, one.daily_kurtosis, 50)


def test_intervals_are_percentile_bootstraps_of_daily_returns():
    acc, pnl, r, held = long_run()
    m = compute_metrics(acc, pnl, r, held, CONFIG, 252.0, 9)
    assert m.sharpe_ci == bootstrap_interval(
        acc.daily_returns(), lambda s: sharpe_ratio_rows(s, 252.0), n_samples=300,
        block=5, level=0.95, rng=np.random.default_rng(9))
    assert m.sharpe_ci.low < m.sharpe < m.sharpe_ci.high
    assert 0 < m.max_drawdown_ci.low < m.max_drawdown_ci.high


def test_same_seed_gives_byte_identical_metrics():
    acc, pnl, r, held = long_run()
    encoded = msgspec.json.encode(compute_metrics(acc, pnl, r, held, CONFIG, 252.0, 5))
    assert msgspec.json.encode(compute_metrics(acc, pnl, r, held, CONFIG, 252.0, 5)) == encoded
    other = compute_metrics(acc, pnl, r, held, CONFIG, 252.0, 6)
    assert msgspec.json.encode(other) != encoded  # only the intervals move with the seed
    assert msgspec.structs.replace(other, sharpe_ci=None, max_drawdown_ci=None) == \
        msgspec.structs.replace(msgspec.json.decode(encoded, type=Metrics), sharpe_ci=None,
                                max_drawdown_ci=None)


def test_a_run_without_bars_is_all_nan_and_encodes():
    empty = np.array([])
    m = compute_metrics(EquityAccumulator(5e4), empty, empty, empty, CONFIG, 252.0, 0)
    assert (m.start_ts, m.end_ts, m.bars, m.days, m.trades) == (0, 0, 0, 0, 0)
    assert m.final_equity == 5e4
    decoded = msgspec.json.decode(msgspec.json.encode(m))
    for name in ("bars_per_year", "total_return", "sharpe", "sharpe_bar", "max_drawdown",
                 "max_drawdown_days", "calmar", "win_rate", "exposure", "probabilistic_sharpe",
                 "deflated_sharpe"):
        assert decoded[name] is None, name
    assert decoded["sharpe_ci"] == {"low": None, "high": None, "level": 0.95}


def test_days_per_year_by_asset_class_unless_configured():
    assert days_per_year_for("crypto", MetricsConfig()) == 365.0
    for asset_class in ("future", "fx", "equity"):
        assert days_per_year_for(asset_class, MetricsConfig()) == 252.0
    assert days_per_year_for("crypto", MetricsConfig(days_per_year=260.0)) == 260.0
