"""Trading-day labels of bar close times (replay layer, metrics).

A trading day starts at ``session_open`` local wall time in the instrument's IANA timezone, so
the boundary follows the exchange's DST rules. A bar that closes at ``ts`` belongs to the day
that contains ``ts - 1`` ns: a bar closing exactly at the open is the last bar of the previous
day. Sessions that open in the evening (``session_open`` at or after 12:00, the CME 17:00
convention) are labelled with the *next* calendar date, the date most of the session trades on.

Day ids are days since 1970-01-01 of that calendar date (``np.datetime64(day_id, "D")``), so
they are ordered and consecutive calendar dates differ by 1 (weekends leave gaps).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["trading_day"]

_NS_PER_DAY = 86_400 * 1_000_000_000
_NS_PER_MINUTE = 60 * 1_000_000_000
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def _open_minutes(session_open: str) -> int:
    match = _HHMM.match(session_open)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"session_open: expected 'HH:MM' (00:00-23:59), was {session_open!r}")
    return int(match[1]) * 60 + int(match[2])


def trading_day(ts_close_ns: np.ndarray, session_open: str, timezone: str) -> np.ndarray:
    """Label bar close times with their trading day.

    Vectorised: one pandas timezone conversion per call, no per-element Python work.

    Parameters
    ----------
    ts_close_ns
        Bar close times, int64 UTC nanoseconds.
    session_open
        Local wall time the trading day starts at, ``"HH:MM"``.
    timezone
        IANA timezone of ``session_open``, e.g. ``"America/Chicago"`` or ``"UTC"``.

    Returns
    -------
    np.ndarray
        int64 day ids (days since 1970-01-01 of the labelled calendar date), one per input.

    Raises
    ------
    ValueError
        If ``session_open`` is not ``HH:MM``.

    Examples
    --------
    CME sessions open at 17:00 Chicago time; the Monday-evening session is Tuesday's.

    >>> import numpy as np
    >>> ts = np.array(["2024-03-04T22:59", "2024-03-04T23:00", "2024-03-04T23:01"],
    ...               dtype="datetime64[ns]").astype(np.int64)  # UTC; 23:00Z is 17:00 CST
    >>> trading_day(ts, "17:00", "America/Chicago").astype("datetime64[D]")
    array(['2024-03-04', '2024-03-04', '2024-03-05'], dtype='datetime64[D]')
    """
    offset_ns = _open_minutes(session_open) * _NS_PER_MINUTE
    ts = np.asarray(ts_close_ns, dtype=np.int64)
    if ts.size == 0:
        return np.empty(0, dtype=np.int64)
    utc = pd.DatetimeIndex(ts - 1, dtype="datetime64[ns, UTC]")
    # Local wall-clock nanoseconds: the session boundary is a wall time, so DST shifts it in UTC.
    wall_ns = utc.tz_convert(timezone).tz_localize(None).as_unit("ns").asi8
    day = (wall_ns - offset_ns) // _NS_PER_DAY
    if offset_ns >= 12 * 60 * _NS_PER_MINUTE:
        day += 1
    return np.asarray(day, dtype=np.int64)
