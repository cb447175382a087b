"""The regime matrix: one row per slow bar of the 23 MMD features and 3 more (component layer).

Input of the regime model (RDE). Normalisations in docs/assemblers.md.
"""

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
from components.regime.mmd import MMD_FEATURE_NAMES, N_SETS
from engine.core.config import Config, PositiveInt
from engine.core.events import Bar, Event, LvnLevels, MmdFeatures

__all__ = ["REGIME_COLUMNS", "RegimeAssembler", "RegimeAssemblerConfig"]

_EXTRA = ("volatility_30", "poc_distance", "price_acceleration")
REGIME_COLUMNS = (*(n if n.startswith("mmd_") else f"mmd_{n}" for n in MMD_FEATURE_NAMES),
                  *_EXTRA)
_SCORE_SCALE = math.sqrt(2.0)  # MMD^2 <= 2 for a kernel bounded by 1
# statistics (index into MmdFeatures.values) scored against their own recent history
_ZSCORED = tuple(MMD_FEATURE_NAMES.index(n) for n in (
    "return", "log_return", "range", "volatility", "momentum_5", "momentum_10", "momentum_20",
    "momentum_50", "volume_ratio", "volatility_ratio"))
_RATIOS = _ZSCORED[-2:]
_SKEW = MMD_FEATURE_NAMES.index("skew_50")
_KURT = MMD_FEATURE_NAMES.index("kurtosis_50")
_RSI = MMD_FEATURE_NAMES.index("rsi_14")
_MEAN = MMD_FEATURE_NAMES.index("mmd_mean")
_MIN = MMD_FEATURE_NAMES.index("mmd_min")
_NEAREST = MMD_FEATURE_NAMES.index("mmd_nearest")
_VOL_BARS = 30


class RegimeAssemblerConfig(Config, frozen=True):
    """Rows kept and the span of the z-scores."""

    timeframe: str = "slow"
    window: PositiveInt = 96
    span: PositiveInt = 200


class _State(msgspec.Struct, array_like=True):
    buffer: _BufferState
    carry: list[float]
    close: float
    returns: list[float]
    prev_close: float
    seen: int
    scores: list[tuple[float, float, int]]


def normalise_mmd(values: tuple[float, ...], z: list[EwZScore]) -> list[float]:
    """The 23 MMD values as their matrix columns (``z`` scores 10 of them, in order)."""
    row = [clip_unit(values[k], _SCORE_SCALE) for k in range(N_SETS)]
    row += [0.0] * (len(values) - N_SETS)
    for scorer, i in zip(z, _ZSCORED, strict=True):
        x = values[i]
        # the two ratios are scored on a log scale (1 = no change; 0 maps far below)
        row[i] = scorer(math.log(max(x, 1e-12)) if i in _RATIOS else x)
    row[_SKEW] = clip_unit(values[_SKEW], 3.0)
    row[_KURT] = clip_unit(values[_KURT], 10.0)
    row[_RSI] = (values[_RSI] - 50.0) / 50.0
    row[_MEAN] = clip_unit(values[_MEAN], _SCORE_SCALE)
    row[_MIN] = clip_unit(values[_MIN], _SCORE_SCALE)
    row[_NEAREST] = values[_NEAREST] / (N_SETS - 1) * 2.0 - 1.0
    return row


class RegimeAssembler(Assembler[RegimeAssemblerConfig]):
    """Rolling ``window x 26`` float32 matrix of the regime features, one row per slow bar."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, MmdFeatures, LvnLevels)
    kind = "regime_assembler"
    _buffer: RowBuffer
    _carry: list[float]
    _close: float
    _prev_close: float
    _returns: list[float]
    _seen: int
    _z: list[EwZScore]

    def _fill(self, event: Event) -> None:
        kind = type(event)
        if kind is MmdFeatures:
            assert isinstance(event, MmdFeatures)
            for column, value in enumerate(normalise_mmd(event.values, self._z[:-3])):
                self._buffer.set(column, value)
                self._carry[column] = value
            self._seen |= 1
        elif kind is LvnLevels:
            assert isinstance(event, LvnLevels)
            value = self._z[-2]((self._close - event.poc_price) / self._close)
            self._buffer.set(24, value)
            self._carry[24] = value
            self._seen |= 2

    def _open(self, bar: Bar) -> None:
        prev = self._prev_close
        row = list(self._carry)
        row[23] = row[25] = 0.0
        if not math.isnan(prev):
            r = bar.close / prev - 1.0
            returns = self._returns
            if returns:
                row[25] = self._z[-1](r - returns[-1])
            returns.append(r)
            if len(returns) > _VOL_BARS:
                returns.pop(0)
            if len(returns) == _VOL_BARS:
                mean = sum(returns) / _VOL_BARS
                row[23] = self._z[-3](math.sqrt(sum((x - mean) ** 2 for x in returns)
                                                / _VOL_BARS))
        self._prev_close = self._close = bar.close
        self._buffer.open(row, self._seen == 3 and len(self._returns) == _VOL_BARS)

    def reset(self) -> None:
        """No rows, nothing seen."""
        span = self.config.span
        self._buffer = RowBuffer(self.config.window, len(REGIME_COLUMNS))
        self._carry = [0.0] * len(REGIME_COLUMNS)
        self._close = self._prev_close = math.nan
        self._returns = []
        self._seen = 0
        self._z = [EwZScore(span) for _ in range(len(_ZSCORED) + len(_EXTRA))]

    def snapshot(self) -> bytes:
        """Rows, carried values, recent returns, what was seen, the z-score states."""
        return msgspec.msgpack.encode(_State(self._buffer.state(), self._carry, self._close,
                                             self._returns, self._prev_close, self._seen,
                                             [z.state() for z in self._z]))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self._buffer.load(s.buffer)
        self._carry, self._close, self._returns = s.carry, s.close, s.returns
        self._prev_close, self._seen = s.prev_close, s.seen
        for z, st in zip(self._z, s.scores, strict=True):
            z.load(st)
