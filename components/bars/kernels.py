"""Numba kernels of OHLCV bar aggregation (kernel layer).

Reproduces ``pandas.DataFrame.resample(tf, closed="left", label="right").agg(open="first",
high="max", low="min", close="last", volume="sum").dropna()`` on bucket bounds supplied by the
caller (:func:`components.bars.sessions.bucket_bounds`), one input row at a time.

State is two caller-owned arrays from :func:`aggregate_init_state`: ``state_i`` (int64: open
flag, bucket start, bucket end, last input ``ts_open``, end of the last emitted bucket) and
``state_f`` (float64: open, high, low, close, volume of the open bucket). Nanosecond times
(~1.7e18) stay in int64 because float64 cannot hold them exactly.

A completed bar is written to column ``pos`` of ``out_i`` (int64[3, m]: rows ts_open, ts_close,
before-flag) and ``out_f`` (float64[5, m]: rows open, high, low, close, volume); one row per
field keeps each output column contiguous. The before-flag is 1 when the bucket was closed by a
row of a later bucket *before* that row was applied (a gap, or any tick input), 0 when the row
itself reached the bucket end. Prices are copied, never computed; volume is a running sum.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "CROSSES_BUCKET",
    "DAY_NS",
    "OUT_OF_ORDER",
    "aggregate_batch_nb",
    "aggregate_flush_nb",
    "aggregate_init_state",
    "aggregate_step_nb",
    "bucket_bounds_nb",
]

# state_i slots
HAS_OPEN = 0
BUCKET_START = 1
BUCKET_END = 2
LAST_TS = 3
EMITTED_END = 4
# state_f slots (and out_f rows)
OPEN = 0
HIGH = 1
LOW = 2
CLOSE = 3
VOLUME = 4
# out_i rows
OUT_TS_OPEN = 0
OUT_TS_CLOSE = 1
OUT_BEFORE = 2

OUT_OF_ORDER = -1
"""Step status: the row is older than the last row or falls in an already emitted bucket."""
CROSSES_BUCKET = -2
"""Step status: the row's ``ts_close`` lies beyond its bucket's end (misaligned input bars)."""

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_NO_TIME = np.iinfo(np.int64).min
DAY_NS = 86_400_000_000_000


def aggregate_init_state() -> tuple[Ints, Floats]:
    """Return fresh ``(state_i, state_f)``: int64[5] and float64[5], no open bucket."""
    state_i = np.array([0, 0, 0, _NO_TIME, _NO_TIME], dtype=np.int64)
    state_f = np.full(5, np.nan, dtype=np.float64)
    return state_i, state_f


@njit(cache=True)
def _emit_nb(state_i: Ints, state_f: Floats, out_i: Ints, out_f: Floats, pos: int,
             before: int) -> None:
    out_i[OUT_TS_OPEN, pos] = state_i[BUCKET_START]
    out_i[OUT_TS_CLOSE, pos] = state_i[BUCKET_END]
    out_i[OUT_BEFORE, pos] = before
    for j in range(5):
        out_f[j, pos] = state_f[j]
    state_i[HAS_OPEN] = 0
    state_i[EMITTED_END] = state_i[BUCKET_END]


@njit(cache=True)
def aggregate_step_nb(state_i: Ints, state_f: Floats, bucket_start: int, bucket_end: int,
                      ts_open: int, ts_close: int, open_: float, high: float, low: float,
                      close: float, volume: float, out_i: Ints, out_f: Floats, pos: int) -> int:
    """Apply one input row; write 0, 1 or 2 completed bars at ``out_*[:, pos:]``; return the count.

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
def aggregate_flush_nb(state_i: Ints, state_f: Floats, out_i: Ints, out_f: Floats,
                       pos: int) -> int:
    """Emit the open, possibly **partial**, bucket at ``out_*[:, pos]``; return 0 or 1.

    Its before-flag is 1. Afterwards rows of that bucket are rejected as out of order.
    """
    if state_i[HAS_OPEN] == 0:
        return 0
    _emit_nb(state_i, state_f, out_i, out_f, pos, 1)
    return 1


@njit(cache=True)
def aggregate_batch_nb(state_i: Ints, state_f: Floats, bucket_start: Ints, bucket_end: Ints,
                       ts_open: Ints, ts_close: Ints, open_: Floats, high: Floats, low: Floats,
                       close: Floats, volume: Floats) -> tuple[Ints, Floats, Ints, int, int]:
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
    out_i = np.empty((3, capacity), dtype=np.int64)
    out_f = np.empty((5, capacity), dtype=np.float64)
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
    return out_i[:, :k], out_f[:, :k], trigger[:k], status, consumed


@njit(cache=True)
def bucket_bounds_nb(ts: Ints, timeframe_ns: int, open_ns: int, first_day: int,
                     day_starts: Ints) -> tuple[Ints, Ints, npt.NDArray[np.bool_]]:
    """Bucket start and end of each timestamp from the UTC starts of consecutive trading days.

    ``day_starts[i]`` is the UTC start of local day ``first_day + i`` (the day whose session
    opens at wall time ``(first_day + i) * DAY_NS + open_ns``); it must cover, for every
    timestamp, its day number at UTC offset 0 minus one to plus two. A timestamp belongs to
    the day with ``day_start <= ts < day_end``. Within a day of exactly 24 h the buckets are
    ``day_start + k * timeframe_ns``, cut at the day end; rows of other days (a UTC-offset
    change) are flagged in ``irregular`` for the caller to fill.
    """
    n = ts.shape[0]
    start = np.empty(n, dtype=np.int64)
    end = np.empty(n, dtype=np.int64)
    irregular = np.zeros(n, dtype=np.bool_)
    last = day_starts.shape[0]
    for j in range(n):
        t = ts[j]
        # |offset| < 1 day, so the day is at least the one before the day number at offset 0;
        # step forward over day starts already passed (at most twice, more across a skipped day)
        idx = (t - open_ns) // DAY_NS - first_day - 1
        while idx + 2 < last and t >= day_starts[idx + 1]:
            idx += 1
        day_start = day_starts[idx]
        day_end = day_starts[idx + 1]
        if day_end - day_start != DAY_NS:
            irregular[j] = True
        s = day_start + (t - day_start) // timeframe_ns * timeframe_ns
        start[j] = s
        end[j] = min(s + timeframe_ns, day_end)
    return start, end, irregular
