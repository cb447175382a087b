"""The slow-timeframe matrix: one row per slow bar of MLMI, NW-RQK, LVN and time (component
layer). Normalisations in docs/assemblers.md."""

from __future__ import annotations

import math
from typing import ClassVar

import msgspec

from components.assemblers.base import Assembler
from components.assemblers.buffer import (
    EwZScore,
    RowBuffer,
    _BufferState,
    clip_unit,
)
from engine.core.config import Config, PositiveInt
from engine.core.events import Bar, Event, LvnLevels, MlmiValue, NwrqkValue

__all__ = ["SLOW_COLUMNS", "SlowAssembler", "SlowAssemblerConfig", "time_features"]

SLOW_COLUMNS = ("mlmi_value", "mlmi_signal", "nwrqk_distance", "nwrqk_slope", "nwrqk_signal",
                "lvn_support_proximity", "lvn_support_strength", "lvn_resistance_proximity",
                "lvn_resistance_strength", "hour_sin", "hour_cos", "weekday_sin", "weekday_cos")
_SIGNALS = (1, 4)  # columns that describe the bar itself, not carried to the next row
_DAY_NS = 86_400 * 10**9
_TAU = 2.0 * math.pi


def time_features(ts_ns: int) -> tuple[float, float, float, float]:
    """sin/cos of the UTC hour of day (fractional) and of the weekday (Monday 0)."""
    hour = (ts_ns % _DAY_NS) / 3.6e12
    weekday = (ts_ns // _DAY_NS + 3) % 7  # 1970-01-01 was a Thursday
    return (math.sin(_TAU * hour / 24), math.cos(_TAU * hour / 24),
            math.sin(_TAU * weekday / 7), math.cos(_TAU * weekday / 7))


def proximity(distance: float | None, close: float) -> float:
    """``exp(-100 * distance / close)``: 1 at the level, 0.37 at 1% away, 0 when none."""
    return 0.0 if distance is None else math.exp(-100.0 * distance / close)


class SlowAssemblerConfig(Config, frozen=True):
    """Rows kept, the MLMI vote range and the span of the slope's z-score."""

    timeframe: str = "slow"
    window: PositiveInt = 48
    mlmi_neighbors: PositiveInt = 200
    slope_span: PositiveInt = 100


class _State(msgspec.Struct, array_like=True):
    buffer: _BufferState
    carry: list[float]
    close: float
    seen: int
    slope: tuple[float, float, int]


class SlowAssembler(Assembler[SlowAssemblerConfig]):
    """Rolling ``window x 13`` float32 matrix of the slow indicators, one row per slow bar."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, MlmiValue, NwrqkValue, LvnLevels)
    kind = "slow_assembler"
    _buffer: RowBuffer
    _carry: list[float]
    _close: float
    _seen: int
    _slope: EwZScore

    def _fill(self, event: Event) -> None:
        kind = type(event)
        close = self._close
        if kind is MlmiValue:
            assert isinstance(event, MlmiValue)
            self._put(0, clip_unit(event.value, self.config.mlmi_neighbors))
            self._put(1, float(event.signal))
            self._seen |= 1
        elif kind is NwrqkValue:
            assert isinstance(event, NwrqkValue)
            self._put(2, clip_unit((event.yhat1 - close) / close, 0.05))
            self._put(3, self._slope(event.slope / close))
            self._put(4, float(event.signal))
            self._seen |= 2
        elif kind is LvnLevels:
            assert isinstance(event, LvnLevels)
            self._put(5, proximity(event.support_distance, close))
            self._put(6, (event.support_strength or 0.0) / 100.0)
            self._put(7, proximity(event.resistance_distance, close))
            self._put(8, (event.resistance_strength or 0.0) / 100.0)
            self._seen |= 4

    def _put(self, column: int, value: float) -> None:
        self._buffer.set(column, value)
        if column not in _SIGNALS:
            self._carry[column] = value

    def _open(self, bar: Bar) -> None:
        self._close = bar.close
        row = list(self._carry)
        row[9:13] = time_features(bar.ts_event)
        self._buffer.open(row, self._seen == 7)

    def reset(self) -> None:
        """No rows, nothing seen."""
        self._buffer = RowBuffer(self.config.window, len(SLOW_COLUMNS))
        self._carry = [0.0] * len(SLOW_COLUMNS)
        self._close = math.nan
        self._seen = 0
        self._slope = EwZScore(self.config.slope_span)

    def snapshot(self) -> bytes:
        """Rows, carried values, the open bar's close, what was seen, the z-score state."""
        return msgspec.msgpack.encode(_State(self._buffer.state(), self._carry, self._close,
                                             self._seen, self._slope.state()))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self._buffer.load(s.buffer)
        self._carry, self._close, self._seen = s.carry, s.close, s.seen
        self._slope.load(s.slope)
