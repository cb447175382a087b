"""Trading-day labels: CME 17:00 Chicago sessions across both DST changes, UTC midnight days,
morning opens, and a per-element zoneinfo oracle for random times and zones."""

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.metrics import trading_day

NS = 10**9


def utc_ns(*stamps):
    return np.array([pd.Timestamp(s, tz="UTC").value for s in stamps], dtype=np.int64)


def dates(days):
    return [str(d) for d in days.astype("datetime64[D]")]


def test_cme_session_boundary_across_spring_forward():
    # 2024-03-08 (Fri) 17:00 CST = 23:00Z; 2024-03-10 (Sun) 17:00 CDT = 22:00Z
    ts = utc_ns("2024-03-08 22:59", "2024-03-08 23:00", "2024-03-08 23:01",
                "2024-03-10 21:59", "2024-03-10 22:00", "2024-03-10 22:01",
                "2024-03-11 21:00", "2024-03-11 22:00", "2024-03-11 22:00:00.000000001")
    assert dates(trading_day(ts, "17:00", "America/Chicago")) == [
        "2024-03-08", "2024-03-08", "2024-03-09",
        "2024-03-10", "2024-03-10", "2024-03-11",
        "2024-03-11", "2024-03-11", "2024-03-12"]


def test_cme_session_boundary_across_fall_back():
    # 2024-11-01 (Fri) 17:00 CDT = 22:00Z; 2024-11-03 (Sun) 17:00 CST = 23:00Z
    ts = utc_ns("2024-11-01 22:00", "2024-11-01 22:01",
                "2024-11-03 06:30", "2024-11-03 07:30",  # 01:30 CDT, then 01:30 CST again
                "2024-11-03 22:01", "2024-11-03 23:00", "2024-11-03 23:01")
    assert dates(trading_day(ts, "17:00", "America/Chicago")) == [
        "2024-11-01", "2024-11-02",
        "2024-11-03", "2024-11-03",
        "2024-11-03", "2024-11-03", "2024-11-04"]


def test_utc_midnight_days_ignore_dst_and_close_at_midnight():
    ts = utc_ns("2024-03-10 00:00", "2024-03-10 00:00:00.000000001", "2024-03-10 23:59",
                "2024-03-11 00:00", "2024-11-03 12:00")
    assert dates(trading_day(ts, "00:00", "UTC")) == [
        "2024-03-09", "2024-03-10", "2024-03-10", "2024-03-10", "2024-11-03"]
    np.testing.assert_array_equal(trading_day(ts, "00:00", "UTC"), (ts - 1) // (86_400 * NS))


def test_morning_open_keeps_the_calendar_date():
    # 09:30 New York: EDT from 2024-03-10, so the open is 14:30Z before and 13:30Z after
    ts = utc_ns("2024-03-08 14:30", "2024-03-08 14:31", "2024-03-11 13:30", "2024-03-11 13:31")
    assert dates(trading_day(ts, "09:30", "America/New_York")) == [
        "2024-03-07", "2024-03-08", "2024-03-10", "2024-03-11"]


def test_empty_input_and_bad_session_open():
    assert trading_day(np.array([], dtype=np.int64), "17:00", "UTC").shape == (0,)
    for bad in ("24:00", "17:60", "1700", "5pm", ""):
        with pytest.raises(ValueError, match="session_open"):
            trading_day(utc_ns("2024-01-02"), bad, "UTC")


def oracle(ts, session_open, zone):
    """One timestamp at a time through zoneinfo; seconds suffice as the open is whole minutes."""
    hour, minute = map(int, session_open.split(":"))
    out = []
    for t in ts.tolist():
        local = dt.datetime.fromtimestamp((t - 1) // NS, tz=dt.UTC).astimezone(ZoneInfo(zone))
        day = local.date() - dt.timedelta(days=local.time() < dt.time(hour, minute))
        day += dt.timedelta(days=hour >= 12)
        out.append((day - dt.date(1970, 1, 1)).days)
    return out


ZONES = ["UTC", "America/Chicago", "America/New_York", "Europe/London", "Asia/Tokyo",
         "Australia/Sydney", "Asia/Kolkata"]
DST_2024 = utc_ns("2024-03-10 08:00", "2024-11-03 07:00", "2024-03-31 01:00",
                  "2024-04-07 16:00", "2024-10-06 16:00")


@given(st.lists(st.one_of(st.integers(utc_ns("2000-01-01")[0], utc_ns("2040-01-01")[0]),
                          st.sampled_from(DST_2024.tolist()).flatmap(
                              lambda t: st.integers(t - 2 * 86_400 * NS, t + 2 * 86_400 * NS))),
                min_size=1, max_size=15),
       st.sampled_from(["00:00", "08:30", "09:30", "12:00", "16:15", "17:00", "23:59"]),
       st.sampled_from(ZONES))
def test_matches_a_zoneinfo_oracle(ts, session_open, zone):
    ts = np.array(sorted(ts), dtype=np.int64)
    days = trading_day(ts, session_open, zone)
    assert days.dtype == np.int64
    assert days.tolist() == oracle(ts, session_open, zone)
    assert (np.diff(days) >= 0).all()
