"""SMA crossover, long/flat: the engine's reference strategy (component layer).

Decides on the close of each bar of its timeframe and returns an ``OrderIntent`` (market buy
of ``quantity`` on a golden cross while flat, ``close`` on a death cross while long), which the
broker executes at the next bar's open. The same kernels run bar by bar (:meth:`on_event`)
and over a chunk (:meth:`on_chunk`), so both paths decide identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec
import numpy as np

from components.indicators.kernels import sma_init_state
from components.indicators.scalar import ScalarIndicatorConfig
from engine.core.chunks import BarChunk, IntentChunk
from engine.core.events import Bar, Event, OrderIntent
from engine.core.strategy import StrategyContext
from strategies.sma_cross import kernels as k
from strategies.sma_cross.config import SmaCrossConfig

__all__ = ["SmaCross", "SmaCrossConfig"]


class _Snapshot(msgspec.Struct, frozen=True):
    cross: list[float]
    fast: list[float]
    slow: list[float]
    next_id: int
    bars: int


class SmaCross:
    """Long on a fast-over-slow SMA cross, flat on the cross back.

    Examples
    --------
    >>> strategy = SmaCross(SmaCrossConfig(fast=2, slow=3, timeframe="1m"))
    >>> def bar(i, c):
    ...     return Bar(ts_event=i + 1, ts_init=i + 1, instrument="ES", timeframe="1m",
    ...                ts_open=i, open=c, high=c, low=c, close=c, volume=1.0)
    >>> closes = [5.0, 4.0, 3.0, 2.0, 6.0, 7.0, 1.0]
    >>> [(o.ts_event, o.action) for i, c in enumerate(closes) for o in strategy.on_event(bar(i, c))]
    [(5, 'buy'), (7, 'close')]
    """

    key: ClassVar[str] = "sma_cross"
    config_type: ClassVar[type[SmaCrossConfig]] = SmaCrossConfig
    inputs: ClassVar[tuple[type[Event], ...]] = (Bar,)

    def __init__(self, config: SmaCrossConfig) -> None:
        self.config = config
        self.name = config.name
        self.reset()

    @classmethod
    def from_config(cls, config: SmaCrossConfig, context: StrategyContext) -> SmaCross:
        """The plugin constructor: decides on the fast bars unless ``timeframe`` names others."""
        return cls(msgspec.structs.replace(config, timeframe=config.timeframe or context.fast))

    def chart_indicators(self) -> list[ScalarIndicatorConfig]:
        """The two averages, for the report's price panel."""
        tf = self.config.timeframe
        return [ScalarIndicatorConfig(indicator="sma", period=self.config.fast, timeframe=tf,
                                      name=f"SMA {self.config.fast}"),
                ScalarIndicatorConfig(indicator="sma", period=self.config.slow, timeframe=tf,
                                      name=f"SMA {self.config.slow}")]

    @property
    def ready(self) -> bool:
        """True once both averages are defined at two consecutive closes."""
        return self._bars > self.config.slow

    def on_event(self, event: Event) -> Sequence[Event]:
        """Decide at the close of a bar of the strategy's timeframe."""
        match event:
            case Bar(timeframe=tf) if tf == self.config.timeframe:
                self._bars += 1
                code = k.sma_cross_step_nb(self._cross, self._fast, self._slow, event.close)
                if code == k.NOTHING:
                    return ()
                return (self._intent(event, code),)
        return ()

    def on_chunk(self, bars: BarChunk) -> IntentChunk:
        """Decide over a chunk of the strategy's bars (the batch path of :meth:`on_event`)."""
        pos, codes = k.sma_cross_batch_nb(self._cross, self._fast, self._slow, bars.close)
        self._bars += bars.close.shape[0]
        n = pos.shape[0]
        ints = np.zeros((n, 7), dtype=np.int64)
        ints[:, 0] = self._next_id + 1 + np.arange(n)
        ints[:, 1] = np.where(codes == k.BUY, 0, 2)
        ints[:, 3] = np.where(codes == k.BUY, self.config.quantity, 0)
        ints[:, 4] = -1
        self._next_id += n
        floats = np.zeros((n, 5), dtype=np.float64)
        floats[:, :3] = np.nan
        return IntentChunk(pos, ints, floats)

    def reset(self) -> None:
        """Forget all prices and orders."""
        self._cross = k.sma_cross_init_state()
        self._fast = sma_init_state(self.config.fast)
        self._slow = sma_init_state(self.config.slow)
        self._next_id = 0
        self._bars = 0

    def snapshot(self) -> bytes:
        """Serialise both averages, the position flag and the order counter."""
        return msgspec.msgpack.encode(_Snapshot(self._cross.tolist(), self._fast.tolist(),
                                                self._slow.tolist(), self._next_id, self._bars))

    def restore(self, state: bytes) -> None:
        """Rebuild the state written by :meth:`snapshot`."""
        snap = msgspec.msgpack.decode(state, type=_Snapshot)
        self._cross = np.array(snap.cross, dtype=np.float64)
        self._fast = np.array(snap.fast, dtype=np.float64)
        self._slow = np.array(snap.slow, dtype=np.float64)
        self._next_id = snap.next_id
        self._bars = snap.bars

    def _intent(self, bar: Bar, code: int) -> OrderIntent:
        self._next_id += 1
        buy = code == k.BUY
        return OrderIntent(ts_event=bar.ts_event, ts_init=bar.ts_init,
                           instrument=self.config.instrument or bar.instrument,
                           strategy=self.name, order_id=self._next_id,
                           action="buy" if buy else "close",
                           quantity=self.config.quantity if buy else 0)
