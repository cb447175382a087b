"""Configuration of the rule-based synergy strategy (component layer)."""

from __future__ import annotations

from typing import Literal

from engine.core.config import Config, PositiveFloat, PositiveInt

__all__ = ["SynergyStrategyConfig"]


class SynergyStrategyConfig(Config, frozen=True):
    """Bracket sizing and which setups to trade.

    ``sizing = "fixed"``: on each ``SynergyDetected`` while flat, a market order of
    ``quantity`` in the setup's direction with a stop ``stop_atr`` ATRs from the entry fill
    and a target ``reward_risk`` times the stop distance beyond it.

    ``sizing = "mrms"``: the M-RMS sizes each setup (``[risk]`` names the model; the
    ``RiskManager`` runs upstream); on its ``RiskProposal`` while flat, a market order of the
    proposed size with the proposed stop and target distances. ``quantity``, ``stop_atr`` and
    ``reward_risk`` are then unused. A setup the risk layer rejects is not traded.

    ``patterns`` and ``directions`` filter the setups in both modes.
    """

    sizing: Literal["fixed", "mrms"] = "fixed"
    stop_atr: PositiveFloat = 2.0
    reward_risk: PositiveFloat = 2.0
    quantity: PositiveInt = 1
    patterns: tuple[Literal[1, 2, 3, 4], ...] = (1, 2, 3, 4)
    directions: Literal["both", "long", "short"] = "both"
    instrument: str = ""
    name: str = "synergy"
