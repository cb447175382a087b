"""AccountTracker on hand-built ES fills, trades and bars: every figure worked out by hand."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from components.risk import (
    NO_DAY,
    AccountTracker,
    AccountTrackerConfig,
    RiskLimitsConfig,
    apply_limits,
    session_day_of,
)
from engine.core.events import Bar, Fill, Heartbeat, TradeClosed
from engine.core.instruments import BUILTIN_INSTRUMENTS

MINUTE = 60 * 10**9
CHICAGO = ZoneInfo("America/Chicago")
ES = BUILTIN_INSTRUMENTS["ES"]


def ct(text):
    """UTC ns of a Chicago wall time ``YYYY-MM-DD HH:MM``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=CHICAGO).timestamp()) * 10**9


def day(d):
    """Session day number of the session that opened on local date ``d``."""
    return (d - date(1970, 1, 1)).days


def bar(ts_event, close, instrument="ES"):
    return Bar(ts_event=ts_event, ts_init=ts_event, instrument=instrument, timeframe="1m",
               ts_open=ts_event - MINUTE, open=close, high=close, low=close, close=close,
               volume=1.0)


def fill(ts_event, side, quantity, price, position_after, reason="entry", strategy="s"):
    return Fill(ts_event=ts_event, ts_init=ts_event, instrument="ES", strategy=strategy,
                order_id=1, ts_fill=ts_event - MINUTE, side=side, quantity=quantity, price=price,
                reason=reason, commission_usd=2.5 * quantity, slippage_usd=0.0,
                position_after=position_after)


def closed(ts_event, pnl_usd, quantity=1, strategy="s"):
    return TradeClosed(ts_event=ts_event, ts_init=ts_event, instrument="ES", strategy=strategy,
                       trade_id=1, order_id=1, direction="long", quantity=quantity,
                       ts_entry=ts_event - 5 * MINUTE, entry_price=100.0, ts_exit=ts_event,
                       exit_price=100.0, exit_reason="exit", pnl_points=0.0,
                       gross_pnl_usd=pnl_usd, commission_usd=0.0, slippage_usd=0.0,
                       pnl_usd=pnl_usd, r_multiple=None, bars_held=5, mae_points=0.0,
                       mfe_points=0.0)


def tracker():
    return AccountTracker(AccountTrackerConfig.for_instrument(ES, strategy="s"))


T = {k: ct(f"2013-09-03 08:{30 + k:02d}") for k in range(1, 9)}
DAY_A = day(date(2013, 9, 2))  # the session that opened 2013-09-02 17:00 CDT

# A long winner, a short stopped out inside a bar whose close would have been a big winner,
# a session roll, a day that breaches the daily loss limit, and the next day.
STREAM = [
    bar(T[1], 1640.00),
    bar(T[2], 1641.00), fill(T[2], +1, 2, 1640.25, 2),
    bar(T[3], 1636.25),
    bar(T[4], 1645.25),
    bar(T[5], 1644.00), fill(T[5], -1, 2, 1644.00, 0, "target"), closed(T[5], 365.0, 2),
    bar(T[6], 1644.50), fill(T[6], -1, 1, 1644.25, -1),
    bar(T[7], 1630.00), fill(T[7], +1, 1, 1646.50, 0, "stop"), closed(T[7], -117.5),
    bar(T[8], 1631.00),
    bar(ct("2013-09-03 17:00"), 1631.25),        # closes at the open: still day A
    bar(ct("2013-09-03 17:01"), 1631.50),        # day A + 1
    closed(ct("2013-09-03 19:00"), -600.0),
    closed(ct("2013-09-03 20:00"), -450.0),      # -1050: the day is halted
    closed(ct("2013-09-03 21:00"), 300.0),       # -750, still halted
    bar(ct("2013-09-04 17:01"), 1632.00),        # day A + 2: trading resumes
]


def run(events, t=None):
    t = t or tracker()
    states = []
    for event in events:
        assert t.on_event(event) == ()
        states.append(t.state)
    return t, states


def test_fresh_tracker_is_flat_at_start_equity():
    state = tracker().state
    assert state.equity == state.peak_equity == state.day_start_equity == 50_000.0
    assert (state.daily_pnl, state.open_positions, state.trades_today) == (0.0, 0, 0)
    assert state.session_day == state.halted_day == NO_DAY and not state.halted
    assert state.win_rate is None and state.profit_factor is None


def test_long_trade_marks_at_bar_closes_and_realises_net_pnl():
    _, states = run(STREAM[:9])
    entry = states[2]                      # bar 1641 first, then the fill at 1640.25
    assert entry.open_pnl == (1641.00 - 1640.25) * 2 * 50 == 75.0
    assert (entry.equity, entry.open_positions, entry.trades_today) == (50_075.0, 1, 1)
    assert entry.session_day == DAY_A
    down = states[3]
    assert (down.equity, down.daily_pnl, down.peak_equity) == (49_600.0, -400.0, 50_075.0)
    up = states[4]
    assert (up.equity, up.peak_equity) == (50_500.0, 50_500.0)
    done = states[7]                        # bar, exit fill, trade closed at T5
    assert (done.equity, done.open_pnl, done.open_positions) == (50_365.0, 0.0, 0)
    assert (done.wins, done.losses, done.gross_win, done.trades_total) == (1, 0, 365.0, 1)
    assert done.daily_pnl == 365.0 and done.peak_equity == 50_500.0


def test_mark_before_the_bars_own_stop_fill_never_raises_the_peak():
    _, states = run(STREAM[:14])
    transient = states[10]                   # bar T7 marks the short at 1630 before its stop
    assert transient.equity == 50_365.0 + (1630.00 - 1644.25) * -1 * 50 == 51_077.5
    after = states[12]
    assert after.equity == 50_247.5 and after.open_positions == 0
    assert after.trades_today == 2
    assert (after.wins, after.losses, after.gross_loss) == (1, 1, 117.5)
    assert after.win_rate == 0.5 and after.profit_factor == 365.0 / 117.5
    committed = states[13]                   # the next step committed the peak of step T7
    assert committed.peak_equity == 50_500.0
    assert committed.drawdown == 50_500.0 - 50_247.5


def test_session_day_rolls_at_the_session_open_and_the_halt_lasts_the_day():
    limits = RiskLimitsConfig()
    _, states = run(STREAM)
    at_open = states[14]                     # bar closing at 17:00 belongs to the old day
    assert at_open.session_day == DAY_A and at_open.trades_today == 2
    rolled = states[15]
    assert rolled.session_day == DAY_A + 1
    assert (rolled.day_start_equity, rolled.daily_pnl, rolled.trades_today) == (50_247.5, 0.0, 0)
    assert not rolled.halted
    assert states[16].daily_pnl == -600.0 and not states[16].halted
    breached = states[17]
    assert breached.daily_pnl == -1050.0 and breached.halted
    assert breached.halted_day == DAY_A + 1
    recovered = states[18]
    assert recovered.daily_pnl == -750.0 and recovered.halted   # latched
    verdict = apply_limits(1, 1.0, 50.0, 5.0, recovered, limits)
    assert verdict.vetoed and verdict.reasons == ("halted_for_session",)
    next_day = states[19]
    assert next_day.session_day == DAY_A + 2 and not next_day.halted
    assert next_day.halted_day == DAY_A + 1
    assert (next_day.day_start_equity, next_day.daily_pnl) == (49_497.5, 0.0)
    assert apply_limits(1, 1.0, 50.0, 5.0, next_day, limits).size == 1


@pytest.mark.parametrize("local_date, utc_open_hour", [("2013-09-03", 22), ("2014-01-14", 23)])
def test_session_day_follows_the_zone_across_daylight_saving(local_date, utc_open_hour):
    t = tracker()
    open_ns = ct(f"{local_date} 17:00")
    assert datetime.fromtimestamp(open_ns // 10**9, tz=ZoneInfo("UTC")).hour == utc_open_hour
    t.on_event(bar(open_ns, 100.0))
    before = t.state.session_day
    t.on_event(bar(open_ns + MINUTE, 100.0))
    assert t.state.session_day == before + 1 == day(date.fromisoformat(local_date))
    assert session_day_of(open_ns, "17:00", "America/Chicago") == before + 1


def test_snapshot_restore_mid_stream_equals_uninterrupted():
    full, expected = run(STREAM)
    for split in range(len(STREAM) + 1):
        first, _ = run(STREAM[:split])
        resumed = tracker()
        resumed.restore(first.snapshot())
        _, states = run(STREAM[split:], resumed)
        assert states == expected[split:]
        assert resumed.snapshot() == full.snapshot()


def test_reset_returns_to_a_fresh_tracker():
    fresh = tracker()
    used, _ = run(STREAM)
    used.reset()
    assert used.state == fresh.state
    assert used.snapshot() == fresh.snapshot()
    assert run(STREAM, used)[1] == run(STREAM)[1]


def test_other_strategies_instruments_and_event_types_are_ignored():
    t = tracker()
    for event in (fill(T[1], 1, 1, 100.0, 1, strategy="other"), closed(T[1], -5000.0,
                                                                       strategy="other"),
                  bar(T[1], 1.0, instrument="NQ"),
                  Heartbeat(ts_event=T[1], ts_init=T[1], source="x", sequence=1)):
        assert t.on_event(event) == ()
    assert t.snapshot() == tracker().snapshot()


def test_trades_today_counts_openings_and_flips_not_additions():
    t = tracker()
    t.on_event(fill(T[1], +1, 1, 100.0, 1))     # open long
    t.on_event(fill(T[2], +1, 1, 102.0, 2))     # add: not a new trade, average 101
    assert t.state.trades_today == 1
    t.on_event(bar(T[3], 103.0))
    assert t.state.open_pnl == (103.0 - 101.0) * 2 * 50
    t.on_event(fill(T[4], -1, 3, 104.0, -1))    # flip to short: a new trade at 104
    t.on_event(bar(T[5], 103.0))
    assert (t.state.trades_today, t.state.open_positions) == (2, 1)
    assert t.state.open_pnl == (103.0 - 104.0) * -1 * 50
    assert apply_limits(1, 1.0, 50.0, 0.0, t.state, RiskLimitsConfig()).reasons == (
        "max_open_positions",)


def test_without_point_value_equity_is_realised_only():
    t = AccountTracker(AccountTrackerConfig(session_open="00:00", session_timezone="UTC"))
    t.on_event(fill(T[1], +1, 1, 100.0, 1))
    t.on_event(bar(T[2], 50.0))
    assert (t.state.equity, t.state.open_pnl, t.state.open_positions) == (50_000.0, 0.0, 1)


@pytest.mark.parametrize("fields, message", [
    ({"start_equity": 0.0}, "start_equity: expected a finite number > 0, was 0.0"),
    ({"point_value": 50.0}, "instrument: expected a symbol"),
    ({"session_open": "25:00"}, "session_open"),
    ({"session_timezone": "Mars/Olympus"}, "session_timezone"),
])
def test_config_errors_name_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        AccountTrackerConfig(**fields)
