"""Heiken Ashi bars as a component (component layer).

Transforms each closed bar of its timeframe once (the kernel's formula) and returns a
``HeikenAshiBar`` with the bar's own ``ts_open``/``ts_event``, so a consumer of the slow
timeframe sees it at the slow close and never earlier. ``on_chunk`` is the batch form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec
import numpy as np

from components.bars.heiken_ashi_kernels import (
    heiken_ashi_batch_nb,
    heiken_ashi_init_state,
    heiken_ashi_step_nb,
)
from engine.core.chunks import BarChunk
from engine.core.config import Config
from engine.core.events import Bar, Event, HeikenAshiBar
from engine.core.timeframes import parse_timeframe

__all__ = ["HeikenAshi", "HeikenAshiConfig"]


class HeikenAshiConfig(Config, frozen=True):
    """The bars to transform: a label (``"30m"``) or ``"fast"``/``"slow"``, which the wiring
    resolves to the configured timeframes (default: the slow bars, docs/design.md section 4)."""

    timeframe: str = "slow"

    def __post_init__(self) -> None:
        if self.timeframe not in ("fast", "slow"):
            parse_timeframe(self.timeframe)


class HeikenAshi:
    """Heiken Ashi open/high/low/close of every bar of one timeframe.

    Examples
    --------
    >>> ha = HeikenAshi(HeikenAshiConfig(timeframe="30m"))
    >>> bar = Bar(ts_event=2, ts_init=2, instrument="ES", timeframe="30m", ts_open=1,
    ...           open=10.0, high=12.0, low=9.0, close=11.0, volume=5.0)
    >>> [(e.open, e.close) for e in ha.on_event(bar)]
    [(10.5, 10.5)]
    """

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar,)

    def __init__(self, config: HeikenAshiConfig) -> None:
        self.config = config
        self.name = f"heiken_ashi.{config.timeframe}"
        self._out = np.zeros(4, dtype=np.float64)
        self.reset()

    @property
    def ready(self) -> bool:
        """True from the first bar (Heiken Ashi needs no warm-up)."""
        return bool(self._state[0] > 0)

    def on_event(self, event: Event) -> Sequence[Event]:
        """Transform a bar of the configured timeframe."""
        if type(event) is not Bar or event.timeframe != self.config.timeframe:
            return ()
        out = self._out
        heiken_ashi_step_nb(self._state, event.open, event.high, event.low, event.close, out)
        ha_open, ha_high, ha_low, ha_close = out.tolist()
        return (HeikenAshiBar(event.ts_event, event.ts_init, event.instrument, event.timeframe,
                              event.ts_open, ha_open, ha_high, ha_low, ha_close),)

    def on_chunk(self, bars: BarChunk) -> np.ndarray:
        """The batch form: float64 ``(n, 4)`` open, high, low, close for a chunk of bars."""
        return heiken_ashi_batch_nb(self._state, bars.open, bars.high, bars.low, bars.close)

    def reset(self) -> None:
        """Forget the previous bar."""
        self._state = heiken_ashi_init_state()

    def snapshot(self) -> bytes:
        """The kernel state."""
        return msgspec.msgpack.encode(self._state.tolist())

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        self._state = np.array(msgspec.msgpack.decode(state, type=list[float]), dtype=np.float64)
