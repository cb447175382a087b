"""SMA(10/30) crossover, long/flat, 1 unit: the engine's reference example strategy."""

from strategies.sma_cross.strategy import SmaCross, SmaCrossConfig

__all__ = ["SmaCross", "SmaCrossConfig"]
