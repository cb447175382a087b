"""The replay driver end to end on the bundled real ES 1-minute bars."""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.bars import BarAggregator, BarAggregatorConfig
from engine.core.bus import Bus
from engine.core.chunks import BarChunk, TickChunk
from engine.core.clock import TestClock
from engine.core.events import Bar, Tick
from engine.wiring.recorder import EventRecorder
from engine.wiring.replay_driver import ReplayDriver

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60 * 10**9


def es_chunks(chunk_rows=500):
    frame = pd.read_csv(ROOT / "data" / "es_1min_2013-09.csv")
    ts = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns").astype("int64").to_numpy()
    ts = ts.astype(np.int64)
    cols = [frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")]
    for start in range(0, len(ts), chunk_rows):
        sl = slice(start, start + chunk_rows)
        yield BarChunk(ts[sl], ts[sl] + MINUTE, *(c[sl] for c in cols))


def make_driver(tfs=("5m", "30m"), publish_input=True):
    bus = Bus()
    aggs = [BarAggregator(BarAggregatorConfig(instrument="ES", timeframe=tf, input_timeframe="1m",
                                              session_open="17:00",
                                              session_timezone="America/Chicago"))
            for tf in tfs]
    return ReplayDriver(bus, TestClock(), "ES", "1m", aggs, publish_input=publish_input), bus


def collect(bus):
    seen = []
    bus.subscribe_handler(Bar, lambda e: seen.append(e) or (), "collector")
    bus.subscribe_handler(Tick, lambda e: seen.append(e) or (), "collector")
    return seen


def test_every_bar_is_published_at_its_close_in_order():
    driver, bus = make_driver()
    seen = collect(bus)
    stats = driver.run(es_chunks())
    assert stats.input_rows == 2264
    assert stats.bars_by_timeframe["1m"] == 2264
    ts = [e.ts_event for e in seen]
    assert ts == sorted(ts)
    rank = {"1m": 0, "5m": 1, "30m": 2}
    for a, b in zip(seen, seen[1:], strict=False):
        if a.ts_event == b.ts_event:
            assert rank[a.timeframe] <= rank[b.timeframe]
    for e in seen:
        assert e.ts_event - e.ts_open <= {"1m": 1, "5m": 5, "30m": 30}[e.timeframe] * MINUTE


def test_slow_bars_match_the_bundled_30_minute_file():
    driver, bus = make_driver()
    seen = collect(bus)
    driver.run(es_chunks())
    slow = [e for e in seen if e.timeframe == "30m"]
    ref = pd.read_csv(ROOT / "data" / "es_30min_2013-09.csv").iloc[:-1]  # last bar is partial
    assert len(slow) == len(ref)
    ref_open = pd.to_datetime(ref["timestamp"], utc=True).dt.as_unit("ns").astype("int64").tolist()
    assert [e.ts_open for e in slow] == ref_open
    for col in ("open", "high", "low", "close", "volume"):
        assert [getattr(e, col) for e in slow] == ref[col].astype(float).tolist()


def test_chunk_size_does_not_change_the_event_stream():
    logs = []
    for rows in (1, 37, 5000):
        driver, bus = make_driver()
        sink = io.BytesIO()
        bus.add_tap(EventRecorder(sink))
        driver.run(es_chunks(rows))
        logs.append(sink.getvalue())
    assert logs[0] == logs[1] == logs[2]


def test_two_replays_write_byte_identical_event_logs():
    logs = []
    for _ in range(2):
        driver, bus = make_driver()
        sink = io.BytesIO()
        bus.add_tap(EventRecorder(sink))
        driver.run(es_chunks())
        logs.append(sink.getvalue())
    assert logs[0] == logs[1] and len(logs[0]) > 0


def test_driver_pulls_one_chunk_at_a_time():
    """Each chunk is fully published before the next is requested: memory is one chunk."""
    driver, bus = make_driver(publish_input=True)
    requested_at = []

    def source():
        for chunk in es_chunks(100):
            requested_at.append(driver.stats.input_rows)
            yield chunk

    driver.run(source())
    assert requested_at == list(range(0, 2264, 100))


def test_flush_publishes_the_final_partial_bars():
    driver, bus = make_driver()
    seen = collect(bus)
    driver.run(es_chunks(), flush=True)
    last = [e for e in seen if e.timeframe == "30m"][-1]
    assert last.ts_open == pd.Timestamp("2013-09-03T18:30:00Z").value


def test_tick_input_is_published_with_bars_in_time_order():
    seconds = np.array([0, 10, 59, 60, 61, 200, 200, 7200], dtype=np.int64)
    ts = (seconds + 1_599_999_960) * 10**9
    price = np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=np.float64)
    size = np.ones(8)
    bus = Bus()
    agg = BarAggregator(BarAggregatorConfig(instrument="X", timeframe="1m", input_timeframe=None))
    driver = ReplayDriver(bus, TestClock(), "X", None, [agg])
    seen = collect(bus)
    driver.run([TickChunk(ts[:4], price[:4], size[:4]), TickChunk(ts[4:], price[4:], size[4:])])
    kinds = [(type(e).__name__, e.ts_event) for e in seen]
    assert [k for k, _ in kinds].count("Tick") == 8
    assert [t for _, t in kinds] == sorted(t for _, t in kinds)
    bars = [e for e in seen if isinstance(e, Bar)]
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
        (1, 3, 1, 3, 3), (4, 5, 4, 5, 2), (6, 7, 6, 7, 2)]


def test_clock_follows_the_data():
    driver, bus = make_driver()
    clock_seen = []
    bus.subscribe_handler(Bar, lambda e: clock_seen.append(
        driver._clock.timestamp_ns() == e.ts_event) or (), "clock-check")
    driver.run(es_chunks())
    assert all(clock_seen)


@pytest.mark.parametrize("bad_order", [True])
def test_out_of_order_chunks_are_refused(bad_order):
    driver, _ = make_driver()
    chunks = list(es_chunks(1000))
    with pytest.raises(Exception, match="expected"):
        driver.run([chunks[1], chunks[0]])


@settings(max_examples=20)
@given(k=st.integers(0, 2262), chunk_rows=st.sampled_from([16, 64, 500, 5000]),
       seed=st.integers(0, 2**32 - 1))
def test_changing_future_bars_never_changes_what_was_published_before(k, chunk_rows, seed):
    """No look-ahead: everything published up to row k's close is the same whatever the
    rows after k say, at any chunk size (chunks hold future rows; nothing may leak)."""
    chunks = list(es_chunks(5000))
    base = chunks[0]
    rng = np.random.default_rng(seed)
    n_future = base.rows - k - 1
    new_open = base.open[k + 1:] + 0.25 * rng.integers(-40, 40, n_future)
    new_close = base.close[k + 1:] + 0.25 * rng.integers(-40, 40, n_future)
    future = BarChunk(base.ts_open[k + 1:], base.ts_close[k + 1:], new_open,
                      np.maximum(new_open, new_close) + 1.0, np.minimum(new_open, new_close) - 1.0,
                      new_close, rng.uniform(0, 1000, n_future))
    altered = BarChunk(*(np.concatenate([a[:k + 1], b]) for a, b in zip(base, future,
                                                                       strict=True)))
    cutoff = int(base.ts_close[k])
    published = []
    for stream in (base, altered):
        driver, bus = make_driver()
        seen = collect(bus)
        driver.run(BarChunk(*(c[s:s + chunk_rows] for c in stream))
                   for s in range(0, stream.rows, chunk_rows))
        published.append([e for e in seen if e.ts_event <= cutoff])
    assert published[0] == published[1]
    assert published[0][-1].ts_event == cutoff
