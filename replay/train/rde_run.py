"""``algospace train rde``: replay, split, train, evaluate, register (training layer).

1. Replay the config's data set through the live pipeline and collect one regime row per slow
   bar (:func:`replay.train.rde_data.collect_regime_rows`, with the regime matrix of the model's
   window and the configured span).
2. Split the ready windows chronologically (``[train] fractions``, default 70/15/15) with
   ``window - 1`` windows purged at each boundary (:func:`replay.train.rde_data.split_windows`).
3. Train on the training split, early-stop on the validation split
   (:func:`replay.train.train_rde.train_rde`); the run directory holds the checkpoint and the
   metrics, so ``--resume RUN_DIR`` continues an interrupted run.
4. Evaluate the best weights on all three splits (a latent that collapsed on the training
   windows, :func:`collapsed`, is logged as ``rde.latent_collapsed`` and recorded as the
   ``collapsed`` metric) and register them
   (:func:`engine.wiring.registry.save_model`) as ``<models>/rde/<name>/<version>/`` with the data
   hash, split bounds, metrics, the MMD reference it read, the training config and seed.

An interrupted run (``should_stop``) stops after the current epoch's checkpoint and registers
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import structlog
import torch

from components.assemblers import RegimeAssemblerConfig
from engine.core.config import config_id
from engine.core.errors import ModelError
from engine.core.manifest import code_version
from engine.wiring.artifacts import Artifacts
from engine.wiring.dataset import DataSource, data_sha256, source_name
from engine.wiring.registry import DataRef, LoadedModel, SplitBounds, save_model
from engine.wiring.schema import AppConfig
from replay.data.timestamps import format_ns
from replay.train.rde_data import RegimeRows, Split, collect_regime_rows, split_windows
from replay.train.train_rde import TrainResult, evaluate, train_rde
from replay.train_config import RdeTrainConfig

__all__ = ["COLLAPSE_GAIN", "RdeRun", "collapsed", "resolve_train_config", "run_train_rde",
           "split_bounds"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RdeRun:
    """The outcome: the trainer's result, the split sizes, the registered model (``None`` when
    the run was interrupted) and the evaluation of every split."""

    result: TrainResult
    split: Split
    rows: RegimeRows
    windows: int
    evaluation: dict[str, dict[str, Any]]
    registered: LoadedModel | None


def resolve_train_config(config: AppConfig) -> RdeTrainConfig:
    """``[train.rde]`` with ``seed`` defaulting to the config's root ``seed``."""
    rde = config.train.rde
    return rde if rde.seed is not None else msgspec.structs.replace(rde, seed=config.seed)


COLLAPSE_GAIN = 0.02


def collapsed(train: dict[str, Any], latent: int) -> bool:
    """A latent collapsed on its own training windows: fewer than half its units active, or
    a latent gain below ``COLLAPSE_GAIN`` (each window's vector reconstructs it hardly better
    than another window's)."""
    return bool(train["active_units"] < latent / 2 or train["latent_gain"] < COLLAPSE_GAIN)


def split_bounds(rows: RegimeRows, ends: np.ndarray, part: slice) -> SplitBounds:
    """Samples and the first and last bar (closes) the windows of ``part`` contain."""
    chosen = ends[part]
    if chosen.shape[0] == 0:
        return SplitBounds(samples=0, start_ns=0, end_ns=0, start="", end="")
    first = int(np.searchsorted(rows.ts, chosen[0])) - (rows.window - 1)
    start, end = int(rows.ts[max(first, 0)]), int(chosen[-1])
    return SplitBounds(samples=int(chosen.shape[0]), start_ns=start, end_ns=end,
                       start=format_ns(start), end=format_ns(end))


def run_train_rde(config: AppConfig, data_path: DataSource, artifacts: Artifacts, run_dir: Path,
                  models_dir: Path, name: str, data_label: str, *, resume: bool = False,
                  should_stop: Callable[[], bool] = lambda: False,
                  on_epoch: Callable[[dict[str, Any]], None] | None = None,
                  on_rows: Callable[[RegimeRows], None] | None = None) -> RdeRun:
    """Steps 1-4 of the module docstring."""
    if artifacts.mmd is None:
        raise ModelError("train rde: the regime matrix reads the MMD features; expected "
                         "[indicators.mmd] naming a fitted reference, found none")
    train_config = resolve_train_config(config)
    model_config = train_config.model
    assembler = RegimeAssemblerConfig(timeframe=config.timeframes.slow,
                                      window=model_config.window, span=train_config.span)
    rows = collect_regime_rows(config, data_path, artifacts, assembler)
    if on_rows is not None:
        on_rows(rows)
    windows, ends = rows.windows()
    split = split_windows(windows.shape[0], rows.window, config.train.fractions)
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    sizes = {k: len(range(*v.indices(windows.shape[0]))) for k, v in parts.items()}
    if sizes["train"] < train_config.batch_size or sizes["validation"] == 0:
        raise ModelError(
            f"{source_name(data_path)}: expected at least {train_config.batch_size} training and 1 "
            f"validation window of {rows.window} slow bars, the data gave {windows.shape[0]} "
            f"ready windows ({sizes['train']} train, {sizes['validation']} validation, "
            f"{sizes['test']} test) from {rows.rows.shape[0]} slow bars; use a longer data set")
    data_sha = data_sha256(data_path)
    mmd = f"{artifacts.mmd.name}/{artifacts.mmd.version}"
    fingerprint = hashlib.sha256(msgspec.json.encode(
        [config_id(train_config), list(config.train.fractions), data_sha, mmd,
         msgspec.to_builtins(assembler)])).hexdigest()
    log.info("rde.data", slow_bars=int(rows.rows.shape[0]), windows=int(windows.shape[0]),
             **sizes)
    result = train_rde(windows[split.train], windows[split.validation], train_config, run_dir,
                       resume=resume, should_stop=should_stop, on_epoch=on_epoch,
                       fingerprint=fingerprint)
    beta = train_config.beta
    evaluation = {}
    for key, part in parts.items():
        if sizes[key]:
            x = torch.from_numpy(np.ascontiguousarray(windows[part]))
            evaluation[key] = evaluate(result.model, x, beta, train_config.batch_size)
    if result.interrupted:
        return RdeRun(result, split, rows, int(windows.shape[0]), evaluation, None)
    bounds = {k: split_bounds(rows, ends, v) for k, v in parts.items()}
    metrics: dict[str, float] = {
        "best_epoch": float(result.best_epoch), "epochs": float(len(result.metrics)),
        "early_stopped": float(result.early_stopped), "stride": float(result.stride)}
    for key, values in evaluation.items():
        metrics[f"{key}_recon"] = float(values["recon"])
        metrics[f"{key}_kl"] = float(values["kl"])
        metrics[f"{key}_active_units"] = float(values["active_units"])
        metrics[f"{key}_latent_gain"] = float(values["latent_gain"])
    metrics["collapsed"] = float(collapsed(evaluation["train"], model_config.latent))
    if metrics["collapsed"]:
        log.warning("rde.latent_collapsed", active_units=evaluation["train"]["active_units"],
                    latent=model_config.latent,
                    latent_gain=round(evaluation["train"]["latent_gain"], 4),
                    hint="the decoder barely uses the latent; train longer "
                         "(train.rde.min_updates, epochs) or on more data")
    train_end = bounds["train"]
    registered = save_model(models_dir, {
        "kind": "rde", "name": name,
        "training": {**msgspec.to_builtins(train_config),
                     "fractions": list(config.train.fractions)},
        "config_hash": config_id(train_config),
        "data": DataRef(path=data_label, sha256=data_sha),
        "instrument": config.instrument, "timeframe": config.timeframes.slow,
        "splits": bounds, "metrics": metrics,
        "inputs": {"mmd_reference": mmd, "regime_matrix":
                   f"{assembler.timeframe} window={assembler.window} span={assembler.span}"},
        "code_version": code_version(), "seed": int(train_config.seed or 0),
        "created": train_end.end, "created_ns": train_end.end_ns,
    }, result.model, model_config)
    return RdeRun(result, split, rows, int(windows.shape[0]), evaluation, registered)
