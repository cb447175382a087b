"""Statistics of a closed-trade list (replay layer, metrics).

Inputs are parallel arrays, one element per closed trade: net PnL in USD (after costs), the
R multiple (PnL over the initial risk to the stop; ``nan`` for a trade without a stop) and the
bars the trade was held.

Conventions: a win is ``pnl > 0``; break-even trades count in the win-rate denominator but are
neither wins nor losses anywhere else. Loss figures keep their sign (``avg_loss_usd`` and
``largest_loss_usd`` are negative). Figures over an empty set are ``nan``.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from replay.metrics.stats import profit_factor

__all__ = ["TradeStats", "trade_statistics"]


class TradeStats(msgspec.Struct, frozen=True, kw_only=True):
    """Summary of a trade list; field meanings as in :class:`~replay.metrics.types.Metrics`."""

    trades: int
    wins: int
    losses: int
    win_rate: float
    profit_factor: float
    expectancy_usd: float
    avg_win_usd: float
    avg_loss_usd: float
    largest_win_usd: float
    largest_loss_usd: float
    avg_r: float
    avg_bars_held: float


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else math.nan


def trade_statistics(
    pnl_usd: np.ndarray, r_multiple: np.ndarray, bars_held: np.ndarray
) -> TradeStats:
    """Summarise closed trades.

    Parameters
    ----------
    pnl_usd
        Net PnL of each trade, USD.
    r_multiple
        R multiple of each trade; ``nan`` where the trade had no stop.
    bars_held
        Bars each trade was held.

    Returns
    -------
    TradeStats
        ``win_rate = wins / trades``; ``profit_factor`` as
        :func:`~replay.metrics.stats.profit_factor`; ``expectancy_usd`` the mean PnL;
        ``avg_r`` the mean over trades with a finite R (``nan`` if none).

    Raises
    ------
    ValueError
        If the arrays differ in length.

    Examples
    --------
    >>> s = trade_statistics(np.array([200.0, -100.0, 0.0, 50.0]),
    ...                      np.array([2.0, -1.0, np.nan, 0.5]), np.array([3, 5, 1, 2]))
    >>> s.win_rate, s.profit_factor, s.expectancy_usd, s.avg_loss_usd, s.avg_r
    (0.5, 2.5, 37.5, -100.0, 0.5)
    """
    pnl = np.asarray(pnl_usd, dtype=np.float64)
    r = np.asarray(r_multiple, dtype=np.float64)
    held = np.asarray(bars_held, dtype=np.float64)
    if not (pnl.shape == r.shape == held.shape) or pnl.ndim != 1:
        raise ValueError(f"trade_statistics: expected 1-D arrays of equal length, were "
                         f"{pnl.shape}, {r.shape}, {held.shape}")
    won, lost = pnl[pnl > 0], pnl[pnl < 0]
    return TradeStats(
        trades=int(pnl.size),
        wins=int(won.size),
        losses=int(lost.size),
        win_rate=won.size / pnl.size if pnl.size else math.nan,
        profit_factor=profit_factor(pnl),
        expectancy_usd=_mean(pnl),
        avg_win_usd=_mean(won),
        avg_loss_usd=_mean(lost),
        largest_win_usd=float(won.max()) if won.size else math.nan,
        largest_loss_usd=float(lost.min()) if lost.size else math.nan,
        avg_r=_mean(r[np.isfinite(r)]),
        avg_bars_held=_mean(held),
    )
