"""Purged, embargoed cross-validation of the MARL pretraining inside the training period
(training layer; López de Prado, *Advances in Financial Machine Learning*, ch. 7).

The training setups (time order) are cut into ``folds`` contiguous blocks. For each block,
the agents are pretrained (:mod:`replay.train.marl_pretrain`) on the other setups less those
**purged** (a setup whose first trade bar lies within ``purge_bars`` execution bars before the
block's first setup: its trade can still be open inside the block) and those **embargoed**
(within ``embargo_bars`` bars after the block's last setup: their features overlap the
block's outcomes); the block is then decided by gate 1 exactly as served and played as the
deployed pipeline (the M-RMS, the hard limits, the broker; :mod:`replay.train.marl_select`), sized
by an M-RMS refitted without the block (the registered one saw every training setup).

Each candidate pretraining configuration (``candidates``: epochs and temperature) is scored
for each gate-1 threshold by the **sum over the blocks** of the deployed net P&L, counted only
with at least ``min_trades`` trades in all (:func:`replay.train.train_mrms.qualified`); a
configuration's score is its best threshold's. No block's result selects anything about that
block alone, and every (configuration, threshold) pair tried is a trial for the deflated
Sharpe ratio. The best configuration is the one the full training split is then pretrained
with; its threshold starts MAPPO's team rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
import torch

from components.decision.model import MarlModel
from components.risk.model import RiskModel
from replay.train.marl_pretrain import pretrain_agents
from replay.train.marl_select import deployed_episode, gate_verdicts, passes
from replay.train.mrms_data import SetupData, SetupSample
from replay.train.outcomes import Outcomes
from replay.train.train_mrms import pretrain_risk_model, qualified
from replay.train_config import EnvConfig, MarlPretrainConfig, MarlTrainConfig, MrmsTrainConfig

__all__ = ["CvResult", "cross_validate", "purged_folds"]


def purged_folds(samples: Sequence[SetupSample], folds: int, purge_bars: int,
                 embargo_bars: int) -> list[tuple[list[int], list[int]]]:
    """``(train indices, test indices)`` per contiguous block (module docstring)."""
    n = len(samples)
    if folds < 2 or n < folds:
        raise ValueError(f"folds: expected 2 .. {n} (the setups), was {folds}")
    bounds = np.linspace(0, n, folds + 1).astype(int)
    out = []
    for k in range(folds):
        test = list(range(bounds[k], bounds[k + 1]))
        first, last = samples[test[0]].start, samples[test[-1]].start
        train = [i for i in range(n) if i not in test
                 and not (first - purge_bars <= samples[i].start < first)
                 and not (last < samples[i].start <= last + embargo_bars)]
        out.append((train, test))
    return out


@dataclass(frozen=True)
class CvResult:
    """The chosen pretraining configuration and threshold, and every candidate's row
    ``(epochs, temperature, threshold, trades, pnl_usd, score)``."""

    pretrain: MarlPretrainConfig
    threshold: float
    score: float
    rows: list[tuple[int, float, float, int, float, float]] = field(default_factory=list)

    @property
    def trials(self) -> int:
        """The (configuration, threshold) pairs scored."""
        return len(self.rows)


def cross_validate(data: SetupData, samples: Sequence[SetupSample], outcomes: Outcomes,
                   mrms: RiskModel, env: EnvConfig, config: MarlTrainConfig,
                   seed: int, mrms_config: MrmsTrainConfig | None = None,
                   initial: dict[str, torch.Tensor] | None = None) -> CvResult:
    """Score every candidate of ``config.cv`` by purged, embargoed cross-validation on
    ``samples`` (the training split; ``outcomes`` their full-information targets).

    The frozen M-RMS was trained on these same setups, so sizing a block with it would score
    the block in-sample. With ``mrms_config`` (its training settings) each block is sized by
    an M-RMS refitted on the block's training setups only (its full-information pretraining,
    :func:`replay.train.train_mrms.pretrain_risk_model`, without PPO); without it, by ``mrms``.
    ``initial``: the weights every block's model starts from (the dense pretraining's;
    default: fresh, seeded)."""
    cv = config.cv
    folds = purged_folds(samples, cv.folds, cv.purge_bars, cv.embargo_bars)
    sizers = []
    for train_idx, _ in folds:
        if mrms_config is None:
            sizers.append(mrms)
            continue
        torch.manual_seed(seed)
        refit = RiskModel(mrms_config.model)
        pretrain_risk_model(refit, data, [samples[i] for i in train_idx], mrms_config, seed)
        sizers.append(refit.eval())
    thresholds = sorted(set(config.thresholds)) or [config.gate.threshold]
    rows = []
    best: tuple[float, int, MarlPretrainConfig, float] | None = None
    for order, (epochs, temperature) in enumerate(cv.candidates):
        candidate = msgspec.structs.replace(config.pretrain, epochs=epochs,
                                            temperature=temperature)
        pnl = np.zeros(len(thresholds))
        trades = np.zeros(len(thresholds), dtype=np.int64)
        for (train_idx, test_idx), sizer in zip(folds, sizers, strict=True):
            torch.manual_seed(seed)
            model = MarlModel(config.model)
            if initial is not None:
                model.load_state_dict(initial)
            fold_train = [samples[i] for i in train_idx]
            pretrain_agents(model, fold_train, outcomes.select(train_idx), candidate,
                            config.reward_clip, seed)
            block = [samples[i] for i in test_idx]
            verdicts = gate_verdicts(model, block, config.gate, seed)
            for t, threshold in enumerate(thresholds):
                episode = deployed_episode(data, block, env, sizer,
                                           [passes(v, config.gate, threshold) for v in verdicts])
                pnl[t] += episode.pnl
                trades[t] += len(episode.trades)
        for t, threshold in enumerate(thresholds):
            score = qualified(float(pnl[t]), int(trades[t]), config.min_trades)
            rows.append((epochs, temperature, threshold, int(trades[t]), float(pnl[t]), score))
            key = (score, -order)
            if best is None or key > (best[0], best[1]):
                best = (score, -order, candidate, threshold)
    assert best is not None
    return CvResult(pretrain=best[2], threshold=best[3], score=best[0], rows=rows)
