"""MLMI (kNN momentum) as a component (component layer).

Reads one price per closed bar of its timeframe — the Heiken Ashi close by default, as in the
original system (docs/reference/algospace_spec.md 2.4), or the bar's own close — and returns an
``MlmiValue`` with every
output of :mod:`components.indicators.mlmi.kernels` once the features are defined. The kNN
memory holds only crossovers up to the current bar. ``on_chunk`` is the batch form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

from components.indicators.inputs import pack_state, price_bar, source_type, unpack_state
from components.indicators.mlmi.kernels import mlmi_batch_nb, mlmi_init_state, mlmi_step_nb
from engine.core.config import Config, PositiveInt
from engine.core.events import Bar, Event, HeikenAshiBar, MlmiValue
from engine.core.timeframes import parse_timeframe

__all__ = ["Mlmi", "MlmiConfig"]


class MlmiConfig(Config, frozen=True):
    """docs/design.md section 4: WMA 5/20 crossovers, features WMA20(RSI20) and WMA20(RSI5), k = 200
    nearest of at most 10,000 stored points (oldest evicted)."""

    timeframe: str = "slow"
    source: Literal["heiken_ashi", "bar"] = "heiken_ashi"
    neighbors: PositiveInt = 200
    capacity: PositiveInt = 10_000
    ma_fast_period: PositiveInt = 5
    ma_slow_period: PositiveInt = 20
    rsi_fast_period: PositiveInt = 5
    rsi_slow_period: PositiveInt = 20
    feature_period: PositiveInt = 20

    def __post_init__(self) -> None:
        if self.timeframe not in ("fast", "slow"):
            parse_timeframe(self.timeframe)

    def state(self) -> npt.NDArray[np.float64]:
        """A fresh kernel state for these parameters."""
        return mlmi_init_state(self.neighbors, self.capacity, self.ma_fast_period,
                               self.ma_slow_period, self.rsi_fast_period,
                               self.rsi_slow_period, self.feature_period)


class Mlmi:
    """Causal k-nearest-neighbour momentum index of the (Heiken Ashi) closes."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, HeikenAshiBar)

    def __init__(self, config: MlmiConfig) -> None:
        self.config = config
        self.name = f"mlmi.{config.timeframe}"
        self._want: type[Event] = source_type(config.source)
        self._out = np.zeros(9, dtype=np.float64)
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the kNN value is defined."""
        return self._defined

    def on_event(self, event: Event) -> Sequence[Event]:
        """Update on a (Heiken Ashi) bar of the configured timeframe."""
        bar = price_bar(event, self._want, self.config.timeframe)
        if bar is None:
            return ()
        out = self._out
        mlmi_step_nb(self._state, bar.close, out)
        value, signal, stored, crossover, label, ma_fast, ma_slow, x1, x2 = out.tolist()
        if value != value:  # nan: the features are not defined yet
            return ()
        self._defined = True
        return (MlmiValue(bar.ts_event, bar.ts_init, bar.instrument, bar.timeframe, value,
                          int(signal), int(stored), int(crossover), int(label), ma_fast,
                          ma_slow, x1, x2),)

    def on_chunk(self, closes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The batch form: float64 ``(n, 9)`` in the kernel's column order."""
        out = mlmi_batch_nb(self._state, closes)
        if out.shape[0] and not math.isnan(out[-1, 0]):
            self._defined = True
        return out

    def reset(self) -> None:
        """Empty memory, no prices."""
        self._state = self.config.state()
        self._defined = False

    def snapshot(self) -> bytes:
        """Kernel state (memory included)."""
        return pack_state(self._state, int(self._defined))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        self._state, defined = unpack_state(state)
        self._defined = bool(defined)
