"""ZeroMQ messages of our events: topic-prefixed multipart msgpack (live layer).

A message is three frames:

    topic     ASCII, ``<type>.<instrument>[.<timeframe>]`` (e.g. ``bar.ES.1m``, ``tick.ES``):
              subscribers filter on its prefix
    version   ASCII decimal schema version (``SCHEMA_VERSION``)
    payload   msgpack of one event (:func:`engine.core.events.encode`, tagged with its type)

:func:`decode_message` checks all three and raises :class:`WireError` with a stable ``reason``
(``frames``, ``version``, ``payload``, ``topic``) the daemon counts, and a message naming what
was found, so bad input is counted and skipped, never fatal.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.core.errors import EngineError
from engine.core.events import AnyEvent, Event, decode, encode

__all__ = ["SCHEMA_VERSION", "WireError", "decode_message", "encode_message", "topic_for"]

SCHEMA_VERSION = 1
_VERSION = str(SCHEMA_VERSION).encode()


class WireError(EngineError):
    """A message that is not one of ours: ``reason`` names the check that failed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def _kind(event: Event) -> str:
    name = type(event).__name__
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


def topic_for(event: Event) -> bytes:
    """``<type>.<instrument>[.<timeframe>]`` in snake case (``Bar`` -> ``bar.ES.1m``).

    Examples
    --------
    >>> from engine.core.events import Tick
    >>> topic_for(Tick(ts_event=1, ts_init=1, instrument="ES", price=1.0, size=1.0))
    b'tick.ES'
    """
    parts = [_kind(event), str(getattr(event, "instrument", "") or "")]
    timeframe = getattr(event, "timeframe", None)
    if timeframe:
        parts.append(str(timeframe))
    return ".".join(parts).encode()


def encode_message(event: Event) -> list[bytes]:
    """The three frames of ``event``."""
    return [topic_for(event), _VERSION, encode(event)]


def decode_message(frames: Sequence[bytes]) -> AnyEvent:
    """The event in ``frames``; :class:`WireError` when they are not one of our messages.

    Examples
    --------
    >>> from engine.core.events import Tick
    >>> tick = Tick(ts_event=1, ts_init=1, instrument="ES", price=1.0, size=1.0)
    >>> decode_message(encode_message(tick)) == tick
    True
    >>> decode_message([b"tick.ES", b"9", b""])
    Traceback (most recent call last):
    ...
    engine.live.wire.WireError: version: expected schema version 1, was b'9'
    """
    if len(frames) != 3:
        raise WireError("frames", f"expected 3 frames (topic, version, payload), got "
                        f"{len(frames)}")
    topic, version, payload = frames
    if version != _VERSION:
        raise WireError("version", f"expected schema version {SCHEMA_VERSION}, was "
                        f"{bytes(version)[:16]!r}")
    try:
        event = decode(payload)
    except Exception as exc:  # msgspec.DecodeError / ValidationError: the detail names the field
        raise WireError("payload", f"{exc} (topic {bytes(topic)[:40]!r})") from exc
    expected = topic_for(event)
    if topic != expected:
        raise WireError("topic", f"expected {expected!r} for the payload, was "
                        f"{bytes(topic)[:40]!r}")
    return event
