"""A user strategy plugin: synergy setups, traded only in a familiar regime.

This file is the worked example of ``docs/strategies.md``; it lives outside the engine's
packages and is loaded by path, like a strategy in a user's own project:

    algospace backtest --strategy examples/regime_filter.py:RegimeFilter
    algospace backtest --strategy examples/regime_filter.py:RegimeFilter \
        --set strategies.regime_filter.max_norm=2.5

The rule: the RDE's regime vector ``mu`` is the mean of a latent Gaussian whose prior is the
standard normal, so its Euclidean norm says how far the current market's regime matrix is from
what the model saw most often. On each synergy setup while flat, the strategy enters in the
setup's direction with a stop ``stop_atr`` ATRs away and a target ``reward_risk`` times that
beyond the entry, **only when the last regime vector's norm is at most ``max_norm``**; it
skips setups in unfamiliar regimes and before the first regime vector.

It needs ``SynergyDetected`` and ``RegimeVector`` events, so the engine runs the indicators,
the MMD, the regime detector (the RDE named by ``[regime]``) and the synergy components
upstream of it, and loads the fitted models they use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import msgspec

from engine.core.config import Config, PositiveFloat, PositiveInt
from engine.core.events import (
    Event,
    OrderIntent,
    OrderRejected,
    RegimeVector,
    SynergyDetected,
    TradeClosed,
)


class RegimeFilterConfig(Config, frozen=True):
    """``[strategies.regime_filter]``: the regime filter and the bracket."""

    max_norm: PositiveFloat = 2.0
    stop_atr: PositiveFloat = 2.0
    reward_risk: PositiveFloat = 2.0
    quantity: PositiveInt = 1
    name: str = "regime_filter"


class _State(msgspec.Struct, frozen=True):
    norm: float
    next_id: int
    open_id: int
    skipped: int


class RegimeFilter:
    """Synergy setups in a familiar regime (module docstring)."""

    _norm: float
    _next_id: int
    _open_id: int
    _skipped: int

    key: ClassVar[str] = "regime_filter"
    config_type: ClassVar[type[RegimeFilterConfig]] = RegimeFilterConfig
    inputs: ClassVar[tuple[type[Event], ...]] = (SynergyDetected, RegimeVector, TradeClosed,
                                                 OrderRejected)
    needs: ClassVar[tuple[type[Event], ...]] = (SynergyDetected, RegimeVector)

    def __init__(self, config: RegimeFilterConfig) -> None:
        self.config = config
        self.name = config.name
        self.reset()

    @property
    def ready(self) -> bool:
        """Once a regime vector has arrived."""
        return math.isfinite(self._norm)

    def on_event(self, event: Event) -> Sequence[Event]:
        """Remember the regime; act on a setup while flat; free up when the trade ends."""
        if type(event) is RegimeVector:
            self._norm = math.sqrt(sum(x * x for x in event.mu))
        elif type(event) is SynergyDetected:
            return self._on_setup(event)
        elif isinstance(event, TradeClosed | OrderRejected):
            if event.strategy == self.name and event.order_id == self._open_id:
                self._open_id = 0
        return ()

    def _on_setup(self, setup: SynergyDetected) -> Sequence[Event]:
        c = self.config
        if self._open_id or not setup.atr > 0.0:
            return ()
        if not self._norm <= c.max_norm:  # NaN (no regime yet) is skipped too
            self._skipped += 1
            return ()
        self._next_id += 1
        self._open_id = self._next_id
        stop = c.stop_atr * setup.atr
        return (OrderIntent(ts_event=setup.ts_event, ts_init=setup.ts_init,
                            instrument=setup.instrument, strategy=self.name,
                            order_id=self._next_id,
                            action="buy" if setup.direction > 0 else "sell",
                            quantity=c.quantity, stop_points=stop,
                            target_points=c.reward_risk * stop,
                            tag=f"TYPE_{setup.pattern}"),)

    def reset(self) -> None:
        """No regime seen, flat, no orders."""
        self._norm = math.nan
        self._next_id = 0
        self._open_id = 0
        self._skipped = 0

    def snapshot(self) -> bytes:
        """The last regime norm, the order counter, the open order, the skips."""
        return msgspec.msgpack.encode(_State(self._norm, self._next_id, self._open_id,
                                             self._skipped))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self._norm, self._next_id, self._open_id, self._skipped = (
            s.norm, s.next_id, s.open_id, s.skipped)
