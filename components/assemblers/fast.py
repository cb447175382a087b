"""The fast-timeframe matrix: one row per fast bar of FVG state, momentum and volume
(component layer). Normalisations in docs/assemblers.md, the arithmetic in
:mod:`components.assemblers.fast_kernels`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from components.assemblers.base import Assembler
from components.assemblers.buffer import _BufferState
from components.assemblers.fast_kernels import (
    FAST_COLUMNS,
    FAST_PARAMETERS,
    fast_bar_nb,
    fast_fvg_nb,
    fast_init_state,
    fast_legacy_state,
    fast_mitigated_nb,
)
from components.assemblers.kernels import Floats, Floats32
from engine.core.config import Config, PositiveInt
from engine.core.events import Bar, Event, FvgMitigated, FvgState

__all__ = ["FAST_COLUMNS", "FastAssembler", "FastAssemblerConfig"]

_NAN = math.nan


class FastAssemblerConfig(Config, frozen=True):
    """Rows kept, the span of the momentum z-score, the volume EMA's weight."""

    timeframe: str = "fast"
    window: PositiveInt = 60
    momentum_span: PositiveInt = 200
    volume_alpha: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 < self.volume_alpha <= 1.0:
            raise ValueError(f"volume_alpha: expected in (0, 1], was {self.volume_alpha}")


class _LegacyState(msgspec.Struct, array_like=True):
    """A snapshot written before the kernels."""

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
    width = len(FAST_COLUMNS)
    _parameters = FAST_PARAMETERS
    _legacy = _LegacyState

    def on_event(self, event: Event) -> Sequence[Event]:
        """Open a row on a fast bar; fill it from that bar's FVG events."""
        kind = type(event)
        if kind is FvgState:
            assert isinstance(event, FvgState)
            if event.timeframe == self._tf:
                level, age, size = event.nearest_level, event.nearest_age, event.nearest_size_pct
                fast_fvg_nb(self._state, self._rows, event.bullish_count, event.bearish_count,
                            _NAN if level is None else level, _NAN if age is None else age,
                            _NAN if size is None else size)
        elif kind is Bar:
            assert isinstance(event, Bar)
            if event.timeframe == self._tf:
                fast_bar_nb(self._state, self._rows, event.close, event.volume)
        elif kind is FvgMitigated:
            assert isinstance(event, FvgMitigated)
            if event.timeframe == self._tf:
                fast_mitigated_nb(self._state, self._rows, event.side)
        return ()

    def _init_state(self) -> Floats:
        c = self.config
        return fast_init_state(c.window, c.momentum_span, c.volume_alpha)

    def _load_legacy(self, old: Any, state: Floats, rows: Floats32) -> None:
        if len(old.carry) != 5 or len(old.closes) > 5:
            raise ValueError("expected 5 carried values and at most 5 closes")
        fast_legacy_state(state, rows, old.carry, old.close, old.closes, old.volume_ema,
                          old.seen, old.momentum)

