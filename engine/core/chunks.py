"""Column chunks of validated market data, the unit the readers stream (core layer).

A chunk is a struct of numpy arrays, never a DataFrame, so drivers and kernels read it without
conversion. Timestamps are int64 UTC nanoseconds; every other column is float64. Rows are in
strictly increasing time order for bars and non-decreasing order for ticks, across chunks too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["BarChunk", "IntentChunk", "TickChunk"]


class BarChunk(NamedTuple):
    """Validated OHLCV bars: ``ts_open`` (bar start) and ``ts_close`` (bar end, exclusive)."""

    ts_open: np.ndarray
    ts_close: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    @property
    def rows(self) -> int:
        """Number of bars in the chunk."""
        return int(self.ts_open.shape[0])

    def since(self, ts_ns: int) -> BarChunk:
        """The bars closing at or after ``ts_ns`` (this chunk when all do)."""
        first = int(np.searchsorted(self.ts_close, ts_ns, side="left"))
        if first == 0:
            return self
        return BarChunk(*(column[first:] for column in self))


class TickChunk(NamedTuple):
    """Validated trades: ``ts`` (trade time), ``price`` and ``size``."""

    ts: np.ndarray
    price: np.ndarray
    size: np.ndarray

    @property
    def rows(self) -> int:
        """Number of ticks in the chunk."""
        return int(self.ts.shape[0])


class IntentChunk(NamedTuple):
    """Order intents decided over a chunk of bars, for the broker's batch path.

    Rows are sorted by ``bar`` (the position in the chunk of the bar at whose close the order
    was decided). ``ints`` columns: order_id, action (0 buy, 1 sell, 2 close), type (0 market,
    1 limit, 2 stop), quantity, time_stop_bars (-1 = broker default), expire_bars, tag id.
    ``floats`` columns: price, stop_price, target_price (``nan`` when absent), stop_points,
    target_points (0 when absent).
    """

    bar: np.ndarray
    ints: np.ndarray
    floats: np.ndarray

    @property
    def rows(self) -> int:
        """Number of intents."""
        return int(self.bar.shape[0])

    @staticmethod
    def empty() -> IntentChunk:
        """No intents."""
        return IntentChunk(np.zeros(0, np.int64), np.zeros((0, 7), np.int64),
                           np.zeros((0, 5), np.float64))
