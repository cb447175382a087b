"""Configuration of the SMA crossover strategy (component layer; no numba imports)."""

from __future__ import annotations

from engine.core.config import Config, PositiveInt

__all__ = ["SmaCrossConfig"]


class SmaCrossConfig(Config, frozen=True):
    """Periods, order size and the bars the strategy decides on (``""``: the fast bars)."""

    fast: PositiveInt = 10
    slow: PositiveInt = 30
    quantity: PositiveInt = 1
    timeframe: str = ""
    instrument: str = ""
    name: str = "sma_cross"

    def __post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"fast: expected fewer bars than slow ({self.slow}), was "
                             f"{self.fast}")
