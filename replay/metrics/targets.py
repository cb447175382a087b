"""Pass/fail targets with the probability that the true value meets each (replay layer, metrics).

A backtest is one sample path, so besides whether the measured figure meets its target
(``passed``) each :class:`~replay.metrics.types.TargetResult` carries the probability that the
strategy's *true* figure does, from the method that suits the figure:

===============  ====  ==================================================================
target           op    probability
===============  ====  ==================================================================
sharpe           >     PSR with the target (per day) as benchmark
max_drawdown     <     share of block-bootstrap resamples of daily returns whose
                       compounded curve's maximum drawdown is below the target
win_rate         >     ``P(p > target)`` for ``p ~ Beta(wins + 1, non-wins + 1)`` (uniform prior)
profit_factor    >     share of i.i.d. bootstrap resamples of trades with a profit factor
                       above the target
===============  ====  ==================================================================

Invariants: results come in that order; a figure that is undefined (``nan``, e.g. no trades)
fails with probability 0.0, since nothing supports it; a profit factor of ``inf`` (no losing
trade) passes and is written as JSON ``null``. Every bootstrap starts from
``np.random.default_rng(seed)``: the same inputs and seed give the same results, and the
drawdown probability uses the same daily resamples as ``Metrics.max_drawdown_ci``.
"""

from __future__ import annotations

import math

import numpy as np

from engine.core.backtest_config import MetricsConfig, TargetsConfig
from replay.metrics.bootstrap import bootstrap_distribution
from replay.metrics.stats import (
    compound,
    max_drawdown_rows,
    probabilistic_sharpe_ratio,
    profit_factor_rows,
)
from replay.metrics.types import Metrics, TargetResult

__all__ = ["beta_posterior_probability", "evaluate_targets"]


def beta_posterior_probability(wins: int, losses: int, threshold: float) -> float:
    """Probability that a Beta(wins + 1, losses + 1) variable exceeds ``threshold``.

    The posterior of a win probability after ``wins`` wins and ``losses`` non-wins under a
    uniform prior. For integer parameters the regularised incomplete beta function is a
    binomial tail, ``I_x(a, b) = P(Binomial(a + b - 1, x) >= a)``, so

    ``P(p > x) = P(Binomial(wins + losses + 1, x) <= wins)``,

    summed exactly from the binomial probabilities (log-space coefficients, normalised by their
    total to cancel rounding).

    Examples
    --------
    One win and no loss: the density is ``2p``, so ``P(p > 0.5) = 1 - 0.5**2``.

    >>> beta_posterior_probability(1, 0, 0.5)
    0.75
    """
    if wins < 0 or losses < 0:
        raise ValueError(f"expected non-negative counts, were wins={wins}, losses={losses}")
    if math.isnan(threshold):
        return math.nan
    if threshold <= 0.0:
        return 1.0
    if threshold >= 1.0:
        return 0.0
    n = wins + losses + 1
    j = np.arange(n + 1, dtype=np.float64)
    log_choose = np.concatenate(([0.0], np.cumsum(np.log(n - j[1:] + 1.0) - np.log(j[1:]))))
    log_pmf = log_choose + j * math.log(threshold) + (n - j) * math.log1p(-threshold)
    pmf = np.exp(log_pmf - log_pmf.max())
    return float(pmf[: wins + 1].sum() / pmf.sum())


def _share(meets: np.ndarray) -> float:
    return float(np.count_nonzero(meets) / meets.size)


def evaluate_targets(
    metrics: Metrics,
    daily_returns: np.ndarray,
    trade_pnl: np.ndarray,
    targets: TargetsConfig,
    config: MetricsConfig,
    seed: int,
) -> list[TargetResult]:
    """Check the summary against its targets.

    Parameters
    ----------
    metrics
        The run's summary (from :func:`~replay.metrics.summary.compute_metrics`).
    daily_returns
        The run's daily returns (``EquityAccumulator.daily_returns()``).
    trade_pnl
        Net PnL of each closed trade, USD.
    targets
        Thresholds.
    config
        Bootstrap sample count and block length.
    seed
        Non-negative seed of the bootstraps.

    Returns
    -------
    list[TargetResult]
        sharpe, max_drawdown, win_rate, profit_factor, in that order.
    """
    daily = np.asarray(daily_returns, dtype=np.float64)
    pnl = np.asarray(trade_pnl, dtype=np.float64)
    root_days = math.sqrt(metrics.days_per_year)

    sharpe_p = probabilistic_sharpe_ratio(
        metrics.sharpe / root_days, daily.size, metrics.daily_skew, metrics.daily_kurtosis,
        sr_benchmark=targets.sharpe / root_days)

    # An empty series gives an all-nan distribution, which meets no target: probability 0.
    dd_dist = bootstrap_distribution(
        daily, lambda s: max_drawdown_rows(compound(s)), n_samples=config.bootstrap_samples,
        block=config.bootstrap_block_days, rng=np.random.default_rng(seed))
    dd_p = _share(dd_dist < targets.max_drawdown)

    wins = int(np.count_nonzero(pnl > 0))
    win_p = beta_posterior_probability(wins, pnl.size - wins, targets.win_rate)

    pf_dist = bootstrap_distribution(
        pnl, profit_factor_rows, n_samples=config.bootstrap_samples, block=1,
        rng=np.random.default_rng(seed))
    pf_p = _share(pf_dist > targets.profit_factor)

    rows = [
        ("sharpe", metrics.sharpe, ">", targets.sharpe, sharpe_p, "PSR"),
        ("max_drawdown", metrics.max_drawdown, "<", targets.max_drawdown, dd_p, "bootstrap"),
        ("win_rate", metrics.win_rate, ">", targets.win_rate, win_p, "beta posterior"),
        ("profit_factor", metrics.profit_factor, ">", targets.profit_factor, pf_p, "bootstrap"),
    ]
    results = []
    for name, value, op, threshold, probability, method in rows:
        defined = not math.isnan(value)
        passed = defined and (value > threshold if op == ">" else value < threshold)
        results.append(TargetResult(
            name=name, value=value, op=op, threshold=threshold, passed=passed,
            probability=probability if defined and not math.isnan(probability) else 0.0,
            method=method))
    return results
