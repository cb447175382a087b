"""A planted-edge fixture for power tests of the learned stack (training layer).

**Not market data.** :func:`plant_edge` takes real setups replayed from real bars (their
features, regime vectors and matrices untouched) and rewrites only the two execution bars
after each setup, where its trade is entered and decided, so that the setup's own direction
wins with probability ``0.5 + edge`` when one visible feature is above its median and
``0.5 - edge`` otherwise: a known edge of known size on one input the networks read. A win
moves ``WIN_ATR`` ATRs the setup's way (past any target the M-RMS can set: at most 3 ATR stop
times reward/risk 5) without coming within ``NEAR_ATR`` of the entry against it; a loss
moves ``LOSS_ATR`` against it (past any stop). The entry bar is flattened around its open so
nothing is decided before the planted bar. Setups whose two bars overlap an earlier planted
setup's are dropped (their outcome would be the other setup's bar).

The learned stack must find the edge out of sample (tests/integration/test_planted_edge.py);
``bench/bench_power.py`` measures how often it does over edges and sample sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from replay.train.mrms_data import SetupData, SetupSample

__all__ = ["LOSS_ATR", "NEAR_ATR", "WIN_ATR", "Planted", "plant_edge"]

WIN_ATR = 16.0
LOSS_ATR = 4.0
NEAR_ATR = 0.2


@dataclass(frozen=True)
class Planted:
    """The rewritten data, the planted setups (time order), whether each was made a winner,
    and whether its feature was above the median (the edge's side)."""

    data: SetupData
    samples: list[SetupSample]
    winner: np.ndarray
    high: np.ndarray


def plant_edge(data: SetupData, samples: Sequence[SetupSample], feature: int, edge: float,
               seed: int) -> Planted:
    """Plant an edge of ``edge`` (0 .. 0.5) on setup feature ``feature`` (module docstring)."""
    if not 0.0 <= edge <= 0.5:
        raise ValueError(f"edge: expected a number in [0, 0.5], was {edge!r}")
    rng = np.random.default_rng(seed)
    values = np.array([s.features[feature] for s in samples], dtype=np.float64)
    median = float(np.median(values)) if len(values) else 0.0
    bars = list(data.bars)
    used: set[int] = set()
    kept, winner, high = [], [], []
    for sample, value in zip(samples, values, strict=True):
        start = sample.start
        draw = rng.random()  # one draw per setup, kept or not: the plant is a function of seed
        if start + 1 >= len(bars) or start in used or start + 1 in used:
            continue
        above = bool(value > median)
        wins = draw < (0.5 + edge if above else 0.5 - edge)
        d = sample.setup.direction
        atr = sample.setup.atr
        entry = bars[start]
        o = entry.open
        bars[start] = msgspec.structs.replace(entry, high=o + NEAR_ATR * atr / 2,
                                              low=o - NEAR_ATR * atr / 2, close=o)
        move = (WIN_ATR if wins else -LOSS_ATR) * atr * d
        far = max(o + move, 0.05 * o)  # a price stays positive
        near = o - np.sign(move) * NEAR_ATR * atr / 2
        after = bars[start + 1]
        bars[start + 1] = msgspec.structs.replace(
            after, open=o, high=float(max(far, near)), low=float(min(far, near)),
            close=float(far))
        used.update((start, start + 1))
        kept.append(sample)
        winner.append(wins)
        high.append(above)
    planted = SetupData(kept, bars, data.broker, data.without_regime,
                        [b.ts_event for b in bars], data.not_ready)
    return Planted(planted, kept, np.array(winner, dtype=bool), np.array(high, dtype=bool))
