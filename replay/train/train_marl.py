"""Training the MARL decision core: full-information pretraining, then MAPPO on replayed real
setups (training layer).

**Dense pretraining** (optional, ``dense.epochs``; :mod:`replay.train.marl_dense`): the agents'
embedders first learn causal targets (the next bars' return and range in ATRs) on every bar
of the training period.

**Pretraining** (:mod:`replay.train.marl_pretrain`): before the first iteration of a fresh run the
agents fit every training setup's counterfactual outcomes (:mod:`replay.train.outcomes`: the net R
of
pass, long and short), with the epochs and temperature chosen by purged, embargoed
cross-validation inside the training split (:mod:`replay.train.marl_cv`); those weights are
iteration 0, a candidate of the selection.

**MAPPO.** An episode walks the training split's setups in time order through the M-RMS's
environment (:func:`replay.train.mrms_env.run_episode`: the live account, the hard limits, the
backtest's broker, one position at a time). At each setup:

1. the three agents sample their actions (pass, long, short) from one stochastic forward
   (fresh dropout masks, kept for the update);
2. the team decides by **gate 1's own rule** (:func:`~components.decision.gate.consensus`:
   at least ``gate.min_agree`` agents for the setup's direction and the weighted confidence
   at least the threshold), the sampled actions standing in for the agents' votes (the
   exploration MAPPO needs; serving votes with the MC mean) and the current calibrated
   threshold and agreement;
3. a trade is sized by the frozen M-RMS's deterministic proposal on the live account state,
   capped by the hard limits and executed by the broker.

**Reward**, measured against the fixed rule (take every setup, 1 contract, 2 ATR stop,
reward/risk 2; its R on the setup is ``R_base``): for a team decision to trade, the net
R-multiple (the broker's ``r_multiple``) of one contract traded in the setup's direction with
the M-RMS's bracket, minus ``R_base``; for a pass, ``-R_base``. Passing a winner therefore
costs what the baseline would have earned on it and passing a loser earns what it would have
lost; trading earns what the M-RMS's bracket adds over the fixed one. The R-multiple does not
depend on the size, so where the M-RMS sizes the trade to 0 it is the R its bracket would have
made (whether to size stays gate 2's job). Clipped to ``+-reward_clip``. Every agent receives
the team reward (cooperative MAPPO).

**Update**: GAE over the episode with the centralised critic's values, then ``update_epochs``
passes of minibatches; each agent's clipped surrogate on the shared, normalised advantage,
the critic's value loss and an entropy bonus, with the rollout's own dropout masks so the
probability ratio compares like with like.

**Selection** (:mod:`replay.train.marl_select`): after pretraining and every ``eval_every``
iterations the deployed pipeline (gate 1 as served, the M-RMS, the limits, the broker) plays
the validation split for every candidate threshold and agreement; the best pair's net P&L,
counted only with ``min_trades`` trades, scores the weights. The weights with the best score
are kept with their pair, which becomes the registered gate's.

Seeded (weights, rollout sampling, minibatch order), checkpointed every ``checkpoint_every``
iterations and resumable to the uninterrupted result; torch runs on one thread.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import torch

from components.decision.decider import observe
from components.decision.gate import Gate1Config, consensus
from components.decision.model import MarlModel
from components.risk.model import RiskModel
from engine.core.errors import ModelError
from replay.train.checkpoints import PolicyRun
from replay.train.dense_data import DenseData
from replay.train.marl_cv import cross_validate
from replay.train.marl_dense import pretrain_encoders
from replay.train.marl_pretrain import observations, pretrain_agents
from replay.train.marl_select import calibrate, gate_verdict, mrms_proposal
from replay.train.mrms_data import SetupData, SetupSample
from replay.train.mrms_env import Episode, Proposal, run_episode
from replay.train.outcomes import compute_outcomes, one_contract
from replay.train.train_mrms import gae, one_thread
from replay.train_config import EnvConfig, MarlTrainConfig, MrmsTrainConfig

__all__ = ["CHECKPOINT", "MarlResult", "Rollout", "act", "bracket_r", "evaluate_gate",
           "gate_passes", "marl_policy", "ppo_update", "train_marl"]

CHECKPOINT = "checkpoint.pt"
Observation = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
_PASS = Proposal(size=0, stop_atr=1.0, rr=1.0)


@dataclass
class MarlResult:
    """The selected model, its iteration, validation score, calibrated gate 1 (and its
    threshold), every iteration's metrics."""

    model: MarlModel
    best_iteration: int
    best_validation: float
    metrics: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    threshold: float = math.nan
    gate: Gate1Config = Gate1Config()


@dataclass
class Rollout:
    """What PPO needs of each decision: the sample, the masks, the actions, their log
    probabilities and the critic's value."""

    samples: list[SetupSample] = field(default_factory=list)
    masks: list[list[torch.Tensor]] = field(default_factory=list)
    actions: list[list[int]] = field(default_factory=list)
    log_probs: list[list[float]] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    taken: list[bool] = field(default_factory=list)


def bracket_r(data: SetupData, sample: SetupSample, proposal: Proposal, clip: float) -> float:
    """The clipped net R-multiple of one contract in the setup's direction with ``proposal``'s
    stop and target, executed by the backtest's broker (0 when it never closes)."""
    r = one_contract(data, sample, sample.setup.direction, proposal.stop_atr, proposal.rr)[0]
    return max(-clip, min(clip, r))


def act(model: MarlModel, obs: Observation, generator: torch.Generator,
        sample: SetupSample, rollout: Rollout | None = None) -> npt.NDArray[np.float32]:
    """Each agent's action sampled from one stochastic forward (fresh masks), recorded with
    its masks, log-probability and value into ``rollout`` (not its reward); returns that
    forward's probabilities ``(1, agents, actions)``."""
    masks = model.sample_masks(1, generator)
    with torch.no_grad():
        logits, value = model(*obs, masks)
        probs = torch.softmax(logits[0], dim=-1)  # (agents, actions)
        actions = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        log_probs = torch.log(probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1))
    if rollout is not None:
        rollout.samples.append(sample)
        rollout.masks.append([] if masks is None else [m[0] for m in masks])
        rollout.actions.append(actions.tolist())
        rollout.log_probs.append(log_probs.tolist())
        rollout.values.append(float(value[0]))
    out: npt.NDArray[np.float32] = probs.unsqueeze(0).numpy()
    return out


def marl_policy(model: MarlModel, mrms: RiskModel, gate: Gate1Config, data: SetupData,
                clip: float, generator: torch.Generator | None = None,
                rollout: Rollout | None = None, seed: int = 0,
                base: dict[int, float] | None = None
                ) -> Callable[[tuple[float, ...], SetupSample], Proposal]:
    """A :func:`~replay.train.mrms_env.run_episode` policy: the agents sample (with ``generator``)
    and the team decides by gate 1's rule on the sampled votes, or, without a generator,
    gate 1 decides as the live decider does (masks seeded by ``seed`` and the setup's time);
    the M-RMS sizes a trade. ``rollout`` records each decision and its reward: relative to
    the fixed rule's R on the setup where ``base`` (``id(sample) -> R_base``) gives it, else
    absolute (module docstring)."""

    def reward(sample: SetupSample, proposal: Proposal, take: bool) -> float:
        earned = bracket_r(data, sample, proposal, clip) if take else 0.0
        if base is None:
            return earned
        return max(-clip, min(clip, earned - base[id(sample)]))

    def policy(state: tuple[float, ...], sample: SetupSample) -> Proposal:
        assert sample.slow is not None and sample.fast is not None
        obs = observe(sample.slow, sample.fast, sample.regime, sample.features)
        if generator is None:
            take = gate_passes(model, obs, sample, gate, seed)
            proposal = mrms_proposal(mrms, state) if take else _PASS
            if rollout is not None:
                rollout.samples.append(sample)
                rollout.taken.append(take)
                rollout.rewards.append(reward(sample, proposal, take))
            return proposal
        probs = act(model, obs, generator, sample, rollout)
        votes = rollout.actions[-1] if rollout is not None else None
        take = consensus(probs, sample.setup.direction, gate,
                         votes=None if votes is None else (votes[0], votes[1], votes[2])).passed
        proposal = mrms_proposal(mrms, state) if take else _PASS
        if rollout is not None:
            rollout.rewards.append(reward(sample, proposal, take))
            rollout.taken.append(take)
        return proposal

    return policy


def gate_passes(model: MarlModel, obs: Observation, sample: SetupSample,
                gate: Gate1Config, seed: int) -> bool:
    """Gate 1 on one observation, exactly as :class:`~components.decision.MarlDecider`."""
    return gate_verdict(model, obs, sample, gate, seed).passed


def evaluate_gate(model: MarlModel, mrms: RiskModel, data: SetupData,
                  samples: Sequence[SetupSample], env: EnvConfig, gate: Gate1Config,
                  seed: int, clip: float = math.inf) -> tuple[Episode, Rollout]:
    """The episode of gate 1 + the M-RMS over ``samples`` (no sampling), and each decision's
    R (the gate's decisions and their bracket R in ``rollout.samples`` / ``.rewards``)."""
    model.eval()
    rollout = Rollout()
    episode = run_episode(data, samples, env,
                          marl_policy(model, mrms, gate, data, clip, rollout=rollout, seed=seed))
    return episode, rollout


def _stack(rollout: Rollout, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
    chosen = [rollout.samples[i] for i in idx.tolist()]
    return (torch.from_numpy(np.stack([s.slow for s in chosen]).astype(np.float32)),
            torch.from_numpy(np.stack([s.fast for s in chosen]).astype(np.float32)),
            torch.tensor([s.regime for s in chosen], dtype=torch.float32),
            torch.tensor([s.features for s in chosen], dtype=torch.float32))


def ppo_update(model: MarlModel, optimiser: torch.optim.Optimizer, rollout: Rollout,
               advantages: Sequence[float], returns: Sequence[float], config: MarlTrainConfig,
               shuffle: torch.Generator) -> dict[str, float]:
    """``update_epochs`` passes of clipped MAPPO updates over ``rollout``; mean losses."""
    n = len(rollout.samples)
    actions = torch.tensor(rollout.actions)  # (n, agents)
    old = torch.tensor(rollout.log_probs)
    adv = torch.tensor(advantages, dtype=torch.float32)
    if n > 1:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    ret = torch.tensor(returns, dtype=torch.float32)
    sites = len(rollout.masks[0]) if rollout.masks else 0
    model.train()
    sums = {"policy": 0.0, "value": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip": 0.0}
    updates = 0
    for _ in range(config.update_epochs):
        order = torch.randperm(n, generator=shuffle)
        for s in range(0, n, config.minibatch):
            idx = order[s:s + config.minibatch]
            masks = ([torch.stack([rollout.masks[i][k] for i in idx.tolist()])
                      for k in range(sites)] if sites else None)
            logits, value = model(*_stack(rollout, idx), masks)
            log_all = torch.log_softmax(logits, dim=-1)  # (b, agents, actions)
            log_prob = log_all.gather(-1, actions[idx].unsqueeze(-1)).squeeze(-1)
            entropy = -(log_all.exp() * log_all).sum(-1).mean()
            ratio = torch.exp(log_prob - old[idx])
            a = adv[idx].unsqueeze(-1)
            surrogate = torch.min(ratio * a, ratio.clamp(1 - config.clip, 1 + config.clip) * a)
            policy_loss = -surrogate.mean()
            value_loss = 0.5 * (value - ret[idx]).pow(2).mean()
            loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimiser.step()
            with torch.no_grad():
                log_ratio = log_prob - old[idx]
                sums["approx_kl"] += float(((ratio - 1) - log_ratio).mean())
                sums["clip"] += float(((ratio - 1).abs() > config.clip).float().mean())
            sums["policy"] += policy_loss.item()
            sums["value"] += value_loss.item()
            sums["entropy"] += entropy.item()
            updates += 1
    model.eval()
    return {k: v / max(updates, 1) for k, v in sums.items()}


def train_marl(data: SetupData, train: Sequence[SetupSample],
               validation: Sequence[SetupSample], mrms: RiskModel, env: EnvConfig,
               config: MarlTrainConfig, run_dir: Path, resume: bool = False,
               should_stop: Callable[[], bool] = lambda: False,
               on_iteration: Callable[[dict[str, Any]], None] | None = None,
               fingerprint: str = "", mrms_config: MrmsTrainConfig | None = None,
               dense: DenseData | None = None) -> MarlResult:
    """Train on ``train`` setups, select on ``validation`` (module docstring);
    ``mrms_config``: the frozen M-RMS's training settings, to refit it per cross-validation
    block (:func:`replay.train.marl_cv.cross_validate`); ``dense``: the training period's dense
    rows, for the embedders' pretraining (``config.dense``)."""
    with one_thread():
        return _train(data, train, validation, mrms, env, config, run_dir, resume,
                      should_stop, on_iteration, fingerprint, mrms_config, dense)


def _train(data: SetupData, train: Sequence[SetupSample], validation: Sequence[SetupSample],
           mrms: RiskModel, env: EnvConfig, config: MarlTrainConfig, run_dir: Path,
           resume: bool, should_stop: Callable[[], bool],
           on_iteration: Callable[[dict[str, Any]], None] | None,
           fingerprint: str, mrms_config: MrmsTrainConfig | None,
           dense: DenseData | None) -> MarlResult:
    if not train:
        raise ModelError("train marl: expected training setups, found none")
    torch.use_deterministic_algorithms(True)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = 0 if config.seed is None else config.seed
    torch.manual_seed(seed)
    model = MarlModel(config.model).eval()
    mrms.eval()
    sampler = torch.Generator().manual_seed(seed + 1)
    shuffle = torch.Generator().manual_seed(seed + 2)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, eps=1e-5)
    state = PolicyRun(model, optimiser, sampler, shuffle, fingerprint)
    checkpoint = run_dir / CHECKPOINT
    outcomes = compute_outcomes(data, list(train), np.zeros(0), np.zeros(0))  # fixed bracket
    base = {id(s): max(-config.reward_clip, min(config.reward_clip, float(r)))
            for s, r in zip(train, outcomes.baseline, strict=True)}

    def evaluate(row: dict[str, Any], it: int) -> None:
        if validation:
            cal = calibrate(model, mrms, data, validation, env, config.gate, seed,
                            config.thresholds, config.min_trades, config.agreements)
            row.update({"validation/score": cal.score, "validation/pnl": cal.pnl,
                        "validation/trades": cal.trades, "validation/taken": cal.passed,
                        "gate/threshold": cal.threshold, "gate/min_agree": cal.min_agree})
            state.consider(cal.score, it)
        else:
            row["gate/threshold"] = config.gate.threshold
            row["gate/min_agree"] = config.gate.min_agree
            state.consider(row.get("charts/episode_r", 0.0), it)

    if resume and checkpoint.is_file():
        state.resume(checkpoint)
    elif config.pretrain.epochs > 0:  # a fresh run: full-information pretraining first
        pretrain = config.pretrain
        row: dict[str, Any] = {"iteration": 0}
        initial = None
        if dense is not None and config.dense.epochs > 0:
            if model.config.standardise:  # the arbitrageur reads the scaled regime vector
                x = observations(train)
                model.set_standardisation(x[2], x[3])
            row.update(pretrain_encoders(model, dense, config.dense, seed))
            initial = copy.deepcopy(model.state_dict())
        if config.cv.folds >= 2 and len(train) >= config.cv.folds:
            rng = torch.get_rng_state()  # the folds' models must not move the run's RNG
            cv = cross_validate(data, train, outcomes, mrms, env, config, seed, mrms_config,
                                initial)
            torch.set_rng_state(rng)
            pretrain = cv.pretrain
            row.update({"cv/score": cv.score, "cv/epochs": pretrain.epochs,
                        "cv/temperature": pretrain.temperature, "cv/threshold": cv.threshold,
                        "cv/trials": cv.trials})
        row.update(pretrain_agents(model, train, outcomes, pretrain, config.reward_clip, seed))
        evaluate(row, 0)
        state.metrics.append(row)
        if on_iteration is not None:
            on_iteration(row)
    metrics = state.metrics
    result = MarlResult(model, state.best_it, state.best_val, metrics)
    for it in range(state.iteration + 1, config.iterations + 1):
        model.eval()
        rollout = Rollout()
        advantages: list[float] = []
        returns: list[float] = []
        totals, trades = [], []
        gate = calibrated_gate(metrics, config)
        for _ in range(config.episodes):
            first = len(rollout.values)
            episode = run_episode(data, train, env, marl_policy(
                model, mrms, gate, data, config.reward_clip, sampler, rollout, base=base))
            rewards = rollout.rewards[first:]
            values = rollout.values[first:]
            adv = gae(rewards, values, config.gamma, config.gae_lambda)
            advantages += adv
            returns += [a + v for a, v in zip(adv, values, strict=True)]
            totals.append(sum(rewards))
            trades.append(len(episode.trades))
        losses = ppo_update(model, optimiser, rollout, advantages, returns, config, shuffle)
        row = {
            "iteration": it, "charts/decisions": len(rollout.values),
            "charts/episode_r": float(np.mean(totals)), "charts/trades": float(np.mean(trades)),
            "charts/take_rate": float(np.mean(rollout.taken)),
            **{f"losses/{k}": v for k, v in losses.items()}}
        if it % config.eval_every == 0 or it == config.iterations:
            evaluate(row, it)
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
    result.gate = calibrated_gate(metrics, config, state.best_it)
    result.threshold = result.gate.threshold
    result.metrics = metrics
    return result


def calibrated_gate(metrics: Sequence[dict[str, Any]], config: MarlTrainConfig,
                    iteration: int | None = None) -> Gate1Config:
    """``config.gate`` with the threshold and agreement calibrated at ``iteration`` (default:
    the latest calibration), else the configured gate."""
    for row in reversed(metrics):
        if "gate/threshold" in row and (iteration is None or row["iteration"] == iteration):
            return msgspec.structs.replace(
                config.gate, threshold=float(row["gate/threshold"]),
                min_agree=int(row.get("gate/min_agree", config.gate.min_agree)))
    return config.gate
