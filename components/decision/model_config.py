"""The MARL decision network's shapes and sizes, importable without torch (component layer)."""

from __future__ import annotations

from engine.core.config import Config, PositiveInt, Probability

__all__ = ["ACTIONS", "AGENTS", "MarlModelConfig"]

AGENTS = ("structure", "tactical", "arbitrageur")
"""The three agents, in the order of every per-agent axis."""

ACTIONS = ("pass", "long", "short")
"""Each agent's actions, in the order of every per-action axis."""


class MarlModelConfig(Config, frozen=True):
    """Input shapes (slow and fast matrices, regime vector, setup features) and sizes.

    ``hidden`` is every agent's state width; ``rounds`` the communication rounds; ``dropout``
    the rate at every dropout site (the MC-Dropout gate needs it above 0). With ``own_heads``
    each agent's logits add a head on its own embedding (before communication) to the head
    on its final state, so what the agent's own inputs say reaches its vote directly. With
    ``linear_heads`` each agent's logits also add a linear map of the setup features and the
    regime vector (a logistic regression inside each agent: the simplest explanation of the
    outcome is one weight away, and the deep paths fit only what it leaves). With
    ``standardise`` the regime vector and the setup features are standardised by their
    training mean and std (buffers saved with the weights) before any layer reads them: the
    features are bounded but their spreads differ by orders of magnitude, and a weight decay
    on unscaled inputs would shrink the informative small-spread ones away. The defaults
    train on 2 CPU cores in minutes.
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
    own_heads: bool = False
    linear_heads: bool = False
    standardise: bool = False

    def __post_init__(self) -> None:
        if self.dropout >= 1.0:
            raise ValueError(f"dropout: expected a rate below 1, was {self.dropout}")
        if self.kernel > self.slow_window:
            raise ValueError(f"kernel: expected at most slow_window ({self.slow_window}), was "
                             f"{self.kernel}")
