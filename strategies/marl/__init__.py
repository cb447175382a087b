"""The learned strategy: setups -> gate 1 (MARL consensus) -> M-RMS -> gate 2 -> orders."""

from strategies.marl.config import MarlStrategyConfig
from strategies.marl.strategy import MarlStrategy

__all__ = ["MarlStrategy", "MarlStrategyConfig"]
