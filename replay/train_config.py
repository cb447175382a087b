"""Training settings of the learned models, importable without torch (the config schema
reads them; the trainers in ``replay/`` use them)."""

from __future__ import annotations

from components.regime.model_config import RegimeModelConfig
from engine.config import Config, NonNegativeFloat, PositiveFloat, PositiveInt, Probability

__all__ = ["RdeTrainConfig", "TrainConfig"]


class RdeTrainConfig(Config, frozen=True):
    """``[train.rde]``: the RDE trainer's settings (the network's shapes in ``model``).

    ``seed`` defaults to the config's root ``seed``; ``span`` is the regime assembler's z-score
    span (its window is ``model.window``), recorded with the model so serving builds the same
    matrix. Consecutive windows share all but one row, so epoch ``e`` (from 1) trains on
    every ``stride``-th window starting at ``(e - 1) % stride``: every window is used once per
    ``stride`` epochs, and an epoch costs ``1 / stride`` of a full pass.
    """

    model: RegimeModelConfig = RegimeModelConfig()
    epochs: PositiveInt = 40
    batch_size: PositiveInt = 64
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-2
    beta: NonNegativeFloat = 1e-3
    beta_warmup_epochs: int = 10
    clip_grad: PositiveFloat = 1.0
    patience: PositiveInt = 8
    checkpoint_every: PositiveInt = 1
    seed: int | None = None
    span: PositiveInt = 200
    stride: PositiveInt = 4


class TrainConfig(Config, frozen=True):
    """``[train]``: the chronological split every model uses, and each trainer's settings.

    ``fractions`` are the train and validation shares of the samples (the rest is the test
    split); the windows overlapping an earlier split are dropped at each boundary.
    """

    fractions: tuple[Probability, Probability] = (0.7, 0.15)
    rde: RdeTrainConfig = RdeTrainConfig()

    def __post_init__(self) -> None:
        train, validation = self.fractions
        if train <= 0 or validation <= 0 or train + validation >= 1:
            raise ValueError(f"fractions: expected two positive shares summing below 1, was "
                             f"{list(self.fractions)}")
