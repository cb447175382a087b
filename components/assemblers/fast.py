"""The fast-timeframe matrix: one row per fast bar of FVG state, momentum and volume
(component layer). Normalisations in docs/assemblers.md."""

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
from engine.core.events import Bar, Event, FvgMitigated, FvgState

__all__ = ["FAST_COLUMNS", "FastAssembler", "FastAssemblerConfig"]

FAST_COLUMNS = ("fvg_bullish_active", "fvg_bearish_active", "fvg_nearest_level",
                "fvg_nearest_age", "fvg_nearest_size", "fvg_mitigation", "momentum_5",
                "volume_ratio")
_MOMENTUM_BARS = 5


class FastAssemblerConfig(Config, frozen=True):
    """Rows kept, the span of the momentum z-score, the volume EMA's weight."""

    timeframe: str = "fast"
    window: PositiveInt = 60
    momentum_span: PositiveInt = 200
    volume_alpha: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 < self.volume_alpha <= 1.0:
            raise ValueError(f"volume_alpha: expected in (0, 1], was {self.volume_alpha}")


class _State(msgspec.Struct, array_like=True):
    buffer: _BufferState
    carry: list[float]
    close: float
    closes: list[float]
    volume_ema: float
    seen: bool
    momentum: tuple[float, float, int]


class FastAssembler(Assembler[FastAssemblerConfig]):
    """Rolling ``window x 8`` float32 matrix of the fast features, one row per fast bar."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, FvgState, FvgMitigated)
    kind = "fast_assembler"
    _buffer: RowBuffer
    _carry: list[float]
    _close: float
    _closes: list[float]
    _volume_ema: float
    _seen: bool
    _momentum: EwZScore

    def _fill(self, event: Event) -> None:
        kind = type(event)
        b = self._buffer
        if kind is FvgState:
            assert isinstance(event, FvgState)
            close = self._close
            row = [float(event.bullish_count > 0), float(event.bearish_count > 0),
                   0.0 if event.nearest_level is None
                   else clip_unit((event.nearest_level - close) / close, 0.02),
                   0.0 if event.nearest_age is None else math.exp(-event.nearest_age / 10.0),
                   0.0 if event.nearest_size_pct is None
                   else min(1.0, max(0.0, event.nearest_size_pct))]
            for column, value in enumerate(row):
                b.set(column, value)
                self._carry[column] = value
            self._seen = True
        elif kind is FvgMitigated:
            assert isinstance(event, FvgMitigated)
            b.set(5, b.get(5) + float(event.side))

    def _open(self, bar: Bar) -> None:
        closes = self._closes
        momentum = 0.0
        if len(closes) == _MOMENTUM_BARS:
            momentum = self._momentum(math.log(bar.close / closes[0]))
        closes.append(bar.close)
        if len(closes) > _MOMENTUM_BARS:
            closes.pop(0)
        ema = self._volume_ema
        if math.isnan(ema):
            ratio = 0.0
            self._volume_ema = bar.volume
        else:
            ratio = 0.0 if ema <= 0.0 else (
                -1.0 if bar.volume <= 0.0 else math.tanh(math.log(bar.volume / ema)))
            a = self.config.volume_alpha
            self._volume_ema = a * bar.volume + (1.0 - a) * ema
        self._close = bar.close
        row = [*self._carry[:5], 0.0, momentum, ratio]
        self._buffer.open(row, self._seen and self._buffer.count >= _MOMENTUM_BARS)

    def reset(self) -> None:
        """No rows, nothing seen."""
        self._buffer = RowBuffer(self.config.window, len(FAST_COLUMNS))
        self._carry = [0.0] * 5
        self._close = math.nan
        self._closes = []
        self._volume_ema = math.nan
        self._seen = False
        self._momentum = EwZScore(self.config.momentum_span)

    def snapshot(self) -> bytes:
        """Rows, carried FVG values, recent closes, the volume EMA and z-score state."""
        return msgspec.msgpack.encode(_State(self._buffer.state(), self._carry, self._close,
                                             self._closes, self._volume_ema, self._seen,
                                             self._momentum.state()))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self._buffer.load(s.buffer)
        self._carry, self._close, self._closes = s.carry, s.close, s.closes
        self._volume_ema, self._seen = s.volume_ema, s.seen
        self._momentum.load(s.momentum)
