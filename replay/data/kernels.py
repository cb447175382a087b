"""Numba kernel of the sequential part of row validation (kernel layer).

Everything that depends only on a row itself is vectorised in :mod:`replay.data.validate`. What
depends on the rows accepted before it needs one ordered pass: a missing price takes the close
of the previous *accepted* row, a filled row may then fail the OHLC check, and a row is a
duplicate or out of order against the last accepted timestamp. That pass is this kernel; it is
O(n) and carries ``(last_ts, last_close)`` between chunks, so results do not depend on the chunk
size.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "ACCEPTED",
    "DROPPED",
    "DUPLICATE",
    "NO_TIME",
    "OHLC",
    "OUT_OF_ORDER",
    "UNREPAIRABLE",
    "order_pass_nb",
]

NO_TIME = np.iinfo(np.int64).min
ACCEPTED = 0
"""Status: the row is accepted."""
DROPPED = 1
"""Status: the row was dropped before this pass (``alive`` was False)."""
UNREPAIRABLE = 2
"""Status: a price is missing and no accepted row came before it."""
OHLC = 3
"""Status: after filling missing prices the bar violates low <= open, close <= high."""
DUPLICATE = 4
"""Status: same timestamp as the last accepted row (only when equal times are not allowed)."""
OUT_OF_ORDER = 5
"""Status: earlier than the last accepted row."""


@njit(cache=True)
def order_pass_nb(
    ts,
    prices,
    missing,
    pending,
    alive,
    check_ohlc,
    allow_equal,
    last_ts,
    last_close,
    status,
    prev_ts,
    prev_close,
):
    """Fill pending prices, then check OHLC (filled rows) and time order, row by row.

    ``prices`` is (n, k): k = 4 (open, high, low, close) for bars, 1 (price) for ticks; the last
    column is the close. Missing entries of pending rows are overwritten in place. ``status``,
    ``prev_ts`` and ``prev_close`` (the last accepted time and close before each row) are
    written for every row. Returns the ``(last_ts, last_close)`` after the chunk.
    """
    n = ts.shape[0]
    k = prices.shape[1]
    for i in range(n):
        prev_ts[i] = last_ts
        prev_close[i] = last_close
        if not alive[i]:
            status[i] = DROPPED
            continue
        if pending[i]:
            if np.isnan(last_close):
                status[i] = UNREPAIRABLE
                continue
            for j in range(k):
                if missing[i, j]:
                    prices[i, j] = last_close
            if check_ohlc and k == 4:
                o, h, lo, c = prices[i, 0], prices[i, 1], prices[i, 2], prices[i, 3]
                if h < max(o, c) or lo > min(o, c) or h < lo:
                    status[i] = OHLC
                    continue
        if last_ts != NO_TIME:
            if ts[i] < last_ts:
                status[i] = OUT_OF_ORDER
                continue
            if ts[i] == last_ts and not allow_equal:
                status[i] = DUPLICATE
                continue
        status[i] = ACCEPTED
        last_ts = ts[i]
        last_close = prices[i, k - 1]
    return last_ts, last_close
