"""The slow-timeframe matrix: one row per slow bar of MLMI, NW-RQK, LVN and time (component
layer). Normalisations in docs/assemblers.md, the arithmetic in
:mod:`components.assemblers.slow_kernels`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from components.assemblers.base import Assembler
from components.assemblers.buffer import _BufferState
from components.assemblers.kernels import Floats, Floats32
from components.assemblers.slow_kernels import (
    SLOW_COLUMNS,
    SLOW_PARAMETERS,
    slow_bar_nb,
    slow_init_state,
    slow_legacy_state,
    slow_lvn_nb,
    slow_mlmi_nb,
    slow_nwrqk_nb,
)
from engine.core.config import Config, PositiveInt
from engine.core.events import Bar, Event, LvnLevels, MlmiValue, NwrqkValue

__all__ = ["SLOW_COLUMNS", "SlowAssembler", "SlowAssemblerConfig", "time_features"]

_DAY_NS = 86_400 * 10**9
_TAU = 2.0 * math.pi
_NAN = math.nan


def time_features(ts_ns: int) -> tuple[float, float, float, float]:
    """sin/cos of the UTC hour of day (fractional) and of the weekday (Monday 0)."""
    hour = (ts_ns % _DAY_NS) / 3.6e12
    weekday = (ts_ns // _DAY_NS + 3) % 7  # 1970-01-01 was a Thursday
    return (math.sin(_TAU * hour / 24), math.cos(_TAU * hour / 24),
            math.sin(_TAU * weekday / 7), math.cos(_TAU * weekday / 7))


class SlowAssemblerConfig(Config, frozen=True):
    """Rows kept, the MLMI vote range and the span of the slope's z-score."""

    timeframe: str = "slow"
    window: PositiveInt = 48
    mlmi_neighbors: PositiveInt = 200
    slope_span: PositiveInt = 100


class _LegacyState(msgspec.Struct, array_like=True):
    """A snapshot written before the kernels."""

    buffer: _BufferState
    carry: list[float]
    close: float
    seen: int
    slope: tuple[float, float, int]


class SlowAssembler(Assembler[SlowAssemblerConfig]):
    """Rolling ``window x 13`` float32 matrix of the slow indicators, one row per slow bar."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, MlmiValue, NwrqkValue, LvnLevels)
    kind = "slow_assembler"
    width = len(SLOW_COLUMNS)
    _parameters = SLOW_PARAMETERS
    _legacy = _LegacyState

    def on_event(self, event: Event) -> Sequence[Event]:
        """Open a row on a slow bar; fill it from that bar's indicator events."""
        kind = type(event)
        if kind is Bar:
            assert isinstance(event, Bar)
            if event.timeframe == self._tf:
                slow_bar_nb(self._state, self._rows, event.close, event.ts_event)
        elif kind is MlmiValue:
            assert isinstance(event, MlmiValue)
            if event.timeframe == self._tf:
                slow_mlmi_nb(self._state, self._rows, event.value, event.signal)
        elif kind is NwrqkValue:
            assert isinstance(event, NwrqkValue)
            if event.timeframe == self._tf:
                slow_nwrqk_nb(self._state, self._rows, event.yhat1, event.slope, event.signal)
        elif kind is LvnLevels:
            assert isinstance(event, LvnLevels)
            if event.timeframe == self._tf:
                sd, ss = event.support_distance, event.support_strength
                rd, rs = event.resistance_distance, event.resistance_strength
                given = ((sd is not None) | (ss is not None) << 1 | (rd is not None) << 2
                         | (rs is not None) << 3)
                slow_lvn_nb(self._state, self._rows, _NAN if sd is None else sd,
                            _NAN if ss is None else ss, _NAN if rd is None else rd,
                            _NAN if rs is None else rs, given)
        return ()

    def _init_state(self) -> Floats:
        c = self.config
        return slow_init_state(c.window, c.mlmi_neighbors, c.slope_span)

    def _load_legacy(self, old: Any, state: Floats, rows: Floats32) -> None:
        if len(old.carry) != self.width:
            raise ValueError(f"expected {self.width} carried values")
        slow_legacy_state(state, old.carry, old.close, old.seen, old.slope)
