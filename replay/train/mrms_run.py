"""``algospace train mrms``: replay the setups, train with PPO, compare with fixed rules,
register (training layer).

1. Replay the config's data set with the registered RDE (``[regime]``) and collect every
   synergy setup with its features and regime vector
   (:func:`replay.train.mrms_data.collect_setups`).
2. Split the setups by the RDE's split bounds: the M-RMS trains where the RDE trained, is
   selected on the RDE's validation period and tested on its test period.
3. Train (:func:`replay.train.train_mrms.train_mrms`).
4. Play the validation and test setups with the selected (deterministic) policy and with the
   fixed baseline of the rule-based strategy (1 contract, 2 ATR stop, reward/risk 2), over the
   same account and hard limits; report trades, P&L, the Sortino ratio of per-trade returns,
   the largest drawdown, the proposals the limits cut, and the vetoes.
5. Register the model as ``<models>/mrms/<name>/<version>/`` with the comparison in its
   metrics.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import structlog

from engine.core.config import config_id
from engine.core.errors import ModelError
from engine.core.manifest import code_version
from engine.wiring.artifacts import Artifacts
from engine.wiring.dataset import DataSource, data_sha256, source_name
from engine.wiring.registry import DataRef, LoadedModel, SplitBounds, save_model
from engine.wiring.schema import AppConfig
from replay.data.timestamps import format_ns
from replay.train.mrms_data import SetupData, SetupSample, collect_setups, split_setups
from replay.train.mrms_env import Episode, Proposal, run_episode
from replay.train.train_mrms import MrmsResult, evaluate_policy, one_thread, train_mrms
from replay.train_config import MrmsTrainConfig

__all__ = ["BASELINE", "MrmsRun", "compare", "resolve_mrms_config", "run_train_mrms",
           "split_bounds",
           "summary"]

log = structlog.get_logger(__name__)

BASELINE = Proposal(size=1, stop_atr=2.0, rr=2.0)
"""The rule-based synergy strategy's defaults: 1 contract, 2 ATR stop, reward/risk 2."""


@dataclass(frozen=True)
class MrmsRun:
    """The trainer's result, the setups by split, the comparison table, the registered model
    (``None`` when interrupted)."""

    result: MrmsResult
    splits: dict[str, list[SetupSample]]
    table: dict[str, dict[str, dict[str, float]]]
    without_regime: int
    registered: LoadedModel | None


def resolve_mrms_config(config: AppConfig) -> MrmsTrainConfig:
    """``[train.mrms]`` with ``seed`` defaulting to the config's root ``seed``."""
    mrms = config.train.mrms
    return mrms if mrms.seed is not None else msgspec.structs.replace(mrms, seed=config.seed)


def summary(episode: Episode) -> dict[str, float]:
    vetoed = sum(1 for s in episode.steps if s.proposal.size > 0 and s.allowed == 0)
    return {"setups": float(len(episode.steps) + episode.skipped),
            "trades": float(len(episode.trades)), "pnl_usd": episode.pnl,
            "sortino": episode.sortino, "max_drawdown_usd": episode.max_drawdown,
            "limit_cuts": float(episode.violations), "vetoes": float(vetoed),
            "final_equity": episode.final.equity if episode.final is not None else 0.0}


def compare(model: Any, data: SetupData, splits: dict[str, list[SetupSample]],
            config: MrmsTrainConfig) -> dict[str, dict[str, dict[str, float]]]:
    """``{split: {"learned": figures, "baseline": figures}}`` for validation and test."""
    table = {}
    with one_thread():
        for key in ("validation", "test"):
            samples = splits[key]
            learned = evaluate_policy(model, data, samples, config)
            base = run_episode(data, samples, config.account, lambda _s, _x: BASELINE)
            table[key] = {"learned": summary(learned), "baseline": summary(base)}
    return table


def split_bounds(samples: Sequence[SetupSample]) -> SplitBounds:
    """The bounds of a split of setups, for a model's manifest."""
    if not samples:
        return SplitBounds(samples=0, start_ns=0, end_ns=0, start="", end="")
    first, last = samples[0].setup.ts_event, samples[-1].setup.ts_event
    return SplitBounds(samples=len(samples), start_ns=first, end_ns=last,
                       start=format_ns(first), end=format_ns(last))


def run_train_mrms(config: AppConfig, data_path: DataSource, artifacts: Artifacts, run_dir: Path,
                   models_dir: Path, name: str, data_label: str, *, resume: bool = False,
                   should_stop: Callable[[], bool] = lambda: False,
                   on_iteration: Callable[[dict[str, Any]], None] | None = None) -> MrmsRun:
    """Steps 1-5 of the module docstring."""
    if artifacts.rde is None or artifacts.mmd is None:
        raise ModelError("train mrms: the M-RMS reads the regime vector; expected [regime] "
                         "naming a registered RDE (algospace train rde), found none")
    train_config = resolve_mrms_config(config)
    data = collect_setups(config, data_path, artifacts)
    splits = split_setups(data.samples, artifacts.rde.manifest.splits)
    sizes = {k: len(v) for k, v in splits.items()}
    log.info("mrms.data", setups=len(data.samples), without_regime=data.without_regime,
             **sizes)
    if sizes["train"] == 0:
        raise ModelError(f"{source_name(data_path)}: expected setups in the RDE's training "
                         "period, found "
                         f"none of {len(data.samples)}; use a longer data set")
    data_sha = data_sha256(data_path)
    fingerprint = hashlib.sha256(msgspec.json.encode(
        [config_id(train_config), data_sha, artifacts.rde.label,
         msgspec.to_builtins(config.synergy), msgspec.to_builtins(config.backtest.costs)])
    ).hexdigest()
    result = train_mrms(data, splits["train"], splits["validation"], train_config, run_dir,
                        resume=resume, should_stop=should_stop, on_iteration=on_iteration,
                        fingerprint=fingerprint)
    if result.interrupted:
        return MrmsRun(result, splits, {}, data.without_regime, None)
    table = compare(result.model, data, splits, train_config)
    metrics: dict[str, float] = {"best_iteration": float(result.best_iteration),
                                 "best_validation_sortino": result.best_validation}
    for key, sides in table.items():
        for side, figures in sides.items():
            for figure, value in figures.items():
                metrics[f"{key}_{side}_{figure}"] = value
    mmd = artifacts.mmd
    registered = save_model(models_dir, {
        "kind": "mrms", "name": name,
        "training": msgspec.to_builtins(train_config),
        "config_hash": config_id(train_config),
        "data": DataRef(path=data_label, sha256=data_sha),
        "instrument": config.instrument, "timeframe": config.timeframes.fast,
        "splits": {k: split_bounds(v) for k, v in splits.items()}, "metrics": metrics,
        "inputs": {"rde": artifacts.rde.label, "mmd_reference": f"{mmd.name}/{mmd.version}",
                   "synergy": config_id(config.synergy)},
        "code_version": code_version(), "seed": int(train_config.seed or 0),
        "created": split_bounds(splits["train"]).end,
        "created_ns": split_bounds(splits["train"]).end_ns,
    }, result.model, train_config.model)
    return MrmsRun(result, splits, table, data.without_regime, registered)
