"""NW-RQK as a component (component layer).

Reads one price per closed bar of its timeframe — the Heiken Ashi close by default, as the
original system did (docs/reference/algospace_spec.md 2.4), or the bar's own close — and returns an
``NwrqkValue`` with
every output of :mod:`components.indicators.nwrqk.kernels` once the slope is defined.
``on_chunk`` runs the batch kernel over a chunk of closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

from components.indicators.inputs import pack_state, price_bar, source_type, unpack_state
from components.indicators.nwrqk.kernels import nwrqk_batch_nb, nwrqk_init_state, nwrqk_step_nb
from engine.core.config import Config, NonNegativeInt, PositiveFloat, PositiveInt
from engine.core.events import Bar, Event, HeikenAshiBar, NwrqkValue
from engine.core.timeframes import parse_timeframe

__all__ = ["Nwrqk", "NwrqkConfig"]


class NwrqkConfig(Config, frozen=True):
    """Parameters of docs/design.md section 4 (h 8, r 8, x0 25, lag 2, window 500) and the input."""

    timeframe: str = "slow"
    source: Literal["heiken_ashi", "bar"] = "heiken_ashi"
    h: PositiveFloat = 8.0
    r: PositiveFloat = 8.0
    x0: NonNegativeInt = 25
    lag: float = 2.0
    window: PositiveInt = 500

    def __post_init__(self) -> None:
        if self.timeframe not in ("fast", "slow"):
            parse_timeframe(self.timeframe)
        nwrqk_init_state(self.h, self.r, self.x0, self.lag, 1)  # validates h, r, lag, x0


class Nwrqk:
    """Nadaraya-Watson rational-quadratic regression of the (Heiken Ashi) closes."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, HeikenAshiBar)

    def __init__(self, config: NwrqkConfig) -> None:
        self.config = config
        self.name = f"nwrqk.{config.timeframe}"
        self._want: type[Event] = source_type(config.source)
        self._out = np.zeros(8, dtype=np.float64)
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the slope is defined (``x0 + 2`` bars)."""
        return self._bars >= self.config.x0 + 2

    def on_event(self, event: Event) -> Sequence[Event]:
        """Update on a (Heiken Ashi) bar of the configured timeframe."""
        bar = price_bar(event, self._want, self.config.timeframe)
        if bar is None:
            return ()
        out = self._out
        nwrqk_step_nb(self._state, bar.close, out)
        self._bars += 1
        if not self.ready:
            return ()
        yhat1, yhat2, slope, up_change, down_change, up_cross, down_cross, signal = out.tolist()
        return (NwrqkValue(bar.ts_event, bar.ts_init, bar.instrument, bar.timeframe, yhat1,
                           yhat2, slope, up_change > 0.0, down_change > 0.0, up_cross > 0.0,
                           down_cross > 0.0, int(signal)),)

    def on_chunk(self, closes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The batch form: float64 ``(n, 8)`` in the kernel's column order."""
        self._bars += closes.shape[0]
        return nwrqk_batch_nb(self._state, closes)

    def reset(self) -> None:
        """Fresh state (weights recomputed)."""
        c = self.config
        self._state = nwrqk_init_state(c.h, c.r, c.x0, c.lag, c.window)
        self._bars = 0

    def snapshot(self) -> bytes:
        """Kernel state and bar count."""
        return pack_state(self._state, self._bars)

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        self._state, self._bars = unpack_state(state)
