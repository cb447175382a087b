"""Session-close detection for the broker's flat-at-session-end rule (replay layer).

A bar is the last of its session when the session close falls inside it or at its end:
``ts_open < close <= ts_close``, with ``close`` the first session close after ``ts_open``
(local wall time ``session_close`` in the instrument's time zone, daylight saving included).
A bar that opens after a close it never spanned (a data gap) is not flagged.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

__all__ = ["SessionCloses"]

_NS = 1_000_000_000


class SessionCloses:
    """Flag the last bar of each session, one bar or a chunk at a time.

    Examples
    --------
    >>> closes = SessionCloses("16:00", "America/Chicago")
    >>> ts = 1378155600 * 10**9   # 2013-09-02 21:00 UTC = 16:00 CDT
    >>> closes.is_last(ts - 5 * 60 * 10**9, ts), closes.is_last(ts, ts + 5 * 60 * 10**9)
    (True, False)
    """

    __slots__ = ("_close", "_zone", "_next")

    def __init__(self, session_close: str, timezone: str) -> None:
        hours, _, minutes = session_close.partition(":")
        self._close = time(int(hours), int(minutes))
        self._zone = ZoneInfo(timezone)
        self._next = -(2**63)

    def next_close(self, ts_ns: int) -> int:
        """The first session close strictly after ``ts_ns`` (UTC ns)."""
        local = datetime.fromtimestamp(ts_ns // _NS, tz=UTC).astimezone(self._zone)
        day = local.date()
        while True:
            close = datetime.combine(day, self._close, tzinfo=self._zone)
            close_ns = int(close.timestamp()) * _NS
            if close_ns > ts_ns:
                return close_ns
            day += timedelta(days=1)

    def is_last(self, ts_open: int, ts_close: int) -> bool:
        """Whether the bar ``[ts_open, ts_close]`` ends its session."""
        if ts_open >= self._next:
            self._next = self.next_close(ts_open)
        return ts_close >= self._next

    def flags(self, ts_open: npt.NDArray[np.int64],
              ts_close: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """:meth:`is_last` for each bar of a chunk."""
        out = np.zeros(ts_open.shape[0], dtype=np.bool_)
        for i, (t_open, t_close) in enumerate(zip(ts_open.tolist(), ts_close.tolist(),
                                                  strict=True)):
            out[i] = self.is_last(t_open, t_close)
        return out

    def state(self) -> int:
        """The cached next close (for snapshots)."""
        return self._next

    def set_state(self, next_close: int) -> None:
        """Restore the cached next close."""
        self._next = next_close
