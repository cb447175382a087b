"""Typed events that travel on the bus and over the wire (foundation layer).

Every event is a frozen, tagged msgspec Struct with two int-nanosecond UTC timestamps:

- ``ts_event``: when the thing happened. For a bar this is its **close** time; a bar only
  exists once it has closed, so nothing can observe it earlier.
- ``ts_init``: when this object was created (the clock's time in the process that built it).

There are no dict or ``Any`` payloads. ``AnyEvent`` is the union of all concrete events, and one
reused msgpack encoder/decoder pair serialises it (see :func:`encode` / :func:`decode`).
Later layers add their events here, to the union, so a single decoder reads every message.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

__all__ = [
    "AnyEvent",
    "Bar",
    "Event",
    "EVENT_TYPES",
    "Heartbeat",
    "Tick",
    "decode",
    "decode_many",
    "encode",
]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Base of every event: UNIX-nanosecond ``ts_event`` and ``ts_init``."""

    ts_event: int
    ts_init: int


class Bar(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """One closed OHLCV bar.

    ``ts_open`` is the bucket start, ``ts_event`` the bucket close (exclusive end), so
    ``ts_event - ts_open`` is the bar's nominal length. ``timeframe`` is its label
    (``"1m"``, ``"5m"``, ``"30m"`` ...), parsed by :func:`engine.timeframes.parse_timeframe`.
    """

    instrument: str
    timeframe: str
    ts_open: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class Tick(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """One trade print: ``price`` and ``size`` at ``ts_event``."""

    instrument: str
    price: float
    size: float


class Heartbeat(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """Liveness beacon of a process, with its own monotonically increasing ``sequence``."""

    source: str
    sequence: int


AnyEvent: TypeAlias = Bar | Tick | Heartbeat

EVENT_TYPES: tuple[type[Event], ...] = (Bar, Tick, Heartbeat)

_ENCODER = msgspec.msgpack.Encoder()
_DECODER: msgspec.msgpack.Decoder[AnyEvent] = msgspec.msgpack.Decoder(AnyEvent)
_LIST_DECODER: msgspec.msgpack.Decoder[list[AnyEvent]] = msgspec.msgpack.Decoder(list[AnyEvent])


def encode(event: Event) -> bytes:
    """Encode one event (or a list of events) to msgpack with its type tag."""
    return _ENCODER.encode(event)


def decode(data: bytes) -> AnyEvent:
    """Decode msgpack produced by :func:`encode` back into the concrete event type.

    Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` naming the bad field.
    """
    return _DECODER.decode(data)


def decode_many(data: bytes) -> list[AnyEvent]:
    """Decode a msgpack array of events (an event log)."""
    return _LIST_DECODER.decode(data)
