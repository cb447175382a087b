"""Synergy setups traded with fixed ATR brackets: the first complete AlgoSpace strategy."""

from strategies.synergy.strategy import SynergyStrategy, SynergyStrategyConfig

__all__ = ["SynergyStrategy", "SynergyStrategyConfig"]
