"""The MARL decision network's shapes and sizes, importable without torch (component layer)."""

from __future__ import annotations

from engine.config import Config, PositiveInt, Probability

__all__ = ["ACTIONS", "AGENTS", "MarlModelConfig"]

AGENTS = ("structure", "tactical", "arbitrageur")
"""The three agents, in the order of every per-agent axis."""

ACTIONS = ("pass", "long", "short")
"""Each agent's actions, in the order of every per-action axis."""


class MarlModelConfig(Config, frozen=True):
    """Input shapes (slow and fast matrices, regime vector, setup features) and sizes.

    ``hidden`` is every agent's state width; ``rounds`` the communication rounds; ``dropout``
    the rate at every dropout site (the MC-Dropout gate needs it above 0). The defaults train
    on 2 CPU cores in minutes.
    """

    slow_window: PositiveInt = 48
    slow_features: PositiveInt = 13
    fast_window: PositiveInt = 60
    fast_features: PositiveInt = 8
    regime: PositiveInt = 8
    setup: PositiveInt = 18
    hidden: PositiveInt = 32
    conv_channels: PositiveInt = 32
    kernel: PositiveInt = 3
    lstm: PositiveInt = 24
    rounds: PositiveInt = 3
    dropout: Probability = 0.1

    def __post_init__(self) -> None:
        if self.dropout >= 1.0:
            raise ValueError(f"dropout: expected a rate below 1, was {self.dropout}")
        if self.kernel > self.slow_window:
            raise ValueError(f"kernel: expected at most slow_window ({self.slow_window}), was "
                             f"{self.kernel}")
