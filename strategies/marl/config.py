"""Configuration of the learned strategy (component layer)."""

from __future__ import annotations

from typing import Literal

from engine.core.config import Config

__all__ = ["MarlStrategyConfig"]


class MarlStrategyConfig(Config, frozen=True):
    """Which setups to trade and under which name; sizes and brackets come from the M-RMS.

    ``patterns`` and ``directions`` filter the setups that passed gate 1; ``instrument``
    overrides the orders' symbol (empty: the setup's).
    """

    patterns: tuple[Literal[1, 2, 3, 4], ...] = (1, 2, 3, 4)
    directions: Literal["both", "long", "short"] = "both"
    instrument: str = ""
    name: str = "marl"
