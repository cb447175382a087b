"""Helpers shared by the indicator components: price input and state encoding (component layer).

An indicator reads either bars or their Heiken Ashi transform of one timeframe
(:func:`price_bar`), and its whole state is one float64 kernel array plus a counter
(:func:`pack_state` / :func:`unpack_state`).
"""

from __future__ import annotations

from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from engine.core.events import Bar, Event, HeikenAshiBar

__all__ = ["pack_state", "price_bar", "source_type", "unpack_state"]


def source_type(source: Literal["bar", "heiken_ashi"]) -> type[Event]:
    """The event type a ``source`` setting reads."""
    return HeikenAshiBar if source == "heiken_ashi" else Bar


def price_bar(event: Event, want: type[Event], timeframe: str) -> Bar | HeikenAshiBar | None:
    """``event`` if it is a ``want`` (bar or Heiken Ashi bar) of ``timeframe``, else ``None``."""
    if type(event) is not want:
        return None
    assert isinstance(event, Bar | HeikenAshiBar)
    return event if event.timeframe == timeframe else None


def pack_state(state: npt.NDArray[np.float64], count: int) -> bytes:
    """Encode a kernel state array and a counter."""
    return msgspec.msgpack.encode((state.tolist(), count))


def unpack_state(data: bytes) -> tuple[npt.NDArray[np.float64], int]:
    """Decode what :func:`pack_state` wrote."""
    values, count = msgspec.msgpack.decode(data, type=tuple[list[float], int])
    return np.array(values, dtype=np.float64), count
