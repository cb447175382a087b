"""The backtest summary: equity curve and trade list to :class:`Metrics` (replay layer, metrics).

Daily figures (Sharpe, Sortino, CAGR, volatility, skew, kurtosis, PSR/DSR, intervals) use one
return per trading day: end-of-day equity over the previous day's (the first day against the
initial equity), annualised with ``days_per_year``. Bar figures (``sharpe_bar``,
``sortino_bar``) use the streaming bar-return moments, annualised with
``bars_per_year = bars / days * days_per_year``. Drawdowns are bar-level (they see intraday
troughs); ``calmar`` divides the CAGR by that bar-level drawdown. The annual risk-free rate is
spread evenly over periods (``rate / periods_per_year`` per period) and enters the Sharpe
ratios only; Sortino ratios are against a zero return.

Invariants: deterministic given (inputs, seed) -- both bootstrap intervals start from
``np.random.default_rng(seed)`` and so resample the same days; a run without bars gives a
:class:`Metrics` of ``nan`` figures (``start_ts = end_ts = 0``), never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from engine.core.backtest_config import MetricsConfig
from replay.metrics.bootstrap import bootstrap_interval
from replay.metrics.stats import (
    annual_return,
    annual_volatility,
    calmar_ratio,
    compound,
    deflated_sharpe_ratio,
    kurtosis,
    max_drawdown_rows,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
    sharpe_ratio_rows,
    skewness,
    sortino_ratio,
)
from replay.metrics.streaming import EquityAccumulator
from replay.metrics.trades import trade_statistics
from replay.metrics.types import Interval, Metrics

__all__ = ["compute_metrics", "days_per_year_for"]

_NS_PER_DAY = 86_400e9


def days_per_year_for(asset_class: str, config: MetricsConfig) -> float:
    """Trading days per year for annualising daily figures.

    ``config.days_per_year`` when set, else 365 for ``"crypto"`` (trades every day) and 252
    for everything else.

    Examples
    --------
    >>> days_per_year_for("crypto", MetricsConfig()), days_per_year_for("future", MetricsConfig())
    (365.0, 252.0)
    """
    if config.days_per_year is not None:
        return float(config.days_per_year)
    return 365.0 if asset_class == "crypto" else 252.0


def compute_metrics(
    acc: EquityAccumulator,
    trade_pnl: np.ndarray,
    trade_r: np.ndarray,
    trade_bars_held: np.ndarray,
    config: MetricsConfig,
    days_per_year: float,
    seed: int,
) -> Metrics:
    """Summarise a finished backtest.

    Parameters
    ----------
    acc
        The accumulator that saw every bar of the run.
    trade_pnl
        Net PnL of each closed trade, USD.
    trade_r
        R multiple of each closed trade, ``nan`` where it had no stop.
    trade_bars_held
        Bars each closed trade was held.
    config
        Risk-free rate, trial count, bootstrap settings.
    days_per_year
        Trading days per year (see :func:`days_per_year_for`).
    seed
        Non-negative seed of the bootstrap intervals.

    Returns
    -------
    Metrics
        Every field filled; undefined figures are ``nan``.
    """
    has_bars = acc.bars > 0
    daily = acc.daily_returns()
    n_days = daily.size
    bars_per_year = acc.bars / n_days * days_per_year if n_days else math.nan
    rf_day = config.risk_free_rate / days_per_year
    rf_bar = config.risk_free_rate / bars_per_year if n_days else math.nan

    sharpe = sharpe_ratio(daily, days_per_year, rf_day)
    skew, kurt = skewness(daily), kurtosis(daily)
    sr_day = sharpe / math.sqrt(days_per_year)
    max_dd = acc.max_drawdown if has_bars else math.nan

    def bootstrap(statistic: Callable[[np.ndarray], np.ndarray]) -> Interval:
        return bootstrap_interval(
            daily, statistic, n_samples=config.bootstrap_samples,
            block=config.bootstrap_block_days, level=config.ci_level,
            rng=np.random.default_rng(seed))

    trades = trade_statistics(trade_pnl, trade_r, trade_bars_held)
    return Metrics(
        start_ts=acc.first_ts or 0,
        end_ts=acc.last_ts or 0,
        bars=acc.bars,
        days=n_days,
        days_per_year=float(days_per_year),
        bars_per_year=bars_per_year,
        initial_equity=acc.initial_equity,
        final_equity=acc.final_equity,
        total_return=acc.final_equity / acc.initial_equity - 1.0 if has_bars else math.nan,
        annual_return=annual_return(daily, days_per_year),
        annual_volatility=annual_volatility(daily, days_per_year),
        sharpe=sharpe,
        sortino=sortino_ratio(daily, days_per_year),
        sharpe_bar=acc.bar_sharpe(bars_per_year, rf_bar) if has_bars else math.nan,
        sortino_bar=acc.bar_sortino(bars_per_year) if has_bars else math.nan,
        daily_skew=skew,
        daily_kurtosis=kurt,
        max_drawdown=max_dd,
        max_drawdown_usd=acc.max_drawdown_usd if has_bars else math.nan,
        max_drawdown_days=acc.max_drawdown_ns / _NS_PER_DAY if has_bars else math.nan,
        max_drawdown_bars=acc.max_drawdown_bars,
        calmar=calmar_ratio(daily, days_per_year, drawdown=max_dd),
        trades=trades.trades,
        win_rate=trades.win_rate,
        profit_factor=trades.profit_factor,
        expectancy_usd=trades.expectancy_usd,
        avg_win_usd=trades.avg_win_usd,
        avg_loss_usd=trades.avg_loss_usd,
        largest_win_usd=trades.largest_win_usd,
        largest_loss_usd=trades.largest_loss_usd,
        avg_r=trades.avg_r,
        avg_bars_held=trades.avg_bars_held,
        exposure=acc.exposure,
        probabilistic_sharpe=probabilistic_sharpe_ratio(sr_day, n_days, skew, kurt),
        deflated_sharpe=deflated_sharpe_ratio(
            sr_day, n_days, skew, kurt, config.trials, config.trials_sharpe_variance),
        trials=config.trials,
        sharpe_ci=bootstrap(lambda s: sharpe_ratio_rows(s, days_per_year, rf_day)),
        max_drawdown_ci=bootstrap(lambda s: max_drawdown_rows(compound(s))),
    )
