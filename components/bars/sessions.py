"""Session-aligned aggregation buckets (component layer, no state beyond a per-day cache).

A trading day starts at ``session_open`` local wall time in ``session_timezone`` (IANA name,
DST-correct): a timestamp whose local time is before the session open belongs to the day that
started at the previous session open. Bucket *k* of a day covers the wall-clock interval
``[day_start + k*tf, day_start + (k+1)*tf)``; the last bucket is cut at the next day start, so no
bucket spans two trading days when ``tf`` does not divide 24 hours. Buckets are left-closed: a
timestamp equal to a bucket's end belongs to the next bucket.

Wall clock to UTC
-----------------
A bucket bound whose wall-clock label is ``w`` is the **first instant at which the local clock
reads ``w`` or later**. Away from a UTC-offset change this is just ``w - offset``. Around one:

- clocks go forward (a wall-clock gap): a bound inside the gap is the instant of the jump, so the
  bucket open at the jump ends there and buckets lying wholly inside the gap are empty (they
  never occur);
- clocks go back (a repeated wall-clock interval): a bound that the clock reads twice is its
  first reading, and the repeated interval stays in the bucket that was open when the clock
  went back (that bucket is longer than ``tf``).

So bounds never decrease, every timestamp lies in the non-empty ``[start, end)`` of its
bucket, and sorted timestamps give sorted, non-overlapping buckets. CME and FX sessions are
closed at 2 am on a Sunday, when US offsets change, so these cases matter only for 24/7 markets
with a local session clock.

Implementation: the UTC start of every calendar day the timestamps span is computed in a few
vectorised pandas UTC-to-local conversions. A day
whose UTC length is exactly 24 h has one offset throughout (zones change offset at most once a
day), so its buckets are integer arithmetic in UTC, done per row by
:func:`~components.bars.kernels.bucket_bounds_nb`; only rows in the rare days with an offset
change are placed on an explicit grid of that day's bounds. With ``session_timezone="UTC"``
(or ``"Etc/UTC"``) no pandas call is made at all.
"""

from __future__ import annotations

import functools
import zoneinfo
from bisect import bisect_right

import numpy as np
import numpy.typing as npt
import pandas as pd

from components.bars.kernels import DAY_NS, bucket_bounds_nb
from engine.core.timeframes import NS_PER_MINUTE

__all__ = ["DAY_NS", "SessionBuckets", "bucket_bounds", "parse_session_open"]

_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})

IntArray = npt.NDArray[np.int64]


def parse_session_open(session_open: str) -> int:
    """Return the nanoseconds after local midnight of an ``"HH:MM"`` session open.

    Examples
    --------
    >>> parse_session_open("17:00") == 17 * 3600 * 10**9
    True
    """
    hours, sep, minutes = session_open.partition(":")
    valid = sep and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()
    if not valid or not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        raise ValueError(f"session_open: expected 'HH:MM', was {session_open!r}")
    return (int(hours) * 60 + int(minutes)) * NS_PER_MINUTE


@functools.lru_cache(maxsize=64)
def _zone(session_timezone: str) -> str | None:
    """Validate an IANA zone name; ``None`` stands for UTC (the integer fast path)."""
    if session_timezone in _UTC_NAMES:
        return None
    try:
        zoneinfo.ZoneInfo(session_timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"session_timezone: expected an IANA zone name such as 'America/Chicago', "
            f"was {session_timezone!r}"
        ) from exc
    return session_timezone


def _check_timeframe(timeframe_ns: int) -> int:
    tf = int(timeframe_ns)
    if not 0 < tf <= DAY_NS:
        raise ValueError(f"timeframe_ns: expected 0 < timeframe <= 1 day ({DAY_NS}), was {tf}")
    return tf


def _utc_offsets(utc_ns: IntArray, zone: str) -> IntArray:
    """UTC offset (ns) of ``zone`` at each UTC instant."""
    index = pd.DatetimeIndex(utc_ns.view("M8[ns]")).tz_localize("UTC").tz_convert(zone)
    return np.asarray(index.tz_localize(None).asi8, dtype=np.int64) - utc_ns


def _wall_to_utc(wall: IntArray, zone: str) -> IntArray:
    """First instant at which the clock of ``zone`` reads each wall time or later.

    Built on UTC-to-local conversion only: pandas' ``tz_localize(nonexistent="shift_forward")``
    misplaces wall times in gaps that are not one hour long (Australia/Lord_Howe, Pacific/Apia).
    """
    # The offsets in force well before and well after each wall time (zones change offset at
    # most once in two days): a reading exists for whichever of the two offsets maps back to it.
    before = _utc_offsets(wall - DAY_NS, zone)
    after = _utc_offsets(wall + DAY_NS, zone)
    at_before = wall - before
    at_after = wall - after
    exists_before = _utc_offsets(at_before, zone) == before
    exists_after = _utc_offsets(at_after, zone) == after
    # two readings (clocks went back): the first one
    result = np.where(exists_before & exists_after, np.minimum(at_before, at_after),
                      np.where(exists_before, at_before, at_after))
    gap = np.flatnonzero(~(exists_before | exists_after))
    if gap.size:  # clocks jumped over the wall time: find the jump by bisection
        target = wall[gap]
        low = np.minimum(at_before[gap], at_after[gap])  # local time still before the target
        high = np.maximum(at_before[gap], at_after[gap])  # local time already past it
        while np.any(high - low > 1):
            mid = low + (high - low) // 2
            reached = mid + _utc_offsets(mid, zone) >= target
            high = np.where(reached, mid, high)
            low = np.where(reached, low, mid)
        result[gap] = high
    return np.asarray(result, dtype=np.int64)


def _day_starts(first_day: int, n_days: int, open_ns: int, zone: str | None) -> IntArray:
    """UTC starts of consecutive trading days; day 0 opens on 1970-01-01 at ``open_ns`` local."""
    walls = (np.arange(first_day, first_day + n_days, dtype=np.int64) * DAY_NS) + open_ns
    return walls if zone is None else _wall_to_utc(walls, zone)


def _day_grid(wall_start: int, timeframe_ns: int, zone: str) -> IntArray:
    """All bucket bounds of one trading day in UTC (non-decreasing, first and last = day bounds)."""
    walls = np.append(np.arange(wall_start, wall_start + DAY_NS, timeframe_ns, dtype=np.int64),
                      np.int64(wall_start + DAY_NS))
    return _wall_to_utc(walls, zone)


def bucket_bounds(
    ts_ns: npt.ArrayLike, timeframe_ns: int, session_open: str, session_timezone: str
) -> tuple[IntArray, IntArray]:
    """Return the UTC start and end (int64 ns) of the session-aligned bucket of each timestamp.

    Parameters
    ----------
    ts_ns
        UTC nanosecond timestamps, in any order. The cost is one pass over them plus one
        time-zone conversion per calendar day between the first and the last.
    timeframe_ns
        Bucket length, at most one day.
    session_open
        ``"HH:MM"`` local wall time at which the trading day starts.
    session_timezone
        IANA zone name of the session clock; ``"UTC"`` takes a pure-integer fast path.

    Returns
    -------
    start, end
        int64 arrays with ``start <= ts < end``; ``end - start`` is ``timeframe_ns`` except for
        the last bucket of a day (cut at the next day start) and around UTC-offset changes (see
        the module docstring).

    Examples
    --------
    >>> start, end = bucket_bounds(np.array([0, 299_999_999_999, 300 * 10**9]), 300 * 10**9,
    ...                            "00:00", "UTC")
    >>> start.tolist(), end.tolist()
    ([0, 0, 300000000000], [300000000000, 300000000000, 600000000000])
    """
    ts = np.asarray(ts_ns)
    if ts.ndim != 1 or not np.issubdtype(ts.dtype, np.integer):
        raise ValueError(f"ts_ns: expected a 1-D integer array, was {ts.dtype} with shape "
                         f"{ts.shape}")
    ts = ts.astype(np.int64, copy=False)
    tf = _check_timeframe(timeframe_ns)
    open_ns = parse_session_open(session_open)
    zone = _zone(session_timezone)
    if ts.shape[0] == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # Offsets are below one day, so every timestamp's trading day lies within one day of its
    # day number at offset 0; cover that range (and each day's end) with consecutive days.
    first_day = (int(ts.min()) - open_ns) // DAY_NS - 1
    n_days = (int(ts.max()) - open_ns) // DAY_NS + 3 - first_day
    day_starts = _day_starts(first_day, n_days, open_ns, zone)
    start, end, irregular = bucket_bounds_nb(ts, tf, open_ns, first_day, day_starts)
    if zone is not None:
        rows = np.flatnonzero(irregular)
        if rows.size:
            _fix_irregular_days(ts, rows, first_day, day_starts, open_ns, tf, zone, start, end)
    return start, end


def _fix_irregular_days(
    ts: IntArray, rows: IntArray, first_day: int, day_starts: IntArray, open_ns: int, tf: int,
    zone: str, start: IntArray, end: IntArray,
) -> None:
    """Fill the bounds of ``rows``, which lie in days with a UTC-offset change, from day grids."""
    day = first_day + np.searchsorted(day_starts, ts[rows], side="right") - 1
    for d in np.unique(day).tolist():
        in_day = rows[day == d]
        grid = _day_grid(d * DAY_NS + open_ns, tf, zone)
        k = np.searchsorted(grid, ts[in_day], side="right") - 1
        start[in_day] = grid[k]
        end[in_day] = grid[k + 1]


class SessionBuckets:
    """Bucket bounds of one timestamp at a time, for the per-event path.

    Gives the same answer as :func:`bucket_bounds`; the current trading day is cached, so a
    lookup inside it is a few integer operations and pandas runs once per day.

    Examples
    --------
    >>> buckets = SessionBuckets(30 * 60 * 10**9, "17:00", "America/Chicago")
    >>> ts = 1378072800 * 10**9 + 60 * 10**9   # 2013-09-01 22:01 UTC = 17:01 CDT
    >>> [t // 10**9 for t in buckets.bounds(ts)]
    [1378072800, 1378074600]
    """

    __slots__ = ("timeframe_ns", "_open_ns", "_zone", "_day_start", "_day_end", "_grid")

    def __init__(self, timeframe_ns: int, session_open: str = "00:00",
                 session_timezone: str = "UTC") -> None:
        self.timeframe_ns = _check_timeframe(timeframe_ns)
        self._open_ns = parse_session_open(session_open)
        self._zone = _zone(session_timezone)
        self._day_start = 0
        self._day_end = 0  # empty: the first lookup loads its day
        self._grid: list[int] | None = None

    def bounds(self, ts_ns: int) -> tuple[int, int]:
        """Return ``(start, end)`` in UTC ns of the bucket containing ``ts_ns``."""
        if not self._day_start <= ts_ns < self._day_end:
            self._load_day(int(ts_ns))
        if self._grid is None:
            tf = self.timeframe_ns
            start = self._day_start + (ts_ns - self._day_start) // tf * tf
            return int(start), min(int(start) + tf, self._day_end)
        k = bisect_right(self._grid, ts_ns) - 1
        return self._grid[k], self._grid[k + 1]

    def _load_day(self, ts_ns: int) -> None:
        first_day = (ts_ns - self._open_ns) // DAY_NS - 1
        starts = _day_starts(first_day, 4, self._open_ns, self._zone).tolist()
        k = bisect_right(starts, ts_ns) - 1
        self._day_start, self._day_end = starts[k], starts[k + 1]
        if self._zone is None or self._day_end - self._day_start == DAY_NS:
            self._grid = None
        else:
            wall_start = (first_day + k) * DAY_NS + self._open_ns
            self._grid = _day_grid(wall_start, self.timeframe_ns, self._zone).tolist()
