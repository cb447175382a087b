"""Scoring and calibrating the deployed learned pipeline on a split (training layer).

One rule decides in training, selection and serving: gate 1's
:func:`~components.decision.gate.consensus`. Here it runs exactly as the live
:class:`~components.decision.MarlDecider` runs it (``gate.samples`` passes as one batched
forward, masks seeded by the model's seed and the setup's time), and every setup it passes is
sized by the frozen M-RMS on the live account, capped by the hard limits and executed by the
backtest's broker (:func:`replay.train.mrms_env.run_episode`): the pipeline a backtest deploys.

:func:`calibrate` chooses gate 1's ``threshold`` and ``min_agree`` on a split (validation):
the verdicts are computed once (the agreement count and the score depend on neither), then
each candidate pair's decisions are played as a deployed episode and scored by its net P&L,
counted only with at least ``min_trades`` trades (:func:`replay.train.train_mrms.qualified`). The
agreement candidates are the design's two documented values, 2 of 3 and 3 of 3 (docs/marl.md,
"Gate 1"): with argmax votes over three actions, 2 of 3 is implied by almost every score above
0.5, so only calibrating it lets agreement decide setups the score alone would pass. Of the
pairs with the best score, those with the configured ``min_agree`` (the design's 2 of 3) come
first, and of their thresholds the middle one is kept: equal scores mean the same trades over
a range of thresholds, and its middle is the farthest from changing them. Every candidate
pair is a trial: their number is recorded for the deflated Sharpe ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import torch

from components.decision.decider import mask_generator, observe
from components.decision.gate import Gate1Config, Gate1Verdict, consensus
from components.decision.model import MarlModel
from components.risk.model import RiskModel
from replay.train.mrms_data import SetupData, SetupSample
from replay.train.mrms_env import Episode, Proposal, run_episode
from replay.train.train_mrms import qualified
from replay.train_config import EnvConfig

__all__ = ["Calibration", "calibrate", "deployed_episode", "gate_verdict", "gate_verdicts",
           "mrms_proposal", "passes"]

_PASS = Proposal(size=0, stop_atr=1.0, rr=1.0)


def mrms_proposal(mrms: RiskModel, state: tuple[float, ...]) -> Proposal:
    """The M-RMS's deterministic proposal for one state (the serving path)."""
    with torch.inference_mode():
        sizes, stops, rrs, _ = mrms.propose(torch.tensor([state], dtype=torch.float32))
    return Proposal(int(sizes[0]), float(stops[0]), float(rrs[0]))


def gate_verdict(model: MarlModel, obs: tuple[torch.Tensor, ...], sample: SetupSample,
                 gate: Gate1Config, seed: int) -> Gate1Verdict:
    """Gate 1's verdict on one observation of ``sample``, exactly as the live decider
    computes it (``gate.samples`` passes, masks seeded by ``seed`` and the setup's time)."""
    with torch.inference_mode():
        masks = model.sample_masks(gate.samples, mask_generator(seed, sample.setup.ts_event))
        probs = model.mc_probs(obs[0], obs[1], obs[2], obs[3], masks)
    return consensus(probs.numpy(), sample.setup.direction, gate)


def gate_verdicts(model: MarlModel, samples: Sequence[SetupSample], gate: Gate1Config,
                  seed: int) -> list[Gate1Verdict]:
    """Gate 1's verdict on each setup, exactly as the live decider computes it."""
    model.eval()
    out = []
    for sample in samples:
        assert sample.slow is not None and sample.fast is not None
        obs = observe(sample.slow, sample.fast, sample.regime, sample.features)
        out.append(gate_verdict(model, obs, sample, gate, seed))
    return out


def passes(verdict: Gate1Verdict, gate: Gate1Config, threshold: float,
           min_agree: int | None = None) -> bool:
    """Whether ``verdict`` passes gate 1 with ``threshold`` (and ``min_agree``, when given) in
    place of the gate's (the same two criteria as
    :func:`~components.decision.gate.consensus`)."""
    agree = gate.min_agree if min_agree is None else min_agree
    return verdict.agree >= agree and verdict.score >= threshold


def deployed_episode(data: SetupData, samples: Sequence[SetupSample], env: EnvConfig,
                     mrms: RiskModel, take: Sequence[bool]) -> Episode:
    """The deployed pipeline over ``samples`` with gate 1's decisions ``take``: the M-RMS
    sizes each passed setup on the live account, the limits cap it, the broker trades it."""
    decided = {id(s): t for s, t in zip(samples, take, strict=True)}

    def policy(state: tuple[float, ...], sample: SetupSample) -> Proposal:
        return mrms_proposal(mrms, state) if decided[id(sample)] else _PASS

    return run_episode(data, samples, env, policy)


@dataclass(frozen=True)
class Calibration:
    """The threshold and agreement chosen, their score, P&L and trades, and every candidate's
    figures (``min_agree, threshold, passed, trades, pnl_usd, score``)."""

    threshold: float
    min_agree: int
    score: float
    pnl: float
    trades: int
    passed: int
    candidates: list[tuple[int, float, int, int, float, float]] = field(default_factory=list)

    def gate(self, gate: Gate1Config) -> Gate1Config:
        """``gate`` with the calibrated threshold and agreement."""
        return msgspec.structs.replace(gate, threshold=self.threshold, min_agree=self.min_agree)


def calibrate(model: MarlModel, mrms: RiskModel, data: SetupData,
              samples: Sequence[SetupSample], env: EnvConfig, gate: Gate1Config, seed: int,
              thresholds: Sequence[float], min_trades: int,
              agreements: Sequence[int] = ()) -> Calibration:
    """Choose gate 1's threshold and agreement on ``samples`` (module docstring); with no
    ``agreements`` the gate's ``min_agree`` is kept."""
    levels = sorted(set(thresholds)) or [gate.threshold]
    agrees = sorted(set(agreements)) or [gate.min_agree]
    verdicts = gate_verdicts(model, samples, gate, seed)
    rows = []
    for agree in agrees:
        for threshold in levels:
            take = [passes(v, gate, threshold, agree) for v in verdicts]
            episode = deployed_episode(data, samples, env, mrms, take)
            trades = len(episode.trades)
            rows.append((agree, threshold, sum(take), trades, episode.pnl,
                         qualified(episode.pnl, trades, min_trades)))
    best = max(r[5] for r in rows)
    tied = [r for r in rows if r[5] == best]
    # among equal scores the configured agreement first (the design's prior), then the
    # middle threshold of its tie
    nearest = min(abs(r[0] - gate.min_agree) for r in tied)
    tied = [r for r in tied if abs(r[0] - gate.min_agree) == nearest]
    chosen = tied[(len(tied) - 1) // 2]
    return Calibration(threshold=chosen[1], min_agree=chosen[0], score=chosen[5],
                       pnl=chosen[4], trades=chosen[3], passed=chosen[2], candidates=rows)
