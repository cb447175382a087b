"""``algospace train marl``: replay the setups with both matrices, train with MAPPO, compare,
register (training layer).

1. Replay the config's data with the registered RDE and collect every synergy setup with its
   features, regime vector and the slow and fast matrices the live decider would read
   (:func:`replay.train.mrms_data.collect_setups` with ``matrices``).
2. Split the setups by the RDE's split bounds (the same periods as the RDE and the M-RMS).
3. Train (:func:`replay.train.train_marl.train_marl`) with the registered M-RMS frozen, over its
   training account and hard limits: pretraining, MAPPO, selection and gate 1's threshold
   and agreement
   calibrated on the validation split (registered as the model's gate; the number of
   configurations tried is recorded as ``selection_trials``).
4. Play the validation and test setups three ways over the same account and limits: gate 1 +
   the M-RMS (the learned pipeline), the M-RMS alone on every setup, and the fixed rule (1
   contract, 2 ATR stop, reward/risk 2); report trades, P&L, Sortino, drawdown, the setups
   gate 1 passed and their bracket R.
5. Register the model as ``<models>/marl/<name>/<version>/`` with the comparison in its
   metrics, and the RDE, M-RMS, MMD reference and synergy settings it was trained with.
6. Write the diagnostics of the train, validation and test splits into
   ``<run>/diagnostics/`` (:func:`diagnose`): per-setup gate statistics, their summary, the
   per-agent ablation, and the learned gate beside take-every-setup, long-only and a logistic
   regression on the same setups.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import structlog

from components.assemblers import FastAssemblerConfig, SlowAssemblerConfig
from components.decision.gate import Gate1Config
from components.risk.model import RiskModel
from engine.core.config import config_id
from engine.core.errors import ModelError
from engine.core.manifest import code_version
from engine.wiring.artifacts import Artifacts
from engine.wiring.dataset import DataSource, data_sha256, source_name
from engine.wiring.registry import DataRef, LoadedModel, save_model
from engine.wiring.schema import AppConfig
from replay.train.dense_data import DenseData, collect_dense
from replay.train.marl_diagnostics import write_diagnostics
from replay.train.marl_report import (
    agent_ablation,
    fit_logistic,
    gate_rows,
    hindsight_r,
    split_deciders,
)
from replay.train.marl_select import deployed_episode, gate_verdicts
from replay.train.mrms_data import SetupData, SetupSample, collect_setups, split_setups
from replay.train.mrms_env import run_episode
from replay.train.mrms_run import BASELINE, split_bounds, summary
from replay.train.train_marl import MarlResult, evaluate_gate, train_marl
from replay.train.train_mrms import model_policy, one_thread
from replay.train_config import EnvConfig, MarlTrainConfig, MrmsTrainConfig

__all__ = ["MarlRun", "matrix_configs", "resolve_marl_config", "run_train_marl"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MarlRun:
    """The trainer's result, the setups by split, the comparison, the registered model
    (``None`` when interrupted)."""

    result: MarlResult
    splits: dict[str, list[SetupSample]]
    table: dict[str, dict[str, dict[str, float]]]
    not_ready: int
    registered: LoadedModel | None
    diagnostics: dict[str, dict[str, Any]] = field(default_factory=dict)


def resolve_marl_config(config: AppConfig) -> MarlTrainConfig:
    """``[train.marl]`` with ``seed`` defaulting to the config's root ``seed``."""
    marl = config.train.marl
    return marl if marl.seed is not None else msgspec.structs.replace(marl, seed=config.seed)


def matrix_configs(config: AppConfig, train: MarlTrainConfig
                   ) -> tuple[SlowAssemblerConfig, FastAssemblerConfig]:
    """The slow and fast matrices the network reads (windows from its config)."""
    return (SlowAssemblerConfig(timeframe=config.timeframes.slow,
                                window=train.model.slow_window),
            FastAssemblerConfig(timeframe=config.timeframes.fast,
                                window=train.model.fast_window))


def training_account(mrms: LoadedModel) -> EnvConfig:
    """The account and limits the M-RMS was trained over (its manifest)."""
    return msgspec.convert(mrms.manifest.training["account"], EnvConfig)


def compare(model: Any, mrms: RiskModel, data: SetupData,
            splits: dict[str, list[SetupSample]], env: EnvConfig, config: MarlTrainConfig,
            seed: int) -> dict[str, dict[str, dict[str, float]]]:
    """``{split: {"marl": .., "mrms": .., "baseline": ..}}`` for validation and test."""
    table = {}
    with one_thread():
        for key in ("validation", "test"):
            samples = splits[key]
            episode, decided = evaluate_gate(model, mrms, data, samples, env, config.gate, seed,
                                             config.reward_clip)
            learned = {**summary(episode), "gate1_passed": float(sum(decided.taken)),
                       "bracket_r": float(sum(decided.rewards))}
            alone = run_episode(data, samples, env, model_policy(mrms, deterministic=True))
            base = run_episode(data, samples, env, lambda _s, _x: BASELINE)
            table[key] = {"marl": learned, "mrms": summary(alone), "baseline": summary(base)}
    return table


def diagnose(model: Any, mrms: RiskModel, data: SetupData,
             splits: dict[str, list[SetupSample]], env: EnvConfig, gate: Gate1Config, seed: int,
             out_dir: Path) -> dict[str, dict[str, Any]]:
    """Per split (train, validation, test): the per-setup gate diagnostics, the per-agent
    ablation and the learned gate beside the baselines (:mod:`replay.train.marl_report`), written
    to ``out_dir`` as ``<split>_setups.csv`` and ``<split>_summary.json``."""
    r_train = hindsight_r(data, splits["train"])
    logistic = fit_logistic(splits["train"], r_train)
    win_rate = float((r_train > 0).mean())
    out = {}
    with one_thread():
        for key in ("train", "validation", "test"):
            samples = splits[key]
            verdicts = gate_verdicts(model, samples, gate, seed)
            r = r_train if key == "train" else hindsight_r(data, samples)
            episode = deployed_episode(data, samples, env, mrms, [v.passed for v in verdicts])
            deciders = split_deciders(model, mrms, data, key, samples, r, env, gate, seed,
                                      logistic, win_rate, verdicts)
            out[key] = write_diagnostics(out_dir, key, gate_rows(samples, verdicts, episode, r), {
                "ablation": agent_ablation(model, splits["train"], samples, gate, seed,
                                           verdicts),
                "deciders": [d.as_dict() for d in deciders], "threshold": gate.threshold,
                "min_agree": gate.min_agree})
    return out


def _dense(config: AppConfig, data_path: DataSource, artifacts: Artifacts,
           train_config: MarlTrainConfig, train: list[SetupSample]) -> DenseData | None:
    """The dense rows of the training period (``[train.marl.dense]``; ``None`` when off):
    only rows whose target window closes by the last training setup."""
    dense = train_config.dense
    if dense.epochs <= 0 or not train:
        return None
    rows = collect_dense(config, data_path, artifacts, matrix_configs(config, train_config),
                         dense.stride, dense.horizon)
    return rows.before(train[-1].setup.ts_event)


def run_train_marl(config: AppConfig, data_path: DataSource, artifacts: Artifacts, run_dir: Path,
                   models_dir: Path, name: str, data_label: str, *, resume: bool = False,
                   should_stop: Callable[[], bool] = lambda: False,
                   on_iteration: Callable[[dict[str, Any]], None] | None = None) -> MarlRun:
    """Steps 1-5 of the module docstring."""
    if artifacts.rde is None or artifacts.mmd is None or artifacts.mrms is None:
        raise ModelError("train marl: the agents read the regime vector and the M-RMS sizes "
                         "their trades; expected [regime] and [risk] naming registered models "
                         "(algospace train rde, algospace train mrms)")
    train_config = resolve_marl_config(config)
    seed = int(train_config.seed or 0)
    data = collect_setups(config, data_path, artifacts,
                          matrices=matrix_configs(config, train_config))
    splits = split_setups(data.samples, artifacts.rde.manifest.splits)
    sizes = {k: len(v) for k, v in splits.items()}
    log.info("marl.data", setups=len(data.samples), not_ready=data.not_ready, **sizes)
    if sizes["train"] == 0:
        raise ModelError(f"{source_name(data_path)}: expected setups in the RDE's training "
                         "period, found "
                         f"none of {len(data.samples)}; use a longer data set")
    mrms = artifacts.mrms.model
    assert isinstance(mrms, RiskModel)
    env = training_account(artifacts.mrms)
    data_sha = data_sha256(data_path)
    fingerprint = hashlib.sha256(msgspec.json.encode(
        [config_id(train_config), data_sha, artifacts.rde.label, artifacts.mrms.label,
         msgspec.to_builtins(config.synergy), msgspec.to_builtins(config.backtest.costs)])
    ).hexdigest()
    result = train_marl(data, splits["train"], splits["validation"], mrms, env, train_config,
                        run_dir, resume=resume, should_stop=should_stop,
                        on_iteration=on_iteration, fingerprint=fingerprint,
                        mrms_config=msgspec.convert(artifacts.mrms.manifest.training,
                                                    MrmsTrainConfig),
                        dense=_dense(config, data_path, artifacts, train_config,
                                     splits["train"]))
    if result.interrupted:
        return MarlRun(result, splits, {}, data.not_ready, None)
    # the registered gate is the configured one with the threshold and agreement calibrated
    # on validation
    calibrated = msgspec.structs.replace(train_config, gate=result.gate)
    table = compare(result.model, mrms, data, splits, env, calibrated, seed)
    evaluations = sum(1 for row in result.metrics if "gate/threshold" in row)
    cv_trials = sum(int(row.get("cv/trials", 0)) for row in result.metrics)
    metrics: dict[str, float] = {"best_iteration": float(result.best_iteration),
                                 "best_validation_score": result.best_validation,
                                 "gate_threshold": result.threshold,
                                 "gate_min_agree": float(result.gate.min_agree),
                                 "selection_trials": float(
                                     cv_trials + evaluations
                                     * len(set(train_config.thresholds))
                                     * max(1, len(set(train_config.agreements))))}
    for key, sides in table.items():
        for side, figures in sides.items():
            for figure, value in figures.items():
                metrics[f"{key}_{side}_{figure}"] = value
    mmd = artifacts.mmd
    registered = save_model(models_dir, {
        "kind": "marl", "name": name,
        "training": msgspec.to_builtins(calibrated),
        "config_hash": config_id(train_config),
        "data": DataRef(path=data_label, sha256=data_sha),
        "instrument": config.instrument, "timeframe": config.timeframes.fast,
        "splits": {k: split_bounds(v) for k, v in splits.items()}, "metrics": metrics,
        "inputs": {"rde": artifacts.rde.label, "mrms": artifacts.mrms.label,
                   "mmd_reference": f"{mmd.name}/{mmd.version}",
                   "synergy": config_id(config.synergy)},
        "code_version": code_version(), "seed": seed,
        "created": split_bounds(splits["train"]).end,
        "created_ns": split_bounds(splits["train"]).end_ns,
    }, result.model, train_config.model)
    diagnostics = diagnose(result.model, mrms, data, splits, env, calibrated.gate, seed,
                           run_dir / "diagnostics")
    return MarlRun(result, splits, table, data.not_ready, registered, diagnostics)
