"""Training the M-RMS with PPO on replayed real setups: seeded, checkpointed, resumable
(training layer).

``train_mrms(data, train, validation, config, run_dir)`` (cleanrl's PPO, adapted to episodes
of real setups, :mod:`replay.train.mrms_env`):

1. **Rollouts.** Each iteration plays ``episodes`` episodes over the training setups; the
   policy samples a size (categorical), a stop and a target (Betas) for each setup from an
   explicit generator and records the state, action, log-probability and value.
2. **Advantages.** GAE (``gamma``, ``gae_lambda``) per episode, the episode's last step
   terminal; returns = advantages + values; advantages normalised over the iteration.
3. **Updates.** ``update_epochs`` passes over the iteration's steps in shuffled minibatches:
   clipped surrogate (``clip``), value loss (``value_coef``), entropy bonus
   (``entropy_coef``), gradient norm clipped (``max_grad_norm``), Adam.
4. **Selection.** Every ``eval_every`` iterations the deterministic policy (most likely size,
   Beta modes) plays the validation setups; the weights with the best validation Sortino
   ratio are kept (the first on ties), counted only with at least ``min_trades`` trades
   (:func:`qualified`: a policy that abstains cannot win selection with a lucky one).

Before the first iteration of a fresh run the model is pretrained on the training setups'
full-information outcomes (:mod:`replay.train.mrms_pretrain`); those weights are iteration 0 and a
candidate of the selection like every evaluated iteration.

Per iteration ``metrics.json``/``metrics.csv`` hold ``charts/episode_return``,
``charts/sortino``, ``charts/pnl``, ``charts/violations``, ``losses/policy``, ``losses/value``,
``losses/entropy``, ``losses/approx_kl``, ``losses/clip_fraction`` and the validation figures
when evaluated. Randomness: the global generator (initial weights) from ``seed``, the
sampling generator from ``seed + 1``, the minibatch shuffling from ``seed + 2``; the same
data, config and seed give identical weights. A checkpoint every ``checkpoint_every``
iterations (and when stopped) holds everything needed to continue to the same final weights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from components.risk.model import RiskModel
from engine.core.errors import ModelError
from replay.train.checkpoints import PolicyRun
from replay.train.mrms_data import SetupData, SetupSample
from replay.train.mrms_env import Episode, Proposal, run_episode
from replay.train.mrms_pretrain import pretrain_mrms
from replay.train.outcomes import FIXED_BRACKET, bracket_grid, compute_outcomes
from replay.train_config import MrmsTrainConfig

__all__ = ["MrmsResult", "evaluate_policy", "gae", "model_policy", "one_thread",
           "pretrain_risk_model", "qualified", "train_mrms"]

CHECKPOINT = "checkpoint.pt"


@dataclass
class MrmsResult:
    """The selected model, its iteration and validation Sortino, every iteration's metrics."""

    model: RiskModel
    best_iteration: int
    best_validation: float
    metrics: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False


@dataclass
class _Record:
    states: list[tuple[float, ...]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    stop_u: list[float] = field(default_factory=list)
    rr_u: list[float] = field(default_factory=list)
    log_probs: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


def model_policy(model: RiskModel, generator: torch.Generator | None = None,
                 record: _Record | None = None, deterministic: bool = False
                 ) -> Callable[[tuple[float, ...], SetupSample], Proposal]:
    """A policy for :func:`~replay.train.mrms_env.run_episode` from ``model`` (sampling with
    ``generator``, or deterministic), optionally recording what PPO needs."""

    def policy(state: tuple[float, ...], sample: SetupSample) -> Proposal:
        x = torch.tensor([state], dtype=torch.float32)
        with torch.no_grad():
            action, value = model.act(x, generator=generator, deterministic=deterministic)
        if record is not None:
            record.states.append(state)
            record.sizes.append(int(action.size[0]))
            record.stop_u.append(float(action.stop_unit[0]))
            record.rr_u.append(float(action.rr_unit[0]))
            record.log_probs.append(float(action.log_prob[0]))
            record.values.append(float(value[0]))
        return Proposal(int(action.size[0]), float(action.stop_atr[0]), float(action.rr[0]))

    return policy


def evaluate_policy(model: RiskModel, data: SetupData, samples: Sequence[SetupSample],
                    config: MrmsTrainConfig) -> Episode:
    """The deterministic policy's episode over ``samples``."""
    model.eval()
    return run_episode(data, samples, config.account, model_policy(model, deterministic=True))


def qualified(score: float, trades: int, min_trades: int) -> float:
    """A selection score that counts only with at least ``min_trades`` trades: below that,
    ``-1e6 + trades`` (so more trades win until one candidate qualifies)."""
    return score if trades >= min_trades else -1e6 + trades


def pretrain_risk_model(model: RiskModel, data: SetupData, train: Sequence[SetupSample],
                        config: MrmsTrainConfig, seed: int) -> dict[str, Any]:
    """Full-information pretraining (:mod:`replay.train.mrms_pretrain`) on the account states of
    the fixed rule's episode over ``train``: iteration 0's metrics row."""
    base = run_episode(data, train, config.account, lambda _s, _x: Proposal(1, *FIXED_BRACKET))
    samples = [step.sample for step in base.steps]
    states = [step.state for step in base.steps]
    c = config.model
    at = c.setup + c.regime  # equity_change, the first account feature
    equity = [config.account.start_equity * (1.0 + s[at]) for s in states]
    outcomes = compute_outcomes(data, samples, *bracket_grid(c.stop_min, c.stop_max, c.rr_min,
                                                             c.rr_max))
    figures = pretrain_mrms(model, states, outcomes, equity, config.account, config.pretrain,
                            seed)
    return {"iteration": 0, "charts/steps": len(states), **figures}


def gae(rewards: Sequence[float], values: Sequence[float], gamma: float, lam: float
        ) -> list[float]:
    """Generalised advantage estimates of one episode (its last step ends it)."""
    advantages = [0.0] * len(rewards)
    last = 0.0
    for t in reversed(range(len(rewards))):
        next_value = values[t + 1] if t + 1 < len(values) else 0.0  # the last step ends it
        delta = rewards[t] + gamma * next_value - values[t]
        last = delta + gamma * lam * last
        advantages[t] = last
    return advantages


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread (restored after): the M-RMS's tensors are a few dozen
    numbers, and waking a second thread per operation costs more than the operation (GELU
    on 64 values: 46 us on one thread, 3.8 ms on two while the other core is busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_mrms(data: SetupData, train: Sequence[SetupSample],
               validation: Sequence[SetupSample], config: MrmsTrainConfig, run_dir: Path,
               resume: bool = False, should_stop: Callable[[], bool] = lambda: False,
               on_iteration: Callable[[dict[str, Any]], None] | None = None,
               fingerprint: str = "") -> MrmsResult:
    """Train on ``train`` setups, select on ``validation`` (module docstring)."""
    with one_thread():
        return _train(data, train, validation, config, run_dir, resume, should_stop,
                      on_iteration, fingerprint)


def _train(data: SetupData, train: Sequence[SetupSample], validation: Sequence[SetupSample],
           config: MrmsTrainConfig, run_dir: Path, resume: bool,
           should_stop: Callable[[], bool],
           on_iteration: Callable[[dict[str, Any]], None] | None,
           fingerprint: str) -> MrmsResult:
    if not train:
        raise ModelError("train mrms: expected training setups, found none")
    torch.use_deterministic_algorithms(True)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = 0 if config.seed is None else config.seed
    torch.manual_seed(seed)
    model = RiskModel(config.model)
    sampler = torch.Generator().manual_seed(seed + 1)
    shuffle = torch.Generator().manual_seed(seed + 2)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, eps=1e-5)
    state = PolicyRun(model, optimiser, sampler, shuffle, fingerprint)
    checkpoint = run_dir / CHECKPOINT
    if resume and checkpoint.is_file():
        state.resume(checkpoint)
    elif config.pretrain.epochs > 0:  # a fresh run: full-information pretraining first
        first = pretrain_risk_model(model, data, train, config, seed)
        if validation:
            pre = evaluate_policy(model, data, validation, config)
            score = qualified(pre.sortino, len(pre.trades), config.min_trades)
            first.update({"validation/sortino": pre.sortino, "validation/pnl": pre.pnl,
                          "validation/trades": len(pre.trades), "validation/score": score})
            state.consider(score, 0)
        state.metrics.append(first)
        if on_iteration is not None:
            on_iteration(first)
    metrics = state.metrics
    result = MrmsResult(model, state.best_it, state.best_val, metrics)
    for it in range(state.iteration + 1, config.iterations + 1):
        model.eval()  # rollouts: no dropout
        states, sizes, stop_u, rr_u, old_lp, returns, advs = [], [], [], [], [], [], []
        episodes: list[Episode] = []
        for _ in range(config.episodes):
            record = _Record()
            episode = run_episode(data, train, config.account,
                                  model_policy(model, sampler, record))
            episodes.append(episode)
            rewards = [s.reward for s in episode.steps]
            adv = gae(rewards, record.values, config.gamma, config.gae_lambda)
            states += record.states
            sizes += record.sizes
            stop_u += record.stop_u
            rr_u += record.rr_u
            old_lp += record.log_probs
            advs += adv
            returns += [a + v for a, v in zip(adv, record.values, strict=True)]
        x = torch.tensor(states, dtype=torch.float32)
        a_size = torch.tensor(sizes)
        a_stop, a_rr = torch.tensor(stop_u), torch.tensor(rr_u)
        lp_old, ret = torch.tensor(old_lp), torch.tensor(returns)
        adv_t = torch.tensor(advs)
        if adv_t.numel() > 1:
            adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
        model.train()
        sums = {"policy": 0.0, "value": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip": 0.0}
        updates = 0
        n = x.shape[0]
        for _ in range(config.update_epochs):
            order = torch.randperm(n, generator=shuffle)
            for s in range(0, n, config.minibatch):
                idx = order[s:s + config.minibatch]
                log_prob, entropy, value = model.evaluate(x[idx], a_size[idx], a_stop[idx],
                                                          a_rr[idx])
                ratio = torch.exp(log_prob - lp_old[idx])
                surrogate = torch.min(ratio * adv_t[idx],
                                      ratio.clamp(1 - config.clip, 1 + config.clip) * adv_t[idx])
                policy_loss = -surrogate.mean()
                value_loss = 0.5 * (value - ret[idx]).pow(2).mean()
                entropy_mean = entropy.mean()
                loss = (policy_loss + config.value_coef * value_loss
                        - config.entropy_coef * entropy_mean)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimiser.step()
                with torch.no_grad():
                    log_ratio = log_prob - lp_old[idx]
                    sums["approx_kl"] += float(((ratio - 1) - log_ratio).mean())
                    sums["clip"] += float(((ratio - 1).abs() > config.clip).float().mean())
                sums["policy"] += policy_loss.item()
                sums["value"] += value_loss.item()
                sums["entropy"] += entropy_mean.item()
                updates += 1
        row: dict[str, Any] = {
            "iteration": it, "charts/steps": n,
            "charts/episode_return": float(np.mean([sum(s.reward for s in e.steps)
                                                    for e in episodes])),
            "charts/sortino": float(np.mean([e.sortino for e in episodes])),
            "charts/pnl": float(np.mean([e.pnl for e in episodes])),
            "charts/violations": float(np.mean([e.violations for e in episodes])),
            **{f"losses/{k}": v / max(updates, 1) for k, v in sums.items()}}
        if it % config.eval_every == 0 or it == config.iterations:
            val = evaluate_policy(model, data, validation, config) if validation else None
            score = (qualified(val.sortino, len(val.trades), config.min_trades)
                     if val is not None else row["charts/sortino"])
            row.update({"validation/sortino": val.sortino if val is not None else score,
                        "validation/score": score,
                        "validation/pnl": val.pnl if val is not None else None,
                        "validation/trades": len(val.trades) if val is not None else None})
            state.consider(score, it)
        metrics.append(row)
        if on_iteration is not None:
            on_iteration(row)
        stop = should_stop() and it < config.iterations
        if it % config.checkpoint_every == 0 or it == config.iterations or stop:
            state.save(checkpoint, run_dir, it)
        if stop:
            result.interrupted = True
            break
    state.finish()
    result.best_iteration, result.best_validation = state.best_it, state.best_val
    result.metrics = metrics
    return result
