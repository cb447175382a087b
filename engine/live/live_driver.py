"""The live driver: market events received one by one, checked, and stepped through the same
session the backtest runs (live layer).

:class:`LiveDriver` takes each received ``Bar`` (bar data) or ``Tick`` (tick data) and either
rejects it, counted by reason and logged, or steps it through its
:class:`~engine.wiring.session.TradingSession`; the events accepted from one batch (what the daemon
found waiting on its socket: one bar when it keeps up, many in a burst) are stepped as one
chunk. The driver, aggregators and components are those of the backtest, and the replay is
chunk-size invariant (tested), so a stream of the backtest's bars gives the backtest's
decisions however it is batched.

Rejections (``LiveStats.rejected``), never fatal:

- ``type``: not the input the config expects (a ``Bar`` of ``data.bar_interval``, or a
  ``Tick``);
- ``instrument``: another symbol; ``timeframe``: a bar of another interval;
- ``invalid``: a non-finite price or volume, a price at or below zero, a negative volume, a
  high below the open or close, a low above them, an open time not before the close (the
  reader's ``nan``, ``non_positive``, ``negative_volume`` and ``ohlc`` rules, always as
  ``skip``: a live feed has no previous close to repair from that the backtest would share);
- ``duplicate``: a bar closing at the time of the last accepted one (ticks may share a time);
- ``out_of_order``: an event older than the last accepted one.

The decisions (``OrderIntent``, ``TradeRejected``, ``ConsensusReached``, ``RiskProposal``) each
accepted event led to are returned by :meth:`LiveDriver.on_event` in bus order.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Sequence

import msgspec
import numpy as np
import structlog

from engine.core.chunks import BarChunk, TickChunk
from engine.core.events import (
    Bar,
    ConsensusReached,
    Event,
    OrderIntent,
    RiskProposal,
    Tick,
    TradeRejected,
)
from engine.wiring.session import TradingSession

__all__ = ["DECISIONS", "LiveDriver", "LiveStats", "events_chunk", "market_reason"]

log = structlog.get_logger(__name__)

DECISIONS: tuple[type[Event], ...] = (ConsensusReached, RiskProposal, TradeRejected, OrderIntent)
"""The events a live run reports as decisions."""


class LiveStats(msgspec.Struct, kw_only=True):
    """Received, accepted and rejected (by reason) input events; the last accepted time."""

    received: int = 0
    accepted: int = 0
    rejected: dict[str, int] = msgspec.field(default_factory=dict)
    last_ts: int | None = None


class LiveDriver:
    """Check each received market event and step it through ``session`` (module docstring)."""

    def __init__(self, session: TradingSession) -> None:
        self.session = session
        config = session.config
        self.ticks = config.data.kind == "ticks"
        self.instrument = config.instrument_spec.symbol
        self.timeframe = config.data.bar_interval
        self.stats = LiveStats()
        self.equity = float("nan")
        self.position = 0.0
        self._decisions: list[Event] = []
        session.bus.add_tap(self._collect)
        session.attach_strategy()

    def _collect(self, event: Event) -> None:
        if type(event) in DECISIONS:
            self._decisions.append(event)

    def _reject(self, reason: str, event: object, detail: str) -> Sequence[Event]:
        self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1
        log.warning("live.rejected", reason=reason, detail=detail,
                    ts_event=getattr(event, "ts_event", None))
        return ()

    def _check(self, event: object) -> str | None:
        """The rejection reason for ``event``, or ``None`` when it is acceptable."""
        expected = Tick if self.ticks else Bar
        if type(event) is not expected:
            return "type"
        assert isinstance(event, Bar | Tick)
        if event.instrument != self.instrument:
            return "instrument"
        if isinstance(event, Bar) and event.timeframe != self.timeframe:
            return "timeframe"
        return market_reason(event, self.stats.last_ts)

    def on_event(self, event: object) -> Sequence[Event]:
        """Check ``event``; step it through the session; return the decisions it led to."""
        return self.on_events((event,))

    def on_events(self, events: Sequence[object]) -> Sequence[Event]:
        """Check each of ``events`` in order and step the accepted ones through the session as
        one chunk (the replay is chunk-size invariant: the decisions are those of stepping them
        one by one); return the decisions they led to."""
        accepted: list[Bar | Tick] = []
        for event in events:
            self.stats.received += 1
            reason = self._check(event)
            if reason is not None:
                self._reject(reason, event, f"{type(event).__name__}: {event!r}"[:200])
                continue
            assert isinstance(event, Bar | Tick)
            accepted.append(event)
            self.stats.accepted += 1
            self.stats.last_ts = event.ts_event
        self._decisions = []
        if not accepted:
            return ()
        self.session.step(events_chunk(accepted, self.ticks))
        marks = self.session.broker.take_marks()  # the live run keeps only the latest mark
        if marks.ts.shape[0]:
            self.equity = float(marks.equity[-1])
            self.position = float(marks.position[-1])
        return tuple(self._decisions)


def market_reason(event: Bar | Tick, last_ts: int | None) -> str | None:
    """Why a bar or tick of the right type, instrument and interval is rejected after one
    accepted at ``last_ts``: ``invalid``, ``duplicate``, ``out_of_order``; ``None`` if it is
    not (module docstring). ``algospace replay-journal`` re-derives the live stream with it."""
    if isinstance(event, Tick):
        if not (math.isfinite(event.price) and math.isfinite(event.size) and event.size >= 0
                and event.price > 0):
            return "invalid"
        if last_ts is not None and event.ts_event < last_ts:
            return "out_of_order"
        return None
    values = (event.open, event.high, event.low, event.close, event.volume)
    if (not all(math.isfinite(v) for v in values) or event.volume < 0
            or min(event.open, event.low) <= 0
            or event.high < max(event.open, event.close, event.low)
            or event.low > min(event.open, event.close) or event.ts_open >= event.ts_event):
        return "invalid"
    if last_ts is not None and event.ts_event <= last_ts:
        return "duplicate" if event.ts_event == last_ts else "out_of_order"
    return None


def events_chunk(events: Sequence[Bar | Tick], ticks: bool) -> BarChunk | TickChunk:
    """One chunk of received bars (``ticks`` false) or ticks, in order."""
    if ticks:
        tick_list = typing.cast(Sequence[Tick], events)
        return TickChunk(np.array([e.ts_event for e in tick_list], np.int64),
                         np.array([e.price for e in tick_list]),
                         np.array([e.size for e in tick_list]))
    bars = typing.cast(Sequence[Bar], events)
    return BarChunk(np.array([e.ts_open for e in bars], np.int64),
                    np.array([e.ts_event for e in bars], np.int64),
                    np.array([e.open for e in bars]), np.array([e.high for e in bars]),
                    np.array([e.low for e in bars]), np.array([e.close for e in bars]),
                    np.array([e.volume for e in bars]))
