"""Training settings of the learned models, importable without torch (the config schema
reads them; the trainers in ``replay/`` use them)."""

from __future__ import annotations

from typing import Literal

from components.decision.gate import Gate1Config
from components.decision.model_config import MarlModelConfig
from components.regime.model_config import RegimeModelConfig
from components.risk.limits import RiskLimitsConfig
from components.risk.model_config import RiskModelConfig
from engine.core.config import Config, NonNegativeFloat, PositiveFloat, PositiveInt, Probability

__all__ = ["EnvConfig", "MarlCvConfig", "MarlDenseConfig", "MarlPretrainConfig",
           "MarlTrainConfig",
           "MrmsPretrainConfig",
           "MrmsTrainConfig", "RdeTrainConfig", "TrainConfig"]


class RdeTrainConfig(Config, frozen=True):
    """``[train.rde]``: the RDE trainer's settings (the network's shapes in ``model``).

    ``seed`` defaults to the config's root ``seed``; ``span`` is the regime assembler's z-score
    span (its window is ``model.window``), recorded with the model so serving builds the same
    matrix. Consecutive windows share all but one row, so epoch ``e`` (from 1) trains on
    every ``stride``-th window starting at ``(e - 1) % stride``: every window is used once per
    ``stride`` epochs, and an epoch costs ``1 / stride`` of a full pass. ``stride`` is a
    ceiling: the trainer uses the largest stride at most this that still gives ``epochs``
    at least ``min_updates`` optimiser steps (down to 1), so a short training window (a
    walk-forward fold's) is not under-trained into a latent the decoder ignores
    (docs/rde.md, "Latent collapse").
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
    min_updates: PositiveInt = 500


class EnvConfig(Config, frozen=True):
    """``[train.mrms.account]``: the simulated account, its limits and the reward's shape.

    ``reward = "relative"`` (the default) rewards a step with the change of the episode's
    Sortino ratio *minus* the change the fixed rule's trade (1 contract, 2 ATR stop,
    reward/risk 2) would have made from the same history: size 0 then costs what the baseline
    would have earned, instead of being free. ``"sortino"`` is the change alone.
    """

    start_equity: PositiveFloat = 50_000.0
    limits: RiskLimitsConfig = RiskLimitsConfig()
    downside_floor: PositiveFloat = 0.01
    violation_penalty: NonNegativeFloat = 0.1
    reward: Literal["relative", "sortino"] = "relative"


class MrmsPretrainConfig(Config, frozen=True):
    """``[train.mrms.pretrain]``: the full-information pretraining of the M-RMS before PPO
    (``replay/train/mrms_pretrain.py``): ``epochs`` passes in minibatches, AdamW, the utility's
    ``kelly_fraction`` (0.5: half Kelly), an ``entropy`` bonus on the size, the pull toward the
    fixed rule's action ``prior_weight``. ``epochs = 0`` skips it."""

    epochs: int = 30
    minibatch: PositiveInt = 32
    lr: PositiveFloat = 2e-3
    weight_decay: NonNegativeFloat = 0.1
    kelly_fraction: PositiveFloat = 0.5
    entropy: NonNegativeFloat = 0.01
    prior_weight: NonNegativeFloat = 0.2


class MrmsTrainConfig(Config, frozen=True):
    """``[train.mrms]``: PPO over the training split's setups (``replay/train/train_mrms.py``).

    Each iteration plays ``episodes`` episodes (the whole training split in time order, the
    policy sampling its proposals), then ``update_epochs`` passes of clipped PPO updates in
    minibatches. Every ``eval_every`` iterations the deterministic policy plays the validation
    split; the weights with the best validation Sortino ratio are kept.
    """

    model: RiskModelConfig = RiskModelConfig()
    account: EnvConfig = EnvConfig()
    pretrain: MrmsPretrainConfig = MrmsPretrainConfig()
    min_trades: int = 3
    iterations: PositiveInt = 150
    episodes: PositiveInt = 4
    update_epochs: PositiveInt = 4
    minibatch: PositiveInt = 64
    lr: PositiveFloat = 3e-4
    gamma: Probability = 1.0
    gae_lambda: Probability = 0.95
    clip: PositiveFloat = 0.2
    value_coef: NonNegativeFloat = 0.5
    entropy_coef: NonNegativeFloat = 0.01
    max_grad_norm: PositiveFloat = 0.5
    eval_every: PositiveInt = 5
    checkpoint_every: PositiveInt = 5
    seed: int | None = None


class MarlPretrainConfig(Config, frozen=True):
    """``[train.marl.pretrain]``: the full-information bandit pretraining of the agents
    before MAPPO (``replay/train/marl_pretrain.py``): ``epochs`` passes over the training setups in
    minibatches, AdamW, entropy weight ``temperature`` (in R), the agents' own-input heads
    weighted ``own_weight``. ``epochs = 0`` skips it."""

    epochs: int = 30
    minibatch: PositiveInt = 32
    lr: PositiveFloat = 2e-3
    weight_decay: NonNegativeFloat = 0.1
    temperature: PositiveFloat = 1.0
    own_weight: NonNegativeFloat = 1.0


class MarlDenseConfig(Config, frozen=True):
    """``[train.marl.dense]``: the dense pretraining of the agents' embedders on every
    ``stride``-th bar of the training period (``replay/train/dense_data.py``,
    ``replay/train/marl_dense.py``): targets ``horizon`` execution bars ahead, ``epochs`` passes in
    minibatches, AdamW. ``epochs = 0`` skips it."""

    epochs: int = 0
    stride: PositiveInt = 2
    horizon: PositiveInt = 8
    minibatch: PositiveInt = 256
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-2


class MarlCvConfig(Config, frozen=True):
    """``[train.marl.cv]``: purged, embargoed cross-validation of the pretraining inside the
    training split (``replay/train/marl_cv.py``): ``folds`` contiguous blocks (0: off, the
    configured ``pretrain`` is used), training setups within ``purge_bars`` execution bars
    before a block or ``embargo_bars`` after it left out, each ``(epochs, temperature)`` of
    ``candidates`` scored by the blocks' summed deployed P&L at its best threshold."""

    folds: int = 4
    purge_bars: int = 48
    embargo_bars: int = 24
    candidates: tuple[tuple[int, float], ...] = ((10, 1.0), (30, 1.0), (60, 1.0), (30, 0.5))

    def __post_init__(self) -> None:
        if self.folds == 1 or self.folds < 0:
            raise ValueError(f"folds: expected 0 (off) or at least 2, was {self.folds}")
        if self.folds and not self.candidates:
            raise ValueError("candidates: expected at least one (epochs, temperature)")
        if any(e < 1 or not t > 0 for e, t in self.candidates):
            raise ValueError(f"candidates: expected epochs >= 1 and temperature > 0, was "
                             f"{list(self.candidates)}")


class MarlTrainConfig(Config, frozen=True):
    """``[train.marl]``: MAPPO over the training split's setups (``replay/train/train_marl.py``).

    Each iteration plays ``episodes`` episodes (the training setups in time order over the
    M-RMS's account, the agents sampling their actions with fresh dropout masks), then
    ``update_epochs`` passes of clipped PPO updates in minibatches, the three agents sharing
    the centralised critic's advantage. Rewards are clipped to +-``reward_clip`` R. Every
    ``eval_every`` iterations gate 1 (``gate``) with the frozen M-RMS plays the validation
    split; the weights with the largest validation R are kept. ``gate`` is also the serving
    gate registered with the model.

    Before MAPPO the agents are pretrained on the setups' full-information outcomes
    (``pretrain``; its epochs and temperature chosen by purged cross-validation inside the
    training split, ``cv``). Selection scores the deployed pipeline (gate 1, the M-RMS, the hard
    limits, the broker) on the validation split: its net P&L, counted only with at least
    ``min_trades`` trades; gate 1's ``threshold`` and ``min_agree`` are calibrated on the
    same split over ``thresholds`` x ``agreements`` (every pair tried counts as a trial for
    the deflated Sharpe ratio; an empty ``agreements`` keeps ``gate.min_agree``).
    """

    model: MarlModelConfig = MarlModelConfig(dropout=0.3, own_heads=True, linear_heads=True,
                                             standardise=True)
    gate: Gate1Config = Gate1Config()
    pretrain: MarlPretrainConfig = MarlPretrainConfig()
    cv: MarlCvConfig = MarlCvConfig()
    dense: MarlDenseConfig = MarlDenseConfig()
    thresholds: tuple[Probability, ...] = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7,
                                           0.75, 0.8)
    agreements: tuple[PositiveInt, ...] = (2, 3)
    min_trades: int = 3
    iterations: PositiveInt = 60
    episodes: PositiveInt = 4
    update_epochs: PositiveInt = 4
    minibatch: PositiveInt = 64
    lr: PositiveFloat = 1e-3
    gamma: Probability = 0.0
    gae_lambda: Probability = 0.95
    clip: PositiveFloat = 0.2
    value_coef: NonNegativeFloat = 0.5
    entropy_coef: NonNegativeFloat = 0.01
    max_grad_norm: PositiveFloat = 0.5
    reward_clip: PositiveFloat = 5.0
    eval_every: PositiveInt = 5
    checkpoint_every: PositiveInt = 5
    seed: int | None = None

    def __post_init__(self) -> None:
        bad = [a for a in self.agreements if a > 3]
        if bad:
            raise ValueError(f"agreements: expected agent counts of at most 3, was {bad}")


class TrainConfig(Config, frozen=True):
    """``[train]``: the chronological split every model uses, and each trainer's settings.

    ``fractions`` are the train and validation shares of the samples (the rest is the test
    split); the windows overlapping an earlier split are dropped at each boundary.
    """

    fractions: tuple[Probability, Probability] = (0.7, 0.15)
    rde: RdeTrainConfig = RdeTrainConfig()
    mrms: MrmsTrainConfig = MrmsTrainConfig()
    marl: MarlTrainConfig = MarlTrainConfig()

    def __post_init__(self) -> None:
        train, validation = self.fractions
        if train <= 0 or validation <= 0 or train + validation >= 1:
            raise ValueError(f"fractions: expected two positive shares summing below 1, was "
                             f"{list(self.fractions)}")
