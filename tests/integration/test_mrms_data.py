"""M-RMS training data from a real replay: every setup the synergy detector finds, with the
regime vector held at that moment and the first bar a trade on it can use; the split follows
the RDE's split bounds."""

from pathlib import Path

import pandas as pd
import pytest

from components.risk.setup_features import SETUP_FEATURES
from components.synergy import build_synergy
from engine.core.events import RegimeVector, SynergyDetected
from engine.wiring.artifacts import load_artifacts
from engine.wiring.features import build_indicators
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.registry import SplitBounds
from engine.wiring.schema import load_app_config
from replay.train.mrms_data import collect_setups, split_setups

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    data = tmp_path_factory.mktemp("mrms") / "btc.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:6000].to_csv(
        data, index=False)
    loaded = load_app_config(BTC)
    artifacts = load_artifacts(loaded)
    got = collect_setups(loaded.config, data, artifacts)
    # an independent replay recording every setup and regime vector in delivery order
    pipeline = build_replay_pipeline(loaded.config, data)
    for component in [*build_indicators(loaded.config, artifacts),
                      *build_synergy(loaded.config.synergy, "1h", "4h")]:
        pipeline.bus.subscribe(component)
    stream = []
    pipeline.bus.add_tap(lambda e: stream.append(e) if type(e) in (SynergyDetected,
                                                                 RegimeVector) else None)
    pipeline.run()
    return got, stream


def test_every_setup_with_the_regime_vector_delivered_before_it(collected):
    got, stream = collected
    setups = [e for e in stream if type(e) is SynergyDetected]
    assert len(got.samples) + got.without_regime == len(setups) and len(got.samples) > 15
    expected, last = [], None
    for event in stream:
        if type(event) is RegimeVector:
            last = event.mu
        elif last is not None:
            expected.append((event, last))
    assert [(s.setup, s.regime) for s in got.samples] == expected
    for sample in got.samples:
        assert len(sample.features) == len(SETUP_FEATURES) and len(sample.regime) == 8
        t = sample.setup.ts_event
        assert got.bars[sample.start].ts_event > t >= got.bars[sample.start - 1].ts_event
        assert all(b.timeframe == "1h" for b in got.bars[sample.start:sample.start + 3])


def test_split_follows_the_bounds(collected):
    got, _ = collected
    ts = sorted(s.setup.ts_event for s in got.samples)
    a, b = ts[len(ts) // 2], ts[3 * len(ts) // 4]

    def bounds(start, end):
        return SplitBounds(samples=0, start_ns=start, end_ns=end, start="", end="")

    parts = split_setups(got.samples, {"train": bounds(0, a), "validation": bounds(a + 1, b),
                                       "test": bounds(b + 1, 2**62)})
    assert all(s.setup.ts_event <= a for s in parts["train"])
    assert all(a < s.setup.ts_event <= b for s in parts["validation"])
    assert all(s.setup.ts_event > b for s in parts["test"])
    assert sum(len(p) for p in parts.values()) == len(got.samples)
