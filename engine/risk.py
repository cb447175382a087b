"""The M-RMS a config names, as a bus component (wiring layer).

:func:`build_risk_manager` turns the registered model of ``[risk]`` (loaded and verified by
:func:`engine.artifacts.load_artifacts`) into a :class:`~components.risk.RiskManager` for the
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
from engine.errors import ConfigError, ModelError
from engine.schema import AppConfig

if TYPE_CHECKING:
    from components.risk.manager import RiskManager
    from engine.artifacts import Artifacts

__all__ = ["build_risk_manager", "risk_account"]


def risk_account(config: AppConfig, training: dict[str, object], where: str
                 ) -> AccountTrackerConfig:
    """The live account: ``[risk]``'s start equity and limits, else the training account's."""
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
        strategy=config.strategies.synergy.name)


def build_risk_manager(config: AppConfig, artifacts: Artifacts | None) -> RiskManager:
    """The :class:`RiskManager` of the registered M-RMS ``[risk]`` names."""
    from components.risk.manager import RiskManager, RiskManagerConfig  # torch
    from components.risk.model_config import RiskModelConfig

    loaded = artifacts.mrms if artifacts is not None else None
    if loaded is None or config.risk is None:
        raise ConfigError("risk.model: configured but not loaded "
                          "(engine.artifacts.load_artifacts)")
    model = loaded.config
    assert isinstance(model, RiskModelConfig)
    fast, slow = config.timeframes.fast, config.timeframes.slow
    return RiskManager(RiskManagerConfig(
        model=model, weights=loaded.weights, version=loaded.label,
        account=risk_account(config, loaded.manifest.training, f"{loaded.path}/manifest.json"),
        instrument=config.instrument_spec, costs=config.backtest.costs,
        window=config.synergy.resolved(fast, slow).window,
        strategy=config.strategies.synergy.name))
