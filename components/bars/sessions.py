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

So bounds are strictly increasing real instants, every timestamp lies in ``[start, end)`` of its
bucket, and sorted timestamps give sorted buckets. CME and FX sessions are closed at 2 am on a
Sunday, when US offsets change, so these cases matter only for 24/7 markets with a local
session clock.

Implementation: UTC bounds of each trading day are computed once per distinct day with pandas
(``tz_localize`` with first-occurrence / shift-forward resolution). A day whose UTC length is
exactly 24 h has one offset throughout (zones change offset at most once a day), so its buckets
are integer arithmetic in UTC; only the rare days with an offset change get an explicit grid of
bounds. With ``session_timezone="UTC"`` no pandas call is made at all.
"""

from __future__ import annotations

import functools
import zoneinfo
from bisect import bisect_right

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.timeframes import NS_PER_MINUTE

__all__ = ["DAY_NS", "SessionBuckets", "bucket_bounds", "parse_session_open"]

DAY_NS = 1440 * NS_PER_MINUTE
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


def _wall_to_utc(wall: IntArray, zone: str) -> IntArray:
    """First instant at which the clock of ``zone`` reads each wall time (or later)."""
    index = pd.DatetimeIndex(wall.view("M8[ns]"))
    # ambiguous=True picks the earlier of two readings (the offset before the change);
    # shift_forward maps a wall time inside a gap to the instant of the jump.
    local = index.tz_localize(
        zone, ambiguous=np.ones(wall.shape[0], dtype=bool), nonexistent="shift_forward"
    )
    return np.asarray(local.asi8, dtype=np.int64)


def _runs(values: IntArray) -> tuple[IntArray, IntArray]:
    """Values of consecutive runs and each element's run id (a cheap unique for sorted data)."""
    change = np.empty(values.shape[0], dtype=bool)
    change[0] = True
    np.not_equal(values[1:], values[:-1], out=change[1:])
    return values[change], np.cumsum(change) - 1


def _trading_days(
    ts: IntArray, open_ns: int, zone: str | None
) -> tuple[IntArray, IntArray, IntArray]:
    """UTC start and end and local wall start of each timestamp's trading day."""
    # Local day number if the UTC offset were 0; the true day is one of d0-1, d0, d0+1 because
    # offsets are below 24 h.
    d0 = np.floor_divide(ts - open_ns, DAY_NS)
    if zone is None:
        wall_start = d0 * DAY_NS + open_ns
        return wall_start, wall_start + DAY_NS, wall_start
    run_days, run_id = _runs(d0)
    days = np.unique(np.concatenate((run_days - 1, run_days, run_days + 1, run_days + 2)))
    starts = _wall_to_utc(days * DAY_NS + open_ns, zone)
    pos = np.searchsorted(days, run_days)[run_id]  # index of d0 in days
    idx = pos - 1 + (ts >= starts[pos]) + (ts >= starts[pos + 1])
    return starts[idx], starts[idx + 1], days[idx] * DAY_NS + open_ns


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
        UTC nanosecond timestamps (any order; sorted input is fastest).
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
    day_start, day_end, wall_start = _trading_days(ts, open_ns, zone)
    start = day_start + (ts - day_start) // tf * tf
    end = np.minimum(start + tf, day_end)
    if zone is not None:
        irregular = (day_end - day_start) != DAY_NS
        if irregular.any():
            _fix_irregular_days(ts, wall_start, irregular, tf, zone, start, end)
    return start, end


def _fix_irregular_days(
    ts: IntArray, wall_start: IntArray, irregular: npt.NDArray[np.bool_], tf: int, zone: str,
    start: IntArray, end: IntArray,
) -> None:
    rows = np.flatnonzero(irregular)
    for day in np.unique(wall_start[rows]).tolist():
        in_day = rows[wall_start[rows] == day]
        grid = _day_grid(day, tf, zone)
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
        day_start, day_end, wall_start = _trading_days(
            np.array([ts_ns], dtype=np.int64), self._open_ns, self._zone
        )
        self._day_start = int(day_start[0])
        self._day_end = int(day_end[0])
        regular = self._zone is None or self._day_end - self._day_start == DAY_NS
        self._grid = None if regular else _day_grid(
            int(wall_start[0]), self.timeframe_ns, self._zone  # type: ignore[arg-type]
        ).tolist()
