"""Buy and hold, the benchmark every strategy report sits beside (component layer).

On the first bar of its timeframe it sees, a market buy of ``quantity`` (filled by the broker
at the next bar's open, with the run's costs); then nothing: the position is marked at every
bar close and is still open at the end (so the trade list is empty and the report's returns,
Sharpe, Sortino and drawdown are those of holding the instrument). Behind
``backtest.start`` it first sees the bar at the evaluation start.

Examples
--------
>>> from engine.core.events import Bar
>>> s = BuyHold(BuyHoldConfig(timeframe="1h"))
>>> bar = Bar(ts_event=3_600, ts_init=3_600, instrument="BTCUSD", timeframe="1h", ts_open=0,
...           open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0)
>>> [(o.action, o.quantity) for o in s.on_event(bar)], s.on_event(bar)
([('buy', 1)], ())
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec

from engine.core.events import Bar, Event, OrderIntent
from engine.core.strategy import StrategyContext
from strategies.buy_hold.config import BuyHoldConfig

__all__ = ["BuyHold", "BuyHoldConfig"]


class BuyHold:
    """Buy once, hold to the end (module docstring)."""

    key: ClassVar[str] = "buy_hold"
    config_type: ClassVar[type[BuyHoldConfig]] = BuyHoldConfig
    inputs: ClassVar[tuple[type[Event], ...]] = (Bar,)
    _bought: bool

    def __init__(self, config: BuyHoldConfig) -> None:
        self.config = config
        self.name = config.name
        self.reset()

    @classmethod
    def from_config(cls, config: BuyHoldConfig, context: StrategyContext) -> BuyHold:
        """The plugin constructor: buys on the execution bars unless ``timeframe`` names
        others."""
        return cls(msgspec.structs.replace(config, timeframe=config.timeframe
                                           or context.execution))

    @property
    def ready(self) -> bool:
        """Always."""
        return True

    def on_event(self, event: Event) -> Sequence[Event]:
        """Buy on the first bar of the timeframe."""
        if self._bought or type(event) is not Bar:
            return ()
        assert isinstance(event, Bar)
        c = self.config
        if c.timeframe and event.timeframe != c.timeframe:
            return ()
        self._bought = True
        return (OrderIntent(ts_event=event.ts_event, ts_init=event.ts_init,
                            instrument=c.instrument or event.instrument, strategy=self.name,
                            order_id=1, action="buy", quantity=c.quantity),)

    def reset(self) -> None:
        """Nothing bought."""
        self._bought = False

    def snapshot(self) -> bytes:
        """Whether it has bought."""
        return b"\x01" if self._bought else b"\x00"

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        self._bought = state == b"\x01"
