"""Clocks behind one interface (core layer).

Only ``engine/`` reads time. Replay drives a :class:`TestClock` from the data (simulated time,
never wall time); live runs use :class:`LiveClock`. Both return int UNIX nanoseconds.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from engine.core.errors import OrderingError

__all__ = ["Clock", "LiveClock", "TestClock"]


@runtime_checkable
class Clock(Protocol):
    """Source of the current time in UNIX nanoseconds."""

    def timestamp_ns(self) -> int:
        """Return the current time in int UNIX nanoseconds (UTC)."""
        ...


class TestClock:
    """Simulated clock: time only moves when the driver advances it, and never backwards.

    Examples
    --------
    >>> clock = TestClock(100)
    >>> clock.advance_to(250)
    >>> clock.timestamp_ns()
    250
    """

    __test__ = False  # not a pytest test class despite the name

    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def timestamp_ns(self) -> int:
        """Return the simulated time."""
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move the clock to ``ts_ns``; raise :class:`OrderingError` if that is in the past."""
        if ts_ns < self._now:
            raise OrderingError(
                f"TestClock.advance_to: expected ts >= {self._now}, was {ts_ns}"
            )
        self._now = ts_ns


class LiveClock:
    """Wall clock (UTC), for the live driver only."""

    __slots__ = ()

    def timestamp_ns(self) -> int:
        """Return the system time in UNIX nanoseconds."""
        return time.time_ns()
