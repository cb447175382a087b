"""Gate 1, the MC-Dropout consensus, as a pure function (component layer: numpy, no torch).

Input: the action probabilities of ``S`` stochastic passes, ``(S, agents, actions)`` with
agents ``AGENTS`` and actions ``ACTIONS`` (pass, long, short), and the setup's direction.

- per agent: the mean and the standard deviation over the passes of each action's probability;
  the agent *votes* for the action with the highest mean (ties: the first, so pass wins a tie);
- **agreement**: at least ``min_agree`` agents vote for the setup's direction;
- **score**: ``sum_i w_i * mean_i[direction] - penalty * sum_i w_i * std_i[direction]`` with
  weights ``w`` (structure, tactical, arbitrageur; default 0.4/0.3/0.3) and penalty 0.5; it
  must reach ``threshold`` (default 0.65);
- uncertainty, reported: the predictive entropy of the weighted mean distribution, and the
  mutual information (predictive entropy minus the mean entropy of the passes: the part of the
  uncertainty that comes from the model, not the data).

The setup passes when both agreement and score hold; otherwise the reasons name which failed
(``agreement``, ``confidence``). With one pass (or dropout 0) every std is exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from components.decision.model_config import ACTIONS, AGENTS
from engine.core.config import Config, PositiveInt, Probability

__all__ = ["Gate1Config", "Gate1Verdict", "consensus"]

_EPS = 1e-12


class Gate1Config(Config, frozen=True):
    """Samples, agreement, weights, penalty and threshold of gate 1 (module docstring)."""

    samples: PositiveInt = 50
    min_agree: PositiveInt = 2
    weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    penalty: float = 0.5
    threshold: Probability = 0.65

    def __post_init__(self) -> None:
        if self.min_agree > len(AGENTS):
            raise ValueError(f"min_agree: expected at most {len(AGENTS)}, was {self.min_agree}")
        if any(not (w >= 0.0) for w in self.weights) or not abs(sum(self.weights) - 1) < 1e-9:
            raise ValueError(f"weights: expected 3 non-negative numbers summing to 1, was "
                             f"{self.weights}")
        if not self.penalty >= 0.0:
            raise ValueError(f"penalty: expected a number >= 0, was {self.penalty}")


@dataclass(frozen=True)
class Gate1Verdict:
    """The consensus on one setup (module docstring)."""

    passed: bool
    reasons: tuple[str, ...]
    agree: int
    votes: tuple[int, int, int]
    confidence: float
    uncertainty: float
    score: float
    mean: tuple[tuple[float, ...], ...]
    std: tuple[tuple[float, ...], ...]
    entropy: float
    mutual_information: float


def _entropy(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    result: npt.NDArray[np.float64] = -(p * np.log(np.clip(p, _EPS, 1.0))).sum(axis=-1)
    return result


def consensus(probs: npt.ArrayLike, direction: int, config: Gate1Config,
              votes: tuple[int, int, int] | None = None) -> Gate1Verdict:
    """Gate 1 on ``probs`` ``(S, agents, actions)`` for a setup of ``direction`` (+1 / -1).

    ``votes`` replaces each agent's vote (the action of highest mean probability) by a given
    action: the MAPPO trainer's exploration, where each agent samples its action and the team
    still decides by this rule. Serving never passes it.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (len(AGENTS), len(ACTIONS)) or p.shape[0] < 1:
        raise ValueError(f"probs: expected shape (samples, {len(AGENTS)}, {len(ACTIONS)}), "
                         f"was {p.shape}")
    if direction not in (1, -1):
        raise ValueError(f"direction: expected +1 or -1, was {direction!r}")
    action = ACTIONS.index("long" if direction > 0 else "short")
    mean = p.mean(axis=0)
    # population std over the passes; exactly 0 where every pass agrees (the mean of equal
    # floats can be an ulp off them)
    std = np.where(np.ptp(p, axis=0) == 0.0, 0.0, p.std(axis=0))
    if votes is None:
        votes = (int(np.argmax(mean[0])), int(np.argmax(mean[1])), int(np.argmax(mean[2])))
    elif len(votes) != len(AGENTS) or any(v not in range(len(ACTIONS)) for v in votes):
        raise ValueError(f"votes: expected {len(AGENTS)} action indices, was {votes!r}")
    agree = sum(1 for v in votes if v == action)
    w = np.asarray(config.weights, dtype=np.float64)
    confidence = float(w @ mean[:, action])
    uncertainty = float(w @ std[:, action])
    score = confidence - config.penalty * uncertainty
    reasons = []
    if agree < config.min_agree:
        reasons.append("agreement")
    if not score >= config.threshold:
        reasons.append("confidence")
    team = np.einsum("a,sak->sk", w, p)  # the weighted ensemble, per pass
    if np.ptp(team, axis=0).any():
        predictive = float(_entropy(team.mean(axis=0)))
        expected = float(_entropy(team).mean())
    else:  # identical passes: no model uncertainty, exactly (means of equal floats drift)
        predictive = expected = float(_entropy(team[0]))
    return Gate1Verdict(
        passed=not reasons, reasons=tuple(reasons), agree=agree,
        votes=(votes[0], votes[1], votes[2]), confidence=confidence, uncertainty=uncertainty,
        score=score, mean=tuple(tuple(float(x) for x in row) for row in mean),
        std=tuple(tuple(float(x) for x in row) for row in std), entropy=predictive,
        mutual_information=max(0.0, predictive - expected))
