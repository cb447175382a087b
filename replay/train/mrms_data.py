"""The M-RMS's training data: real synergy setups replayed through the live pipeline (training
layer).

:func:`collect_setups` replays a data set through the components the live daemon runs (bar
aggregation, every configured indicator including the MMD features and, when ``[regime]``
names one, the RDE's ``RegimeDetector``, then the synergy components) and keeps, for each
``SynergyDetected`` in delivery order:

- the setup and its :func:`~components.risk.setup_features.setup_features`;
- the regime vector the live risk manager would hold at that moment: the last
  ``RegimeVector`` delivered before the setup (a setup before the first one has none and is
  counted in ``without_regime``; the live manager rejects those too);
- the index of the first execution-timeframe bar closing after the setup, where a trade
  decided on it starts (:func:`replay.train.trade_sim.simulate_trade`).

With ``matrices`` (the MARL trainer's call) it also subscribes the slow and fast matrix
assemblers the live decider owns and keeps, for each setup, both matrices as they stand when
the setup is delivered; a setup before both are full is counted in ``not_ready`` and not kept.

It also keeps every execution-timeframe bar, so any size, stop and target can be simulated
for any setup by the backtest's broker. :func:`split_setups` splits the samples by time with
the RDE's split bounds (its training split ends before validation starts), so the M-RMS is
trained, selected and tested on the same periods as the regime model it reads.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from components.assemblers import (
    FastAssembler,
    FastAssemblerConfig,
    SlowAssembler,
    SlowAssemblerConfig,
)
from components.risk.setup_features import setup_features
from components.synergy import build_synergy
from engine.core.events import Bar, Event, RegimeVector, SynergyDetected
from engine.wiring.artifacts import Artifacts
from engine.wiring.build import build_broker
from engine.wiring.dataset import DataSource
from engine.wiring.features import build_indicators
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.registry import SplitBounds
from engine.wiring.schema import AppConfig
from replay.broker import SimulatedBrokerConfig

__all__ = ["SetupData", "SetupSample", "collect_setups", "split_setups"]


@dataclass(frozen=True)
class SetupSample:
    """One setup: the event, its features, the regime vector held then, and where its trade
    would start in ``SetupData.bars``."""

    setup: SynergyDetected
    features: tuple[float, ...]
    regime: tuple[float, ...]
    start: int
    slow: npt.NDArray[np.float32] | None = None
    fast: npt.NDArray[np.float32] | None = None


@dataclass
class SetupData:
    """Every setup with a regime vector, the execution bars, and the broker settings."""

    samples: list[SetupSample]
    bars: list[Bar]
    broker: SimulatedBrokerConfig
    without_regime: int = 0
    ts: list[int] = field(default_factory=list)
    not_ready: int = 0


def collect_setups(config: AppConfig, data_path: DataSource, artifacts: Artifacts,
                   strategy: str = "mrms",
                   matrices: tuple[SlowAssemblerConfig, FastAssemblerConfig] | None = None
                   ) -> SetupData:
    """Replay ``data_path`` and collect the setups (see the module docstring)."""
    broker = build_broker(config, strategy).config
    pipeline = build_replay_pipeline(config, data_path)
    bus = pipeline.bus
    for component in build_indicators(config, artifacts):
        bus.subscribe(component)
    fast, slow = config.timeframes.fast, config.timeframes.slow
    for component in build_synergy(config.synergy, fast, slow):
        bus.subscribe(component)
    window = config.synergy.resolved(fast, slow).window
    assemblers = None
    if matrices is not None:
        assemblers = (SlowAssembler(matrices[0]), FastAssembler(matrices[1]))
        for assembler in assemblers:
            bus.subscribe(assembler)
    bars: list[Bar] = []
    pending: list[tuple[SynergyDetected, tuple[float, ...], tuple[Any, Any]]] = []
    regime: list[tuple[float, ...]] = []
    missing = not_ready = 0

    def on_bar(bar: Bar) -> list[Event]:
        if bar.timeframe == broker.timeframe:
            bars.append(bar)
        return []

    def on_regime(vector: RegimeVector) -> list[Event]:
        regime[:] = [vector.mu]
        return []

    def on_setup(setup: SynergyDetected) -> list[Event]:
        nonlocal missing, not_ready
        if not regime:
            missing += 1
        elif assemblers is None:
            pending.append((setup, regime[0], (None, None)))
        elif all(a.ready for a in assemblers):
            pending.append((setup, regime[0], (assemblers[0].matrix(), assemblers[1].matrix())))
        else:
            not_ready += 1
        return []

    bus.subscribe_handler(Bar, on_bar, "mrms_data.bars")
    bus.subscribe_handler(RegimeVector, on_regime, "mrms_data.regime")
    bus.subscribe_handler(SynergyDetected, on_setup, "mrms_data.setups")
    pipeline.run()
    ts = [b.ts_event for b in bars]
    samples = [SetupSample(s, setup_features(s, window), mu, bisect.bisect_right(ts, s.ts_event),
                           slow_m, fast_m) for s, mu, (slow_m, fast_m) in pending]
    return SetupData(samples, bars, broker, missing, ts, not_ready)


def split_setups(samples: list[SetupSample], splits: dict[str, SplitBounds]
                 ) -> dict[str, list[SetupSample]]:
    """Samples by split: ``train`` up to the training split's last bar, ``validation`` within
    the validation split's bounds, ``test`` after the validation split (setups in a purge gap
    between splits belong to none)."""
    train, val = splits["train"], splits["validation"]
    out: dict[str, list[SetupSample]] = {"train": [], "validation": [], "test": []}
    for sample in samples:
        t = sample.setup.ts_event
        if t <= train.end_ns:
            out["train"].append(sample)
        elif val.start_ns <= t <= val.end_ns:
            out["validation"].append(sample)
        elif t > val.end_ns:
            out["test"].append(sample)
    return out
