"""Synergy detector: each activation rule and threshold, the sequence rules, the context."""

import math

import msgspec
import numpy as np
import pytest

from components.synergy import (
    PATTERN_NAMES,
    PATTERNS,
    SynergyConfig,
    SynergyDetector,
    SynergySignals,
    build_synergy,
)
from engine.core.bus import Bus
from engine.core.events import (
    Bar,
    FvgMitigated,
    IndicatorValue,
    LvnLevels,
    MlmiValue,
    NwrqkValue,
    SynergyDetected,
    SynergySignal,
    decode,
    encode,
)

CFG = SynergyConfig().resolved("5m", "30m")


def mlmi(value, signal=0, crossover=0, ts=1, timeframe="30m"):
    return MlmiValue(ts, ts, "ES", timeframe, value, signal, 10, crossover, 0, 1.0, 1.0, 50.0,
                     50.0)


def nwrqk(slope, signal, ts=1, timeframe="30m"):
    return NwrqkValue(ts, ts, "ES", timeframe, 100.0, 100.0, slope, signal > 0, signal < 0,
                      False, False, signal)


def fvg(side, size, size_pct, ts=1, timeframe="5m"):
    return FvgMitigated(ts, ts, "ES", timeframe, side, 1, size, size_pct, 1)


def atr(value, ts=1, timeframe="5m", name="atr14"):
    return IndicatorValue(ts, ts, "ES", timeframe, name, value)


def signals(config=CFG, atr_value=2.0):
    component = SynergySignals(config)
    component.on_event(atr(atr_value))
    return component


def one(component, event):
    out = list(component.on_event(event))
    assert len(out) <= 1
    return out[0] if out else None


# --- activation rules -------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["zero_cross", "either"])
def test_mlmi_zero_cross_fires_with_its_direction_and_scaled_strength(mode):
    component = signals(msgspec.structs.replace(CFG, mlmi_mode=mode))
    up = one(component, mlmi(3.0, signal=1))
    down = one(component, mlmi(-150.0, signal=-1))
    assert (up.kind, up.direction, up.value, up.strength) == ("mlmi", 1, 3.0, 0.03)
    assert (down.direction, down.strength) == (-1, 1.0)  # min(150 / 100, 1)
    assert one(component, mlmi(50.0)) is None  # no cross


def test_mlmi_zero_cross_mode_ignores_crossovers():
    component = signals(msgspec.structs.replace(CFG, mlmi_mode="zero_cross"))
    assert one(component, mlmi(40.0, crossover=1)) is None


@pytest.mark.parametrize("mode", ["crossover", "either"])
def test_mlmi_crossover_fires_only_when_the_vote_agrees(mode):
    component = signals(msgspec.structs.replace(CFG, mlmi_mode=mode))
    assert one(component, mlmi(40.0, crossover=1)).direction == 1
    assert one(component, mlmi(-40.0, crossover=-1)).direction == -1
    assert one(component, mlmi(40.0, crossover=-1)) is None
    assert one(component, mlmi(0.0, crossover=1)) is None


def test_mlmi_crossover_mode_ignores_zero_crosses():
    component = signals(msgspec.structs.replace(CFG, mlmi_mode="crossover"))
    assert one(component, mlmi(2.0, signal=1)) is None


def test_mlmi_either_lets_the_zero_cross_decide_a_disagreement():
    component = signals(msgspec.structs.replace(CFG, mlmi_mode="either"))
    # a bearish WMA crossover on the bar the vote crosses above zero
    assert one(component, mlmi(1.0, signal=1, crossover=-1)).direction == 1


def test_mlmi_min_value():
    component = signals(msgspec.structs.replace(CFG, mlmi_min_value=10.0))
    assert one(component, mlmi(9.0, signal=1)) is None
    assert one(component, mlmi(10.0, crossover=1)).direction == 1


def test_mlmi_needs_no_atr():
    assert one(SynergySignals(CFG), mlmi(5.0, signal=1)) is not None


def test_nwrqk_fires_on_its_change_signal_with_atr_scaled_strength():
    component = signals(atr_value=2.0)
    up = one(component, nwrqk(0.06, 1))
    assert (up.kind, up.direction, up.value) == ("nwrqk", 1, 0.06)
    assert up.strength == pytest.approx(0.06 / (0.15 * 2.0))
    down = one(component, nwrqk(-5.0, -1))
    assert (down.direction, down.value, down.strength) == (-1, -5.0, 1.0)
    assert one(component, nwrqk(1.0, 0)) is None


def test_nwrqk_min_slope_in_atrs():
    component = signals(msgspec.structs.replace(CFG, nwrqk_min_slope_atr=0.1), atr_value=2.0)
    assert one(component, nwrqk(0.19, 1)) is None
    assert one(component, nwrqk(-0.2, -1)).direction == -1


def test_nwrqk_and_fvg_wait_for_the_atr():
    component = SynergySignals(CFG)
    assert not component.ready
    assert one(component, nwrqk(0.5, 1)) is None
    assert one(component, fvg(1, 5.0, 0.3)) is None
    component.on_event(atr(1.0, name="rsi14"))  # not the configured label
    component.on_event(atr(1.0, timeframe="30m"))  # not the configured timeframe
    assert not component.ready
    component.on_event(atr(1.0))
    assert component.ready
    assert one(component, nwrqk(0.5, 1)) is not None


def test_fvg_direction_is_the_mitigated_side_and_strength_the_size_pct():
    component = signals(atr_value=2.0)
    bull = one(component, fvg(1, 1.0, 0.25))
    bear = one(component, fvg(-1, 1.0, 2.5))
    assert (bull.kind, bull.direction, bull.value, bull.strength) == ("fvg", 1, 0.25, 0.25)
    assert (bear.direction, bear.strength) == (-1, 1.0)


def test_fvg_size_floors_in_atrs_and_in_percent():
    component = signals(atr_value=2.0)  # default floor: 0.25 ATR = 0.5 points
    assert one(component, fvg(1, 0.49, 5.0)) is None
    assert one(component, fvg(1, 0.5, 0.0001)) is not None
    spec = signals(msgspec.structs.replace(CFG, fvg_min_size_pct=0.1, fvg_min_size_atr=0.0))
    assert one(spec, fvg(1, 0.01, 0.099)) is None
    assert one(spec, fvg(1, 0.01, 0.1)) is not None


def test_signals_read_only_their_timeframes():
    component = signals()
    assert one(component, mlmi(5.0, signal=1, timeframe="5m")) is None
    assert one(component, nwrqk(1.0, 1, timeframe="5m")) is None
    assert one(component, fvg(1, 5.0, 1.0, timeframe="30m")) is None


def test_signals_snapshot_keeps_the_atr():
    component = signals(atr_value=3.0)
    fresh = SynergySignals(CFG)
    fresh.restore(component.snapshot())
    assert fresh.ready and one(fresh, nwrqk(0.45, 1)).strength == pytest.approx(1.0)


# --- sequence rules ---------------------------------------------------------------------------

def sig(kind, direction=1, ts=1, strength=0.5):
    return SynergySignal(ts, ts, "ES", "5m" if kind == "fvg" else "30m", kind, direction, 1.0,
                         strength)


def bar(ts, close=100.0, volume=10.0, timeframe="5m"):
    return Bar(ts, ts, "ES", timeframe, ts - 1, close, close + 1.0, close - 1.0, close, volume)


class Driver:
    """A ready detector (ATR known, ``context_bars + 1`` fast bars seen) and its clock."""

    def __init__(self, config=CFG):
        self.detector = SynergyDetector(config)
        self.ts = 0
        self.detector.on_event(atr(2.0))
        for _ in range(config.context_bars + 1):
            self.bar()
        assert self.detector.ready

    def bar(self, n=1):
        for _ in range(n):
            self.ts += 1
            assert list(self.detector.on_event(bar(self.ts))) == []

    def send(self, kind, direction=1):
        return list(self.detector.on_event(sig(kind, direction, self.ts)))


@pytest.mark.parametrize("order", list(PATTERNS))
def test_each_order_names_its_pattern(order):
    d = Driver()
    assert d.send(order[0]) == [] and d.send(order[1]) == []
    (setup,) = d.send(order[2], 1)
    assert setup.pattern == PATTERNS[order]
    assert PATTERN_NAMES[setup.pattern] == ">".join(k.upper() for k in order)
    assert tuple(s.kind for s in setup.signals) == order
    assert setup.direction == 1 and setup.bars_to_complete == 1
    assert d.detector.building == ()


def test_patterns_cover_every_order_that_does_not_start_with_fvg():
    from itertools import permutations
    assert {o for o in permutations(("mlmi", "nwrqk", "fvg")) if o[0] != "fvg"} == set(PATTERNS)
    assert sorted(PATTERNS.values()) == [1, 2, 3, 4] == sorted(PATTERN_NAMES)


def test_an_fvg_never_opens_a_sequence():
    d = Driver()
    assert d.send("fvg") == []
    assert d.detector.building == ()
    d.send("mlmi")
    d.send("nwrqk")
    (setup,) = d.send("fvg")
    assert setup.pattern == 1


def test_an_fvg_in_the_other_direction_resets_and_is_dropped():
    d = Driver()
    d.send("nwrqk", -1)
    d.send("fvg", 1)
    assert d.detector.building == ()


def test_a_repeated_kind_is_ignored_the_first_one_counts():
    d = Driver()
    d.send("mlmi")
    d.bar(2)
    d.send("mlmi")
    d.send("nwrqk")
    (setup,) = d.send("fvg")
    assert setup.signals[0].ts_event == d.ts - 2 and setup.bars_to_complete == 3


def test_the_other_direction_resets_and_starts_a_new_sequence():
    d = Driver()
    d.send("mlmi", 1)
    d.send("nwrqk", -1)
    assert [s.kind for s in d.detector.building] == ["nwrqk"]
    d.send("mlmi", -1)
    (setup,) = d.send("fvg", -1)
    assert (setup.pattern, setup.direction) == (4, -1)


@pytest.mark.parametrize("gap, fires", [(10, True), (11, False)])
def test_window_counts_fast_bars_from_the_first_signal(gap, fires):
    d = Driver(msgspec.structs.replace(CFG, window=10))
    d.send("nwrqk")
    d.send("mlmi")
    d.bar(gap)
    out = d.send("fvg")  # past the window: a reset, and an FVG cannot open a sequence
    assert len(out) == fires
    assert d.detector.building == ()


def test_window_edge_emits_with_bars_to_complete():
    d = Driver(msgspec.structs.replace(CFG, window=10))
    d.send("nwrqk")
    d.bar(10)
    d.send("fvg")
    (setup,) = d.send("mlmi")
    assert (setup.pattern, setup.bars_to_complete) == (3, 11)


def test_slow_bars_do_not_advance_the_clock():
    d = Driver(msgspec.structs.replace(CFG, window=2))
    d.send("mlmi")
    for _ in range(5):
        d.detector.on_event(bar(d.ts, timeframe="30m"))
        d.detector.on_event(bar(d.ts, timeframe="1m"))
    d.send("nwrqk")
    assert len(d.send("fvg")) == 1


def test_cooldown_discards_a_pattern_and_resets_then_allows_one_after():
    d = Driver(msgspec.structs.replace(CFG, cooldown=5))
    d.send("mlmi"), d.send("nwrqk")
    (first,) = d.send("fvg")
    d.bar(5)  # bar e + 5: still cooling down
    d.send("mlmi"), d.send("nwrqk")
    assert d.send("fvg") == [] and d.detector.building == ()
    d.send("nwrqk")  # a sequence started during the cooldown ...
    d.bar(1)
    d.send("fvg")
    (second,) = d.send("mlmi")  # ... completes at e + 6: a setup
    assert second.pattern == 3


def test_cooldown_zero_allows_the_next_bar():
    d = Driver(msgspec.structs.replace(CFG, cooldown=0))
    d.send("mlmi"), d.send("nwrqk")
    assert len(d.send("fvg")) == 1
    d.bar()
    d.send("mlmi"), d.send("nwrqk")
    assert len(d.send("fvg")) == 1


def test_signals_before_ready_are_ignored():
    detector = SynergyDetector(CFG)
    detector.on_event(atr(1.0))
    for ts in range(1, CFG.context_bars + 1):  # one bar short
        detector.on_event(bar(ts))
    assert not detector.ready
    for kind in ("mlmi", "nwrqk", "fvg"):
        assert list(detector.on_event(sig(kind))) == []
    assert detector.building == ()


@pytest.mark.parametrize("slow_first, pattern", [(False, 3), (True, 4)])
def test_same_timestamp_signals_are_taken_in_delivery_order(slow_first, pattern):
    """Through a bus: the order in which events of one ``ts_event`` are published decides the
    pattern. The replay publishes a fast close (and its FVG mitigation) before the slow close of
    the same time, and MLMI before NW-RQK (checked on real data in tests/property)."""
    bus = Bus()
    for component in build_synergy(msgspec.structs.replace(CFG, fvg_min_size_atr=0.0),
                                   "5m", "30m"):
        bus.subscribe(component)
    out = []
    bus.subscribe_handler(SynergyDetected, lambda e: out.append(e) or (), "probe")
    bus.publish(atr(1.0, ts=0))
    for ts in range(1, 26):
        bus.publish(bar(ts))
    bus.publish(nwrqk(0.1, 1, ts=25))
    for ts in range(26, 30):
        bus.publish(bar(ts))
    slow = [mlmi(3.0, signal=1, ts=30)]
    fast = [bar(30), fvg(1, 1.0, 0.1, ts=30)]
    for event in (slow + fast if slow_first else fast + slow):
        bus.publish(event)
    (setup,) = out
    assert setup.pattern == pattern
    assert [s.ts_event for s in setup.signals] == [25, 30, 30]
    assert setup.ts_event == 30


# --- context ----------------------------------------------------------------------------------

def test_context_fields_at_completion():
    config = msgspec.structs.replace(CFG, context_bars=4)
    detector = SynergyDetector(config)
    closes = [100.0, 101.0, 99.0, 102.0, 103.0, 104.5]
    volumes = [5.0, 1.0, 2.0, 3.0, 4.0, 10.0]
    for ts, (c, v) in enumerate(zip(closes, volumes, strict=True), start=1):
        detector.on_event(bar(ts, c, v))
    detector.on_event(atr(1.7, ts=6))
    detector.on_event(LvnLevels(6, 6, "ES", "30m", 100.0, 80.0, 4.0, 110.0, 60.0, 6.0, 105.0,
                                1e3, 2))
    for kind in ("mlmi", "nwrqk"):
        detector.on_event(sig(kind, -1, 6))
    (setup,) = detector.on_event(sig("fvg", -1, 6))
    returns = np.diff(closes[-5:]) / np.array(closes[-5:-1])
    assert setup.price == 104.5 and setup.atr == 1.7
    assert setup.volatility == pytest.approx(np.std(returns))
    assert setup.volume_ratio == pytest.approx(10.0 / np.mean(volumes[-4:]))
    assert (setup.lvn_support_price, setup.lvn_support_strength) == (100.0, 80.0)
    assert setup.lvn_support_distance == pytest.approx(4.5)  # from price, not the slow close
    assert (setup.lvn_resistance_price, setup.lvn_resistance_strength) == (110.0, 60.0)
    assert setup.lvn_resistance_distance == pytest.approx(5.5)
    assert setup.timeframe == "5m" and setup.instrument == "ES" and setup.direction == -1
    assert decode(encode(setup)) == setup


def test_context_none_without_lvn_or_volume():
    d = Driver(msgspec.structs.replace(CFG, context_bars=3))
    for _ in range(3):
        d.ts += 1
        d.detector.on_event(bar(d.ts, volume=0.0))
    d.send("mlmi"), d.send("nwrqk")
    (setup,) = d.send("fvg")
    assert setup.volume_ratio is None
    assert setup.lvn_support_price is setup.lvn_resistance_distance is None
    assert setup.volatility == 0.0 and math.isfinite(setup.atr)


def test_context_lvn_side_without_a_node_and_other_timeframes_ignored():
    d = Driver()
    d.detector.on_event(LvnLevels(d.ts, d.ts, "ES", "30m", None, None, None, 120.0, 90.0, 20.0,
                                  100.0, 1.0, 1))
    d.detector.on_event(LvnLevels(d.ts, d.ts, "ES", "5m", 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0,
                                  1.0, 2))
    d.send("mlmi"), d.send("nwrqk")
    (setup,) = d.send("fvg")
    assert setup.lvn_support_price is setup.lvn_support_strength is None
    assert setup.lvn_support_distance is None
    assert (setup.lvn_resistance_price, setup.lvn_resistance_distance) == (120.0, 20.0)


def test_detector_snapshot_restores_sequence_context_and_cooldown():
    d = Driver(msgspec.structs.replace(CFG, cooldown=3))
    d.send("mlmi"), d.send("nwrqk")
    (first,) = d.send("fvg")
    d.send("nwrqk")
    copy = SynergyDetector(d.detector.config)
    copy.restore(d.detector.snapshot())
    assert copy.snapshot() == d.detector.snapshot() and copy.building == d.detector.building
    rest = [sig("mlmi", 1, d.ts), sig("fvg", 1, d.ts), *(bar(d.ts + k) for k in (1, 2, 3, 4)),
            sig("mlmi", 1, d.ts + 4), sig("nwrqk", 1, d.ts + 4), sig("fvg", 1, d.ts + 4)]
    a = [out for e in rest for out in d.detector.on_event(e)]
    b = [out for e in rest for out in copy.on_event(e)]
    assert a == b and len(a) == 1 and a[0].price == 100.0


# --- config and wiring ------------------------------------------------------------------------

def test_config_resolves_fast_and_slow_and_validates_labels():
    resolved = SynergyConfig(lvn_timeframe="fast").resolved("1h", "4h")
    assert (resolved.timeframe, resolved.slow_timeframe, resolved.atr_timeframe,
            resolved.lvn_timeframe) == ("1h", "4h", "1h", "1h")
    assert SynergyConfig(atr_timeframe="30m").resolved("5m", "30m").atr_timeframe == "30m"
    with pytest.raises(ValueError):
        SynergyConfig(timeframe="soon")
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"window": 0}, SynergyConfig)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"mlmi_mode": "state"}, SynergyConfig)


def test_build_synergy_returns_signals_then_detector():
    first, second = build_synergy(SynergyConfig(), "1h", "4h")
    assert isinstance(first, SynergySignals) and isinstance(second, SynergyDetector)
    assert first.config == second.config and first.config.timeframe == "1h"
    assert (first.name, second.name) == ("synergy.signals.1h", "synergy.detector.1h")
