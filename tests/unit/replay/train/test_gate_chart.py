"""Gate 1's per-setup figures as a report timeline (replay/train/gate_chart.py): one markers
panel, the scores split into passed and refused, the MC-Dropout std of every setup, each
point's hover label with the setup's side, pattern, agreement, probabilities, confidence,
mutual information, reasons, the stage where it ended and its P&L."""

from __future__ import annotations

import numpy as np

from replay.train.gate_chart import gate_timeline
from replay.train.marl_diagnostics import gate_row

T0 = 1_704_205_800 * 10**9
MIN = 60 * 10**9


def row(i: int, direction: int, agree: int, reasons: tuple[str, ...], ended: str,
        score: float, uncertainty: float, pnl: float = 0.0):
    # agent-major (structure, tactical, arbitrageur) x (pass, long, short)
    mean = [0.2, 0.7, 0.1, 0.3, 0.6, 0.1, 0.5, 0.2, 0.3]
    std = [0.01] * 9
    return gate_row(T0 + i * 5 * MIN, direction, 1 + i % 4, agree, mean, std, 0.6543 + i,
                    uncertainty, score, 0.9, 0.01234 * (i + 1), reasons, ended, 1, 0.5, pnl)


ROWS = [
    row(0, 1, 3, (), "traded", 0.81, 0.05, pnl=1_234.5),
    row(1, -1, 1, ("agreement",), "gate1", 0.42, 0.11),
    row(2, 1, 2, (), "risk", 0.66, 0.07),
    row(3, -1, 0, ("agreement", "confidence"), "gate1", 0.12, 0.2),
]


def test_no_setups_give_no_panel():
    assert gate_timeline([]) == []


def test_one_markers_panel_splits_the_scores_and_shows_every_std():
    [timeline] = gate_timeline(ROWS)
    assert timeline.markers
    assert timeline.title == "gate 1 per setup (4 setups, 2 passed)"
    passed, refused, std = timeline.lines
    assert passed.name == "score, passed gate 1" and refused.name == "score, refused"
    assert passed.ts.tolist() == [ROWS[0].ts_event, ROWS[2].ts_event]
    assert passed.values.tolist() == [0.81, 0.66]
    assert refused.ts.tolist() == [ROWS[1].ts_event, ROWS[3].ts_event]
    assert refused.values.tolist() == [0.42, 0.12]
    assert std.name == "MC-Dropout std"
    assert std.ts.tolist() == [r.ts_event for r in ROWS]
    assert std.values.tolist() == [0.05, 0.11, 0.07, 0.2]
    assert passed.ts.dtype == np.int64 and passed.values.dtype == np.float64
    assert len({line.color for line in timeline.lines}) == 3
    for line in timeline.lines:
        assert line.labels is not None and len(line.labels) == line.ts.shape[0]


def test_the_labels_carry_side_pattern_agreement_probabilities_stage_and_pnl():
    [timeline] = gate_timeline(ROWS)
    passed, refused, std = timeline.lines
    first = passed.labels[0]
    # a long reads each agent's probability of long: 0.7, 0.6, 0.2
    assert first.startswith("TYPE_1 long; agree 3/3 (p 0.70 0.60 0.20)")
    assert "confidence 0.654" in first and "MI 0.0123" in first
    assert "passed gate 1" in first and "ended at traded" in first
    assert first.endswith("P&L $1,234.50")
    assert "ended at risk" in passed.labels[1]
    short = refused.labels[0]
    # a short reads the probabilities of short: 0.1, 0.1, 0.3
    assert short.startswith("TYPE_2 short; agree 1/3 (p 0.10 0.10 0.30)")
    assert "refused (agreement)" in short and "ended at gate1" in short
    assert "refused (agreement,confidence)" in refused.labels[1]
    assert std.labels == [passed.labels[0], refused.labels[0], passed.labels[1],
                          refused.labels[1]]


def test_all_passed_drops_the_empty_refused_line():
    [timeline] = gate_timeline([ROWS[0], ROWS[2]])
    assert [line.name for line in timeline.lines] == ["score, passed gate 1", "MC-Dropout std"]
    assert timeline.title == "gate 1 per setup (2 setups, 2 passed)"
    [timeline] = gate_timeline([ROWS[1]])
    assert [line.name for line in timeline.lines] == ["score, refused", "MC-Dropout std"]
