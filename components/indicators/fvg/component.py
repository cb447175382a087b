"""FVG (fair value gaps) as a component (component layer).

On each closed bar of its timeframe (the fast bars by default, docs/design.md section 4) returns an
``FvgState`` with every output of :mod:`components.indicators.fvg.kernels`, and one
``FvgMitigated`` per side whose active gaps price traded back into at this bar. ``on_chunk`` runs
the batch kernel over a chunk of bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from components.indicators.fvg.kernels import (
    FVG_N_OUT,
    fvg_batch_nb,
    fvg_init_state,
    fvg_step_nb,
)
from components.indicators.inputs import pack_state, unpack_state
from engine.core.chunks import BarChunk
from engine.core.config import Config, PositiveFloat, PositiveInt, Probability
from engine.core.events import Bar, Event, FvgMitigated, FvgState
from engine.core.timeframes import parse_timeframe

__all__ = ["Fvg", "FvgConfig"]



class FvgConfig(Config, frozen=True):
    """docs/design.md section 4: body filter 1.5x the mean body of the prior 10 bars, gaps tracked
    50 bars; ``fill_fraction`` 0 mitigates on touching the near edge, 1 on filling the gap."""

    timeframe: str = "fast"
    body_multiplier: PositiveFloat = 1.5
    body_lookback: PositiveInt = 10
    max_age: PositiveInt = 50
    capacity: PositiveInt = 64
    fill_fraction: Probability = 0.0

    def __post_init__(self) -> None:
        if self.timeframe not in ("fast", "slow"):
            parse_timeframe(self.timeframe)
        self.state()

    def state(self) -> npt.NDArray[np.float64]:
        """A fresh kernel state for these parameters."""
        return fvg_init_state(body_multiplier=self.body_multiplier,
                              body_lookback=self.body_lookback, max_age=self.max_age,
                              capacity=self.capacity, fill_fraction=self.fill_fraction)


class Fvg:
    """Fair value gap detection, tracking, nearest level and mitigation."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar,)

    def __init__(self, config: FvgConfig) -> None:
        self.config = config
        self.name = f"fvg.{config.timeframe}"
        self._out = np.zeros(FVG_N_OUT, dtype=np.float64)
        self.reset()

    @property
    def ready(self) -> bool:
        """True once a gap can be detected (the body mean and two previous bars exist)."""
        return self._bars > self.config.body_lookback + 1

    def on_event(self, event: Event) -> Sequence[Event]:
        """Update on a bar of the configured timeframe."""
        if type(event) is not Bar or event.timeframe != self.config.timeframe:
            return ()
        out = self._out
        fvg_step_nb(self._state, event.open, event.high, event.low, event.close, out)
        self._bars += 1
        return self._events(event, out.tolist())

    def on_chunk(self, bars: BarChunk) -> npt.NDArray[np.float64]:
        """The batch form: float64 ``(n, len(FVG_COLUMNS))`` in the kernel's column order."""
        self._bars += bars.close.shape[0]
        return fvg_batch_nb(self._state, bars.open, bars.high, bars.low, bars.close)

    def reset(self) -> None:
        """No bars, no gaps."""
        self._state = self.config.state()
        self._bars = 0

    def snapshot(self) -> bytes:
        """Kernel state and bar count."""
        return pack_state(self._state, self._bars)

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        self._state, self._bars = unpack_state(state)

    def _events(self, bar: Bar, v: list[float]) -> list[Event]:
        (bullish_new, bearish_new, new_bottom, new_top, new_size, new_size_pct, bullish_count,
         bearish_count, _, _, side, level, distance, bottom, top, age, size, size_pct,
         *mitigations) = v
        ts, ts_init, sym, tf = bar.ts_event, bar.ts_init, bar.instrument, bar.timeframe
        # the kernel writes each group whole or all nan (the new gap, the nearest gap), except
        # a percentage of a zero close (nan)
        n = new_bottom == new_bottom
        g = level == level
        events: list[Event] = [FvgState(
            ts, ts_init, sym, tf, bullish_new > 0.0, bearish_new > 0.0,
            new_bottom if n else None, new_top if n else None, new_size if n else None,
            new_size_pct if new_size_pct == new_size_pct else None,
            int(bullish_count), int(bearish_count), int(side),
            level if g else None, distance if g else None, bottom if g else None,
            top if g else None, int(age) if g else None, size if g else None,
            size_pct if size_pct == size_pct else None)]
        if mitigations[0] > 0.0:
            _, count, m_size, m_pct, m_age = mitigations[:5]
            events.append(FvgMitigated(ts, ts_init, sym, tf, 1, int(count), m_size, m_pct,
                                       int(m_age)))
        if mitigations[5] > 0.0:
            _, count, m_size, m_pct, m_age = mitigations[5:]
            events.append(FvgMitigated(ts, ts_init, sym, tf, -1, int(count), m_size, m_pct,
                                       int(m_age)))
        return events
