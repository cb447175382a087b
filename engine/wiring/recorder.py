"""Event log: every delivered event as length-prefixed msgpack (wiring layer).

The log is a bus tap. Each record is a 4-byte little-endian length followed by the msgpack of
one event, so a log can be read back as a stream and compared byte for byte: two replays of the
same config and data must write identical logs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from engine.core.errors import EngineError
from engine.core.events import AnyEvent, Event, decode, encode

__all__ = ["EventRecorder", "read_event_log"]

_LENGTH = struct.Struct("<I")


class EventRecorder:
    """Bus tap writing each event to ``sink``; counts what it wrote."""

    __slots__ = ("_sink", "count")

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.count = 0

    def __call__(self, event: Event) -> None:
        payload = encode(event)
        self._sink.write(_LENGTH.pack(len(payload)) + payload)
        self.count += 1


def read_event_log(source: BinaryIO) -> Iterator[AnyEvent]:
    """Yield the events of a log written by :class:`EventRecorder`."""
    offset = 0
    while header := source.read(_LENGTH.size):
        if len(header) < _LENGTH.size:
            raise EngineError(f"event log: truncated record header at byte {offset}")
        (size,) = _LENGTH.unpack(header)
        payload = source.read(size)
        if len(payload) < size:
            raise EngineError(
                f"event log: expected {size} bytes at byte {offset + 4}, was {len(payload)}"
            )
        yield decode(payload)
        offset += _LENGTH.size + size
