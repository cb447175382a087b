"""The regime model's shapes, importable without torch (the config schema reads it)."""

from __future__ import annotations

from engine.core.config import Config, PositiveInt, Probability

__all__ = ["RegimeModelConfig", "RegimeSettings"]


class RegimeModelConfig(Config, frozen=True):
    """Shapes of the regime model; ``features``/``window`` must match the regime assembler.

    ``dropout`` is 0 by default: the encoder is then a deterministic function of the window
    and the sampled latent regularises training; on the bundled BTC windows 0.1 trained slower
    to a worse validation reconstruction (docs/rde.md).
    """

    features: PositiveInt = 26
    window: PositiveInt = 96
    d_model: PositiveInt = 64
    heads: PositiveInt = 4
    layers: PositiveInt = 2
    decoder_layers: PositiveInt = 1
    feedforward: PositiveInt = 128
    dropout: Probability = 0.0
    latent: PositiveInt = 8

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model: expected a multiple of heads ({self.heads}), "
                             f"was {self.d_model}")
        if self.d_model % 2:
            raise ValueError(f"d_model: expected an even number (sinusoidal encoding), "
                             f"was {self.d_model}")


class RegimeSettings(Config, frozen=True):
    """``[regime]``: the registered RDE the pipeline runs (a version folder written by
    ``algospace train rde``, relative to the config file). Its manifest fixes the regime
    matrix (window and span) and the MMD reference it was trained on."""

    model: str
