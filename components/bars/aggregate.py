"""Session-aligned OHLCV bar aggregation from ticks or shorter bars (component layer).

:class:`BarAggregator` turns input bars (``input_timeframe``) or ticks into bars of
``timeframe`` whose buckets follow the session clock (:mod:`components.bars.sessions`). It has
two entry points on one state, which can be mixed freely:

- ``on_event(Bar | Tick)``, the Component protocol, one event at a time (live);
- ``on_chunk(BarChunk | TickChunk)``, the batch kernel over a whole chunk (replay, training).

Invariants
----------
- An input row belongs to the bucket of its ``ts_open`` (a tick: its ``ts_event``); buckets are
  left-closed, so a tick exactly at a bucket end opens the next bucket.
- A bar is emitted once its bucket is known to be complete: *after* the row whose close reaches
  the bucket end exactly, or *before* the first row of a later bucket (a gap in bar input, and
  always for ticks). Its ``ts_event`` is the bucket end, its ``ts_open`` the bucket start.
  Missing buckets are not invented.
- A "late" bar (closed by a later row) therefore has ``ts_event`` earlier than the row that
  revealed it. The replay driver runs aggregation ahead of the bus and merges bars and input
  rows by ``(ts_event, rank)`` with late bars ranked first, so the bus still sees time order.
  ``on_event`` returns such a bar stamped with its own close too, which the bus's check on
  derived events (``ts_event`` equal to the trigger's) refuses: subscribed directly to the bus,
  the aggregator works only while no bucket ends in a gap (never for ticks), which is why the
  driver runs it ahead of the bus.
- The last, partially filled bucket is never emitted by ``on_event``/``on_chunk``; ``flush()``
  emits it on request (end of data), and only bars from ``flush()`` can be partial.
- Input that goes back in time, falls into a bucket already emitted or crosses its bucket's
  end (bars misaligned with the session clock) raises ``ValueError`` naming the row, and leaves
  the state unchanged (``on_chunk`` is all or nothing).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple, NoReturn

import msgspec
import numpy as np

from components.bars.kernels import (
    CROSSES_BUCKET,
    EMITTED_END,
    LAST_TS,
    OUT_BEFORE,
    OUT_TS_CLOSE,
    OUT_TS_OPEN,
    aggregate_batch_nb,
    aggregate_flush_nb,
    aggregate_init_state,
    aggregate_step_nb,
)
from components.bars.sessions import DAY_NS, SessionBuckets, bucket_bounds, parse_session_open
from engine.core.chunks import BarChunk, TickChunk
from engine.core.config import Config
from engine.core.events import Bar, Event, Tick
from engine.core.timeframes import parse_timeframe

__all__ = ["AggregatedBars", "BarAggregator", "BarAggregatorConfig"]

_NEVER = int(aggregate_init_state()[0][EMITTED_END])


class BarAggregatorConfig(Config, frozen=True):
    """Configuration of :class:`BarAggregator`.

    Parameters
    ----------
    instrument
        Symbol of the input events to aggregate (others are ignored) and of the output bars.
    timeframe
        Output bar length label, at most ``"1d"``.
    input_timeframe
        Label of the input bars; ``None`` aggregates ticks. Must divide ``timeframe`` and one
        day, and be shorter than ``timeframe``.
    session_open, session_timezone
        Local wall time at which the trading day starts, and its IANA zone.
    """

    instrument: str
    timeframe: str = "5m"
    input_timeframe: str | None = "1m"
    session_open: str = "00:00"
    session_timezone: str = "UTC"

    def __post_init__(self) -> None:
        tf = parse_timeframe(self.timeframe)
        if tf > DAY_NS:
            raise ValueError(f"timeframe: expected at most '1d', was {self.timeframe!r}")
        if self.input_timeframe is not None:
            input_tf = parse_timeframe(self.input_timeframe)
            if input_tf >= tf or tf % input_tf or DAY_NS % input_tf:
                raise ValueError(
                    f"input_timeframe: expected a length that divides timeframe "
                    f"{self.timeframe!r} and one day and is shorter, was "
                    f"{self.input_timeframe!r}"
                )
        parse_session_open(self.session_open)
        SessionBuckets(tf, self.session_open, self.session_timezone)  # validates the zone


class AggregatedBars(NamedTuple):
    """Completed bars of one chunk, as columns.

    ``ts_open``/``ts_close`` are int64 ns (bucket start and end, ``ts_close`` is the bar's
    ``ts_event``); prices and volume float64. ``trigger_index`` is the chunk row that emitted the
    bar (``-1`` from :meth:`BarAggregator.flush`); ``before_trigger`` is True when the bar was
    closed before that row was applied (a late close, ``ts_close <= `` the row's ``ts_open``),
    False when the row completed it (``ts_close`` equals the row's close).
    """

    ts_open: np.ndarray
    ts_close: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    trigger_index: np.ndarray
    before_trigger: np.ndarray

    @property
    def rows(self) -> int:
        """Number of bars."""
        return int(self.ts_open.shape[0])


class _State(msgspec.Struct, frozen=True):
    instrument: str
    timeframe: str
    state_i: list[int]
    state_f: list[float]


class BarAggregator:
    """Aggregate bars or ticks of one instrument into session-aligned bars of ``timeframe``.

    Parameters
    ----------
    config
        Instrument, output and input timeframes and session clock.

    Examples
    --------
    >>> agg = BarAggregator(BarAggregatorConfig(instrument="ES", timeframe="2m"))
    >>> def one_minute(i, price):
    ...     t = i * 60 * 10**9
    ...     return Bar(ts_event=t + 60 * 10**9, ts_init=0, instrument="ES", timeframe="1m",
    ...                ts_open=t, open=price, high=price + 1, low=price - 1, close=price,
    ...                volume=1.0)
    >>> agg.on_event(one_minute(0, 10.0))
    []
    >>> [(b.ts_open, b.ts_event, b.open, b.high, b.close, b.volume)
    ...  for b in agg.on_event(one_minute(1, 12.0))]
    [(0, 120000000000, 10.0, 13.0, 12.0, 2.0)]
    """

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, Tick)

    def __init__(self, config: BarAggregatorConfig) -> None:
        self.config = config
        self.name = f"bar_aggregator.{config.instrument}.{config.timeframe}"
        self._timeframe_ns = parse_timeframe(config.timeframe)
        self._input_ns = (
            None if config.input_timeframe is None else parse_timeframe(config.input_timeframe)
        )
        self._buckets = SessionBuckets(
            self._timeframe_ns, config.session_open, config.session_timezone
        )
        self._state_i, self._state_f = aggregate_init_state()
        self._out_i = np.zeros((3, 2), dtype=np.int64)
        self._out_f = np.zeros((5, 2), dtype=np.float64)

    @property
    def timeframe(self) -> str:
        """Label of the output bars."""
        return self.config.timeframe

    @property
    def ready(self) -> bool:
        """Whether a bar has been completed (aggregation needs no other warm-up)."""
        return bool(self._state_i[EMITTED_END] != _NEVER)

    def on_event(self, event: Event) -> list[Bar]:
        """Apply one input bar or tick; return the bars it completed (oldest first)."""
        config = self.config
        match event:
            case Bar() if (
                event.timeframe == config.input_timeframe
                and event.instrument == config.instrument
            ):
                if event.ts_event - event.ts_open != self._input_ns:
                    raise ValueError(
                        f"{self.name}: expected {config.input_timeframe} bars "
                        f"({self._input_ns} ns), was a bar of {event.ts_event - event.ts_open} "
                        f"ns at ts_open {event.ts_open}"
                    )
                return self._step(event.ts_open, event.ts_event, event.open, event.high,
                                  event.low, event.close, event.volume, event.ts_init)
            case Tick() if config.input_timeframe is None and event.instrument == config.instrument:
                price = event.price
                return self._step(event.ts_event, event.ts_event, price, price, price, price,
                                  event.size, event.ts_init)
        return []

    def on_chunk(self, chunk: BarChunk | TickChunk) -> AggregatedBars:
        """Aggregate a whole chunk with the batch kernel; return the bars it completed."""
        if isinstance(chunk, TickChunk):
            if self._input_ns is not None:
                raise ValueError(f"{self.name}: expected BarChunk of {self.config.input_timeframe}"
                                 f" bars, was TickChunk")
            ts_open = ts_close = np.asarray(chunk.ts, dtype=np.int64)
            price = np.asarray(chunk.price, dtype=np.float64)
            columns: tuple[np.ndarray, ...] = (
                price, price, price, price, np.asarray(chunk.size, dtype=np.float64))
        else:
            if self._input_ns is None:
                raise ValueError(f"{self.name}: expected TickChunk, was BarChunk")
            ts_open = np.asarray(chunk.ts_open, dtype=np.int64)
            ts_close = np.asarray(chunk.ts_close, dtype=np.int64)
            bad = np.flatnonzero(ts_close - ts_open != self._input_ns)
            if bad.size:
                row = int(bad[0])
                raise ValueError(
                    f"{self.name}: expected {self.config.input_timeframe} bars "
                    f"({self._input_ns} ns), was a bar of {ts_close[row] - ts_open[row]} ns at "
                    f"row {row}"
                )
            columns = tuple(np.asarray(c, dtype=np.float64)
                            for c in (chunk.open, chunk.high, chunk.low, chunk.close,
                                      chunk.volume))
        start, end = bucket_bounds(ts_open, self._timeframe_ns, self.config.session_open,
                                   self.config.session_timezone)
        saved = self._state_i.copy(), self._state_f.copy()
        out_i, out_f, trigger, status, consumed = aggregate_batch_nb(
            self._state_i, self._state_f, start, end, ts_open, ts_close, *columns
        )
        if status < 0:  # all or nothing: drop the rows applied before the rejected one
            self._state_i, self._state_f = saved
            row = int(consumed)
            self._raise(int(status), int(ts_open[row]), int(ts_close[row]), int(start[row]),
                        int(end[row]), f" at row {row}")
        return _columns(out_i, out_f, trigger)

    def flush(self) -> AggregatedBars:
        """Emit the open bucket and close it; the bar is **partial** (no input reached its end).

        Call it at the end of data. Its ``trigger_index`` is -1 and ``before_trigger`` True; later
        input inside that bucket is rejected as out of order.
        """
        out_i = np.empty((3, 1), dtype=np.int64)
        out_f = np.empty((5, 1), dtype=np.float64)
        n = aggregate_flush_nb(self._state_i, self._state_f, out_i, out_f, 0)
        return _columns(out_i[:, :n], out_f[:, :n], np.full(n, -1, dtype=np.int64))

    def reset(self) -> None:
        """Drop the open bucket and all history."""
        self._state_i, self._state_f = aggregate_init_state()

    def snapshot(self) -> bytes:
        """Serialise the state (msgpack of the kernel state arrays)."""
        return msgspec.msgpack.encode(_State(self.config.instrument, self.config.timeframe,
                                             self._state_i.tolist(), self._state_f.tolist()))

    def restore(self, state: bytes) -> None:
        """Replace the state with one produced by :meth:`snapshot` of the same configuration."""
        decoded = msgspec.msgpack.decode(state, type=_State)
        fresh_i, fresh_f = aggregate_init_state()
        expected = (self.config.instrument, self.config.timeframe, fresh_i.size, fresh_f.size)
        found = (decoded.instrument, decoded.timeframe, len(decoded.state_i),
                 len(decoded.state_f))
        if found != expected:
            raise ValueError(f"{self.name}: expected a snapshot of {expected}, was {found}")
        self._state_i = np.array(decoded.state_i, dtype=np.int64)
        self._state_f = np.array(decoded.state_f, dtype=np.float64)

    def _step(self, ts_open: int, ts_close: int, open_: float, high: float, low: float,
              close: float, volume: float, ts_init: int) -> list[Bar]:
        start, end = self._buckets.bounds(ts_open)
        out_i, out_f = self._out_i, self._out_f
        n = aggregate_step_nb(self._state_i, self._state_f, start, end, ts_open, ts_close,
                              float(open_), float(high), float(low), float(close), float(volume),
                              out_i, out_f, 0)
        if n < 0:
            self._raise(n, ts_open, ts_close, start, end, "")
        config = self.config
        return [
            Bar(ts_event=int(out_i[OUT_TS_CLOSE, q]), ts_init=ts_init,
                instrument=config.instrument, timeframe=config.timeframe,
                ts_open=int(out_i[OUT_TS_OPEN, q]), open=float(out_f[0, q]),
                high=float(out_f[1, q]), low=float(out_f[2, q]), close=float(out_f[3, q]),
                volume=float(out_f[4, q]))
            for q in range(n)
        ]

    def _raise(self, status: int, ts_open: int, ts_close: int, start: int, end: int,
               where: str) -> NoReturn:
        if status == CROSSES_BUCKET:
            raise ValueError(
                f"{self.name}: expected input inside one bucket [{start}, {end}), was a bar "
                f"[{ts_open}, {ts_close}){where} (input bars not aligned to the session clock?)"
            )
        raise ValueError(
            f"{self.name}: expected input at or after ts {int(self._state_i[LAST_TS])} and "
            f"outside buckets already emitted, was ts {ts_open} in bucket [{start}, {end})"
            f"{where}"
        )


def _columns(out_i: np.ndarray, out_f: np.ndarray, trigger: np.ndarray) -> AggregatedBars:
    # rows of the kernel's [field, bar] outputs are contiguous columns already: no copies
    return AggregatedBars(out_i[OUT_TS_OPEN], out_i[OUT_TS_CLOSE], out_f[0], out_f[1], out_f[2],
                          out_f[3], out_f[4], trigger, out_i[OUT_BEFORE].astype(bool))
