"""Numba kernels of OHLCV bar aggregation (kernel layer).

Reproduces ``pandas.DataFrame.resample(tf, closed="left", label="right").agg(open="first",
high="max", low="min", close="last", volume="sum").dropna()`` on bucket bounds supplied by the
caller (:func:`components.bars.sessions.bucket_bounds`), one input row at a time.

State is two caller-owned arrays from :func:`aggregate_init_state`: ``state_i`` (int64: open
flag, bucket start, bucket end, last input ``ts_open``, end of the last emitted bucket) and
``state_f`` (float64: open, high, low, close, volume of the open bucket). Nanosecond times
(~1.7e18) stay in int64 because float64 cannot hold them exactly.

A completed bar is written to ``out_i[pos]`` (ts_open, ts_close, before-flag) and ``out_f[pos]``
(open, high, low, close, volume). The before-flag is 1 when the bucket was closed by a row of a
later bucket *before* that row was applied (a gap, or any tick input), 0 when the row itself
reached the bucket end. Prices are copied, never computed; volume is a running sum.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "CROSSES_BUCKET",
    "OUT_OF_ORDER",
    "aggregate_batch_nb",
    "aggregate_flush_nb",
    "aggregate_init_state",
    "aggregate_step_nb",
]

# state_i slots
HAS_OPEN = 0
BUCKET_START = 1
BUCKET_END = 2
LAST_TS = 3
EMITTED_END = 4
# state_f slots (and out_f columns)
OPEN = 0
HIGH = 1
LOW = 2
CLOSE = 3
VOLUME = 4
# out_i columns
OUT_TS_OPEN = 0
OUT_TS_CLOSE = 1
OUT_BEFORE = 2

OUT_OF_ORDER = -1
"""Step status: the row is older than the last row or falls in an already emitted bucket."""
CROSSES_BUCKET = -2
"""Step status: the row's ``ts_close`` lies beyond its bucket's end (misaligned input bars)."""

_NO_TIME = np.iinfo(np.int64).min


def aggregate_init_state() -> tuple[np.ndarray, np.ndarray]:
    """Return fresh ``(state_i, state_f)``: int64[5] and float64[5], no open bucket."""
    state_i = np.array([0, 0, 0, _NO_TIME, _NO_TIME], dtype=np.int64)
    state_f = np.full(5, np.nan, dtype=np.float64)
    return state_i, state_f


@njit(cache=True)
def _emit_nb(state_i, state_f, out_i, out_f, pos, before):
    out_i[pos, OUT_TS_OPEN] = state_i[BUCKET_START]
    out_i[pos, OUT_TS_CLOSE] = state_i[BUCKET_END]
    out_i[pos, OUT_BEFORE] = before
    for j in range(5):
        out_f[pos, j] = state_f[j]
    state_i[HAS_OPEN] = 0
    state_i[EMITTED_END] = state_i[BUCKET_END]


@njit(cache=True)
def aggregate_step_nb(state_i, state_f, bucket_start, bucket_end, ts_open, ts_close,
                      open_, high, low, close, volume, out_i, out_f, pos):
    """Apply one input row; write 0, 1 or 2 completed bars at ``out_*[pos:]``; return the count.

    Returns ``OUT_OF_ORDER`` or ``CROSSES_BUCKET`` (negative) without touching the state when
    the row is rejected. A tick is a row with ``ts_open == ts_close`` and o = h = l = c.
    """
    has_open = state_i[HAS_OPEN] == 1
    if ts_open < state_i[LAST_TS] or bucket_start < state_i[EMITTED_END]:
        return OUT_OF_ORDER
    if has_open and bucket_start != state_i[BUCKET_START] and bucket_start < state_i[BUCKET_END]:
        return OUT_OF_ORDER
    if ts_close > bucket_end:
        return CROSSES_BUCKET
    n = 0
    if has_open and bucket_start != state_i[BUCKET_START]:
        _emit_nb(state_i, state_f, out_i, out_f, pos, 1)
        n = 1
        has_open = False
    if has_open:
        if high > state_f[HIGH]:
            state_f[HIGH] = high
        if low < state_f[LOW]:
            state_f[LOW] = low
        state_f[CLOSE] = close
        state_f[VOLUME] += volume
    else:
        state_i[HAS_OPEN] = 1
        state_i[BUCKET_START] = bucket_start
        state_i[BUCKET_END] = bucket_end
        state_f[OPEN] = open_
        state_f[HIGH] = high
        state_f[LOW] = low
        state_f[CLOSE] = close
        state_f[VOLUME] = volume
    state_i[LAST_TS] = ts_open
    if ts_close == bucket_end:
        _emit_nb(state_i, state_f, out_i, out_f, pos + n, 0)
        n += 1
    return n


@njit(cache=True)
def aggregate_flush_nb(state_i, state_f, out_i, out_f, pos):
    """Emit the open, possibly **partial**, bucket at ``out_*[pos]``; return 0 or 1.

    Its before-flag is 1. Afterwards rows of that bucket are rejected as out of order.
    """
    if state_i[HAS_OPEN] == 0:
        return 0
    _emit_nb(state_i, state_f, out_i, out_f, pos, 1)
    return 1


@njit(cache=True)
def aggregate_batch_nb(state_i, state_f, bucket_start, bucket_end, ts_open, ts_close,
                       open_, high, low, close, volume):
    """Loop :func:`aggregate_step_nb` over arrays.

    Returns ``(out_i, out_f, trigger, status, consumed)``: completed bars as in the step kernel,
    the index of the row that emitted each bar, the status (0, or the negative step status of
    the first rejected row) and the number of rows applied (the rejected row's index).
    """
    n = ts_open.shape[0]
    capacity = 1  # at most one bar per distinct bucket, plus the bucket open on entry
    for j in range(1, n):
        if bucket_start[j] != bucket_start[j - 1]:
            capacity += 1
    if n > 0:
        capacity += 1
    out_i = np.empty((capacity, 3), dtype=np.int64)
    out_f = np.empty((capacity, 5), dtype=np.float64)
    trigger = np.empty(capacity, dtype=np.int64)
    k = 0
    status = 0
    consumed = n
    for j in range(n):
        m = aggregate_step_nb(state_i, state_f, bucket_start[j], bucket_end[j], ts_open[j],
                              ts_close[j], open_[j], high[j], low[j], close[j], volume[j],
                              out_i, out_f, k)
        if m < 0:
            status = m
            consumed = j
            break
        for q in range(m):
            trigger[k + q] = j
        k += m
    return out_i[:k], out_f[:k], trigger[:k], status, consumed
