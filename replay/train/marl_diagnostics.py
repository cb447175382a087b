"""Gate-1 and funnel diagnostics of the learned pipeline (training layer, no torch).

Written by ``algospace train marl`` (validation and test splits) and by ``algospace backtest
--strategy marl`` (the out-of-sample period), from one row per setup (:class:`GateRow`):

- the consensus figures: agreement count, each agent's mean probability of the setup's
  direction and its std over the MC-Dropout passes, the weighted confidence, the uncertainty,
  the score the threshold applies to, the ensemble's entropy and mutual information;
- where the setup ended (``gate1``, ``risk``, ``gate2`` or ``traded``), gate 1's reasons,
  the M-RMS's size;
- its outcome in hindsight: the net R of one contract in its direction with the fixed bracket
  (:mod:`replay.train.outcomes`), whether or not it was traded, so calibration and ranking cover
  every setup.

:func:`summarise` reduces the rows to what a reviewer asks first: the stage funnel, the
agreement histogram, how often each gate criterion decided alone, the quantiles of every
uncertainty figure, the agents' correlation (are they clones?), calibration (confidence bins
against the realised win rate) and ranking power (Spearman of score against R, AUC of win,
with bootstrap intervals).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from components.decision.model_config import ACTIONS, AGENTS
from replay.train.ranking import auc, bootstrap_ci, spearman

__all__ = ["GateRow", "format_interval", "format_summary", "gate_row", "summarise",
           "write_diagnostics"]

STAGES = ("gate1", "risk", "gate2", "traded")
"""Where a setup's path ended, in pipeline order."""


@dataclass(frozen=True)
class GateRow:
    """One setup's gate-1 figures, where it ended and its hindsight outcome."""

    ts_event: int
    direction: int
    pattern: int
    agree: int
    p_structure: float
    p_tactical: float
    p_arbitrageur: float
    std_structure: float
    std_tactical: float
    std_arbitrageur: float
    confidence: float
    uncertainty: float
    score: float
    entropy: float
    mutual_information: float
    passed_gate1: bool
    reasons: str
    ended: str
    size: int
    r_fixed: float
    pnl_usd: float

    @property
    def p_direction(self) -> tuple[float, float, float]:
        """Each agent's mean probability of the setup's direction."""
        return self.p_structure, self.p_tactical, self.p_arbitrageur


def gate_row(ts_event: int, direction: int, pattern: int, agree: int,
             mean: Sequence[float], std: Sequence[float], confidence: float,
             uncertainty: float, score: float, entropy: float, mutual_information: float,
             reasons: Sequence[str], ended: str, size: int, r_fixed: float,
             pnl_usd: float = 0.0) -> GateRow:
    """A row from a consensus's figures (``mean``/``std``: agent-major, 9 floats each, as
    ``ConsensusReached`` holds them)."""
    if ended not in STAGES:
        raise ValueError(f"ended: expected one of {STAGES}, was {ended!r}")
    a = ACTIONS.index("long" if direction > 0 else "short")
    width = len(ACTIONS)
    p = [float(mean[i * width + a]) for i in range(len(AGENTS))]
    s = [float(std[i * width + a]) for i in range(len(AGENTS))]
    return GateRow(ts_event, direction, pattern, agree, p[0], p[1], p[2], s[0], s[1], s[2],
                   confidence, uncertainty, score, entropy, mutual_information,
                   not reasons, ",".join(reasons), ended, size, r_fixed, pnl_usd)


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    q = np.quantile(np.asarray(values, dtype=np.float64), [0.0, 0.25, 0.5, 0.75, 1.0])
    return dict(zip(("min", "q25", "median", "q75", "max"), (float(x) for x in q),
                    strict=True))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def summarise(rows: Sequence[GateRow], bins: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
              samples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The summary of the module docstring, JSON-ready (``None`` where undefined)."""
    n = len(rows)
    ended = {stage: sum(1 for r in rows if r.ended == stage) for stage in STAGES}
    funnel = {"setups": n, "passed_gate1": n - ended["gate1"],
              "passed_risk": n - ended["gate1"] - ended["risk"], "traded": ended["traded"]}
    refused = [r for r in rows if not r.passed_gate1]
    reasons = {
        "agreement_only": sum(1 for r in refused if r.reasons == "agreement"),
        "confidence_only": sum(1 for r in refused if r.reasons == "confidence"),
        "both": sum(1 for r in refused if r.reasons == "agreement,confidence"),
        "other": sum(1 for r in refused if r.reasons not in (
            "agreement", "confidence", "agreement,confidence"))}
    agents: dict[str, Any] = {}
    p = np.array([r.p_direction for r in rows], dtype=np.float64).reshape(n, len(AGENTS))
    for i, agent in enumerate(AGENTS):
        agents[agent] = {"mean_p_direction": _finite(float(p[:, i].mean())) if n else None}
    correlation: dict[str, float | None] = {}
    for i in range(len(AGENTS)):
        for j in range(i + 1, len(AGENTS)):
            c = (float(np.corrcoef(p[:, i], p[:, j])[0, 1])
                 if n > 2 and p[:, i].std() > 0 and p[:, j].std() > 0 else math.nan)
            correlation[f"{AGENTS[i]}~{AGENTS[j]}"] = _finite(c)
    calibration = []
    conf = np.array([r.confidence for r in rows], dtype=np.float64)
    win = np.array([r.r_fixed > 0 for r in rows], dtype=bool)
    for low, high in zip(bins[:-1], bins[1:], strict=True):
        inside = (conf >= low) & ((conf < high) | (high >= bins[-1]))
        k = int(inside.sum())
        calibration.append({"bin": [low, high], "setups": k,
                            "mean_confidence": float(conf[inside].mean()) if k else None,
                            "win_rate": float(win[inside].mean()) if k else None})
    score = np.array([r.score for r in rows], dtype=np.float64)
    r_fixed = np.array([r.r_fixed for r in rows], dtype=np.float64)
    sp = bootstrap_ci(spearman, score, r_fixed, samples=samples, seed=seed) if n > 2 else None
    au = (bootstrap_ci(lambda s, w: auc(s, w), score, win, samples=samples, seed=seed)
          if n > 2 else None)
    return {
        "funnel": funnel, "ended": ended,
        "agreement": {str(k): sum(1 for r in rows if r.agree == k)
                      for k in range(len(AGENTS) + 1)},
        "gate1_reasons": reasons, "agents": agents, "agent_correlation": correlation,
        "confidence": _quantiles([r.confidence for r in rows]),
        "uncertainty": _quantiles([r.uncertainty for r in rows]),
        "score": _quantiles([r.score for r in rows]),
        "entropy": _quantiles([r.entropy for r in rows]),
        "mutual_information": _quantiles([r.mutual_information for r in rows]),
        "calibration": calibration,
        "ranking": {"spearman": None if sp is None else [_finite(x) for x in sp],
                    "auc": None if au is None else [_finite(x) for x in au]},
        "longs": sum(1 for r in rows if r.direction > 0),
        "passed_longs": sum(1 for r in rows if r.direction > 0 and r.passed_gate1),
        "passed_shorts": sum(1 for r in rows if r.direction < 0 and r.passed_gate1),
    }


def _num(x: float | None, spec: str = "{:.2f}") -> str:
    return "n/a" if x is None or not math.isfinite(x) else spec.format(x)


def format_interval(v: Sequence[float | None] | None) -> str:
    """``point [low, high]`` with 2 decimals (``n/a`` where undefined)."""
    if v is None or v[0] is None:
        return "n/a"
    return f"{_num(v[0])} [{_num(v[1])}, {_num(v[2])}]"


def format_summary(summary: dict[str, Any], title: str) -> str:
    """A few terminal lines of a :func:`summarise` result."""
    f, a, g = summary["funnel"], summary["agreement"], summary["gate1_reasons"]
    c = summary["agent_correlation"]
    sp, au = summary["ranking"]["spearman"], summary["ranking"]["auc"]

    q = summary["uncertainty"]
    mi = summary["mutual_information"]
    return "\n".join([
        f"{title}: setups {f['setups']} -> gate 1 {f['passed_gate1']} -> risk "
        f"{f['passed_risk']} -> traded {f['traded']} (passed: {summary['passed_longs']} long, "
        f"{summary['passed_shorts']} short)",
        f"  agreement 0/1/2/3: {a['0']}/{a['1']}/{a['2']}/{a['3']}; refused by agreement only "
        f"{g['agreement_only']}, confidence only {g['confidence_only']}, both {g['both']}",
        "  agent correlation " + ", ".join(f"{k} {_num(v)}" for k, v in c.items()),
        f"  uncertainty median {_num(q.get('median'), '{:.3f}')}, mutual information median "
        f"{_num(mi.get('median'), '{:.4f}')} nats",
        f"  ranking: Spearman(score, R) {format_interval(sp)}, AUC(win) {format_interval(au)}"])


def write_diagnostics(out_dir: Path, name: str, rows: Sequence[GateRow],
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``<name>_setups.csv`` (a row per setup) and ``<name>_summary.json`` in ``out_dir``;
    returns the summary (with ``extra`` merged in)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [f.name for f in fields(GateRow)]
    with (out_dir / f"{name}_setups.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    summary = {**summarise(rows), **(extra or {})}
    (out_dir / f"{name}_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
