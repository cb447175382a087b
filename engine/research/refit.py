"""Fit a strategy's models on one data set, in order, without the command line (research layer).

A walk-forward fold refits what its strategy decides with on the fold's training window:
the MMD reference sets, then the RDE on their features, the M-RMS on the RDE's regime vectors
and, for the ``marl`` strategy, the MARL core on both: the steps of ``algospace train all``,
each reading the models the previous steps registered, with the same trainers and settings
(``[train]`` of the config). Each trainer splits what it is given into its own training and
validation periods (``train.fractions``); it is given nothing else, so nothing after the
window can reach a model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from engine.core.config import apply_overrides
from engine.core.errors import ModelError
from engine.wiring.artifacts import Artifacts, load_artifacts
from engine.wiring.build import learned, uses_models
from engine.wiring.dataset import Dataset
from engine.wiring.schema import AppConfig, LoadedConfig

__all__ = ["fit_models"]


def fit_models(config: AppConfig, data: Dataset, work_dir: Path, name: str
               ) -> tuple[AppConfig, Artifacts]:
    """Fit the models of ``config``'s strategy on ``data`` under ``work_dir`` (models in
    ``work_dir/models``, trainer runs beside); return the config naming them and the loaded
    artifacts."""
    from replay.train.marl_run import run_train_marl
    from replay.train.mmd_fit import FitParams
    from replay.train.mmd_reference import fit_mmd_reference, save_reference
    from replay.train.mrms_run import run_train_mrms
    from replay.train.rde_run import run_train_rde

    if not uses_models(config):
        return config, Artifacts()
    models = work_dir / "models"
    config_file = work_dir / "config.toml"  # not written: resolves nothing (paths are absolute)
    fit, procedure = fit_mmd_reference(config, data, FitParams(seed=config.seed))
    reference = save_reference(fit, procedure, models, name, data.label)
    config = _with(config, f"indicators.mmd.reference={_quoted(reference.path)}")
    steps: list[tuple[str, str, Callable[..., Any], bool]] = [
        ("rde", "regime.model", run_train_rde, False),
        ("mrms", "risk.model", run_train_mrms, False)]
    if learned(config):
        steps.append(("marl", "marl.model", run_train_marl, True))
    for step, key, runner, risk in steps:
        # the sections of this step and the later ones still name the config's own models:
        # the step sees the config as `train all` does (only the earlier steps' models)
        unfitted = msgspec.structs.replace(
            config, marl=None, risk=config.risk if step == "marl" else None,
            regime=None if step == "rde" else config.regime)
        artifacts = load_artifacts(LoadedConfig(unfitted, config_file), risk=risk)
        run = runner(unfitted, data, artifacts, work_dir / step, models, name, data.label)
        if run.registered is None:
            raise ModelError(f"{data.label}: {step}: the trainer stopped before registering "
                             "a model")
        config = _with(config, f"{key}={_quoted(run.registered.path)}")
    loaded = LoadedConfig(config, config_file)
    return config, load_artifacts(loaded, risk=True,
                                  marl=learned(config))


def _quoted(path: Path) -> str:
    return msgspec.json.encode(str(path)).decode()


def _with(config: AppConfig, override: str) -> AppConfig:
    return apply_overrides(config, [override])
