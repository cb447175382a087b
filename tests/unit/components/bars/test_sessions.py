"""Session-aligned bucket bounds: UTC arithmetic, session days, DST rule, scalar == vectorised."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.bars import SessionBuckets, bucket_bounds
from components.bars.sessions import DAY_NS

MINUTE = 60 * 10**9
HOUR = 60 * MINUTE


def utc(text):
    return pd.Timestamp(text, tz="UTC").value


def local(text, zone):
    return pd.Timestamp(text, tz=zone).value


def minutes(first, last):
    return np.arange(utc(first), utc(last), MINUTE, dtype=np.int64)


def to_local(ns, zone):
    return pd.Timestamp(int(ns), tz="UTC").tz_convert(zone)


# --- UTC fast path ----------------------------------------------------------------------------

@given(st.lists(st.integers(-(2**61), 2**61), min_size=1, max_size=50),
       st.sampled_from([MINUTE, 5 * MINUTE, 30 * MINUTE, HOUR, 4 * HOUR, DAY_NS]))
def test_utc_midnight_session_is_integer_floor(stamps, tf):
    ts = np.array(stamps, dtype=np.int64)
    start, end = bucket_bounds(ts, tf, "00:00", "UTC")
    np.testing.assert_array_equal(start, ts // tf * tf)
    np.testing.assert_array_equal(end, ts // tf * tf + tf)


def test_bucket_end_belongs_to_the_next_bucket():
    ts = np.array([0, 5 * MINUTE - 1, 5 * MINUTE], dtype=np.int64)
    start, end = bucket_bounds(ts, 5 * MINUTE, "00:00", "UTC")
    assert start.tolist() == [0, 0, 5 * MINUTE]
    assert end.tolist() == [5 * MINUTE, 5 * MINUTE, 10 * MINUTE]


def test_utc_session_open_shifts_the_day_and_cuts_its_last_bucket():
    ts = minutes("2013-09-02 00:00", "2013-09-04 00:00")
    start, end = bucket_bounds(ts, 7 * MINUTE, "22:00", "UTC")
    day_start = (ts - 22 * HOUR) // DAY_NS * DAY_NS + 22 * HOUR
    assert np.all((start - day_start) % (7 * MINUTE) == 0)
    assert np.all(end <= day_start + DAY_NS)
    # 1440 = 205 * 7 + 5: the last bucket of each day is 5 minutes, 21:55 to 22:00
    last = ts == utc("2013-09-02 21:57")
    assert start[last][0] == utc("2013-09-02 21:55") and end[last][0] == utc("2013-09-02 22:00")


# --- session days in a zone -----------------------------------------------------------------

def test_chicago_7m_buckets_restart_at_each_session_open_and_never_span_days():
    zone = "America/Chicago"
    ts = minutes("2013-09-01 00:00", "2013-09-06 00:00")  # no DST change in this week
    start, end = bucket_bounds(ts, 7 * MINUTE, "17:00", zone)
    assert np.all((start <= ts) & (ts < end) & (end - start <= 7 * MINUTE))
    for t, s, e in zip(ts.tolist(), start.tolist(), end.tolist(), strict=True):
        wall = to_local(t, zone)
        if (wall.hour, wall.minute) == (17, 0):
            assert s == t  # a new trading day starts a new bucket
        assert trading_date(s, zone) == trading_date(e - 1, zone)
        if (wall.hour, wall.minute) in ((16, 55), (16, 59)):  # 1440 % 7 == 5: a 5-minute bucket
            assert (s, e) == (local(f"{wall.date()} 16:55", zone),
                              local(f"{wall.date()} 17:00", zone))


def trading_date(ns, zone, session_hour=17):
    return (to_local(ns, zone) - pd.Timedelta(hours=session_hour)).date()


def test_chicago_4h_buckets_start_at_17_21_01_05_09_13_local():
    zone = "America/Chicago"
    ts = minutes("2013-09-01 22:00", "2013-09-03 22:00")
    start, _ = bucket_bounds(ts, 4 * HOUR, "17:00", zone)
    hours = {to_local(s, zone).hour for s in np.unique(start).tolist()}
    assert hours == {17, 21, 1, 5, 9, 13}


@pytest.mark.parametrize(("before", "after", "shift"), [
    # DST starts Sunday 2013-03-10 02:00: 17:00 CST = 23:00Z before, 17:00 CDT = 22:00Z after
    ("2013-03-07", "2013-03-11", -HOUR),
    # DST ends Sunday 2013-11-03 02:00: 17:00 CDT = 22:00Z before, 17:00 CST = 23:00Z after
    ("2013-10-31", "2013-11-04", HOUR),
])
def test_utc_bucket_bounds_shift_by_an_hour_across_a_dst_change(before, after, shift):
    zone = "America/Chicago"
    days = (pd.Timestamp(after) - pd.Timestamp(before)).days
    # every minute of one trading day (17:00 to 16:59 local) before and after the change
    ts_before = pd.date_range(f"{before} 17:00", periods=1440, freq="min", tz=zone).as_unit("ns")
    ts_after = pd.date_range(f"{after} 17:00", periods=1440, freq="min", tz=zone).as_unit("ns")
    for tf in (7 * MINUTE, 4 * HOUR):
        s_before, e_before = bucket_bounds(ts_before.asi8, tf, "17:00", zone)
        s_after, e_after = bucket_bounds(ts_after.asi8, tf, "17:00", zone)
        np.testing.assert_array_equal(s_after - s_before, days * DAY_NS + shift)
        np.testing.assert_array_equal(e_after - e_before, days * DAY_NS + shift)
        assert s_after[0] == ts_after.asi8[0]  # the session open starts a bucket


@pytest.mark.parametrize(("ts", "tf", "expected"), [
    # fall back 2013-11-03 02:00 CDT -> 01:00 CST: the repeated hour stays in the bucket open at
    # the change. 30m: [01:30 CDT, 02:00 CST) = [06:30Z, 08:00Z), 1.5 h long.
    ("2013-11-03 06:45", 30 * MINUTE, ("2013-11-03 06:30", "2013-11-03 08:00")),
    ("2013-11-03 07:15", 30 * MINUTE, ("2013-11-03 06:30", "2013-11-03 08:00")),
    ("2013-11-03 08:00", 30 * MINUTE, ("2013-11-03 08:00", "2013-11-03 08:30")),
    # 4h: [00:00 CDT, 04:00 CST) = [05:00Z, 10:00Z), 5 h long
    ("2013-11-03 07:30", 4 * HOUR, ("2013-11-03 05:00", "2013-11-03 10:00")),
    # spring forward 2013-03-10 02:00 CST -> 03:00 CDT: wall 02:00 maps to the jump (08:00Z)
    ("2013-03-10 07:30", HOUR, ("2013-03-10 07:00", "2013-03-10 08:00")),
    ("2013-03-10 08:00", HOUR, ("2013-03-10 08:00", "2013-03-10 09:00")),
    ("2013-03-10 07:45", 30 * MINUTE, ("2013-03-10 07:30", "2013-03-10 08:00")),
    ("2013-03-10 08:30", 4 * HOUR, ("2013-03-10 06:00", "2013-03-10 09:00")),  # 3 h long
])
def test_dst_changes_inside_buckets_follow_the_first_reading_rule(ts, tf, expected):
    start, end = bucket_bounds(np.array([utc(ts)]), tf, "00:00", "America/Chicago")
    assert (int(start[0]), int(end[0])) == (utc(expected[0]), utc(expected[1]))
    assert SessionBuckets(tf, "00:00", "America/Chicago").bounds(utc(ts)) == (
        utc(expected[0]), utc(expected[1]))


def _oracle(ts, tf, session_open, zone):
    """Bounds by the documented rule, from first principles on a one-minute grid.

    A bound with wall label w is the first minute at which the local clock has read w or later
    (the running maximum of the wall clock reaches w). Every offset change in these zones falls
    on a whole minute, so the grid is exact.
    """
    tz = ZoneInfo(zone)
    epoch = datetime(1970, 1, 1)
    grid = np.arange(ts[0] - 2 * DAY_NS, ts[-1] + 2 * DAY_NS, MINUTE, dtype=np.int64)
    wall = np.array([
        (datetime.fromtimestamp(int(u) // 10**9, UTC).astimezone(tz).replace(tzinfo=None)
         - epoch).total_seconds() for u in grid.tolist()
    ], dtype=np.int64) * 10**9
    running = np.maximum.accumulate(wall)
    hours, mins = map(int, session_open.split(":"))
    open_ns = (hours * 60 + mins) * MINUTE
    i = np.searchsorted(grid, ts, side="right") - 1  # the minute holding ts
    w = np.maximum(running[i], wall[i] + (ts - grid[i]))  # running maximum at ts
    day = (w - open_ns) // DAY_NS * DAY_NS + open_ns
    wall_start = day + (w - day) // tf * tf
    wall_end = np.minimum(wall_start + tf, day + DAY_NS)
    first_reading = lambda labels: grid[np.searchsorted(running, labels)]  # noqa: E731
    return first_reading(wall_start), first_reading(wall_end)


@pytest.mark.parametrize(("zone", "session_open", "first", "last"), [
    ("America/Chicago", "00:00", "2013-11-02 12:00", "2013-11-04 12:00"),
    ("America/Chicago", "17:00", "2013-03-09 12:00", "2013-03-11 12:00"),
    ("America/Chicago", "01:30", "2013-11-02 12:00", "2013-11-04 12:00"),  # opens in the fold
    ("America/Chicago", "02:30", "2013-03-09 12:00", "2013-03-11 12:00"),  # opens in the gap
    ("Europe/London", "00:00", "2013-10-26 12:00", "2013-10-28 12:00"),
    ("Australia/Sydney", "17:00", "2013-04-05 12:00", "2013-04-07 12:00"),
    ("Australia/Lord_Howe", "00:00", "2013-10-04 12:00", "2013-10-07 12:00"),  # 30 min gap
    ("Australia/Lord_Howe", "01:45", "2013-04-05 12:00", "2013-04-08 12:00"),  # 30 min fold
    ("America/St_Johns", "09:30", "2013-03-09 12:00", "2013-03-11 12:00"),  # -03:30
    ("Asia/Kolkata", "00:00", "2013-03-09 12:00", "2013-03-11 12:00"),  # +05:30, no DST
    ("Pacific/Apia", "00:00", "2011-12-28 12:00", "2012-01-01 12:00"),  # skipped 2011-12-30
])
@pytest.mark.parametrize("tf", [7 * MINUTE, 30 * MINUTE, HOUR, 4 * HOUR])
def test_bounds_match_a_minute_grid_oracle_across_offset_changes(zone, session_open, first,
                                                                 last, tf):
    ts = np.arange(utc(first), utc(last), 5 * MINUTE, dtype=np.int64)
    ts = np.sort(np.concatenate((ts, ts[::7] + 17 * 10**9)))  # also off the minute grid
    start, end = bucket_bounds(ts, tf, session_open, zone)
    expected_start, expected_end = _oracle(ts, tf, session_open, zone)
    np.testing.assert_array_equal(start, expected_start)
    np.testing.assert_array_equal(end, expected_end)
    buckets = SessionBuckets(tf, session_open, zone)
    assert [buckets.bounds(t) for t in ts.tolist()] == list(zip(start.tolist(), end.tolist(),
                                                                strict=True))


# --- invariants and the scalar helper -------------------------------------------------------

ZONES = ["UTC", "America/Chicago", "America/New_York", "Europe/London", "Australia/Sydney",
         "Australia/Lord_Howe", "Asia/Kolkata"]
SPAN_2013 = (utc("2013-01-01"), utc("2014-01-01"))


@given(st.lists(st.integers(*SPAN_2013), min_size=1, max_size=40), st.sampled_from(ZONES),
       st.sampled_from(["00:00", "17:00", "09:30"]),
       st.sampled_from([MINUTE, 7 * MINUTE, 30 * MINUTE, 4 * HOUR, DAY_NS]))
def test_buckets_contain_their_timestamps_and_scalar_agrees(stamps, zone, session_open, tf):
    ts = np.array(stamps, dtype=np.int64)
    start, end = bucket_bounds(ts, tf, session_open, zone)
    assert np.all((start <= ts) & (ts < end))
    assert np.all(end - start <= tf + 2 * HOUR)
    # a bucket start lies in its own bucket, and order is kept
    again_start, again_end = bucket_bounds(start, tf, session_open, zone)
    np.testing.assert_array_equal(again_start, start)
    np.testing.assert_array_equal(again_end, end)
    order = np.argsort(ts, kind="stable")
    assert np.all(np.diff(start[order]) >= 0)
    buckets = SessionBuckets(tf, session_open, zone)
    assert [buckets.bounds(t) for t in stamps] == list(zip(start.tolist(), end.tolist(),
                                                           strict=True))


def test_unsorted_input_gives_the_same_bounds_as_sorted():
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(*SPAN_2013, size=2000))
    perm = rng.permutation(ts.size)
    start, end = bucket_bounds(ts, 30 * MINUTE, "17:00", "America/Chicago")
    shuffled_start, shuffled_end = bucket_bounds(ts[perm], 30 * MINUTE, "17:00",
                                                 "America/Chicago")
    np.testing.assert_array_equal(shuffled_start, start[perm])
    np.testing.assert_array_equal(shuffled_end, end[perm])


def test_empty_input_gives_empty_bounds():
    start, end = bucket_bounds(np.empty(0, np.int64), MINUTE, "17:00", "America/Chicago")
    assert start.dtype == end.dtype == np.int64 and start.size == end.size == 0


@pytest.mark.parametrize(("args", "match"), [
    ((np.array([1.5]), MINUTE, "00:00", "UTC"), "expected a 1-D integer array"),
    ((np.array([1]), 0, "00:00", "UTC"), "expected 0 < timeframe"),
    ((np.array([1]), 2 * DAY_NS, "00:00", "UTC"), "expected 0 < timeframe"),
    ((np.array([1]), MINUTE, "7:5", "UTC"), "expected 'HH:MM'"),
    ((np.array([1]), MINUTE, "24:00", "UTC"), "expected 'HH:MM'"),
    ((np.array([1]), MINUTE, "00:00", "Mars/Olympus"), "expected an IANA zone name"),
])
def test_invalid_arguments_raise_value_error(args, match):
    with pytest.raises(ValueError, match=match):
        bucket_bounds(*args)
