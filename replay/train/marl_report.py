"""The learned gate beside simple baselines on the same setups, per-agent ablations and the
per-setup diagnostics (training layer).

For a split's setups, four deciders choose which setups to trade:

- ``learned``: gate 1 as served (calibrated threshold), its score the consensus score;
- ``take_every``: every setup (the rule-based strategy), no ranking;
- ``long_only``: the long setups, its score the direction;
- ``logistic``: an L2 logistic regression (:class:`replay.train.ranking.LogisticBaseline`) fitted on
  the training split's setup features and regime vector to predict a win of the fixed
  bracket, taking a setup when its predicted probability exceeds the training win rate.

Each decider is reported by its ranking power on every setup of the split (Spearman of its
score against the fixed bracket's R, AUC of a win, bootstrap intervals), the R of the setups
it takes (fixed bracket, one contract), and the deployed result of its decisions with the
same M-RMS, limits and broker (:func:`replay.train.marl_select.deployed_episode`).

:func:`agent_ablation` replaces one agent's own input (structure: the slow matrix; tactical:
the fast matrix; arbitrageur: the regime vector) by its training mean and counts the gate
decisions that change: an agent whose input changes nothing is not contributing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from components.decision.gate import Gate1Config, Gate1Verdict
from components.decision.model import MarlModel
from components.decision.model_config import AGENTS
from components.risk.model import RiskModel
from replay.train.marl_diagnostics import GateRow, gate_row
from replay.train.marl_select import deployed_episode, gate_verdicts, passes
from replay.train.mrms_data import SetupData, SetupSample
from replay.train.mrms_env import Episode
from replay.train.outcomes import compute_outcomes
from replay.train.ranking import LogisticBaseline, RankingRow, ranking_row
from replay.train_config import EnvConfig

__all__ = ["DeciderRow", "agent_ablation", "fit_logistic", "gate_rows", "hindsight_r",
           "split_deciders"]


@dataclass(frozen=True)
class DeciderRow:
    """One decider on one split (module docstring)."""

    name: str
    split: str
    setups: int
    taken: int
    r_taken: float
    trades: int
    pnl_usd: float
    ranking: RankingRow | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = dataclasses.asdict(self)
        out["ranking"] = None if self.ranking is None else {
            "spearman": list(self.ranking.spearman), "auc": list(self.ranking.auc)}
        return out


def hindsight_r(data: SetupData, samples: Sequence[SetupSample]) -> np.ndarray:
    """The fixed bracket's net R of each setup in its direction (a label, never an input)."""
    return compute_outcomes(data, list(samples), np.zeros(0), np.zeros(0)).baseline


def _design(samples: Sequence[SetupSample]) -> np.ndarray:
    return np.array([(*s.features, *s.regime) for s in samples], dtype=np.float64)


def fit_logistic(train: Sequence[SetupSample], r_train: np.ndarray) -> LogisticBaseline:
    """The logistic baseline fitted on the training setups (module docstring)."""
    return LogisticBaseline().fit(_design(train), r_train > 0)


def split_deciders(model: MarlModel, mrms: RiskModel, data: SetupData, split: str,
                   samples: Sequence[SetupSample], r: np.ndarray, env: EnvConfig,
                   gate: Gate1Config, seed: int, logistic: LogisticBaseline,
                   win_rate: float, verdicts: Sequence[Gate1Verdict] | None = None,
                   samples_ci: int = 1000) -> list[DeciderRow]:
    """The four deciders' rows on ``samples`` (module docstring)."""
    verdicts = list(verdicts) if verdicts is not None else gate_verdicts(model, samples, gate,
                                                                         seed)
    direction = np.array([s.setup.direction for s in samples], dtype=np.float64)
    p_win = logistic.predict_proba(_design(samples)) if samples else np.zeros(0)
    learned = np.array([v.score for v in verdicts], dtype=np.float64)
    deciders: list[tuple[str, np.ndarray | None, list[bool]]] = [
        ("learned", learned, [passes(v, gate, gate.threshold) for v in verdicts]),
        ("take_every", None, [True] * len(samples)),
        ("long_only", direction, [bool(d > 0) for d in direction]),
        ("logistic", p_win, [bool(p > win_rate) for p in p_win]),
    ]
    rows = []
    for name, score, take in deciders:
        episode = deployed_episode(data, samples, env, mrms, take)
        ranking = (ranking_row(name, score, r, samples=samples_ci, seed=seed)
                   if score is not None and len(samples) > 2 else None)
        rows.append(DeciderRow(name, split, len(samples), sum(take),
                               float(np.sum(r[np.asarray(take, dtype=bool)])) if take else 0.0,
                               len(episode.trades), episode.pnl, ranking))
    return rows


def gate_rows(samples: Sequence[SetupSample], verdicts: Sequence[Gate1Verdict],
              episode: Episode, r: np.ndarray) -> list[GateRow]:
    """The diagnostics rows of ``samples`` decided by ``verdicts`` and played as
    ``episode`` (the deployed pipeline)."""
    steps = {id(step.sample): step for step in episode.steps}
    rows = []
    for sample, verdict, r_fixed in zip(samples, verdicts, r, strict=True):
        step = steps.get(id(sample))
        if not verdict.passed:
            ended, size, pnl = "gate1", 0, 0.0
        elif step is None:  # a position was still open: gate 2's position_open
            ended, size, pnl = "gate2", 0, 0.0
        elif step.allowed == 0:
            ended, size, pnl = "risk", 0, 0.0
        else:
            ended, size = "traded", step.allowed
            pnl = step.trade.pnl_usd if step.trade is not None else 0.0
        setup = sample.setup
        rows.append(gate_row(
            setup.ts_event, setup.direction, setup.pattern, verdict.agree,
            [x for row in verdict.mean for x in row], [x for row in verdict.std for x in row],
            verdict.confidence, verdict.uncertainty, verdict.score, verdict.entropy,
            verdict.mutual_information, verdict.reasons, ended, size, float(r_fixed), pnl))
    return rows


def agent_ablation(model: MarlModel, train: Sequence[SetupSample],
                   samples: Sequence[SetupSample], gate: Gate1Config, seed: int,
                   verdicts: Sequence[Gate1Verdict] | None = None) -> dict[str, dict[str, float]]:
    """Per agent: the gate decisions (out of ``len(samples)``) that change, and the mean
    absolute change of that agent's probability of the setup's direction, when its own input
    is replaced by the training mean (module docstring)."""
    if not samples:
        return {agent: {"decisions_changed": 0.0, "mean_abs_change": 0.0} for agent in AGENTS}
    base = list(verdicts) if verdicts is not None else gate_verdicts(model, samples, gate, seed)
    slow = np.mean([s.slow for s in train], axis=0).astype(np.float32)
    fast = np.mean([s.fast for s in train], axis=0).astype(np.float32)
    regime = tuple(float(x) for x in np.mean([s.regime for s in train], axis=0))
    replaced = {"structure": {"slow": slow}, "tactical": {"fast": fast},
                "arbitrageur": {"regime": regime}}
    out = {}
    for i, agent in enumerate(AGENTS):
        changed = [dataclasses.replace(s, **replaced[agent]) for s in samples]  # type: ignore[arg-type]
        after = gate_verdicts(model, changed, gate, seed)
        flips = sum(1 for a, b in zip(base, after, strict=True) if a.passed != b.passed)
        deltas = []
        for s, a, b in zip(samples, base, after, strict=True):
            k = 1 if s.setup.direction > 0 else 2
            deltas.append(abs(a.mean[i][k] - b.mean[i][k]))
        out[agent] = {"decisions_changed": float(flips),
                      "mean_abs_change": float(np.mean(deltas))}
    return out
