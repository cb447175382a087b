"""Training the RDE on replayed regime windows: seeded, checkpointed, resumable (training layer).

``train_rde(train, validation, config, run_dir)`` trains :class:`RegimeModel` with the
reconstruction loss plus ``beta * KL`` (``beta`` annealed linearly from 0 over
``beta_warmup_epochs``), AdamW with a cosine schedule over ``epochs``, gradient-norm clipping,
each epoch on every ``stride``-th training window (a different offset each epoch; the stride
lowered where needed to make ``min_updates`` steps, see
:class:`~replay.train_config.RdeTrainConfig`), and early stopping on the validation
reconstruction (``patience`` epochs without improvement; the best weights are kept). Per epoch
it records the loss parts of both splits, the KL of every latent dimension, the active latent
units (validation variance of ``mu`` above 0.01), the latent gain (:func:`latent_gain`), the
learning rate and ``beta``, to ``metrics.json`` and ``metrics.csv``.

Every source of randomness is seeded: the global generator from ``seed`` (initial weights,
dropout), and ``torch.Generator``s for the shuffling of each epoch and the reparameterisation
noise; torch runs with deterministic algorithms, so
the same data, config and seed give identical weights on a CPU. A checkpoint after every
``checkpoint_every`` epochs holds the model, optimiser, scheduler, the three generators' states,
the epoch, the best weights and the metrics so far (written atomically); ``resume=True``
continues from it to the same final weights as an uninterrupted run. ``should_stop`` is polled
after each epoch's checkpoint (the CLI sets it on SIGINT/SIGTERM).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from components.regime.model import RegimeModel, kl_per_dimension, vae_loss
from engine.core.errors import ModelError
from replay.train.checkpoints import save_checkpoint, write_metrics
from replay.train_config import RdeTrainConfig

__all__ = ["RdeTrainConfig", "TrainResult", "effective_stride", "evaluate", "latent_gain",
           "train_rde"]

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainResult:
    """The best model, its epoch and validation loss, every epoch's metrics, and whether the
    run stopped early (patience) or was interrupted (``should_stop``)."""

    model: RegimeModel
    best_epoch: int
    best_validation: float
    metrics: list[dict[str, Any]] = field(default_factory=list)
    early_stopped: bool = False
    interrupted: bool = False
    stride: int = 1


def _beta(config: RdeTrainConfig, epoch: int) -> float:
    if config.beta_warmup_epochs <= 0:
        return config.beta
    return config.beta * min(1.0, epoch / config.beta_warmup_epochs)


def effective_stride(config: RdeTrainConfig, windows: int) -> int:
    """The largest stride at most ``config.stride`` whose ``epochs`` make at least
    ``config.min_updates`` optimiser steps on ``windows`` training windows (1 when none do)."""
    for stride in range(config.stride, 1, -1):
        per_epoch = math.ceil(math.ceil(windows / stride) / config.batch_size)
        if per_epoch * config.epochs >= config.min_updates:
            return stride
    return 1


def latent_gain(model: RegimeModel, windows: torch.Tensor, mu: torch.Tensor, recon: float,
                batch: int) -> float:
    """How much the decoder uses the latent: ``1 - recon / recon_shuffled``, where
    ``recon_shuffled`` decodes every window from another window's ``mu`` (a seeded
    permutation). About 0 for a collapsed latent (the decoder ignores it), positive when each
    window's own vector reconstructs it better than a stranger's."""
    n = windows.shape[0]
    if n < 2:
        return 0.0
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    total = 0.0
    with torch.no_grad():
        for start in range(0, n, batch):
            x = windows[start:start + batch]
            z = mu[order[start:start + batch]]
            total += torch.nn.functional.mse_loss(model.decode(z), x).item() * x.shape[0]
    shuffled = total / n
    return 1.0 - recon / shuffled if shuffled > 0 else 0.0


def evaluate(model: RegimeModel, windows: torch.Tensor, beta: float, batch: int
             ) -> dict[str, Any]:
    """Mean reconstruction (``mu`` as the latent), KL, ``recon + beta * kl``, KL per dimension,
    active units (variance of ``mu`` above 0.01) and :func:`latent_gain` of ``windows``, in
    eval mode."""
    model.eval()
    recon_sum = kl_sum = 0.0
    mus = []
    kl_dims = torch.zeros(model.config.latent)
    with torch.no_grad():
        for start in range(0, windows.shape[0], batch):
            x = windows[start:start + batch]
            recon, mu, log_var = model(x)
            _, r, k = vae_loss(x, recon, mu, log_var, beta)
            n = x.shape[0]
            recon_sum += r.item() * n
            kl_sum += k.item() * n
            kl_dims += kl_per_dimension(mu, log_var) * n
            mus.append(mu)
    n_all = max(windows.shape[0], 1)
    mu_all = torch.cat(mus) if mus else torch.zeros(0, model.config.latent)
    active = int((mu_all.var(dim=0) > 0.01).sum()) if mu_all.shape[0] > 1 else 0
    recon_mean, kl_mean = recon_sum / n_all, kl_sum / n_all
    return {"recon": recon_mean, "kl": kl_mean, "total": recon_mean + beta * kl_mean,
            "kl_per_dim": (kl_dims / n_all).tolist(), "active_units": active,
            "latent_gain": latent_gain(model, windows, mu_all, recon_mean, batch)}


def train_rde(train: npt.NDArray[np.float32], validation: npt.NDArray[np.float32],
              config: RdeTrainConfig, run_dir: Path, resume: bool = False,
              should_stop: Callable[[], bool] = lambda: False,
              on_epoch: Callable[[dict[str, Any]], None] | None = None,
              fingerprint: str = "") -> TrainResult:
    """Train on windows ``(n, window, features)``; checkpoints and metrics go to ``run_dir``.

    ``fingerprint`` (the CLI passes the config and data hashes) is stored in the checkpoint;
    resuming from a checkpoint with another fingerprint is refused.
    """
    torch.use_deterministic_algorithms(True)
    run_dir.mkdir(parents=True, exist_ok=True)
    x_train = torch.from_numpy(np.ascontiguousarray(train, dtype=np.float32))
    x_val = torch.from_numpy(np.ascontiguousarray(validation, dtype=np.float32))
    if x_train.shape[0] == 0:
        raise ValueError("train_rde: expected training windows, got none")
    seed = 0 if config.seed is None else config.seed
    torch.manual_seed(seed)  # initial weights, then dropout (the global generator)
    model = RegimeModel(config.model)
    shuffle = torch.Generator().manual_seed(seed + 1)
    noise = torch.Generator().manual_seed(seed + 2)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs)
    metrics: list[dict[str, Any]] = []
    best_state = copy.deepcopy(model.state_dict())
    best_val, best_epoch, bad, start, finished = math.inf, 0, 0, 1, False
    checkpoint = run_dir / CHECKPOINT
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        if state.get("fingerprint", "") != fingerprint:
            raise ModelError(f"{checkpoint}: expected a checkpoint of the same config and data "
                             f"({fingerprint[:16]}), was {state.get('fingerprint', '')[:16]}; "
                             "resume with the config and data of the interrupted run")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        shuffle.set_state(state["shuffle"])
        noise.set_state(state["noise"])
        torch.set_rng_state(state["global_rng"])
        best_state, best_val, best_epoch = state["best_state"], state["best_val"], state[
            "best_epoch"]
        bad, metrics, start = state["bad"], state["metrics"], state["epoch"] + 1
        finished = state["finished"]
    stride = effective_stride(config, x_train.shape[0])
    result = TrainResult(model, best_epoch, best_val, metrics,
                         early_stopped=bad >= config.patience, stride=stride)
    for epoch in range(start, 1 if finished else config.epochs + 1):
        beta = _beta(config, epoch - 1)
        model.train()
        subset = x_train[(epoch - 1) % stride::stride]
        order = torch.randperm(subset.shape[0], generator=shuffle)
        sums = [0.0, 0.0, 0.0]
        for s in range(0, order.shape[0], config.batch_size):
            x = subset[order[s:s + config.batch_size]]
            recon, mu, log_var = model(x, generator=noise)
            loss, r, k = vae_loss(x, recon, mu, log_var, beta)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            optimiser.step()
            n = x.shape[0]
            sums[0] += loss.item() * n
            sums[1] += r.item() * n
            sums[2] += k.item() * n
        lr = optimiser.param_groups[0]["lr"]
        scheduler.step()
        val = evaluate(model, x_val if x_val.shape[0] else x_train, beta, config.batch_size)
        n_train = subset.shape[0]
        row = {"epoch": epoch, "losses/train_total": sums[0] / n_train,
               "losses/train_recon": sums[1] / n_train, "losses/train_kl": sums[2] / n_train,
               "losses/val_total": val["total"], "losses/val_recon": val["recon"],
               "losses/val_kl": val["kl"], "charts/active_units": val["active_units"],
               "charts/latent_gain": val["latent_gain"], "charts/lr": lr, "charts/beta": beta,
               "charts/kl_per_dim": val["kl_per_dim"]}
        metrics.append(row)
        # early stopping compares the reconstruction (beta changes during the warm-up)
        if val["recon"] < best_val:
            best_val, best_epoch, bad = val["recon"], epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
        if on_epoch is not None:
            on_epoch(row)
        stop = should_stop() and epoch < config.epochs
        done = bad >= config.patience or epoch == config.epochs
        if epoch % config.checkpoint_every == 0 or done or stop:
            save_checkpoint(checkpoint, {
                "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                "scheduler": scheduler.state_dict(), "shuffle": shuffle.get_state(),
                "noise": noise.get_state(), "global_rng": torch.get_rng_state(),
                "best_state": best_state, "best_val": best_val, "best_epoch": best_epoch,
                "bad": bad, "metrics": metrics, "epoch": epoch, "finished": done,
                "fingerprint": fingerprint})
            write_metrics(run_dir, metrics)
        if bad >= config.patience:
            result.early_stopped = True
            break
        if stop:
            result.interrupted = True
            break
    model.load_state_dict(best_state)
    model.eval()
    result.best_epoch, result.best_validation, result.metrics = best_epoch, best_val, metrics
    return result
