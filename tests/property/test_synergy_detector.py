"""Synergy detector: the sequence rules against an independent model (stateful), and no
look-ahead on real data through the real pipeline."""

import tempfile
from collections import defaultdict
from functools import cache
from pathlib import Path

import pandas as pd
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from components.synergy import SynergyConfig, SynergyDetector, build_synergy
from engine.core.events import (
    PATTERN_NAMES,
    Bar,
    IndicatorValue,
    LvnLevels,
    SynergyDetected,
    SynergySignal,
)
from engine.wiring.artifacts import load_artifacts
from engine.wiring.features import build_indicators
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import load_app_config

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("mlmi", "nwrqk", "fvg")
PATTERN_OF = {name: number for number, name in PATTERN_NAMES.items()}


class Model:
    """The rules of docs/reference/algospace_spec.md 2.6 as adopted in docs/synergy.md, written out
    plainly: returns the
    pattern number a signal completes, or ``None``."""

    def __init__(self, window, cooldown):
        self.window, self.cooldown = window, cooldown
        self.bar = 0
        self.pending = []  # (kind, direction, bar)
        self.last_setup = None
        self.discarded = 0

    def on_signal(self, kind, direction):
        p = self.pending
        if p and (p[0][1] != direction or self.bar - p[0][2] > self.window):
            p.clear()
        if not p and kind == "fvg":
            return None
        if kind in [k for k, _, _ in p]:
            return None
        p.append((kind, direction, self.bar))
        if len(p) < 3:
            return None
        name = ">".join(k.upper() for k, _, _ in p)
        p.clear()
        if self.last_setup is not None and self.bar - self.last_setup <= self.cooldown:
            self.discarded += 1
            return None
        self.last_setup = self.bar
        return PATTERN_OF[name]


class SynergyMachine(RuleBasedStateMachine):
    """Fast bars and signals of random kinds, directions and timing."""

    @initialize(window=st.integers(1, 8), cooldown=st.integers(0, 4))
    def start(self, window, cooldown):
        config = SynergyConfig(timeframe="5m", slow_timeframe="30m", atr_timeframe="5m",
                               window=window, cooldown=cooldown, context_bars=2)
        self.detector = SynergyDetector(config)
        self.model = Model(window, cooldown)
        self.ts = 0
        self.ids = 0
        self.used = set()
        self.setup_bars = []
        self.close = 100.0
        self.detector.on_event(IndicatorValue(0, 0, "ES", "5m", "atr14", 1.5))
        for _ in range(3):
            self._bar(100.0, 1.0)
        assert self.detector.ready

    def _bar(self, close, volume):
        self.ts += 1
        self.model.bar += 1
        self.close = close
        bar = Bar(self.ts, self.ts, "ES", "5m", self.ts - 1, close, close, close, close, volume)
        assert list(self.detector.on_event(bar)) == []

    @rule(n=st.integers(1, 4), close=st.floats(1.0, 1e4), volume=st.floats(0.0, 1e3))
    def bars(self, n, close, volume):
        for _ in range(n):
            self._bar(close, volume)

    @rule(timeframe=st.sampled_from(["30m", "1m"]))
    def other_bar(self, timeframe):
        bar = Bar(self.ts, self.ts, "ES", timeframe, self.ts - 1, 1.0, 1.0, 1.0, 1.0, 1.0)
        assert list(self.detector.on_event(bar)) == []

    @rule(price=st.none() | st.floats(1.0, 1e4))
    def lvn(self, price):
        self.detector.on_event(LvnLevels(self.ts, self.ts, "ES", "30m", price, 50.0 if price
                                         else None, 1.0 if price else None, None, None, None,
                                         100.0, 1.0, 1))

    @rule(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3),
          direction=st.sampled_from([-1, 1]), strength=st.floats(0.0, 1.0))
    def signals(self, kinds, direction, strength):
        """One to three signals of one direction at the current bar."""
        for kind in kinds:
            self._signal(kind, direction, strength)

    def _signal(self, kind, direction, strength):
        self.ids += 1
        signal = SynergySignal(self.ts, self.ts, "ES", "5m" if kind == "fvg" else "30m", kind,
                               direction, float(self.ids), strength)
        out = list(self.detector.on_event(signal))
        discarded = self.model.discarded
        expected = self.model.on_signal(kind, direction)
        event("setup" if expected is not None else
              "discarded in cooldown" if self.model.discarded > discarded else "no setup")
        assert [e.pattern for e in out] == ([] if expected is None else [expected])
        for setup in out:
            assert isinstance(setup, SynergyDetected)
            kinds = ">".join(s.kind.upper() for s in setup.signals)
            assert PATTERN_NAMES[setup.pattern] == kinds  # the order matches the type
            assert {s.direction for s in setup.signals} == {setup.direction}
            assert setup.signals[-1] == signal and setup.ts_event == self.ts
            assert 1 <= setup.bars_to_complete <= self.detector.config.window + 1
            assert setup.price == self.close
            ids = {s.value for s in setup.signals}
            assert not ids & self.used  # a pattern is emitted once
            self.used |= ids
            if self.setup_bars:  # nothing is emitted during the cooldown
                assert self.model.bar - self.setup_bars[-1] > self.detector.config.cooldown
            self.setup_bars.append(self.model.bar)

    @rule()
    def snapshot_and_restore(self):
        fresh = SynergyDetector(self.detector.config)
        fresh.restore(self.detector.snapshot())
        assert fresh.snapshot() == self.detector.snapshot()
        self.detector = fresh

    @invariant()
    def building_matches_the_model(self):
        if hasattr(self, "model"):
            got = [(s.kind, s.direction) for s in self.detector.building]
            assert got == [(k, d) for k, d, _ in self.model.pending]


SynergyMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60,
                                            deadline=None)
test_synergy_detector_matches_the_model = SynergyMachine.TestCase


# --- real data --------------------------------------------------------------------------------

BTC = ROOT / "config" / "btcusd_1h.toml"
ROWS = 3000  # 125 days of BTC/USD hours: 13 setups with the defaults


@cache
def _btc():
    loaded = load_app_config(BTC)
    frame = pd.read_csv(loaded.data_path).iloc[:ROWS]
    return loaded, load_artifacts(loaded), frame


def replay(rows):
    """The synergy events of the first ``rows`` BTC hours through the real pipeline (every
    indicator, the MMD reference included), in delivery order."""
    loaded, artifacts, frame = _btc()
    config = loaded.config
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "btc.csv"
        frame.iloc[:rows].to_csv(path, index=False)
        pipeline = build_replay_pipeline(config, path)
        for component in build_indicators(config, artifacts):
            pipeline.bus.subscribe(component)
        for component in build_synergy(SynergyConfig(), config.timeframes.fast,
                                       config.timeframes.slow):
            pipeline.bus.subscribe(component)
        events = []
        pipeline.bus.add_tap(
            lambda e: events.append(e) if type(e) in (SynergySignal, SynergyDetected) else None)
        pipeline.run()
    return events


@cache
def full():
    return tuple(replay(ROWS))


def test_real_data_fires_and_orders_same_time_signals_fvg_mlmi_nwrqk():
    events = full()
    setups = [e for e in events if type(e) is SynergyDetected]
    assert len(setups) >= 10
    by_ts = defaultdict(list)
    for e in events:
        if type(e) is SynergySignal:
            by_ts[e.ts_event].append(e.kind)
    groups = [kinds for kinds in by_ts.values() if len(set(kinds)) > 1]
    assert groups
    rank = {"fvg": 0, "mlmi": 1, "nwrqk": 2}
    assert all(kinds == sorted(kinds, key=rank.__getitem__) for kinds in groups)


@settings(max_examples=8, deadline=None)
@given(cut=st.integers(1, ROWS - 1))
@example(cut=209)  # the first setup completes at the close of the last hour kept
@example(cut=ROWS - 1)
def test_no_look_ahead_setups_before_a_cut_ignore_the_data_after_it(cut):
    _, _, frame = _btc()
    last = pd.Timestamp(frame["timestamp"].iloc[cut - 1]).value + 3_600 * 10**9  # its close
    before = [e for e in full() if e.ts_event <= last]
    truncated = replay(cut)
    assert [e for e in truncated if e.ts_event <= last] == before
    assert all(e.ts_event <= last for e in truncated)
