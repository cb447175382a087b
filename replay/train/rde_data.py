"""Regime-matrix windows for training the RDE, collected by replaying the live pipeline
(training layer).

The data set is replayed through the same components the backtest and the live daemon run:
the bar aggregators, the configured indicators whose outputs fill the matrix (LVN, and the MMD
features against the configured reference), and a
:class:`~components.assemblers.RegimeAssembler`. Each slow bar's frozen row is
recorded once (a probe reads the newest row when the next slow bar arrives, and at the end), so
the training windows are exactly the matrices the live detector would see — there is no second
feature path to drift from (the parity test compares them with ``algospace features``).

Windows are every ``window`` consecutive rows from the first ready one (the assembler's
``ready``: a full window of rows built after every input had reported). The chronological
split (default 70/15/15) is by the window's last bar; the first ``window - 1`` windows of the
validation and test splits are dropped, so no window of a later split contains a row of an
earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from components.assemblers import RegimeAssembler, RegimeAssemblerConfig
from components.indicators.lvn import Lvn
from components.regime.mmd import Mmd
from engine.core.component import Component
from engine.core.errors import ConfigError
from engine.core.events import Bar, Event
from engine.wiring.artifacts import Artifacts
from engine.wiring.dataset import DataSource
from engine.wiring.features import build_indicators
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import AppConfig

__all__ = ["RegimeRows", "Split", "collect_regime_rows", "regime_sources", "split_windows"]


@dataclass(frozen=True)
class RegimeRows:
    """One frozen regime row per slow bar, its bar's close time and price, and whether the
    assembler was ready at that bar."""

    rows: npt.NDArray[np.float32]  # (bars, 26)
    ts: npt.NDArray[np.int64]  # (bars,)
    close: npt.NDArray[np.float64]  # (bars,) the slow bar's close
    ready: npt.NDArray[np.bool_]  # (bars,)
    window: int

    def windows(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Every ready window ``(n, window, 26)`` (float32) and the close of its last bar."""
        w = self.window
        if self.rows.shape[0] < w:
            return np.zeros((0, w, self.rows.shape[1]), np.float32), np.zeros(0, np.int64)
        view = np.lib.stride_tricks.sliding_window_view(self.rows, w, axis=0)
        view = view.transpose(0, 2, 1)  # (n, window, features)
        ends = np.arange(w - 1, self.rows.shape[0])
        keep = self.ready[ends]
        return view[keep], self.ts[ends[keep]]


@dataclass(frozen=True)
class Split:
    """Index ranges of the train, validation and test windows, and their time bounds."""

    train: slice
    validation: slice
    test: slice


def collect_regime_rows(config: AppConfig, data_path: DataSource, artifacts: Artifacts,
                        assembler: RegimeAssemblerConfig | None = None) -> RegimeRows:
    """Replay ``data_path`` and return the regime assembler's rows, one per slow bar."""
    if config.indicators.mmd is None or artifacts.mmd is None:
        raise ConfigError("indicators.mmd: the regime matrix needs the MMD features; name a "
                          "fitted reference (algospace train mmd-reference)")
    slow = config.timeframes.slow
    regime = RegimeAssembler(assembler or RegimeAssemblerConfig(timeframe=slow))
    rows: list[list[float]] = []
    ts: list[int] = []
    close: list[float] = []
    ready: list[bool] = []
    last: list[int] = []

    def record() -> None:
        if regime._buffer.count and (not last or last[0] != regime._buffer.count):
            rows.append(regime.matrix()[-1].tolist())
            ready.append(regime.ready)
            last[:] = [regime._buffer.count]

    def probe(bar: Bar) -> list[Event]:  # before the assembler: the previous row is frozen
        if bar.timeframe == slow:
            record()
            ts.append(bar.ts_event)
            close.append(bar.close)
        return []

    pipeline = build_replay_pipeline(config, data_path)
    pipeline.bus.subscribe_handler(Bar, probe, "rde_data.probe")
    for component in regime_sources(build_indicators(config, artifacts)):
        pipeline.bus.subscribe(component)
    pipeline.bus.subscribe(regime)
    pipeline.run()
    record()
    return RegimeRows(np.array(rows, dtype=np.float32).reshape(len(rows), -1),
                      np.array(ts, dtype=np.int64), np.array(close, dtype=np.float64),
                      np.array(ready, dtype=bool),
                      regime.config.window)


def regime_sources(components: list[Component]) -> list[Component]:
    """The components whose outputs fill the regime matrix (MMD and LVN; they read bars only),
    as configured: the other indicators cannot change a regime row, so a replay for the
    matrix skips them."""
    return [c for c in components if isinstance(c, Mmd | Lvn)]


def split_windows(n: int, window: int, fractions: tuple[float, float] = (0.7, 0.15)
                  ) -> Split:
    """Chronological split of ``n`` consecutive windows: the first ``fractions[0]`` train,
    the next ``fractions[1]`` validate, the rest test; ``window - 1`` windows are dropped at
    each boundary so that no later window shares a row with an earlier split."""
    train_end = int(n * fractions[0])
    val_end = int(n * (fractions[0] + fractions[1]))
    gap = window - 1
    return Split(slice(0, train_end), slice(min(train_end + gap, val_end), val_end),
                 slice(min(val_end + gap, n), n))
