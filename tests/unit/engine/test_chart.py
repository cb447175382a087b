"""ChartRecorder (engine/wiring/chart.py) on hand-built bus events: what the backtest report
draws besides prices and trades (indicator lines, LVN levels, NW-RQK, fair value gap zones,
the regime vector), from the evaluation start on, for the run's instrument only."""

from __future__ import annotations

import math

import numpy as np
import pytest

from components.indicators.scalar import ScalarIndicatorConfig
from engine.core.events import (
    REGIME_VECTOR_SIZE,
    Bar,
    FvgMitigated,
    FvgState,
    IndicatorValue,
    LvnLevels,
    NwrqkValue,
    RegimeVector,
)
from engine.wiring.chart import ChartRecorder, chart_indicators

MIN = 60 * 10**9
T0 = 1_704_205_800 * 10**9  # 2024-01-02 14:30 UTC


def ts(i: int) -> int:
    """Close time of bar ``i`` (one-minute bars)."""
    return T0 + (i + 1) * MIN


def bar(i: int, close: float, instrument: str = "ES", timeframe: str = "1m") -> Bar:
    return Bar(ts_event=ts(i), ts_init=ts(i), instrument=instrument, timeframe=timeframe,
               ts_open=ts(i) - MIN, open=close, high=close + 1.0, low=close - 1.0, close=close,
               volume=1.0)


def nwrqk(i: int, yhat1: float, yhat2: float, instrument: str = "ES") -> NwrqkValue:
    return NwrqkValue(ts(i), ts(i), instrument, "30m", yhat1, yhat2, 0.0, False, False, False,
                      False, 0)


def lvn(i: int, support: float | None, resistance: float | None, poc: float) -> LvnLevels:
    return LvnLevels(ts(i), ts(i), "ES", "30m", support, None if support is None else 1.0,
                     None if support is None else 2.0, resistance,
                     None if resistance is None else 1.0,
                     None if resistance is None else 2.0, poc, 100.0, 2)


def fvg_state(i: int, bullish: int, bearish: int, new: tuple[int, float, float] | None = None,
              timeframe: str = "1m") -> FvgState:
    """The FVG component's state after bar ``i``: ``new`` = (side, bottom, top) of the gap
    this bar created; ``bullish``/``bearish``: active gaps after the bar."""
    side, bottom, top = new if new is not None else (0, None, None)
    size = None if new is None else top - bottom
    return FvgState(ts(i), ts(i), "ES", timeframe, side > 0, side < 0, bottom, top, size,
                    None if size is None else 0.1, bullish, bearish, 0, None, None, None,
                    None, None, None, None)


def fvg_mitigated(i: int, side: int, count: int, age: int, size: float) -> FvgMitigated:
    return FvgMitigated(ts(i), ts(i), "ES", "1m", side, count, size, 0.1, age)


def play(recorder: ChartRecorder, steps: list[list[object]]) -> None:
    """Step ``i``: ``bar(i)`` first, then the events of ``steps[i]`` (bus order)."""
    for i, events in enumerate(steps):
        recorder.on_event(bar(i, 100.0 + i))
        for event in events:
            recorder.on_event(event)


def lines_of(recorder: ChartRecorder) -> dict[str, tuple[list[int], list[float], str]]:
    return {line.name: (line.ts.tolist(), line.values.tolist(), line.dash)
            for line in recorder.extras().lines}


# -- lines ----------------------------------------------------------------------------------


def test_nwrqk_gives_two_lines_from_the_start_on():
    rec = ChartRecorder("ES", ts(2))
    for i in range(5):
        rec.on_event(nwrqk(i, 100.0 + i, 99.0 + i))
    lines = lines_of(rec)
    assert set(lines) == {"NW-RQK 30m", "NW-RQK lag 30m"}
    assert lines["NW-RQK 30m"] == ([ts(2), ts(3), ts(4)], [102.0, 103.0, 104.0], "solid")
    assert lines["NW-RQK lag 30m"] == ([ts(2), ts(3), ts(4)], [101.0, 102.0, 103.0], "dashed")


def test_events_of_other_instruments_are_ignored():
    rec = ChartRecorder("ES", None)
    rec.on_event(nwrqk(0, 1.0, 2.0, instrument="NQ"))
    rec.on_event(bar(0, 50.0, instrument="NQ"))
    rec.on_event(RegimeVector(ts(0), ts(0), "NQ", "30m", (0.0,) * REGIME_VECTOR_SIZE, "m"))
    rec.on_event(nwrqk(1, 3.0, 4.0))
    extras = rec.extras()
    assert {line.name: line.values.tolist() for line in extras.lines} == {
        "NW-RQK 30m": [3.0], "NW-RQK lag 30m": [4.0]}
    assert extras.timelines == [] and extras.zones == []


def test_bus_indicator_values_are_not_drawn_only_declared_ones():
    rec = ChartRecorder("ES", None)
    rec.on_event(IndicatorValue(ts(0), ts(0), "ES", "1m", "sma3", 1.0))
    assert rec.extras().lines == []


def test_lvn_levels_give_three_dotted_lines_and_a_missing_level_is_a_gap():
    rec = ChartRecorder("ES", ts(1))
    rec.on_event(lvn(0, 90.0, 110.0, 100.0))  # before the start
    rec.on_event(lvn(1, 91.0, None, 101.0))
    rec.on_event(lvn(2, None, 112.0, 102.0))
    rec.on_event(lvn(3, 93.0, 113.0, 103.0))
    lines = lines_of(rec)
    assert set(lines) == {"LVN support 30m", "LVN resistance 30m", "POC 30m"}
    t, support, dash = lines["LVN support 30m"]
    assert t == [ts(1), ts(2), ts(3)] and dash == "dotted"
    assert support[0] == 91.0 and math.isnan(support[1]) and support[2] == 93.0
    _, resistance, _ = lines["LVN resistance 30m"]
    assert math.isnan(resistance[0]) and resistance[1:] == [112.0, 113.0]
    assert lines["POC 30m"] == ([ts(1), ts(2), ts(3)], [101.0, 102.0, 103.0], "dotdash")


def test_declared_indicators_are_computed_from_the_bars_warm_up_included():
    closes = [100.0, 101.5, 99.25, 103.0, 104.75, 102.0, 98.5, 97.25, 99.0, 101.0]
    start = 4
    configs = [ScalarIndicatorConfig(indicator="sma", period=3, timeframe="1m"),
               ScalarIndicatorConfig(indicator="sma", period=5, timeframe="1m", name="SMA 5")]
    rec = ChartRecorder("ES", ts(start), configs)
    for i, c in enumerate(closes):
        rec.on_event(bar(i, c))
        rec.on_event(bar(i, 1e6, instrument="NQ"))  # never mixed in
        rec.on_event(bar(i, 1e6, timeframe="5m"))  # another timeframe: not the SMA's bars
    lines = lines_of(rec)
    assert set(lines) == {"sma3 1m", "SMA 5 1m"}
    c = np.array(closes)
    for name, period in (("sma3 1m", 3), ("SMA 5 1m", 5)):
        t, values, _ = lines[name]
        # defined from the first evaluated bar: the bars before it warmed the average up
        assert t == [ts(i) for i in range(start, len(closes))]
        rolling = [c[i + 1 - period:i + 1].mean() for i in range(start, len(closes))]
        assert values == pytest.approx(rolling, rel=1e-12)


def test_chart_indicators_reads_the_strategys_declaration():
    class Declares:
        def chart_indicators(self):
            return (ScalarIndicatorConfig(indicator="ema", period=4, timeframe="5m"),)

    assert chart_indicators(object()) == []
    assert chart_indicators(Declares()) == [
        ScalarIndicatorConfig(indicator="ema", period=4, timeframe="5m")]


def test_the_regime_vector_is_one_timeline_with_a_line_per_dimension():
    rec = ChartRecorder("ES", ts(1))
    for i in range(4):
        mu = tuple(float(10 * i + d) for d in range(REGIME_VECTOR_SIZE))
        rec.on_event(RegimeVector(ts(i), ts(i), "ES", "30m", mu, "rde"))
    [timeline] = rec.extras().timelines
    assert REGIME_VECTOR_SIZE == 8
    assert [line.name for line in timeline.lines] == [f"mu{d}" for d in range(8)]
    for d, line in enumerate(timeline.lines):
        assert line.ts.tolist() == [ts(1), ts(2), ts(3)]
        assert line.values.tolist() == [float(10 * i + d) for i in (1, 2, 3)]
    assert len({line.color for line in timeline.lines}) == 8


def test_nothing_recorded_gives_empty_extras():
    extras = ChartRecorder("ES", None).extras()
    assert (extras.lines, extras.zones, extras.timelines, extras.bands) == ([], [], [], [])


# -- fair value gap zones -------------------------------------------------------------------


def zone_tuples(recorder: ChartRecorder) -> list[tuple[str, int, int, float, float]]:
    return sorted((z.name, z.start, z.end, z.low, z.high) for z in recorder.extras().zones)


def test_a_gap_ends_on_its_mitigating_bar_and_an_open_one_at_the_last_bar():
    rec = ChartRecorder("ES", None)
    play(rec, [
        [fvg_state(0, 0, 0)],
        [fvg_state(1, 1, 0, (1, 10.0, 12.0))],
        [fvg_state(2, 1, 1, (-1, 20.0, 21.0))],
        [fvg_state(3, 0, 1), fvg_mitigated(3, 1, 1, 2, 2.0)],
        [fvg_state(4, 0, 1)],
    ])
    assert zone_tuples(rec) == [("FVG 1m bearish", ts(2), ts(4), 20.0, 21.0),
                                ("FVG 1m bullish", ts(1), ts(3), 10.0, 12.0)]
    [bull] = [z for z in rec.extras().zones if z.name.endswith("bullish")]
    [bear] = [z for z in rec.extras().zones if z.name.endswith("bearish")]
    assert bull.color != bear.color


def test_an_expired_gap_ends_when_the_count_drops_oldest_first():
    rec = ChartRecorder("ES", None)
    play(rec, [
        [fvg_state(0, 1, 0, (1, 10.0, 11.0))],
        [fvg_state(1, 2, 0, (1, 12.0, 13.0))],
        [fvg_state(2, 1, 0)],  # the oldest expired
        [fvg_state(3, 1, 0)],
    ])
    assert zone_tuples(rec) == [("FVG 1m bullish", ts(0), ts(2), 10.0, 11.0),
                                ("FVG 1m bullish", ts(1), ts(3), 12.0, 13.0)]


def test_zones_are_clipped_to_the_start_and_those_ended_before_it_dropped():
    rec = ChartRecorder("ES", ts(3))
    play(rec, [
        [fvg_state(0, 1, 0, (1, 10.0, 11.0))],
        [fvg_state(1, 2, 0, (1, 12.0, 13.0))],
        [fvg_state(2, 1, 0)],  # 10..11 expires before the start
        [fvg_state(3, 1, 0)],
        [fvg_state(4, 2, 0, (1, 14.0, 15.0))],
        [fvg_state(5, 2, 0)],
    ])
    assert zone_tuples(rec) == [("FVG 1m bullish", ts(3), ts(5), 12.0, 13.0),
                                ("FVG 1m bullish", ts(4), ts(5), 14.0, 15.0)]


def test_a_zone_ending_exactly_at_the_start_is_kept_as_a_point():
    rec = ChartRecorder("ES", ts(2))
    play(rec, [
        [fvg_state(0, 1, 0, (1, 10.0, 11.0))],
        [fvg_state(1, 1, 0)],
        [fvg_state(2, 0, 0), fvg_mitigated(2, 1, 1, 2, 1.0)],
    ])
    assert zone_tuples(rec) == [("FVG 1m bullish", ts(2), ts(2), 10.0, 11.0)]


def test_mitigating_one_of_two_gaps_leaves_the_other_open():
    rec = ChartRecorder("ES", None)
    play(rec, [
        [fvg_state(0, 1, 0, (1, 10.0, 11.0))],
        [fvg_state(1, 2, 0, (1, 12.0, 13.0))],
        [fvg_state(2, 1, 0), fvg_mitigated(2, 1, 1, 1, 1.0)],  # 12..13 only (age 1)
        [fvg_state(3, 1, 0)],
    ])
    assert zone_tuples(rec) == [("FVG 1m bullish", ts(0), ts(3), 10.0, 11.0),
                                ("FVG 1m bullish", ts(1), ts(2), 12.0, 13.0)]


def test_a_wide_bar_mitigating_several_gaps_closes_the_ones_price_reaches_first():
    # three bullish gaps, tops 11, 15, 13; a bar with low 12.5 mitigates 15 and 13 (the
    # largest, 13..15, is named by its age), leaves 10..11; the component publishes the
    # FvgState first, then the FvgMitigated
    rec = ChartRecorder("ES", None)
    play(rec, [
        [fvg_state(0, 1, 0, (1, 10.0, 11.0))],
        [fvg_state(1, 2, 0, (1, 13.0, 15.0))],
        [fvg_state(2, 3, 0, (1, 12.0, 13.0))],
        [fvg_state(3, 1, 0), fvg_mitigated(3, 1, 2, 2, 2.0)],
        [fvg_state(4, 1, 0)],
    ])
    assert zone_tuples(rec) == [("FVG 1m bullish", ts(0), ts(4), 10.0, 11.0),
                                ("FVG 1m bullish", ts(1), ts(3), 13.0, 15.0),
                                ("FVG 1m bullish", ts(2), ts(3), 12.0, 13.0)]


def test_gaps_of_each_timeframe_are_tracked_apart():
    rec = ChartRecorder("ES", None)
    for i in range(3):
        rec.on_event(bar(i, 100.0))
        rec.on_event(fvg_state(i, 1, 0, (1, 10.0, 11.0) if i == 0 else None))
        rec.on_event(bar(i, 100.0, timeframe="5m"))
        rec.on_event(fvg_state(i, 0 if i == 2 else 1, 0, (1, 20.0, 22.0) if i == 0 else None,
                               timeframe="5m"))
    assert zone_tuples(rec) == [("FVG 1m bullish", ts(0), ts(2), 10.0, 11.0),
                                ("FVG 5m bullish", ts(0), ts(2), 20.0, 22.0)]
