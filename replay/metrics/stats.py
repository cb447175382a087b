"""Performance statistics of return series and trade lists (replay layer, metrics).

Pure functions of numpy arrays. Ratios follow the empyrical conventions (Quantopian's
``empyrical``, maintained as ``empyrical-reloaded``), which the tests check them against;
significance follows Bailey & López de Prado.

Invariants:

- An undefined figure (too few points, zero dispersion, no losses to divide by) is ``nan``,
  never an exception and never ``inf``; the one exception is :func:`profit_factor` of a trade
  list with wins and no losses, which is ``inf`` (msgspec writes ``inf`` and ``nan`` as JSON
  ``null``).
- Every ratio has a row-wise form (``*_rows``) over a 2-D array whose rows are resamples; the
  scalar function is its one-row case, so a figure and its bootstrap share one code path.
- Periods are whatever the returns are (bars, days); ``periods_per_year`` annualises them.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

__all__ = [
    "EULER_GAMMA",
    "annual_return",
    "annual_volatility",
    "calmar_ratio",
    "compound",
    "deflated_sharpe_ratio",
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
]

EULER_GAMMA = 0.5772156649015329
"""The Euler–Mascheroni constant, used by :func:`expected_max_sharpe`."""


def _as_rows(x: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(x, dtype=np.float64))


def _nan_where_bad(value: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(value), value, np.nan)


def sharpe_ratio_rows(
    returns: np.ndarray, periods_per_year: float, risk_free: float = 0.0
) -> np.ndarray:
    """Annualised Sharpe ratio of each row; see :func:`sharpe_ratio`."""
    rows = _as_rows(returns) - risk_free
    if rows.shape[-1] < 2:
        return np.full(rows.shape[0], np.nan)
    std = rows.std(axis=-1, ddof=1)
    # Identical values can leave a last-bit std residue; their Sharpe is undefined, not 1e15.
    dispersed = (rows.max(axis=-1) != rows.min(axis=-1)) & (std > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = rows.mean(axis=-1) / std * math.sqrt(periods_per_year)
    return _nan_where_bad(np.where(dispersed, ratio, np.nan))


def sharpe_ratio(returns: np.ndarray, periods_per_year: float, risk_free: float = 0.0) -> float:
    """Annualised Sharpe ratio, empyrical convention.

    ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year)``.

    Parameters
    ----------
    returns
        Simple returns per period.
    periods_per_year
        Periods in a year (252 for equity days, 365 for crypto days, bars per year for bars).
    risk_free
        Risk-free return per period, subtracted from every return.

    Returns
    -------
    float
        ``nan`` with fewer than two returns or when all excess returns are equal.

    Examples
    --------
    >>> round(sharpe_ratio(np.array([0.01, -0.005, 0.02, 0.0]), 252), 4)
    8.949
    """
    return float(sharpe_ratio_rows(returns, periods_per_year, risk_free)[0])


def sortino_ratio(returns: np.ndarray, periods_per_year: float) -> float:
    """Annualised Sortino ratio against a zero minimum acceptable return, empyrical convention.

    ``mean(r) * sqrt(periods_per_year) / sqrt(mean(min(r, 0)**2))``: the downside deviation
    averages over *all* periods, not only the losing ones (Sortino & Price 1994).

    Returns
    -------
    float
        ``nan`` with fewer than two returns or no negative return.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside == 0.0:
        return math.nan
    ratio = float(np.mean(r)) / downside * math.sqrt(periods_per_year)
    return ratio if math.isfinite(ratio) else math.nan


def annual_return(returns: np.ndarray, periods_per_year: float) -> float:
    """Compound annual growth rate, empyrical convention.

    ``prod(1 + r) ** (periods_per_year / n) - 1``.

    Returns
    -------
    float
        ``nan`` for an empty series, a negative end value or a rate too large for a float
        (a few very large returns annualised over a short span).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.size == 0:
        return math.nan
    ending = float(np.prod(1.0 + r))
    if not ending >= 0.0:
        return math.nan
    try:
        rate = ending ** (periods_per_year / r.size) - 1.0
    except OverflowError:
        return math.nan
    return rate if math.isfinite(rate) else math.nan


def annual_volatility(returns: np.ndarray, periods_per_year: float) -> float:
    """Annualised volatility, ``std(r, ddof=1) * sqrt(periods_per_year)`` (empyrical).

    Returns
    -------
    float
        ``nan`` with fewer than two returns; exactly 0 when all returns are equal.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return math.nan
    if r.max() == r.min():
        return 0.0  # exactly, not the last-bit residue of the mean
    return float(np.std(r, ddof=1)) * math.sqrt(periods_per_year)


def compound(returns: np.ndarray) -> np.ndarray:
    """Equity curve(s) of simple returns, starting at 1: ``[1, cumprod(1 + r)...]``.

    Works on the last axis, so a 2-D array of resampled returns gives one curve per row.

    Examples
    --------
    >>> compound(np.array([0.1, -0.5]))
    array([1.  , 1.1 , 0.55])
    """
    r = np.asarray(returns, dtype=np.float64)
    ones = np.ones(r.shape[:-1] + (1,))
    return np.concatenate([ones, np.cumprod(1.0 + r, axis=-1)], axis=-1)


def max_drawdown_rows(equity: np.ndarray) -> np.ndarray:
    """Maximum drawdown of each row of equity curves; see :func:`max_drawdown`."""
    rows = _as_rows(equity)
    if rows.shape[-1] == 0:
        return np.full(rows.shape[0], np.nan)
    peak = np.maximum.accumulate(rows, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.max((peak - rows) / peak, axis=-1)
    return _nan_where_bad(np.where(peak[:, 0] > 0, drawdown, np.nan))


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall of an equity curve from its running peak, as a positive fraction of it.

    ``max((peak - equity) / peak)`` with ``peak`` the running maximum; the first point is the
    first peak. Equals ``-empyrical.max_drawdown(r)`` for ``equity = compound(r)``.

    Returns
    -------
    float
        0 for a curve that never falls, ``nan`` for an empty curve or a non-positive start.

    Examples
    --------
    >>> max_drawdown(np.array([100.0, 120.0, 90.0, 130.0]))
    0.25
    """
    return float(max_drawdown_rows(equity)[0])


def calmar_ratio(
    returns: np.ndarray, periods_per_year: float, drawdown: float | None = None
) -> float:
    """Calmar ratio: :func:`annual_return` over the maximum drawdown (empyrical).

    Parameters
    ----------
    returns
        Simple returns per period.
    periods_per_year
        Periods in a year.
    drawdown
        Maximum drawdown to divide by (a positive fraction); ``None`` uses the drawdown of
        ``compound(returns)``. A backtest passes its bar-level drawdown, which sees intraday
        troughs that daily returns miss.

    Returns
    -------
    float
        ``nan`` without a drawdown or when the ratio is not finite.
    """
    mdd = max_drawdown(compound(returns)) if drawdown is None else drawdown
    if not mdd > 0.0:
        return math.nan
    ratio = annual_return(returns, periods_per_year) / mdd
    return ratio if math.isfinite(ratio) else math.nan


def _central_moments(returns: np.ndarray) -> tuple[float, float, float] | None:
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2 or r.max() == r.min():
        return None
    d = r - r.mean()
    return float(np.mean(d**2)), float(np.mean(d**3)), float(np.mean(d**4))


def skewness(returns: np.ndarray) -> float:
    """Population skewness ``m3 / m2**1.5`` (the moment estimator Bailey & López de Prado use).

    Returns
    -------
    float
        ``nan`` with fewer than two returns or zero dispersion.

    Examples
    --------
    >>> round(skewness(np.array([0.0, 0.0, 0.0, 1.0])), 4)
    1.1547
    """
    moments = _central_moments(returns)
    return math.nan if moments is None else moments[1] / moments[0] ** 1.5


def kurtosis(returns: np.ndarray) -> float:
    """Pearson kurtosis ``m4 / m2**2`` (population moments; a normal sample gives about 3).

    Returns
    -------
    float
        ``nan`` with fewer than two returns or zero dispersion.

    Examples
    --------
    >>> round(kurtosis(np.array([1.0, 2.0, 3.0, 4.0])), 4)
    1.64
    """
    moments = _central_moments(returns)
    return math.nan if moments is None else moments[2] / moments[0] ** 2


def profit_factor_rows(pnl: np.ndarray) -> np.ndarray:
    """Profit factor of each row of trade PnLs; see :func:`profit_factor`."""
    rows = _as_rows(pnl)
    gains = np.where(rows > 0, rows, 0.0).sum(axis=-1)
    losses = np.where(rows < 0, -rows, 0.0).sum(axis=-1)  # +0.0 without losses, so gains/+0 = inf
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = gains / losses
    return np.where((gains == 0) & (losses == 0), np.nan, ratio)


def profit_factor(pnl: np.ndarray) -> float:
    """Gross profit over gross loss, ``sum(pnl[pnl > 0]) / -sum(pnl[pnl < 0])``.

    Returns
    -------
    float
        ``inf`` with wins and no losses (JSON ``null`` through msgspec), 0 with losses and no
        wins, ``nan`` with no trades or only break-even trades.

    Examples
    --------
    >>> profit_factor(np.array([300.0, -100.0, -50.0, 0.0]))
    2.0
    """
    return float(profit_factor_rows(pnl)[0])


def normal_cdf(z: float) -> float:
    """Standard normal CDF, ``erfc(-z / sqrt(2)) / 2`` (accurate in both tails)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def probabilistic_sharpe_ratio(
    sr: float, n: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (PSR).

    Bailey & López de Prado (2012), "The Sharpe Ratio Efficient Frontier", eq. for PSR::

        PSR = Phi((SR - SR*) * sqrt(n - 1) / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR**2))

    Parameters
    ----------
    sr
        Observed Sharpe ratio *per period* (not annualised).
    n
        Number of returns it was measured on.
    skew, kurtosis
        Skewness and Pearson kurtosis (normal = 3) of those returns.
    sr_benchmark
        Benchmark Sharpe ratio per period.

    Returns
    -------
    float
        A probability, or ``nan`` when an input is undefined or ``n < 2``.

    Examples
    --------
    Normal returns (skew 0, kurtosis 3), per-period SR 0.1 over 101 periods: the z-score is
    ``0.1 * 10 / sqrt(1.005)``.

    >>> round(probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0), 6)
    0.840741
    """
    if n < 2 or not all(math.isfinite(v) for v in (sr, skew, kurtosis, sr_benchmark)):
        return math.nan
    variance = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not variance > 0.0:
        return math.nan
    return normal_cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(variance))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` unskilled trials (zero true Sharpe).

    Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", eq. (2)::

        sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))

    with ``g`` the Euler–Mascheroni constant and ``V`` the variance of the trials' Sharpe
    ratios (per period, like the result).

    Returns
    -------
    float
        0 for a single trial; ``nan`` for a negative or undefined variance.

    Raises
    ------
    ValueError
        If ``n_trials < 1``.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials: expected >= 1, was {n_trials}")
    if not sharpe_variance >= 0.0 or not math.isfinite(sharpe_variance):
        return math.nan
    if n_trials == 1:
        return 0.0
    inv = NormalDist().inv_cdf
    z = (1.0 - EULER_GAMMA) * inv(1.0 - 1.0 / n_trials) + EULER_GAMMA * inv(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return math.sqrt(sharpe_variance) * z


def deflated_sharpe_ratio(
    sr: float,
    n: int,
    skew: float,
    kurtosis: float,
    n_trials: int,
    sharpe_variance: float | None = None,
) -> float:
    """Deflated Sharpe ratio: PSR against the expected maximum Sharpe of ``n_trials`` trials.

    Bailey & López de Prado (2014): ``DSR = PSR(SR0)`` with
    ``SR0 = expected_max_sharpe(n_trials, V)``. One trial gives ``PSR(0)``.

    Parameters
    ----------
    sr, n, skew, kurtosis
        As for :func:`probabilistic_sharpe_ratio` (per-period Sharpe ratio).
    n_trials
        Strategy variants tried before choosing this one.
    sharpe_variance
        Variance of those variants' per-period Sharpe ratios. ``None`` (unknown) uses the
        sampling variance of the Sharpe estimator itself,
        ``(1 - skew * SR + (kurtosis - 1) / 4 * SR**2) / (n - 1)`` (Mertens 2002): the spread the
        trials' Sharpe ratios would have from estimation noise alone. It is a floor, not an
        estimate of how different the variants really were, so the DSR it gives is an upper
        bound; pass the measured variance when there is one.

    Returns
    -------
    float
        A probability, or ``nan`` when undefined.
    """
    if n_trials == 1:
        return probabilistic_sharpe_ratio(sr, n, skew, kurtosis, 0.0)
    if sharpe_variance is None:
        if n < 2:
            return math.nan
        sharpe_variance = (1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr) / (n - 1)
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(sr, n, skew, kurtosis, benchmark)
