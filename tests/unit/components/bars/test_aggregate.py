"""BarAggregator and its kernels: golden ES data, emission timing, flush, errors, filtering."""

from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest

from components.bars import (
    AggregatedBars,
    BarAggregator,
    BarAggregatorConfig,
    aggregate_batch_nb,
    aggregate_flush_nb,
    aggregate_init_state,
    aggregate_step_nb,
)
from components.bars.kernels import CROSSES_BUCKET, OUT_OF_ORDER
from engine.core.chunks import BarChunk, TickChunk
from engine.core.events import Bar, Heartbeat, Tick

ROOT = Path(__file__).resolve().parents[4]
MINUTE = 60 * 10**9
ES_SESSION = {"session_open": "17:00", "session_timezone": "America/Chicago"}


def read_bars(name):
    frame = pd.read_csv(ROOT / "data" / name)
    ts = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True)).as_unit("ns").asi8
    return ts, frame


def es_minutes():
    ts, frame = read_bars("es_1min_2013-09.csv")
    return BarChunk(ts, ts + MINUTE, *(frame[c].to_numpy(np.float64)
                                       for c in ("open", "high", "low", "close", "volume")))


def minute_bar(ts_open, price=100.0, volume=1.0, instrument="ES", timeframe="1m", length=MINUTE,
               ts_init=None):
    return Bar(ts_event=ts_open + length, ts_init=ts_open + length if ts_init is None else ts_init,
               instrument=instrument, timeframe=timeframe, ts_open=ts_open, open=price,
               high=price + 1.0, low=price - 1.0, close=price + 0.5, volume=volume)


def rows(bars: AggregatedBars):
    return list(zip(bars.ts_open.tolist(), bars.ts_close.tolist(), bars.open.tolist(),
                    bars.high.tolist(), bars.low.tolist(), bars.close.tolist(),
                    bars.volume.tolist(), strict=True))


def event_rows(events):
    return [(b.ts_open, b.ts_event, b.open, b.high, b.low, b.close, b.volume) for b in events]


def aggregator(timeframe="5m", input_timeframe="1m", **session):
    return BarAggregator(BarAggregatorConfig(instrument="ES", timeframe=timeframe,
                                             input_timeframe=input_timeframe, **session))


# --- golden: real ES data ---------------------------------------------------------------------

def test_es_30m_from_1m_equals_the_bundled_30m_file_and_flush_gives_the_partial_last_bar():
    golden_ts, golden = read_bars("es_30min_2013-09.csv")  # labelled by bar start
    agg = aggregator("30m", **ES_SESSION)
    bars = agg.on_chunk(es_minutes())
    complete = golden.iloc[:-1]
    np.testing.assert_array_equal(bars.ts_open, golden_ts[:-1])
    np.testing.assert_array_equal(bars.ts_close, golden_ts[:-1] + 30 * MINUTE)
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(bars, column), complete[column].to_numpy(float))
    np.testing.assert_allclose(bars.volume, complete["volume"].to_numpy(float))
    # the file ends at 18:51 UTC inside the 18:30 bucket: only flush emits it, and it is partial
    last = agg.flush()
    assert last.rows == 1 and last.trigger_index.tolist() == [-1]
    assert last.ts_open[0] == golden_ts[-1]
    assert [last.open[0], last.high[0], last.low[0], last.close[0], last.volume[0]] == (
        golden.iloc[-1][["open", "high", "low", "close", "volume"]].astype(float).tolist())
    assert agg.flush().rows == 0


def test_es_on_event_gives_the_same_bars_as_on_chunk():
    chunk = es_minutes()
    batch = aggregator("30m", **ES_SESSION).on_chunk(chunk)
    agg = aggregator("30m", **ES_SESSION)
    events = [b for i in range(chunk.rows) for b in agg.on_event(Bar(
        ts_event=int(chunk.ts_close[i]), ts_init=int(chunk.ts_close[i]), instrument="ES",
        timeframe="1m", ts_open=int(chunk.ts_open[i]), open=float(chunk.open[i]),
        high=float(chunk.high[i]), low=float(chunk.low[i]), close=float(chunk.close[i]),
        volume=float(chunk.volume[i])))]
    assert event_rows(events) == rows(batch)
    assert all(b.timeframe == "30m" and b.instrument == "ES" for b in events)


# --- emission timing ---------------------------------------------------------------------------

def test_bar_completed_by_its_last_input_is_emitted_at_once_with_the_trigger_ts_init():
    agg = aggregator("5m")
    assert not agg.ready
    outputs = [agg.on_event(minute_bar(i * MINUTE, price=100.0 + i, ts_init=7 + i))
               for i in range(5)]
    assert outputs[:4] == [[], [], [], []]
    (bar,) = outputs[4]
    assert (bar.ts_open, bar.ts_event, bar.ts_init) == (0, 5 * MINUTE, 11)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (100.0, 105.0, 99.0, 104.5,
                                                                    5.0)
    assert agg.ready


def test_gap_emits_the_previous_bucket_late_before_the_new_row():
    agg = aggregator("5m")
    assert agg.on_event(minute_bar(MINUTE)) == []
    # the next row is in a later bucket: [0, 5m) was incomplete and closes now, late
    (late,) = agg.on_event(minute_bar(12 * MINUTE, ts_init=99))
    assert (late.ts_open, late.ts_event, late.ts_init) == (0, 5 * MINUTE, 99)
    assert late.ts_event < 13 * MINUTE


def test_one_row_can_close_a_late_bucket_and_complete_its_own():
    state_i, state_f = aggregate_init_state()
    out_i = np.zeros((3, 2), np.int64)  # [field, bar]
    out_f = np.zeros((5, 2))
    assert aggregate_step_nb(state_i, state_f, 0, 2, 0, 1, 1.0, 2.0, 0.5, 1.5, 3.0, out_i, out_f,
                             0) == 0
    # bucket [2, 4) with a row [3, 4): closes [0, 2) before it, then [2, 4) after it
    assert aggregate_step_nb(state_i, state_f, 2, 4, 3, 4, 5.0, 6.0, 4.0, 5.5, 0.0, out_i, out_f,
                             0) == 2
    assert out_i.T.tolist() == [[0, 2, 1], [2, 4, 0]]
    assert out_f.T.tolist() == [[1.0, 2.0, 0.5, 1.5, 3.0], [5.0, 6.0, 4.0, 5.5, 0.0]]


def test_batch_reports_trigger_rows_and_late_flags():
    ts = np.array([0, 1, 4, 6, 7, 30], dtype=np.int64) * MINUTE
    chunk = BarChunk(ts, ts + MINUTE, *(np.arange(6, dtype=float) for _ in range(5)))
    bars = aggregator("5m").on_chunk(chunk)
    assert bars.ts_open.tolist() == [0, 5 * MINUTE]
    assert bars.trigger_index.tolist() == [2, 5]  # row 2 ends at 5m; row 5 reveals [5m, 10m)
    assert bars.before_trigger.tolist() == [False, True]
    assert bars.volume.tolist() == [0.0 + 1.0 + 2.0, 3.0 + 4.0]


def test_zero_volume_rows_count():
    agg = aggregator("2m")
    agg.on_event(minute_bar(0, price=10.0, volume=0.0))
    (bar,) = agg.on_event(minute_bar(MINUTE, price=12.0, volume=0.0))
    assert (bar.open, bar.high, bar.close, bar.volume) == (10.0, 13.0, 12.5, 0.0)


# --- ticks --------------------------------------------------------------------------------------

def test_tick_exactly_at_the_bucket_end_opens_the_next_bucket():
    agg = aggregator("1m", input_timeframe=None)

    def tick(ts, price):
        return Tick(ts_event=ts, ts_init=ts, instrument="ES", price=price, size=1.0)

    assert agg.on_event(tick(0, 1.0)) == []
    assert agg.on_event(tick(MINUTE - 1, 2.0)) == []
    (bar,) = agg.on_event(tick(MINUTE, 3.0))
    assert (bar.ts_open, bar.ts_event, bar.open, bar.close, bar.volume) == (0, MINUTE, 1.0, 2.0,
                                                                            2.0)
    assert rows(agg.flush()) == [(MINUTE, 2 * MINUTE, 3.0, 3.0, 3.0, 3.0, 1.0)]


def test_tick_chunk_and_duplicate_timestamps():
    ts = np.array([0, 0, 30, MINUTE, MINUTE, 3 * MINUTE], dtype=np.int64)
    price = np.array([5.0, 4.0, 6.0, 7.0, 8.0, 9.0])
    bars = aggregator("1m", input_timeframe=None).on_chunk(TickChunk(ts, price, np.ones(6)))
    assert rows(bars) == [(0, MINUTE, 5.0, 6.0, 4.0, 6.0, 3.0),
                          (MINUTE, 2 * MINUTE, 7.0, 8.0, 7.0, 8.0, 2.0)]
    assert bars.trigger_index.tolist() == [3, 5] and bars.before_trigger.all()


# --- flush ----------------------------------------------------------------------------------------

def test_flush_emits_the_partial_bucket_once_and_closes_it():
    agg = aggregator("5m")
    assert agg.flush().rows == 0
    agg.on_event(minute_bar(0, price=1.0))
    agg.on_event(minute_bar(MINUTE, price=2.0))
    partial = agg.flush()
    assert rows(partial) == [(0, 5 * MINUTE, 1.0, 3.0, 0.0, 2.5, 2.0)]
    assert partial.trigger_index.tolist() == [-1] and partial.before_trigger.tolist() == [True]
    assert agg.flush().rows == 0
    with pytest.raises(ValueError, match="expected input at or after"):
        agg.on_event(minute_bar(3 * MINUTE))  # its bucket was already emitted
    assert agg.on_event(minute_bar(5 * MINUTE)) == []


def test_flush_kernel_writes_at_the_given_position():
    state_i, state_f = aggregate_init_state()
    out_i = np.zeros((3, 3), np.int64)
    out_f = np.zeros((5, 3))
    assert aggregate_flush_nb(state_i, state_f, out_i, out_f, 1) == 0
    aggregate_batch_nb(state_i, state_f, np.array([10]), np.array([20]), np.array([12]),
                       np.array([13]), *(np.array([x]) for x in (1.0, 2.0, 0.0, 1.5, 4.0)))
    assert aggregate_flush_nb(state_i, state_f, out_i, out_f, 1) == 1
    assert out_i[:, 1].tolist() == [10, 20, 1]
    assert out_f[:, 1].tolist() == [1.0, 2.0, 0.0, 1.5, 4.0]
    assert aggregate_flush_nb(state_i, state_f, out_i, out_f, 2) == 0


# --- errors -------------------------------------------------------------------------------------

def test_out_of_order_input_raises_and_leaves_the_state_unchanged():
    agg = aggregator("5m")
    agg.on_event(minute_bar(10 * MINUTE))
    before = agg.snapshot()
    with pytest.raises(ValueError, match="expected input at or after .* was ts"):
        agg.on_event(minute_bar(3 * MINUTE))
    assert agg.snapshot() == before
    ts = np.array([11, 12, 2, 13], dtype=np.int64) * MINUTE
    chunk = BarChunk(ts, ts + MINUTE, *(np.ones(4) for _ in range(5)))
    with pytest.raises(ValueError, match="at row 2"):
        agg.on_chunk(chunk)
    assert agg.snapshot() == before  # all or nothing


def test_step_kernel_statuses():
    state_i, state_f = aggregate_init_state()
    out_i = np.zeros((3, 2), np.int64)
    out_f = np.zeros((5, 2))
    args = (1.0, 1.0, 1.0, 1.0, 1.0, out_i, out_f, 0)
    assert aggregate_step_nb(state_i, state_f, 10, 20, 15, 16, *args) == 0
    saved = state_i.copy(), state_f.copy()
    assert aggregate_step_nb(state_i, state_f, 0, 10, 5, 6, *args) == OUT_OF_ORDER
    assert aggregate_step_nb(state_i, state_f, 10, 20, 14, 15, *args) == OUT_OF_ORDER
    assert aggregate_step_nb(state_i, state_f, 10, 20, 19, 21, *args) == CROSSES_BUCKET
    np.testing.assert_array_equal(state_i, saved[0])
    np.testing.assert_array_equal(state_f, saved[1])


def test_input_bar_crossing_a_bucket_end_raises():
    agg = aggregator("5m")
    with pytest.raises(ValueError, match="expected input inside one bucket"):
        agg.on_event(minute_bar(4 * MINUTE + 30 * 10**9))


def test_wrong_input_bar_length_raises():
    agg = aggregator("5m")
    with pytest.raises(ValueError, match="expected 1m bars"):
        agg.on_event(minute_bar(0, length=2 * MINUTE))
    ts = np.array([0, MINUTE], dtype=np.int64)
    with pytest.raises(ValueError, match="expected 1m bars .* at row 1"):
        agg.on_chunk(BarChunk(ts, ts + np.array([MINUTE, 2 * MINUTE]),
                              *(np.ones(2) for _ in range(5))))


def test_chunk_kind_must_match_the_input():
    with pytest.raises(ValueError, match="expected TickChunk, was BarChunk"):
        aggregator("5m", input_timeframe=None).on_chunk(es_minutes())
    with pytest.raises(ValueError, match="expected BarChunk"):
        aggregator("5m").on_chunk(TickChunk(np.zeros(1, np.int64), np.ones(1), np.ones(1)))


@pytest.mark.parametrize(("fields", "match"), [
    ({"timeframe": "5m", "input_timeframe": "2m"}, "input_timeframe: expected"),
    ({"timeframe": "5m", "input_timeframe": "5m"}, "input_timeframe: expected"),
    ({"timeframe": "1h", "input_timeframe": "7m"}, "input_timeframe: expected"),
    ({"timeframe": "2d"}, "timeframe: expected at most"),
    ({"timeframe": "5x"}, "timeframe: expected"),
    ({"session_open": "5pm"}, "session_open: expected"),
    ({"session_timezone": "Chicago"}, "session_timezone: expected"),
])
def test_invalid_config_raises_value_error(fields, match):
    with pytest.raises(ValueError, match=match):
        BarAggregatorConfig(instrument="ES", **fields)


def test_config_decodes_from_toml_with_defaults():
    config = msgspec.toml.decode(b'instrument = "ES"\ntimeframe = "30m"\n',
                                 type=BarAggregatorConfig)
    assert (config.input_timeframe, config.session_open, config.session_timezone) == (
        "1m", "00:00", "UTC")
    with pytest.raises(msgspec.ValidationError, match="input_timeframe"):
        msgspec.toml.decode(b'instrument = "ES"\ninput_timeframe = "2m"\n',
                            type=BarAggregatorConfig)


# --- filtering and protocol -----------------------------------------------------------------------

def test_ignores_other_instruments_timeframes_types_and_its_own_output():
    agg = aggregator("5m")
    fresh = agg.snapshot()
    ignored = [
        minute_bar(0, instrument="NQ"),
        minute_bar(0, timeframe="5m", length=5 * MINUTE),  # its own output type
        Tick(ts_event=0, ts_init=0, instrument="ES", price=1.0, size=1.0),  # bar input
        Heartbeat(ts_event=0, ts_init=0, source="x", sequence=1),
    ]
    for event in ignored:
        assert agg.on_event(event) == []
    assert agg.snapshot() == fresh
    ticks = aggregator("5m", input_timeframe=None)
    assert ticks.on_event(minute_bar(0)) == []
    assert ticks.snapshot() == fresh


def test_snapshot_restore_reset_and_mixing_events_with_chunks():
    chunk = es_minutes()
    whole = rows(aggregator("30m", **ES_SESSION).on_chunk(chunk))
    first = aggregator("30m", **ES_SESSION)
    head = rows(first.on_chunk(BarChunk(*(c[:1000] for c in chunk))))
    for i in range(1000, 1010):  # continue one event at a time
        head += event_rows(first.on_event(Bar(
            ts_event=int(chunk.ts_close[i]), ts_init=0, instrument="ES", timeframe="1m",
            ts_open=int(chunk.ts_open[i]), open=float(chunk.open[i]), high=float(chunk.high[i]),
            low=float(chunk.low[i]), close=float(chunk.close[i]),
            volume=float(chunk.volume[i]))))
    second = aggregator("30m", **ES_SESSION)
    second.restore(first.snapshot())
    assert second.snapshot() == first.snapshot()
    assert head + rows(second.on_chunk(BarChunk(*(c[1010:] for c in chunk)))) == whole
    second.reset()
    assert second.snapshot() == aggregator("30m", **ES_SESSION).snapshot()
    with pytest.raises(ValueError, match="expected a snapshot of"):
        aggregator("5m").restore(first.snapshot())
