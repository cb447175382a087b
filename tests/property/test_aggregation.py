"""Bar aggregation properties: pandas oracle, incremental == batch, chunking, snapshot, ticks.

Oracle: ``DataFrame.resample(tf, closed="left", label="right")`` with open=first, high=max,
low=min, close=last, volume=sum, empty buckets dropped. With session 00:00 UTC and a timeframe
that divides a day its buckets are ours. Policy for the last bucket: from 1-minute bars it is
emitted only when its last minute is present (the input reaches the bucket end); from ticks it
is never complete, so only ``flush()`` emits it.
"""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from components.bars import AggregatedBars, BarAggregator, BarAggregatorConfig
from engine.core.chunks import BarChunk, TickChunk
from engine.core.events import Bar, Tick
from engine.core.timeframes import parse_timeframe

MINUTE = 60 * 10**9
SECOND = 10**9
HOUR = 60 * MINUTE
START_2013 = pd.Timestamp("2013-01-01", tz="UTC").value // MINUTE
END_2013 = pd.Timestamp("2014-01-01", tz="UTC").value // MINUTE
# Chicago DST changes of 2013: starts 03-10 08:00 UTC, ends 11-03 07:00 UTC
DST_2013 = [pd.Timestamp(t, tz="UTC").value // MINUTE for t in ("2013-03-10 08:00",
                                                                 "2013-11-03 07:00")]

first_minutes = st.one_of(
    st.integers(START_2013, END_2013),
    st.sampled_from(DST_2013).flatmap(lambda m: st.integers(m - 3 * 1440, m + 1440)),
)
minute_gaps = st.one_of(st.just(1), st.just(1), st.integers(1, 20), st.integers(60, 3000))
seeds = st.integers(0, 2**32 - 1)


def random_volumes(rng, n):
    """Zeros, whole numbers and fractions (values drawn from a seeded generator: cheap)."""
    kind = rng.integers(0, 3, n)
    return np.where(kind == 0, 0.0, np.where(kind == 1, rng.integers(0, 5000, n).astype(float),
                                             rng.uniform(0, 1e6, n)))


@st.composite
def minute_streams(draw, max_bars=150):
    """Strictly increasing 1-minute bars with random gaps (up to two days) and valid OHLC.

    Hypothesis draws the structure (length, start, gaps); prices and volumes come from a seeded
    generator, which keeps examples cheap while every value is still reproducible.
    """
    n = draw(st.integers(1, max_bars))
    first = draw(first_minutes)
    gaps = draw(st.lists(minute_gaps, min_size=n - 1, max_size=n - 1))
    ts = (first + np.concatenate(([0], np.cumsum(gaps, dtype=np.int64)))) * MINUTE
    rng = np.random.default_rng(draw(seeds))
    open_ = 4000.0 + 0.25 * rng.integers(0, 400, n)
    close = 4000.0 + 0.25 * rng.integers(0, 400, n)
    high = np.maximum(open_, close) + 0.25 * rng.integers(0, 20, n)
    low = np.minimum(open_, close) - 0.25 * rng.integers(0, 20, n)
    return BarChunk(ts.astype(np.int64), (ts + MINUTE).astype(np.int64), open_, high, low, close,
                    random_volumes(rng, n))


@st.composite
def tick_streams(draw, max_ticks=200):
    """Non-decreasing tick times (duplicates, exact bucket ends, gaps of hours), prices, sizes."""
    n = draw(st.integers(1, max_ticks))
    first = draw(st.integers(START_2013, END_2013)) * MINUTE
    deltas = draw(st.lists(st.one_of(st.just(0), st.sampled_from([15 * SECOND, MINUTE, 5 * MINUTE]),
                                     st.integers(1, 10 * MINUTE), st.integers(HOUR, 10 * HOUR)),
                           min_size=n - 1, max_size=n - 1))
    ts = first + np.concatenate(([0], np.cumsum(deltas, dtype=np.int64)))
    rng = np.random.default_rng(draw(seeds))
    price = 100.0 + 0.01 * rng.integers(0, 500, n)
    return TickChunk(ts.astype(np.int64), price, random_volumes(rng, n))


def make(timeframe, input_timeframe="1m", session_open="00:00", session_timezone="UTC"):
    return BarAggregator(BarAggregatorConfig(
        instrument="ES", timeframe=timeframe, input_timeframe=input_timeframe,
        session_open=session_open, session_timezone=session_timezone))


def resample(ts, columns, timeframe):
    """The pandas oracle: labels (bucket close, ns) and the OHLCV frame."""
    frame = pd.DataFrame(dict(zip(("open", "high", "low", "close", "volume"), columns,
                                  strict=True)), index=pd.DatetimeIndex(ts.astype("M8[ns]")))
    rule = pd.Timedelta(parse_timeframe(timeframe), unit="ns")
    out = frame.resample(rule, closed="left", label="right").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    ).dropna(subset=["open"])
    return pd.DatetimeIndex(out.index).as_unit("ns").asi8, out


def assert_matches_oracle(bars, labels, ref, timeframe):
    np.testing.assert_array_equal(bars.ts_close, labels)
    np.testing.assert_array_equal(bars.ts_open, labels - parse_timeframe(timeframe))
    for column in ("open", "high", "low", "close"):  # copied, never computed: exact
        np.testing.assert_array_equal(getattr(bars, column), ref[column].to_numpy(np.float64))
    np.testing.assert_allclose(bars.volume, ref["volume"].to_numpy(np.float64), rtol=1e-12)


def rows(bars: AggregatedBars):
    return list(zip(bars.ts_open.tolist(), bars.ts_close.tolist(), bars.open.tolist(),
                    bars.high.tolist(), bars.low.tolist(), bars.close.tolist(),
                    bars.volume.tolist(), strict=True))


def head(chunk, stop, start=0):
    return type(chunk)(*(column[start:stop] for column in chunk))


def bar_events(chunk):
    return [Bar(ts_event=int(chunk.ts_close[i]), ts_init=i, instrument="ES", timeframe="1m",
                ts_open=int(chunk.ts_open[i]), open=float(chunk.open[i]),
                high=float(chunk.high[i]), low=float(chunk.low[i]), close=float(chunk.close[i]),
                volume=float(chunk.volume[i])) for i in range(chunk.rows)]


SESSIONS = [("5m", "00:00", "UTC"), ("30m", "17:00", "America/Chicago"),
            ("7m", "17:00", "America/Chicago"), ("4h", "17:00", "America/Chicago"),
            ("1h", "00:00", "America/Chicago")]


@given(minute_streams(), st.sampled_from(["5m", "30m", "1h"]))
def test_minute_bars_aggregate_like_pandas_resample(chunk, timeframe):
    agg = make(timeframe)
    bars = agg.on_chunk(chunk)
    labels, ref = resample(chunk.ts_open, chunk[2:], timeframe)
    complete = labels[-1] == chunk.ts_close[-1]  # the last minute of the last bucket is there
    keep = len(labels) if complete else len(labels) - 1
    assert_matches_oracle(bars, labels[:keep], ref.iloc[:keep], timeframe)
    assert_matches_oracle(agg.flush(), labels[keep:], ref.iloc[keep:], timeframe)


@given(minute_streams(), st.sampled_from(SESSIONS), st.data())
def test_incremental_equals_batch_at_every_prefix(chunk, session, data):
    timeframe, session_open, zone = session
    batch = make(timeframe, session_open=session_open, session_timezone=zone).on_chunk(chunk)
    agg = make(timeframe, session_open=session_open, session_timezone=zone)
    emitted = [(i, bar) for i, event in enumerate(bar_events(chunk))
               for bar in agg.on_event(event)]
    assert [(b.ts_open, b.ts_event, b.open, b.high, b.low, b.close, b.volume)
            for _, b in emitted] == rows(batch)
    assert [i for i, _ in emitted] == batch.trigger_index.tolist()
    assert all(bar.ts_init == i for i, bar in emitted)
    # late (before the trigger) exactly when the bar does not end with its trigger row
    assert batch.before_trigger.tolist() == [
        bar.ts_event != chunk.ts_close[i] for i, bar in emitted]
    assert all(bar.ts_event <= chunk.ts_open[i] for i, bar in emitted
               if bar.ts_event != chunk.ts_close[i])
    # the batch over any prefix yields exactly the bars emitted by then
    for stop in data.draw(st.lists(st.integers(0, chunk.rows), max_size=3), label="prefixes"):
        prefix = make(timeframe, session_open=session_open, session_timezone=zone)
        assert rows(prefix.on_chunk(head(chunk, stop))) == rows(batch)[
            : int(np.searchsorted(batch.trigger_index, stop))]


@given(minute_streams(), st.sampled_from(SESSIONS),
       st.lists(st.integers(0, 150), max_size=4))
def test_chunking_does_not_change_the_bars(chunk, session, cuts):
    timeframe, session_open, zone = session
    whole = make(timeframe, session_open=session_open, session_timezone=zone).on_chunk(chunk)
    agg = make(timeframe, session_open=session_open, session_timezone=zone)
    bounds = [0, *sorted(min(c, chunk.rows) for c in cuts), chunk.rows]
    pieces = [(a, agg.on_chunk(head(chunk, b, a))) for a, b in zip(bounds, bounds[1:],
                                                                 strict=False)]
    assert [r for _, piece in pieces for r in rows(piece)] == rows(whole)
    assert [a + t for a, piece in pieces for t in piece.trigger_index.tolist()] == (
        whole.trigger_index.tolist())
    assert [f for _, piece in pieces for f in piece.before_trigger.tolist()] == (
        whole.before_trigger.tolist())


@given(minute_streams(), st.sampled_from(SESSIONS), st.integers(0, 150), st.booleans())
def test_snapshot_restore_at_a_split_continues_identically(chunk, session, split, by_event):
    timeframe, session_open, zone = session
    split = min(split, chunk.rows)
    uninterrupted = make(timeframe, session_open=session_open, session_timezone=zone)
    whole = rows(uninterrupted.on_chunk(chunk))
    first = make(timeframe, session_open=session_open, session_timezone=zone)
    second = make(timeframe, session_open=session_open, session_timezone=zone)
    if by_event:
        out = [b for e in bar_events(head(chunk, split)) for b in first.on_event(e)]
        got = [(b.ts_open, b.ts_event, b.open, b.high, b.low, b.close, b.volume) for b in out]
    else:
        got = rows(first.on_chunk(head(chunk, split)))
    second.restore(first.snapshot())
    got += rows(second.on_chunk(head(chunk, chunk.rows, split)))
    assert got == whole
    assert rows(second.flush()) == rows(uninterrupted.flush())


@given(tick_streams(), st.sampled_from(["1m", "5m"]))
def test_ticks_aggregate_like_pandas_resample(chunk, timeframe):
    agg = make(timeframe, input_timeframe=None)
    bars = agg.on_chunk(chunk)
    labels, ref = resample(chunk.ts, (chunk.price,) * 4 + (chunk.size,), timeframe)
    # a tick never proves its bucket complete: the last bucket waits for flush
    assert_matches_oracle(bars, labels[:-1], ref.iloc[:-1], timeframe)
    assert bars.before_trigger.all()
    assert np.all(bars.ts_close <= chunk.ts[bars.trigger_index])  # revealed by a later tick
    assert_matches_oracle(agg.flush(), labels[-1:], ref.iloc[-1:], timeframe)


@given(tick_streams(), st.sampled_from(["1m", "30m"]))
def test_tick_events_equal_tick_chunks(chunk, timeframe):
    batch = make(timeframe, input_timeframe=None, session_open="17:00",
                 session_timezone="America/Chicago").on_chunk(chunk)
    agg = make(timeframe, input_timeframe=None, session_open="17:00",
               session_timezone="America/Chicago")
    out = [b for i in range(chunk.rows) for b in agg.on_event(Tick(
        ts_event=int(chunk.ts[i]), ts_init=0, instrument="ES", price=float(chunk.price[i]),
        size=float(chunk.size[i])))]
    assert [(b.ts_open, b.ts_event, b.open, b.high, b.low, b.close, b.volume)
            for b in out] == rows(batch)

