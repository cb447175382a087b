"""LVN (low-volume nodes) as a component (component layer).

Reads the real OHLCV of each closed bar of its timeframe (a volume profile needs real prices and
volume, so never Heiken Ashi) and returns ``LvnLevels`` once the profile window is full.
``tick_size`` comes from the instrument (the wiring sets it); ``bin_size`` can be coarser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from components.indicators.inputs import pack_state, unpack_state
from components.indicators.lvn.kernels import LVN_N_OUT, lvn_batch_nb, lvn_init_state, lvn_step_nb
from engine.core.chunks import BarChunk
from engine.core.config import Config, PositiveFloat, PositiveInt, Probability
from engine.core.events import Bar, Event, LvnLevels
from engine.core.timeframes import parse_timeframe

__all__ = ["Lvn", "LvnConfig"]


class LvnConfig(Config, frozen=True):
    """docs/design.md section 4: 20-bar profile at tick-size bins, nodes below 30% of the POC.

    ``tick_size = None`` takes the instrument's tick (the wiring fills it in).
    """

    timeframe: str = "slow"
    tick_size: PositiveFloat | None = None
    bin_size: PositiveFloat | None = None
    window: PositiveInt = 20
    threshold: Probability = 0.3

    def __post_init__(self) -> None:
        if self.timeframe not in ("fast", "slow"):
            parse_timeframe(self.timeframe)
        if self.tick_size is not None:
            lvn_init_state(self.tick_size, self.bin_size, self.window, self.threshold)


class Lvn:
    """Nearest support and resistance low-volume nodes of a rolling volume profile."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar,)

    def __init__(self, config: LvnConfig) -> None:
        if config.tick_size is None:
            raise ValueError("LvnConfig.tick_size: expected the instrument's tick size, was None")
        self.config = config
        self._tick = config.tick_size
        self.name = f"lvn.{config.timeframe}"
        self._out = np.zeros(LVN_N_OUT, dtype=np.float64)
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the profile window is full."""
        return self._bars >= self.config.window

    def on_event(self, event: Event) -> Sequence[Event]:
        """Update on a bar of the configured timeframe."""
        if type(event) is not Bar or event.timeframe != self.config.timeframe:
            return ()
        out = self._out
        lvn_step_nb(self._state, event.high, event.low, event.close, event.volume, out)
        self._bars += 1
        if not self.ready:
            return ()
        s_price, s_strength, s_distance, r_price, r_strength, r_distance, poc, poc_volume, \
            count = out.tolist()
        s = s_price == s_price  # a support (else its three columns are nan)
        r = r_price == r_price
        return (LvnLevels(event.ts_event, event.ts_init, event.instrument, event.timeframe,
                          s_price if s else None, s_strength if s else None,
                          s_distance if s else None, r_price if r else None,
                          r_strength if r else None, r_distance if r else None, poc,
                          poc_volume, int(count)),)

    def on_chunk(self, bars: BarChunk) -> npt.NDArray[np.float64]:
        """The batch form: float64 ``(n, 9)`` in the kernel's column order."""
        self._bars += bars.close.shape[0]
        return lvn_batch_nb(self._state, bars.high, bars.low, bars.close, bars.volume)

    def reset(self) -> None:
        """An empty profile."""
        c = self.config
        self._state = lvn_init_state(self._tick, c.bin_size, c.window, c.threshold)
        self._bars = 0

    def snapshot(self) -> bytes:
        """Kernel state and bar count."""
        return pack_state(self._state, self._bars)

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        self._state, self._bars = unpack_state(state)
