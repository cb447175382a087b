"""Dense training rows for the agents' encoders: the matrices at every bar, with causal
predictive targets (training layer).

A data set gives about a hundred synergy setups but tens of thousands of bars. To give the
agents' embedders a learning signal beyond the setups, :func:`collect_dense` replays the data
through the same components the live decider reads (bar aggregation, every indicator with the
MMD features, the RDE's detector, the slow and fast matrix assemblers), **one input row at a
time**, and after every ``stride``-th execution bar, once both matrices are full and a regime
vector has arrived, keeps the slow matrix, the fast matrix and the regime vector as they stand
once that bar's whole cascade is delivered (the replay is chunk-size invariant, so these are
the batch replay's states). That is what a setup at that bar finds, except at a slow-bar
close, where a setup detected on the fast bar's events is decided before the slow bar's row
and regime vector arrive (tests/integration/test_dense_data.py checks both).

The targets of the row at execution bar ``i`` look ``horizon`` bars ahead, in units of the ATR
known at ``i`` (Wilder's, ``atr_period`` bars, from bars up to ``i`` only):

- ``future_return``: ``(close[i + horizon] - close[i]) / atr_i``, clipped to +-5;
- ``future_range``: ``log(mean true range of bars i+1 .. i+horizon / atr_i)``, clipped to +-3.

They are labels, read only by the pretraining; :func:`DenseData.before` keeps the rows whose
whole target window closes at or before a time (the training split's end), so nothing after
the training period is learned from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from components.assemblers import (
    FastAssembler,
    FastAssemblerConfig,
    SlowAssembler,
    SlowAssemblerConfig,
)
from components.indicators.shared_kernels import atr_batch_nb, atr_init_state
from engine.core.chunks import BarChunk
from engine.core.events import Bar, Event, RegimeVector
from engine.wiring.artifacts import Artifacts
from engine.wiring.dataset import DataSource
from engine.wiring.features import build_indicators
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import AppConfig

__all__ = ["DenseData", "causal_atr", "collect_dense", "dense_targets"]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DenseData:
    """Rows ``(n, ...)``: the matrices and regime vector at each kept bar, the bar's close
    time, the close time of its target window's last bar, and the two targets."""

    slow: F32
    fast: F32
    regime: F32
    ts: npt.NDArray[np.int64]
    ts_target: npt.NDArray[np.int64]
    targets: F32

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def before(self, end_ns: int) -> DenseData:
        """The rows whose target window closes at or before ``end_ns``."""
        return self._where(self.ts_target <= end_ns)

    def after(self, start_ns: int) -> DenseData:
        """The rows of bars closing after ``start_ns``."""
        return self._where(self.ts > start_ns)

    def _where(self, keep: npt.NDArray[np.bool_]) -> DenseData:
        return DenseData(self.slow[keep], self.fast[keep], self.regime[keep], self.ts[keep],
                         self.ts_target[keep], self.targets[keep])


def causal_atr(high: F64, low: F64, close: F64, period: int) -> F64:
    """Wilder's ATR at every bar from that bar and the ones before: the indicator layer's own
    kernel (:func:`components.indicators.shared_kernels.atr_batch_nb`; ``nan`` for the first
    ``period`` bars)."""
    return atr_batch_nb(atr_init_state(period), high, low, close)


def dense_targets(high: F64, low: F64, close: F64, index: npt.NDArray[np.int64],
                  horizon: int, atr_period: int = 14) -> F64:
    """The two targets of the module docstring at bars ``index`` (each with ``horizon`` bars
    after it and at least ``atr_period`` before it), ``(len(index), 2)``."""
    atr = causal_atr(high, low, close, atr_period)
    if index.size and not np.isfinite(atr[index]).all():
        raise ValueError(f"index: expected bars after the ATR's {atr_period}-bar warm-up, was "
                         f"{int(index.min())}")
    prev = np.concatenate([[close[0]], close[:-1]])
    tr = np.maximum(high - low, np.maximum(np.abs(high - prev), np.abs(low - prev)))
    out = np.zeros((index.shape[0], 2))
    for row, i in enumerate(index):
        a = max(atr[i], 1e-12)
        out[row, 0] = np.clip((close[i + horizon] - close[i]) / a, -5.0, 5.0)
        spread = float(tr[i + 1:i + 1 + horizon].mean())
        out[row, 1] = np.clip(np.log(max(spread, 1e-12) / a), -3.0, 3.0)
    return out


def collect_dense(config: AppConfig, data_path: DataSource, artifacts: Artifacts,
                  matrices: tuple[SlowAssemblerConfig, FastAssemblerConfig], stride: int = 1,
                  horizon: int = 8) -> DenseData:
    """Replay ``data_path`` row by row and keep the rows of the module docstring."""
    pipeline = build_replay_pipeline(config, data_path)
    bus = pipeline.bus
    for component in build_indicators(config, artifacts):
        bus.subscribe(component)
    slow, fast = SlowAssembler(matrices[0]), FastAssembler(matrices[1])
    bus.subscribe(slow)
    bus.subscribe(fast)
    execution = config.timeframes.fast
    bars: list[Bar] = []
    regime: list[tuple[float, ...]] = []

    def on_bar(bar: Bar) -> list[Event]:
        if bar.timeframe == execution:
            bars.append(bar)
        return []

    def on_regime(vector: RegimeVector) -> list[Event]:
        regime[:] = [vector.mu]
        return []

    bus.subscribe_handler(Bar, on_bar, "dense_data.bars")
    bus.subscribe_handler(RegimeVector, on_regime, "dense_data.regime")
    kept: list[tuple[int, F32, F32, tuple[float, ...]]] = []
    for chunk in pipeline.chunks():
        assert isinstance(chunk, BarChunk), "dense rows are collected from bar data"
        for i in range(chunk.rows):
            seen = len(bars)
            pipeline.driver.step_chunk(BarChunk(*(column[i:i + 1] for column in chunk)))
            if (len(bars) > seen and (len(bars) - 1) % stride == 0 and regime
                    and slow.ready and fast.ready):
                kept.append((len(bars) - 1, slow.matrix(), fast.matrix(), regime[0]))
    pipeline.rejects.close()
    kept = [k for k in kept if k[0] + horizon < len(bars)]
    index = np.array([k[0] for k in kept], dtype=np.int64)
    high = np.array([b.high for b in bars], dtype=np.float64)
    low = np.array([b.low for b in bars], dtype=np.float64)
    close = np.array([b.close for b in bars], dtype=np.float64)
    targets = (dense_targets(high, low, close, index, horizon) if index.size
               else np.zeros((0, 2)))
    ts = np.array([b.ts_event for b in bars], dtype=np.int64)
    return DenseData(
        np.stack([k[1] for k in kept]).astype(np.float32) if kept else np.zeros((0, 0, 0),
                                                                                np.float32),
        np.stack([k[2] for k in kept]).astype(np.float32) if kept else np.zeros((0, 0, 0),
                                                                                np.float32),
        np.array([k[3] for k in kept], dtype=np.float32).reshape(len(kept), -1),
        ts[index], ts[index + horizon], targets.astype(np.float32))
