"""Gate 1's per-setup figures as a timeline panel of the backtest report (training layer).

One point per setup the learned strategy answered, at the setup's bar: its score (what the
threshold applies to; green where it passed gate 1, grey where refused) and its MC-Dropout
uncertainty; hovering a point gives the setup's side and pattern, the agents' agreement and
probabilities, the confidence, the mutual information, the stage where it ended and its
P&L.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from replay.report.interactive import Line, Timeline
from replay.train.marl_diagnostics import GateRow

__all__ = ["gate_timeline"]


def _label(r: GateRow) -> str:
    side = "long" if r.direction > 0 else "short"
    return (f"TYPE_{r.pattern} {side}; agree {r.agree}/3 (p {r.p_structure:.2f} "
            f"{r.p_tactical:.2f} {r.p_arbitrageur:.2f}); confidence {r.confidence:.3f}, "
            f"MI {r.mutual_information:.4f}; "
            + ("passed gate 1" if r.passed_gate1 else f"refused ({r.reasons or 'gate 1'})")
            + f"; ended at {r.ended}, P&L ${r.pnl_usd:,.2f}")


def _points(name: str, rows: list[GateRow], values: list[float], color: str) -> Line:
    return Line(name, np.array([r.ts_event for r in rows], dtype=np.int64),
                np.array(values, dtype=np.float64), color, labels=[_label(r) for r in rows])


def gate_timeline(rows: Sequence[GateRow]) -> list[Timeline]:
    """The panel of the module docstring (none without setups)."""
    if not rows:
        return []
    passed = [r for r in rows if r.passed_gate1]
    refused = [r for r in rows if not r.passed_gate1]
    lines = [_points("score, passed gate 1", passed, [r.score for r in passed], "#1b9e3a"),
             _points("score, refused", refused, [r.score for r in refused], "#9e9e9e"),
             _points("MC-Dropout std", list(rows), [r.uncertainty for r in rows], "#ef6c00")]
    return [Timeline(f"gate 1 per setup ({len(rows)} setups, {len(passed)} passed)",
                     "score / std", [line for line in lines if line.ts.shape[0]],
                     markers=True)]
