"""The M-RMS and the MARL core a config names, as bus components (wiring layer).

:func:`build_risk_manager` turns the registered model of ``[risk]`` (loaded and verified by
:func:`engine.wiring.artifacts.load_artifacts`) into a :class:`~components.risk.RiskManager` for the
synergy strategy: the network and weights from the registry, the account and limits of
``[risk]`` or, where it leaves them out, those the model was trained with (its manifest
records them), the instrument's session clock and point value, the backtest's cost model and
the synergy window the setup features read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from components.risk.account import AccountTrackerConfig
from components.risk.limits import RiskLimitsConfig
from engine.core.errors import ConfigError, ModelError
from engine.wiring.schema import AppConfig

if TYPE_CHECKING:
    from components.decision.decider import MarlDecider
    from components.risk.manager import RiskManager
    from engine.wiring.artifacts import Artifacts

__all__ = ["build_decider", "build_risk_manager", "risk_account"]


def risk_account(config: AppConfig, training: dict[str, object], where: str,
                 strategy: str) -> AccountTrackerConfig:
    """The live account of ``strategy``: ``[risk]``'s start equity and limits, else the
    training account's."""
    risk = config.risk
    assert risk is not None
    trained = training.get("account")
    if not isinstance(trained, dict):
        raise ModelError(f"{where}: expected the training account in the model's manifest "
                         f"(training.account), was {trained!r}")
    equity = risk.start_equity
    if equity is None:
        equity = float(trained["start_equity"])
    limits = risk.limits
    if limits is None:
        limits = msgspec.convert(trained["limits"], RiskLimitsConfig)
    return AccountTrackerConfig.for_instrument(
        config.instrument_spec, start_equity=equity, limits=limits,
        strategy=strategy)


def build_risk_manager(config: AppConfig, artifacts: Artifacts | None,
                       strategy: str, consensus: bool = False) -> RiskManager:
    """The :class:`RiskManager` of the registered M-RMS ``[risk]`` names, for the strategy
    named ``strategy``; ``consensus``: the one that sizes only the setups that passed gate 1
    (:class:`ConsensusRiskManager`, the learned pipeline's)."""
    from components.risk.manager import (  # torch
        ConsensusRiskManager,
        RiskManager,
        RiskManagerConfig,
    )
    from components.risk.model_config import RiskModelConfig
    from engine.core.threads import use_inference_threads

    use_inference_threads()

    loaded = artifacts.mrms if artifacts is not None else None
    if loaded is None or config.risk is None:
        raise ConfigError("risk.model: configured but not loaded "
                          "(engine.wiring.artifacts.load_artifacts)")
    model = loaded.config
    assert isinstance(model, RiskModelConfig)
    fast, slow = config.timeframes.fast, config.timeframes.slow
    name = strategy
    kind = ConsensusRiskManager if consensus else RiskManager
    return kind(RiskManagerConfig(
        model=model, weights=loaded.weights, version=loaded.label,
        account=risk_account(config, loaded.manifest.training, f"{loaded.path}/manifest.json",
                             name),
        instrument=config.instrument_spec, costs=config.backtest.costs,
        window=config.synergy.resolved(fast, slow).window, strategy=name))


def build_decider(config: AppConfig, artifacts: Artifacts | None,
                  strategy: str) -> MarlDecider:
    """The :class:`MarlDecider` of the registered MARL core ``[marl]`` names, for the strategy
    named ``strategy``: its network,
    gate 1 (``[marl.gate]`` or the one it was registered with), the matrices of its windows,
    the seed of its dropout masks (its training seed: the validation that selected it drew
    the same masks)."""
    from components.assemblers import FastAssemblerConfig, SlowAssemblerConfig
    from components.decision.decider import MarlDecider, MarlDeciderConfig  # torch
    from components.decision.gate import Gate1Config
    from components.decision.model_config import MarlModelConfig
    from engine.core.threads import use_inference_threads

    use_inference_threads()

    loaded = artifacts.marl if artifacts is not None else None
    if loaded is None or config.marl is None:
        raise ConfigError("marl.model: configured but not loaded "
                          "(engine.wiring.artifacts.load_artifacts)")
    model = loaded.config
    assert isinstance(model, MarlModelConfig)
    gate = config.marl.gate or msgspec.convert(loaded.manifest.training["gate"], Gate1Config)
    fast, slow = config.timeframes.fast, config.timeframes.slow
    return MarlDecider(MarlDeciderConfig(
        model=model, weights=loaded.weights, version=loaded.label,
        slow=SlowAssemblerConfig(timeframe=slow, window=model.slow_window),
        fast=FastAssemblerConfig(timeframe=fast, window=model.fast_window),
        gate=gate, window=config.synergy.resolved(fast, slow).window,
        seed=loaded.manifest.seed, strategy=strategy))
