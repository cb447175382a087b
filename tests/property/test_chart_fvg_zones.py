"""The report's fair value gap zones (engine/wiring/chart.py ChartRecorder) against a brute
force from the bars: the real FVG component (components/indicators/fvg) runs bar by bar, the
recorder taps the bar and then the component's events in bus order, and every zone must be
one gap's lifetime by the rules of components/indicators/fvg/kernels.py's docstring.

Each gap is followed on its own (gaps do not interact below the capacity): created at bar
``i`` when the middle bar's body beats ``body_multiplier`` times the mean of the
``body_lookback`` bodies before it and ``low[i] > high[i-2]`` (bullish, zone ``high[i-2] ..
low[i]``) or ``high[i] < low[i-2]`` (bearish, zone ``high[i] .. low[i-2]``); it ends at the
first later bar of age ``1 .. max_age`` that trades to its mitigation level, else at the bar of
age ``max_age + 1`` (expiry), else it is still open at the last bar. The mitigation level uses
``fill_fraction`` 0 (the near edge): the recorder does not know the fraction, so with several
gaps mitigated by one bar it can only pick them by their near edge (those a returning price
reaches first), which is exact for 0 only.

Prices are whole ticks (0.25), so every body, sum and mean is exact and the strict body filter
has no rounding edge.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from components.indicators.fvg.component import Fvg, FvgConfig
from engine.core.events import Bar, Event, FvgMitigated, FvgState
from engine.wiring.chart import ChartRecorder

TICK = 0.25
MIN = 60 * 10**9
T0 = 1_704_205_800 * 10**9
TF = "1m"

Zone = tuple[str, int, int, float, float]  # name, start, end, low, high


def ts(i: int) -> int:
    return T0 + (i + 1) * MIN


def make_bars(steps: list[tuple[int, int, int, int]]) -> list[tuple[float, float, float, float]]:
    """OHLC in ticks from (gap from the previous close, body, upper wick, lower wick)."""
    out = []
    close = 4_000
    for gap, body, up, down in steps:
        o = close + gap
        c = o + body
        out.append((o * TICK, (max(o, c) + up) * TICK, (min(o, c) - down) * TICK, c * TICK))
        close = c
    return out


class Gap(NamedTuple):
    side: int  # +1 bullish, -1 bearish
    bar: int  # the bar that created it
    end: int | None  # the bar that mitigated it or where it expired; None: still active
    mitigated: bool
    bottom: float
    top: float


def brute_force_gaps(bars: list[tuple[float, float, float, float]], config: FvgConfig
                     ) -> list[Gap]:
    """Every gap's lifetime by the kernel docstring's rules, each gap followed on its own."""
    assert config.fill_fraction == 0.0 and config.capacity > config.max_age
    o, h, lo, c = (list(col) for col in zip(*bars, strict=True))
    n = len(bars)
    body = [abs(c[i] - o[i]) for i in range(n)]
    lookback, max_age = config.body_lookback, config.max_age
    gaps = []
    for i in range(lookback + 1, n):
        mean = sum(body[i - 1 - lookback:i - 1]) / lookback
        if not body[i - 1] > config.body_multiplier * mean:
            continue
        if lo[i] > h[i - 2]:
            side, bottom, top = 1, h[i - 2], lo[i]
        elif h[i] < lo[i - 2]:
            side, bottom, top = -1, h[i], lo[i - 2]
        else:
            continue
        end, mitigated = None, False
        for t in range(i + 1, min(n, i + max_age + 2)):
            if t - i > max_age:
                end = t  # expired (before any mitigation at this bar)
                break
            if (lo[t] <= top) if side > 0 else (h[t] >= bottom):
                end, mitigated = t, True
                break
        gaps.append(Gap(side, i, end, mitigated, bottom, top))
    return gaps


def brute_force_zones(bars: list[tuple[float, float, float, float]], config: FvgConfig,
                      start_ns: int | None) -> list[Zone]:
    """The zones the recorder should draw: each gap from its bar to its end (the last bar
    while still active), clipped to ``start_ns``; those ended before it left out."""
    zones = []
    for g in brute_force_gaps(bars, config):
        start, stop = ts(g.bar), ts(len(bars) - 1 if g.end is None else g.end)
        if start_ns is not None:
            if stop < start_ns:
                continue
            start = max(start, start_ns)
        zones.append((f"FVG {TF} {'bullish' if g.side > 0 else 'bearish'}", start, stop,
                      g.bottom, g.top))
    return sorted(zones)


def component_events(bars: list[tuple[float, float, float, float]], config: FvgConfig
                     ) -> list[tuple[Bar, list[Event]]]:
    fvg = Fvg(config)
    out = []
    for i, (o, h, lo, c) in enumerate(bars):
        bar = Bar(ts_event=ts(i), ts_init=ts(i), instrument="ES", timeframe=TF,
                  ts_open=ts(i) - MIN, open=o, high=h, low=lo, close=c, volume=1.0)
        out.append((bar, list(fvg.on_event(bar))))
    return out


def recorded_zones(bars: list[tuple[float, float, float, float]], config: FvgConfig,
                   start_ns: int | None) -> list[Zone]:
    recorder = ChartRecorder("ES", start_ns)
    for bar, events in component_events(bars, config):
        recorder.on_event(bar)  # the bus delivers the bar first, then what it produced
        for event in events:
            recorder.on_event(event)
    return sorted((z.name, z.start, z.end, z.low, z.high) for z in recorder.extras().zones)


CONFIGS = {
    "defaults": FvgConfig(timeframe=TF),
    "short lived": FvgConfig(timeframe=TF, body_lookback=3, max_age=3),
}

# a body is small most of the time and large now and then, on runs of bars drifting up or
# down by a run's own number of ticks, so gaps of both sides form, stack up and get filled
_body = st.one_of(st.integers(-4, 4), st.integers(-4, 4), st.integers(-48, 48))
_step = st.tuples(st.integers(-2, 2), _body, st.integers(0, 3), st.integers(0, 3))
_run = st.tuples(st.integers(-12, 12), st.lists(_step, min_size=1, max_size=12))
_steps = st.lists(_run, min_size=1, max_size=10).map(
    lambda runs: [(gap, body + drift, up, down) for drift, run in runs
                  for gap, body, up, down in run][:90]).filter(lambda steps: len(steps) >= 3)

# bullish gaps stacking up in a rise, then a pullback mitigating the youngest two only and a
# later bar mitigating the oldest (a mitigation must not expire an older gap)
_STAIRS = ([(0, 1, 0, 0)] * 11 + [(0, 40, 0, 0), (0, 1, 0, 0), (0, 40, 0, 0), (0, 1, 0, 0),
                                   (0, -2, 0, 30), (0, 1, 0, 0)]
           + [(0, -3, 0, 0)] * 8 + [(0, -60, 0, 0)])
# the same rise, then one bar falling through both gaps: two mitigated at once
_WIDE = [(0, 1, 0, 0)] * 11 + [(0, 40, 0, 0), (0, 1, 0, 0), (0, 40, 0, 0), (0, 1, 0, 0),
                               (0, 1, 0, 0), (0, -60, 0, 0), (0, 1, 0, 0)]


@pytest.mark.parametrize("name", CONFIGS)
@settings(max_examples=60)  # each example runs the component over up to 90 bars
@given(steps=_steps)
@example(steps=_STAIRS)
@example(steps=_WIDE)
def test_the_brute_force_agrees_with_the_components_events(name, steps):
    """The reference itself, checked against the component: the gaps each bar creates, the
    active count per side after it, how many it mitigates (a wide bar: several) and the
    largest one's age."""
    config = CONFIGS[name]
    bars = make_bars(steps)
    gaps = brute_force_gaps(bars, config)
    for t, (_, events) in enumerate(component_events(bars, config)):
        state = events[0]
        assert isinstance(state, FvgState)
        [new] = [g for g in gaps if g.bar == t] or [None]
        assert (state.bullish_new, state.bearish_new) == (
            new is not None and new.side > 0, new is not None and new.side < 0)
        if new is not None:
            assert (state.new_bottom, state.new_top) == (new.bottom, new.top)
        for side, count in ((1, state.bullish_count), (-1, state.bearish_count)):
            assert count == sum(g.side == side and g.bar <= t and (g.end is None or g.end > t)
                                for g in gaps)
        mitigated = {e.side: e for e in events[1:] if isinstance(e, FvgMitigated)}
        assert len(mitigated) == len(events) - 1
        for side in (1, -1):
            mine = [g for g in gaps if g.side == side and g.mitigated and g.end == t]
            assert (side in mitigated) == bool(mine)
            if mine:
                largest = max(mine, key=lambda g: (g.top - g.bottom, g.bar))
                assert (mitigated[side].count, mitigated[side].age) == (len(mine),
                                                                         t - largest.bar)


@pytest.mark.parametrize("name", CONFIGS)
@settings(max_examples=60)
@given(steps=_steps, start_at=st.none() | st.integers(0, 100))
@example(steps=_STAIRS, start_at=13)
@example(steps=_WIDE, start_at=None)
def test_every_gap_is_drawn_from_its_bar_until_the_recorder_ends_it_no_later(name, steps,
                                                                             start_at):
    """What holds today: the recorder draws each gap's zone exactly (side, edges, creation
    bar, the clipping to the start) and never ends one after its true end; the ends are exact
    too when no bar mitigates a gap while another of its side stays active.

    (With ``fill_fraction`` 0 the active gaps of a side form a stack: a younger gap's near
    edge is its creating bar's extreme, which did not reach the older ones, so a bar mitigates
    the youngest ones and expiry takes the oldest; the recorder's open gaps stay the youngest
    of the kernel's, and an error can only end an older gap early.)"""
    config = CONFIGS[name]
    bars = make_bars(steps)
    start_ns = None if start_at is None else ts(min(start_at, len(bars) - 1))
    truth = brute_force_zones(bars, config, None)
    got = recorded_zones(bars, config, None)
    assert [(z[0], z[1], z[3], z[4]) for z in got] == [(z[0], z[1], z[3], z[4]) for z in truth]
    assert all(g[1] <= g[2] <= t[2] for g, t in zip(got, truth, strict=True))
    gaps = brute_force_gaps(bars, config)
    if all(other.end == g.end for g in gaps if g.mitigated for other in gaps
           if other.side == g.side and other.bar < g.end
           and (other.end is None or other.end >= g.end)):
        assert got == truth
    # clipping: what starts before the start is drawn from it, what ended before it is not
    clipped = recorded_zones(bars, config, start_ns)
    if start_ns is not None:
        expect = sorted((z[0], max(z[1], start_ns), z[2], z[3], z[4]) for z in got
                        if z[2] >= start_ns)
        assert clipped == expect


@pytest.mark.parametrize("name", CONFIGS)
@given(steps=_steps, start_at=st.none() | st.integers(0, 100))
@example(steps=_STAIRS, start_at=None)
@example(steps=_WIDE, start_at=None)
def test_every_zone_is_one_gaps_lifetime(name, steps, start_at):
    config = CONFIGS[name]
    bars = make_bars(steps)
    start_ns = None if start_at is None else ts(min(start_at, len(bars) - 1))
    assert recorded_zones(bars, config, start_ns) == brute_force_zones(bars, config, start_ns)


def test_the_examples_make_gaps_that_end_every_way():
    """The explicit examples reach the interesting cases: a mitigation of the younger of two
    gaps, one bar mitigating two, an expiry at age ``max_age + 1``, a gap still active."""
    defaults, short = CONFIGS["defaults"], CONFIGS["short lived"]
    stairs, wide = make_bars(_STAIRS), make_bars(_WIDE)
    assert all(lo <= min(o, c) <= max(o, c) <= h for o, h, lo, c in stairs + wide)
    last = len(stairs) - 1
    assert brute_force_gaps(stairs, defaults) == [
        Gap(1, 12, last, True, 1002.75, 1012.75), Gap(1, 14, 15, True, 1013.0, 1023.0)]
    assert [(g.bar, g.end, g.mitigated) for g in brute_force_gaps(stairs, short)
            if g.side > 0] == [(12, 16, False), (14, 15, True)]
    assert [(g.side, g.bar, g.end, g.mitigated) for g in brute_force_gaps(wide, defaults)] == [
        (1, 12, 16, True), (1, 14, 16, True), (-1, 17, None, False)]
