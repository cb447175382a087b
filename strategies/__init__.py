"""The built-in strategies, ordinary plugins (``engine.core.strategy``; ``docs/strategies.md``).

``BUILTIN_STRATEGIES`` maps the names ``backtest.strategy`` accepts without a path to their
import paths; the engine resolves them like any user plugin.
"""

BUILTIN_STRATEGIES: dict[str, str] = {
    "sma_cross": "strategies.sma_cross:SmaCross",
    "synergy": "strategies.synergy:SynergyStrategy",
    "marl": "strategies.marl:MarlStrategy",
    "buy_hold": "strategies.buy_hold:BuyHold",
}

__all__ = ["BUILTIN_STRATEGIES"]
