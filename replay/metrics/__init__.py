"""Backtest metrics (replay layer): equity-curve and trade statistics, significance, targets.

The runner feeds an :class:`EquityAccumulator` chunk by chunk (day ids from
:func:`trading_day`), then calls :func:`compute_metrics` and :func:`evaluate_targets`. The
statistics underneath are pure functions of numpy arrays (:mod:`replay.metrics.stats`,
:mod:`replay.metrics.bootstrap`, :mod:`replay.metrics.trades`). Undefined figures are ``nan``
(JSON ``null``); results are deterministic given the inputs and the seed.
"""

from replay.metrics.bootstrap import (
    block_bootstrap_indices,
    bootstrap_distribution,
    bootstrap_interval,
)
from replay.metrics.days import trading_day
from replay.metrics.stats import (
    EULER_GAMMA,
    annual_return,
    annual_volatility,
    calmar_ratio,
    compound,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    kurtosis,
    max_drawdown,
    max_drawdown_rows,
    normal_cdf,
    probabilistic_sharpe_ratio,
    profit_factor,
    profit_factor_rows,
    sharpe_ratio,
    sharpe_ratio_rows,
    skewness,
    sortino_ratio,
)
from replay.metrics.streaming import EquityAccumulator
from replay.metrics.summary import compute_metrics, days_per_year_for
from replay.metrics.targets import beta_posterior_probability, evaluate_targets
from replay.metrics.trades import TradeStats, trade_statistics
from replay.metrics.types import Interval, Metrics, TargetResult

__all__ = [
    "EULER_GAMMA",
    "EquityAccumulator",
    "Interval",
    "Metrics",
    "TargetResult",
    "TradeStats",
    "annual_return",
    "annual_volatility",
    "beta_posterior_probability",
    "block_bootstrap_indices",
    "bootstrap_distribution",
    "bootstrap_interval",
    "calmar_ratio",
    "compound",
    "compute_metrics",
    "days_per_year_for",
    "deflated_sharpe_ratio",
    "evaluate_targets",
    "expected_max_sharpe",
    "kurtosis",
    "max_drawdown",
    "max_drawdown_rows",
    "normal_cdf",
    "probabilistic_sharpe_ratio",
    "profit_factor",
    "profit_factor_rows",
    "sharpe_ratio",
    "sharpe_ratio_rows",
    "skewness",
    "sortino_ratio",
    "trade_statistics",
    "trading_day",
]
