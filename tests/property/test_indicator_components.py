"""Indicator components: bar by bar (on_event) == batch (on_chunk) at every prefix, snapshot.

Warm-up policy: ``ScalarIndicator`` emits nothing until defined (``config.warmup`` bars), where
the batch form holds ``nan``; ``HeikenAshi`` is defined from the first bar.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.bars.heiken_ashi import HeikenAshi, HeikenAshiConfig
from components.indicators.fvg import FVG_COLUMNS, Fvg, FvgConfig
from components.indicators.lvn import Lvn, LvnConfig
from components.indicators.mlmi import Mlmi, MlmiConfig
from components.indicators.nwrqk import Nwrqk, NwrqkConfig
from components.indicators.scalar import ScalarIndicator, ScalarIndicatorConfig
from engine.core.chunks import BarChunk
from engine.core.events import Bar

KINDS = ("sma", "wma", "ema", "rsi", "atr", "std")
HALF_HOUR = 1_800_000_000_000


@st.composite
def chunks(draw):
    n = draw(st.integers(1, 120))
    mid = draw(arrays(np.float64, n, elements=st.floats(100.0, 5000.0)))
    rng = draw(arrays(np.float64, n, elements=st.floats(0.0, 20.0)))
    a = draw(arrays(np.float64, n, elements=st.floats(0.0, 1.0)))
    b = draw(arrays(np.float64, n, elements=st.floats(0.0, 1.0)))
    low, high = mid - rng / 2, mid + rng / 2
    ts_open = np.arange(n, dtype=np.int64) * HALF_HOUR
    return BarChunk(ts_open, ts_open + HALF_HOUR, low + a * rng, high, low, low + b * rng,
                    np.ones(n))


def bars_of(chunk):
    return [Bar(ts_event=int(tc), ts_init=int(tc), instrument="ES", timeframe="30m",
                ts_open=int(to), open=o, high=h, low=lo, close=c, volume=v)
            for to, tc, o, h, lo, c, v in zip(*(col.tolist() for col in chunk), strict=True)]


def split(chunk, cut):
    return (BarChunk(*(col[:cut] for col in chunk)), BarChunk(*(col[cut:] for col in chunk)))


@pytest.mark.parametrize("kind", KINDS)
@given(chunk=chunks(), period=st.sampled_from([2, 5, 14]), cut=st.integers(0, 120))
def test_scalar_indicator_step_equals_batch_and_snapshot(kind, chunk, period, cut):
    config = ScalarIndicatorConfig(indicator=kind, period=period, timeframe="30m")
    batch = ScalarIndicator(config).on_chunk(chunk)
    stepped = ScalarIndicator(config)
    values = {}
    for bar in bars_of(chunk):
        for event in stepped.on_event(bar):
            values[event.ts_event] = event.value
    expected = {int(t): v for t, v in zip(chunk.ts_close, batch, strict=True) if not np.isnan(v)}
    assert values == expected
    assert sum(np.isnan(batch)) == min(config.warmup - 1, chunk.close.shape[0])
    first = ScalarIndicator(config)
    head_chunk, tail_chunk = split(chunk, min(cut, chunk.close.shape[0]))
    head = first.on_chunk(head_chunk)
    second = ScalarIndicator(config)
    second.restore(first.snapshot())
    np.testing.assert_array_equal(np.concatenate([head, second.on_chunk(tail_chunk)]), batch)


@given(chunk=chunks(), cut=st.integers(0, 120))
def test_heiken_ashi_step_equals_batch_and_snapshot(chunk, cut):
    config = HeikenAshiConfig(timeframe="30m")
    batch = HeikenAshi(config).on_chunk(chunk)
    stepped = HeikenAshi(config)
    rows = [(e.open, e.high, e.low, e.close) for bar in bars_of(chunk)
            for e in stepped.on_event(bar)]
    np.testing.assert_array_equal(np.array(rows).reshape(-1, 4), batch)
    first = HeikenAshi(config)
    head_chunk, tail_chunk = split(chunk, min(cut, chunk.close.shape[0]))
    head = first.on_chunk(head_chunk)
    second = HeikenAshi(config)
    second.restore(first.snapshot())
    np.testing.assert_array_equal(np.concatenate([head, second.on_chunk(tail_chunk)]), batch)


@given(chunk=chunks(), cut=st.integers(0, 120), x0=st.sampled_from([0, 3, 25]))
def test_nwrqk_step_equals_batch_and_snapshot(chunk, cut, x0):
    """Rows before the slope is defined (x0 + 2 bars) are not emitted; the batch has them."""
    config = NwrqkConfig(timeframe="30m", source="bar", x0=x0, window=50)
    batch = Nwrqk(config).on_chunk(chunk.close)
    stepped = Nwrqk(config)
    rows = [(e.yhat1, e.yhat2, e.slope, e.bullish_change, e.bearish_change, e.bullish_cross,
             e.bearish_cross, e.signal) for bar in bars_of(chunk) for e in stepped.on_event(bar)]
    expected = batch[x0 + 1:]
    np.testing.assert_array_equal(np.array(rows, dtype=np.float64).reshape(-1, 8), expected)
    first = Nwrqk(config)
    head_chunk, tail_chunk = split(chunk, min(cut, chunk.close.shape[0]))
    head = first.on_chunk(head_chunk.close)
    second = Nwrqk(config)
    second.restore(first.snapshot())
    both = np.concatenate([head, second.on_chunk(tail_chunk.close)])
    np.testing.assert_array_equal(both, batch)


def _nan(x):
    return np.nan if x is None else float(x)


@given(chunk=chunks(), cut=st.integers(0, 120), window=st.sampled_from([1, 5, 20]))
def test_lvn_step_equals_batch_and_snapshot(chunk, cut, window):
    """Nothing is emitted until the window is full; the batch holds nan rows there."""
    config = LvnConfig(timeframe="30m", tick_size=0.25, bin_size=1.0, window=window)
    batch = Lvn(config).on_chunk(chunk)
    stepped = Lvn(config)
    rows = [(_nan(e.support_price), _nan(e.support_strength), _nan(e.support_distance),
             _nan(e.resistance_price), _nan(e.resistance_strength), _nan(e.resistance_distance),
             e.poc_price, e.poc_volume, e.lvn_count)
            for bar in bars_of(chunk) for e in stepped.on_event(bar)]
    np.testing.assert_array_equal(np.array(rows, dtype=np.float64).reshape(-1, 9),
                                  batch[window - 1:])
    first = Lvn(config)
    head_chunk, tail_chunk = split(chunk, min(cut, chunk.close.shape[0]))
    head = first.on_chunk(head_chunk)
    second = Lvn(config)
    second.restore(first.snapshot())
    np.testing.assert_array_equal(np.concatenate([head, second.on_chunk(tail_chunk)]), batch)


STATE_FIELDS = ("new_bottom", "new_top", "new_size", "new_size_pct", "bullish_count",
                "bearish_count", "nearest_side", "nearest_level", "nearest_distance",
                "nearest_bottom", "nearest_top", "nearest_age", "nearest_size", "nearest_size_pct")


@given(chunk=chunks(), cut=st.integers(0, 120), lookback=st.sampled_from([1, 3, 10]))
def test_fvg_step_equals_batch_and_snapshot(chunk, cut, lookback):
    """Every bar gives an FvgState (None where the batch holds nan) and one FvgMitigated per
    side whose gaps were mitigated."""
    config = FvgConfig(timeframe="30m", body_lookback=lookback, body_multiplier=0.5)
    batch = Fvg(config).on_chunk(chunk)
    col = {name: i for i, name in enumerate(FVG_COLUMNS)}
    stepped = Fvg(config)
    for bar, row in zip(bars_of(chunk), batch, strict=True):
        state, *mitigated = stepped.on_event(bar)
        assert state.bullish_new == (row[col["bullish_new"]] > 0)
        for name in STATE_FIELDS:
            np.testing.assert_equal(_nan(getattr(state, name)), row[col[name]], err_msg=name)
        sides = {m.side: m for m in mitigated}
        for side, prefix in ((1, "bullish"), (-1, "bearish")):
            assert (side in sides) == (row[col[f"{prefix}_mitigated"]] > 0)
            if side in sides:
                assert sides[side].count == row[col[f"{prefix}_mitigated_count"]]
                assert sides[side].age == row[col[f"{prefix}_mitigated_age"]]
    first = Fvg(config)
    head_chunk, tail_chunk = split(chunk, min(cut, chunk.close.shape[0]))
    head = first.on_chunk(head_chunk)
    second = Fvg(config)
    second.restore(first.snapshot())
    np.testing.assert_array_equal(np.concatenate([head, second.on_chunk(tail_chunk)]), batch)


@given(chunk=chunks(), cut=st.integers(0, 120), capacity=st.sampled_from([5, 50]))
def test_mlmi_step_equals_batch_and_snapshot(chunk, cut, capacity):
    """Rows are emitted once the kNN value is defined; the batch holds nan before."""
    config = MlmiConfig(timeframe="30m", source="bar", neighbors=3, capacity=capacity,
                        ma_fast_period=2, ma_slow_period=4, rsi_fast_period=2,
                        rsi_slow_period=4, feature_period=3)
    batch = Mlmi(config).on_chunk(chunk.close)
    stepped = Mlmi(config)
    rows = [(e.value, e.signal, e.stored, e.crossover, e.label, e.ma_fast, e.ma_slow, e.x1, e.x2)
            for bar in bars_of(chunk) for e in stepped.on_event(bar)]
    expected = batch[~np.isnan(batch[:, 0])]
    np.testing.assert_array_equal(np.array(rows, dtype=np.float64).reshape(-1, 9), expected)
    first = Mlmi(config)
    head_chunk, tail_chunk = split(chunk, min(cut, chunk.close.shape[0]))
    head = first.on_chunk(head_chunk.close)
    second = Mlmi(config)
    second.restore(first.snapshot())
    np.testing.assert_array_equal(np.concatenate([head, second.on_chunk(tail_chunk.close)]),
                                  batch)
