"""Buy and hold: the benchmark beside every strategy report."""

from strategies.buy_hold.config import BuyHoldConfig
from strategies.buy_hold.strategy import BuyHold

__all__ = ["BuyHold", "BuyHoldConfig"]
