"""Streaming summary of an equity curve, fed chunk by chunk (replay layer, metrics).

:class:`EquityAccumulator` sees every bar of a backtest once, in chunks, and keeps what the
summary needs: moments of bar returns, drawdown figures, exposure and one end-of-day equity per
trading day. Memory is constant in the number of bars apart from the per-day list.

Invariants:

- Splitting the same bars into different chunks (including empty and one-bar chunks) gives the
  same figures up to floating-point rounding: chunk moments are merged with the parallel
  formulas of Chan, Golub & LeVeque (1979) as generalised by Pébay (2008), and the drawdown
  state carried between chunks is exactly what a single pass would hold.
- Each chunk is processed with vectorised numpy, never a Python loop over bars.
- Inputs are validated at the edge: equal lengths, finite equity, non-decreasing times and day
  ids across chunks; a violation raises ``ValueError``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EquityAccumulator"]


class EquityAccumulator:
    """Accumulate an equity curve bar by bar, in chunks.

    Bar returns are ``equity[i] / equity[i - 1] - 1``, the first bar's against
    ``initial_equity``. The initial equity is the first peak: a curve that starts by losing is
    in drawdown from it. A drawdown spell runs from the bar that set the peak (the first bar's
    time for the initial peak; index -1 in bars, since the initial equity precedes the first
    bar) to the first bar whose equity is back at or above it, or to the last bar if it never
    recovers; the longest spell is reported in bars and nanoseconds.

    Parameters
    ----------
    initial_equity
        Account equity before the first bar, USD; positive.

    Examples
    --------
    >>> acc = EquityAccumulator(100.0)
    >>> acc.update(np.array([1, 2]), np.array([110.0, 99.0]), np.array([1.0, 0.0]),
    ...            np.array([0, 0]))
    >>> acc.update(np.array([3]), np.array([121.0]), np.array([0.0]), np.array([1]))
    >>> acc.daily_returns().round(4)
    array([-0.01  ,  0.2222])
    >>> acc.max_drawdown, acc.max_drawdown_bars, acc.exposure
    (0.1, 2, 0.3333333333333333)
    """

    def __init__(self, initial_equity: float) -> None:
        if not (math.isfinite(initial_equity) and initial_equity > 0):
            raise ValueError(f"initial_equity: expected a positive number, was {initial_equity}")
        self._initial_equity = float(initial_equity)
        self._bars = 0
        self._first_ts: int | None = None
        self._last_ts: int | None = None
        self._last_equity = self._initial_equity
        self._exposure_bars = 0
        # per day (grows with days only)
        self._day_ids: list[int] = []
        self._day_equity: list[float] = []
        # bar-return moments
        self._ret_mean = 0.0
        self._ret_m2 = 0.0
        self._ret_downside_ss = 0.0
        self._ret_min = math.inf
        self._ret_max = -math.inf
        # drawdown
        self._peak = self._initial_equity
        self._max_dd = 0.0
        self._max_dd_usd = 0.0
        self._high_index = -1  # global index of the last bar at the running peak
        self._high_ts: int | None = None  # its close time
        self._at_high = True  # whether the last bar seen was at the running peak
        self._max_dd_bars = 0
        self._max_dd_ns = 0

    def update(
        self, ts: np.ndarray, equity: np.ndarray, position: np.ndarray, day: np.ndarray
    ) -> None:
        """Add one chunk of bars.

        Parameters
        ----------
        ts
            Bar close times, int64 UTC ns, non-decreasing across chunks.
        equity
            Equity marked at each bar close, USD.
        position
            Signed position after each bar; non-zero counts as exposed.
        day
            Trading-day id of each bar (see :func:`~replay.metrics.days.trading_day`),
            non-decreasing across chunks.

        Raises
        ------
        ValueError
            On unequal lengths, non-finite equity, or times or days going backwards.
        """
        ts = np.asarray(ts, dtype=np.int64)
        equity = np.asarray(equity, dtype=np.float64)
        position = np.asarray(position)
        day = np.asarray(day, dtype=np.int64)
        n = ts.size
        if not (equity.size == position.size == day.size == n) or ts.ndim != 1:
            raise ValueError(f"update: expected 1-D arrays of equal length, were {ts.size}, "
                             f"{equity.size}, {position.size}, {day.size}")
        if n == 0:
            return
        self._validate(ts, equity, day)
        self._update_returns(equity)
        self._update_days(equity, day)
        self._update_drawdown(ts, equity)
        self._exposure_bars += int(np.count_nonzero(position))
        if self._first_ts is None:
            self._first_ts = int(ts[0])
        self._last_ts = int(ts[-1])
        self._last_equity = float(equity[-1])
        self._bars += n

    def _validate(self, ts: np.ndarray, equity: np.ndarray, day: np.ndarray) -> None:
        if not np.isfinite(equity).all():
            raise ValueError("update: expected finite equity, was nan or inf")
        prev_ts = ts[0] if self._last_ts is None else self._last_ts
        if ts[0] < prev_ts or (ts[1:] < ts[:-1]).any():
            raise ValueError("update: expected non-decreasing ts, was going back")
        prev_day = day[0] if not self._day_ids else self._day_ids[-1]
        if day[0] < prev_day or (day[1:] < day[:-1]).any():
            raise ValueError("update: expected non-decreasing day ids, were going back")

    def _update_returns(self, equity: np.ndarray) -> None:
        prev = np.concatenate(([self._last_equity], equity[:-1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = equity / prev - 1.0
        n_a, n_b = self._bars, r.size
        mean_b = float(r.mean())
        m2_b = float(np.sum((r - mean_b) ** 2))
        n = n_a + n_b
        delta = mean_b - self._ret_mean
        self._ret_mean += delta * n_b / n
        self._ret_m2 += m2_b + delta * delta * n_a * n_b / n
        self._ret_downside_ss += float(np.sum(np.minimum(r, 0.0) ** 2))
        self._ret_min = min(self._ret_min, float(r.min()))
        self._ret_max = max(self._ret_max, float(r.max()))

    def _update_days(self, equity: np.ndarray, day: np.ndarray) -> None:
        ends = np.concatenate((np.flatnonzero(day[1:] != day[:-1]), [day.size - 1]))
        ids, closes = day[ends].tolist(), equity[ends].tolist()
        if self._day_ids and ids[0] == self._day_ids[-1]:
            self._day_equity[-1] = closes[0]  # the chunk continues the last day
            ids, closes = ids[1:], closes[1:]
        self._day_ids.extend(ids)
        self._day_equity.extend(closes)

    def _update_drawdown(self, ts: np.ndarray, equity: np.ndarray) -> None:
        n = equity.size
        if self._high_ts is None:
            self._high_ts = int(ts[0])
        peak = np.maximum(np.maximum.accumulate(equity), self._peak)  # including bar i
        peak_before = np.concatenate(([self._peak], peak[:-1]))
        drawdown_usd = peak - equity
        self._max_dd_usd = max(self._max_dd_usd, float(drawdown_usd.max()))
        self._max_dd = max(self._max_dd, float((drawdown_usd / peak).max()))

        local = np.arange(n)
        at_high = equity >= peak_before
        last_local = np.maximum.accumulate(np.where(at_high, local, -1))
        high_index = np.where(last_local >= 0, self._bars + last_local, self._high_index)
        high_ts = np.where(last_local >= 0, ts[np.maximum(last_local, 0)], self._high_ts)
        # The high each bar measures from is the last one strictly before it; a bar at a high
        # right after another high closes no spell, so it is no candidate.
        high_index_before = np.concatenate(([self._high_index], high_index[:-1]))
        high_ts_before = np.concatenate(([self._high_ts], high_ts[:-1]))
        was_at_high = np.concatenate(([self._at_high], at_high[:-1]))
        spell = ~(at_high & was_at_high)
        if spell.any():
            bars = (self._bars + local - high_index_before)[spell]
            span_ns = (ts - high_ts_before)[spell]
            self._max_dd_bars = max(self._max_dd_bars, int(bars.max()))
            self._max_dd_ns = max(self._max_dd_ns, int(span_ns.max()))
        self._peak = float(peak[-1])
        self._high_index = int(high_index[-1])
        self._high_ts = int(high_ts[-1])
        self._at_high = bool(at_high[-1])

    # ---- accessors -------------------------------------------------------------------------

    @property
    def initial_equity(self) -> float:
        """Equity before the first bar, USD."""
        return self._initial_equity

    @property
    def final_equity(self) -> float:
        """Equity at the last bar's close (the initial equity before any bar), USD."""
        return self._last_equity

    @property
    def bars(self) -> int:
        """Number of bars seen."""
        return self._bars

    @property
    def first_ts(self) -> int | None:
        """Close time of the first bar, UTC ns; ``None`` before any bar."""
        return self._first_ts

    @property
    def last_ts(self) -> int | None:
        """Close time of the last bar, UTC ns; ``None`` before any bar."""
        return self._last_ts

    @property
    def days(self) -> int:
        """Number of trading days seen (days with at least one bar)."""
        return len(self._day_ids)

    def day_ids(self) -> np.ndarray:
        """Trading-day ids, one per day seen, ascending (int64)."""
        return np.array(self._day_ids, dtype=np.int64)

    def daily_equity(self) -> np.ndarray:
        """Equity at the last bar of each trading day, USD, aligned with :meth:`day_ids`."""
        return np.array(self._day_equity, dtype=np.float64)

    def daily_returns(self) -> np.ndarray:
        """Return of each trading day: its end-of-day equity over the previous day's.

        The first day's return is against the initial equity.
        """
        equity = self.daily_equity()
        prev = np.concatenate(([self._initial_equity], equity[:-1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            return equity / prev - 1.0

    @property
    def bar_return_count(self) -> int:
        """Number of bar returns (equals :attr:`bars`)."""
        return self._bars

    @property
    def bar_return_mean(self) -> float:
        """Mean bar return; ``nan`` before any bar."""
        return self._ret_mean if self._bars else math.nan

    @property
    def bar_return_m2(self) -> float:
        """Sum of squared deviations of bar returns from their mean."""
        return self._ret_m2

    @property
    def bar_return_std(self) -> float:
        """Sample standard deviation (ddof=1) of bar returns; exactly 0 if all are equal.

        ``nan`` with fewer than two bars.
        """
        if self._bars < 2:
            return math.nan
        if self._ret_min == self._ret_max:
            return 0.0
        return math.sqrt(max(self._ret_m2, 0.0) / (self._bars - 1))

    @property
    def bar_downside_sum_squares(self) -> float:
        """Sum of ``min(r, 0)**2`` over bar returns."""
        return self._ret_downside_ss

    def bar_sharpe(self, periods_per_year: float, risk_free: float = 0.0) -> float:
        """Annualised Sharpe ratio of bar returns, as :func:`~replay.metrics.stats.sharpe_ratio`.

        ``risk_free`` is per bar; ``nan`` with fewer than two bars or zero dispersion.
        """
        std = self.bar_return_std
        if not std > 0:
            return math.nan
        ratio = (self._ret_mean - risk_free) / std * math.sqrt(periods_per_year)
        return ratio if math.isfinite(ratio) else math.nan

    def bar_sortino(self, periods_per_year: float) -> float:
        """Annualised Sortino ratio of bar returns, as :func:`~replay.metrics.stats.sortino_ratio`.

        ``nan`` with fewer than two bars or no negative bar return.
        """
        if self._bars < 2 or self._ret_downside_ss == 0.0:
            return math.nan
        downside = math.sqrt(self._ret_downside_ss / self._bars)
        ratio = self._ret_mean / downside * math.sqrt(periods_per_year)
        return ratio if math.isfinite(ratio) else math.nan

    @property
    def max_drawdown(self) -> float:
        """Largest fall from the running peak, as a positive fraction of that peak."""
        return self._max_dd

    @property
    def max_drawdown_usd(self) -> float:
        """Largest fall from the running peak, USD (may occur at another bar than the fraction)."""
        return self._max_dd_usd

    @property
    def max_drawdown_bars(self) -> int:
        """Longest drawdown spell in bars, from the peak bar to recovery (or the last bar)."""
        return self._max_dd_bars

    @property
    def max_drawdown_ns(self) -> int:
        """Longest drawdown spell in ns, from the peak bar's close to recovery (or the end)."""
        return self._max_dd_ns

    @property
    def exposure_bars(self) -> int:
        """Bars after which a position was open."""
        return self._exposure_bars

    @property
    def exposure(self) -> float:
        """Fraction of bars after which a position was open; ``nan`` before any bar."""
        return self._exposure_bars / self._bars if self._bars else math.nan
