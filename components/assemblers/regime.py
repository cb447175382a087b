"""The regime matrix: one row per slow bar of the 23 MMD features and 3 more (component layer).

Input of the regime model (RDE). Normalisations in docs/assemblers.md, the arithmetic in
:mod:`components.assemblers.regime_kernels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from components.assemblers.base import Assembler
from components.assemblers.buffer import _BufferState
from components.assemblers.kernels import Floats, Floats32
from components.assemblers.regime_kernels import (
    REGIME_PARAMETERS,
    REGIME_WIDTH,
    regime_bar_nb,
    regime_init_state,
    regime_legacy_state,
    regime_lvn_nb,
    regime_mmd_nb,
)
from components.regime.mmd import MMD_FEATURE_NAMES
from engine.core.config import Config, PositiveInt
from engine.core.events import Bar, Event, LvnLevels, MmdFeatures

__all__ = ["REGIME_COLUMNS", "RegimeAssembler", "RegimeAssemblerConfig"]

_EXTRA = ("volatility_30", "poc_distance", "price_acceleration")
REGIME_COLUMNS = (*(n if n.startswith("mmd_") else f"mmd_{n}" for n in MMD_FEATURE_NAMES),
                  *_EXTRA)
assert len(REGIME_COLUMNS) == REGIME_WIDTH


class RegimeAssemblerConfig(Config, frozen=True):
    """Rows kept and the span of the z-scores."""

    timeframe: str = "slow"
    window: PositiveInt = 96
    span: PositiveInt = 200


class _LegacyState(msgspec.Struct, array_like=True):
    """A snapshot written before the kernels."""

    buffer: _BufferState
    carry: list[float]
    close: float
    returns: list[float]
    prev_close: float
    seen: int
    scores: list[tuple[float, float, int]]


class RegimeAssembler(Assembler[RegimeAssemblerConfig]):
    """Rolling ``window x 26`` float32 matrix of the regime features, one row per slow bar."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, MmdFeatures, LvnLevels)
    kind = "regime_assembler"
    width = REGIME_WIDTH
    _parameters = REGIME_PARAMETERS
    _legacy = _LegacyState

    def on_event(self, event: Event) -> Sequence[Event]:
        """Open a row on a slow bar; fill it from that bar's MMD features and LVN levels."""
        kind = type(event)
        if kind is Bar:
            assert isinstance(event, Bar)
            if event.timeframe == self._tf:
                regime_bar_nb(self._state, self._rows, event.close)
        elif kind is MmdFeatures:
            assert isinstance(event, MmdFeatures)
            if event.timeframe == self._tf:
                regime_mmd_nb(self._state, self._rows, event.values)
        elif kind is LvnLevels:
            assert isinstance(event, LvnLevels)
            if event.timeframe == self._tf:
                regime_lvn_nb(self._state, self._rows, event.poc_price)
        return ()

    def _init_state(self) -> Floats:
        return regime_init_state(self.config.window, self.config.span)

    def _load_legacy(self, old: Any, state: Floats, rows: Floats32) -> None:
        if len(old.carry) != self.width:
            raise ValueError(f"expected {self.width} carried values")
        regime_legacy_state(state, old.carry, old.close, old.returns, old.prev_close,
                            old.seen, old.scores)
