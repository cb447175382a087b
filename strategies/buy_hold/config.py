"""Configuration of the buy-and-hold benchmark (component layer)."""

from __future__ import annotations

from engine.core.config import Config, PositiveInt

__all__ = ["BuyHoldConfig"]


class BuyHoldConfig(Config, frozen=True):
    """Buy ``quantity`` at the first bar of ``timeframe`` it sees (empty: the execution
    timeframe) and hold to the end."""

    quantity: PositiveInt = 1
    timeframe: str = ""
    instrument: str = ""
    name: str = "buy_hold"
