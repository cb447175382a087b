"""The SMA-cross backtest on the bundled ES 1-minute data against a hand-computed reference.

Reference (independent of the engine): SMA10/SMA30 of the closes with pandas ``rolling``; a
long entry where fast > slow at a close and fast <= slow at the previous close (both defined)
while flat, an exit where fast < slow and fast >= slow before while long; each decision fills
at the next bar's open, one tick against the trader (or none), clamped to that bar's
[low, high]. A decision on the last bar never fills.
"""

from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.chunks import BarChunk
from engine.core.events import Bar
from engine.wiring.backtest import run_backtest
from engine.wiring.pipeline import ReplayPipeline, build_replay_pipeline
from engine.wiring.schema import load_app_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "config" / "es_5m_30m.toml")
DATA = ROOT / "data" / "es_1min_2013-09.csv"
TICK = 0.25
MIN = 60 * 10**9
ONE_MINUTE = ["timeframes.fast=1m", "timeframes.slow=5m"]
FIVE_MINUTES = ["timeframes.fast=5m", "timeframes.slow=30m"]
_LOADED = {}


def load(overrides):
    """(config, [the one chunk of the whole file]) for these overrides, read once."""
    key = tuple(overrides)
    if key not in _LOADED:
        lc = load_app_config(CONFIG, list(overrides))
        chunks = list(build_replay_pipeline(lc.config, lc.data_path).chunks())
        _LOADED[key] = (lc.config, chunks)
    return _LOADED[key]


def minute_bars():
    frame = pd.read_csv(DATA)
    ts = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns").astype("int64")
    return pd.DataFrame({"ts_open": ts.to_numpy(np.int64),
                         "ts_close": ts.to_numpy(np.int64) + MIN,
                         **{c: frame[c].to_numpy(np.float64)
                            for c in ("open", "high", "low", "close")}})


def five_minute_bars():
    """5m buckets on the UTC 5-minute grid (= aligned to 17:00 America/Chicago), complete
    ones only: the aggregator publishes a bucket once a bar at or after its end arrived."""
    minutes = minute_bars()
    index = pd.to_datetime(minutes["ts_open"], utc=True)
    grouped = minutes.set_index(index)[["open", "high", "low", "close"]].resample("5min")
    bars = grouped.agg({"open": "first", "high": "max", "low": "min", "close": "last"})
    bars = bars.dropna()
    ts_open = bars.index.as_unit("ns").asi8
    bars = bars.reset_index(drop=True)
    bars.insert(0, "ts_close", ts_open + 5 * MIN)
    bars.insert(0, "ts_open", ts_open)
    return bars[bars["ts_close"] <= minutes["ts_close"].iloc[-1]].reset_index(drop=True)


def reference(bars, fast=10, slow=30, slippage_ticks=1.0):
    """Expected fills [(ts_fill, side, price)] and trades [(ts_entry, entry, ts_exit, exit)]."""
    f = bars["close"].rolling(fast).mean().to_numpy()
    s = bars["close"].rolling(slow).mean().to_numpy()
    o, h, lo = (bars[c].to_numpy() for c in ("open", "high", "low"))
    slip = slippage_ticks * TICK
    long = False
    fills = []
    for i in range(1, len(bars)):
        if np.isnan(f[i]) or np.isnan(s[i]) or np.isnan(f[i - 1]) or np.isnan(s[i - 1]):
            continue
        if not long and f[i] > s[i] and f[i - 1] <= s[i - 1]:
            long, side = True, 1
        elif long and f[i] < s[i] and f[i - 1] >= s[i - 1]:
            long, side = False, -1
        else:
            continue
        if i + 1 < len(bars):
            price = min(max(o[i + 1] + side * slip, lo[i + 1]), h[i + 1])
            fills.append((int(bars["ts_open"].iloc[i + 1]), side, float(price)))
    trades = [(a[0], a[2], b[0], b[2]) for a, b in zip(fills[::2], fills[1::2], strict=False)]
    return fills, trades


def got(run):
    fills = [(f.ts_fill, f.side, f.price) for f in run.fills]
    trades = [(t.ts_entry, t.entry_price, t.ts_exit, t.exit_price) for t in run.trades]
    return fills, trades


def split(chunk, size):
    n = chunk.rows
    return [BarChunk(*(col[a:a + size] for col in chunk)) for a in range(0, n, size)]


def marks_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("slippage", [1.0, 0.0])
@pytest.mark.parametrize("path", ["bus", "batch"])
def test_one_minute_fills_equal_the_hand_computed_reference(path, slippage):
    config, chunks = load([*ONE_MINUTE, f"backtest.costs.slippage_ticks={slippage}"])
    run = run_backtest(config, chunks, path=path)
    sma = run.strategy.config
    fills, trades = reference(minute_bars(), sma.fast, sma.slow, slippage)
    assert len(trades) > 10
    assert got(run) == (fills, trades)
    assert all(f.quantity == 1 and f.commission_usd == 2.25 for f in run.fills)
    assert not run.broker.rejections


def test_the_five_minute_bars_published_on_the_bus_equal_a_pandas_resample():
    config, chunks = load(FIVE_MINUTES)
    pipeline = ReplayPipeline(config, None, None)
    tapped = []

    def tap(event):
        if event.timeframe == "5m":
            tapped.append((event.ts_open, event.ts_event, event.open, event.high, event.low,
                           event.close))
        return []

    pipeline.bus.subscribe_handler(Bar, tap, "test.tap")
    for chunk in chunks:
        pipeline.driver.step_chunk(chunk)
    expected = five_minute_bars()
    assert tapped == list(expected.itertuples(index=False, name=None))


@pytest.mark.parametrize("slippage", [1.0, 0.0])
@pytest.mark.parametrize("path", ["bus", "batch"])
def test_five_minute_fills_equal_the_reference_on_resampled_bars(path, slippage):
    config, chunks = load([*FIVE_MINUTES, f"backtest.costs.slippage_ticks={slippage}"])
    run = run_backtest(config, chunks, path=path)
    fills, trades = reference(five_minute_bars(), slippage_ticks=slippage)
    assert len(trades) > 3
    assert got(run) == (fills, trades)


@settings(max_examples=12)  # each example is two or four full backtests (~0.1 s each)
@given(k=st.integers(1, 2264), path=st.sampled_from(["bus", "batch"]),
       overrides=st.sampled_from([ONE_MINUTE, FIVE_MINUTES]))
def test_no_look_ahead_a_prefix_of_the_data_gives_the_prefix_of_the_ledger(k, path, overrides):
    config, [chunk] = load(overrides)
    full = run_backtest(config, [chunk], path=path)
    cut = run_backtest(config, [BarChunk(*(col[:k] for col in chunk))], path=path)
    horizon = int(chunk.ts_close[k - 1])
    assert cut.fills == [f for f in full.fills if f.ts_event <= horizon]
    assert cut.trades == [t for t in full.trades if t.ts_event <= horizon]
    assert cut.broker.rejections == [r for r in full.broker.rejections
                                     if r.ts_event <= horizon]
    head = full.broker.take_marks()
    tail = cut.broker.take_marks()
    n = tail.ts.shape[0]
    assert marks_equal(tail, tuple(col[:n] for col in head))
    assert n == 0 or head.ts[n - 1] <= horizon


@pytest.mark.parametrize("overrides", [ONE_MINUTE, FIVE_MINUTES], ids=["1m", "5m"])
def test_bus_equals_batch_for_any_chunk_size(overrides):
    config, [chunk] = load(overrides)
    whole = run_backtest(config, [chunk], path="bus")
    marks = whole.broker.take_marks()
    assert whole.trades
    for size in (1, 7, 100, chunk.rows):
        for path in ("bus", "batch"):
            run = run_backtest(config, split(chunk, size), path=path)
            assert run.fills == whole.fills, (size, path)
            assert run.trades == whole.trades, (size, path)
            assert run.broker.rejections == whole.broker.rejections, (size, path)
            assert marks_equal(run.broker.take_marks(), marks), (size, path)


def test_two_runs_are_byte_identical():
    config, chunks = load(ONE_MINUTE)
    a, b = (run_backtest(config, chunks, path="bus") for _ in range(2))
    assert msgspec.msgpack.encode(a.trades) == msgspec.msgpack.encode(b.trades)
    assert msgspec.msgpack.encode(a.fills) == msgspec.msgpack.encode(b.fills)
    assert marks_equal(a.broker.take_marks(), b.broker.take_marks())


@pytest.mark.parametrize("overrides", [ONE_MINUTE, FIVE_MINUTES], ids=["1m", "5m"])
def test_an_evaluation_start_trades_nothing_before_it_and_bus_equals_batch(overrides):
    config, [chunk] = load(overrides)
    start = int(chunk.ts_close[chunk.rows // 2])
    runs = {path: run_backtest(config, split(chunk, 97), path=path, start_ns=start)
            for path in ("bus", "batch")}
    bus, batch = runs["bus"], runs["batch"]
    assert bus.trades and min(f.ts_event for f in bus.fills) > start
    assert (bus.fills, bus.trades, bus.broker.rejections) == (
        batch.fills, batch.trades, batch.broker.rejections)
    # the strategy starts from scratch at the start: the same as a run on the bars from there
    tail = run_backtest(config, [chunk.since(start)], path="batch")
    assert tail.trades == bus.trades
