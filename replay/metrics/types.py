"""Result types of the metrics layer (replay layer): what a backtest summary reports.

Every figure is a plain float; a figure that is undefined for the run (no trades, no losing
day, fewer than two days) is ``nan`` in memory and ``null`` in JSON. Fractions are fractions
(0.12 = 12%), money is USD, durations are in days and bars.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Interval", "Metrics", "TargetResult"]


class Interval(msgspec.Struct, frozen=True, kw_only=True):
    """A two-sided bootstrap confidence interval at ``level``."""

    low: float
    high: float
    level: float


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    """Performance of one equity curve and its trade list."""

    # span
    start_ts: int
    end_ts: int
    bars: int
    days: int
    days_per_year: float
    bars_per_year: float
    # returns
    initial_equity: float
    final_equity: float
    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float  # daily returns, annualised
    sortino: float  # daily returns, annualised
    sharpe_bar: float  # bar returns, annualised with bars_per_year
    sortino_bar: float
    daily_skew: float
    daily_kurtosis: float  # Pearson (normal = 3)
    # drawdown
    max_drawdown: float  # fraction of the running peak, positive
    max_drawdown_usd: float
    max_drawdown_days: float  # longest time below a previous peak
    max_drawdown_bars: int
    calmar: float
    # trades
    trades: int
    win_rate: float
    profit_factor: float
    expectancy_usd: float
    avg_win_usd: float
    avg_loss_usd: float
    largest_win_usd: float
    largest_loss_usd: float
    avg_r: float
    avg_bars_held: float
    exposure: float  # fraction of bars with an open position
    # significance
    probabilistic_sharpe: float  # P(true daily Sharpe > 0)
    deflated_sharpe: float  # PSR against the expected max Sharpe of `trials` trials
    trials: int
    sharpe_ci: Interval
    max_drawdown_ci: Interval


class TargetResult(msgspec.Struct, frozen=True, kw_only=True):
    """One target: the measured value, the threshold, pass/fail and P(true value meets it)."""

    name: Literal["sharpe", "max_drawdown", "win_rate", "profit_factor"]
    value: float
    op: Literal[">", "<"]
    threshold: float
    passed: bool
    probability: float
    method: str  # how `probability` was obtained, e.g. "PSR", "bootstrap", "beta posterior"
