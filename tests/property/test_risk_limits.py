"""The hard limits of the M-RMS as properties: for any proposal and any account state the
allowed risk stays within every limit, every cut names its limit, a larger request never gets
less, and a daily-loss breach blocks trading for the rest of the session day only."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.risk import (
    LIMIT_NAMES,
    NO_DAY,
    AccountState,
    AccountTracker,
    AccountTrackerConfig,
    RiskLimitsConfig,
    apply_limits,
    session_day_of,
)
from engine.core.events import Bar, TradeClosed

limits_st = st.builds(
    RiskLimitsConfig,
    max_risk_pct=st.floats(0.01, 100.0),
    daily_loss_limit=st.floats(1.0, 1e5),
    max_drawdown=st.floats(1.0, 1e6),
    max_contracts=st.integers(1, 50),
    max_open_positions=st.integers(1, 5),
    max_trades_per_day=st.integers(1, 30),
)


@st.composite
def accounts(draw):
    """Any consistent account: positive equity at or below its peak, any daily P&L, any
    position and trade counts, halted today, on another day or not at all."""
    equity = draw(st.floats(1.0, 1e7))
    peak = equity + draw(st.floats(0.0, 1e5))
    daily = draw(st.floats(-1e5, 1e5))
    session_day = draw(st.integers(0, 30_000))
    halted_day = draw(st.sampled_from([NO_DAY, session_day, session_day - 1]))
    return AccountState(equity=equity, start_equity=draw(st.floats(1.0, 1e7)), peak_equity=peak,
                        day_start_equity=equity - daily, daily_pnl=daily,
                        open_positions=draw(st.integers(0, 5)),
                        trades_today=draw(st.integers(0, 30)), session_day=session_day,
                        halted_day=halted_day)


sizes = st.integers(0, 100)
stops = st.floats(0.01, 500.0)
point_values = st.sampled_from([1.0, 2.0, 5.0, 20.0, 50.0, 100_000.0]) | st.floats(0.01, 1e5)
costs = st.floats(0.0, 200.0)


def allowances(account, limits):
    """The three dollar allowances, computed as the module docstring states them."""
    return {
        "max_risk_per_trade": limits.max_risk_pct / 100.0 * account.equity,
        "daily_loss_limit": limits.daily_loss_limit + account.daily_pnl,
        "max_drawdown": limits.max_drawdown - (account.peak_equity - account.equity),
    }


def vetoes(account, limits):
    return {
        "max_open_positions": account.open_positions >= limits.max_open_positions,
        "max_trades_per_day": account.trades_today >= limits.max_trades_per_day,
        "halted_for_session": account.halted,
    }


@given(sizes, stops, point_values, costs, accounts(), limits_st)
def test_allowed_risk_never_exceeds_any_limit(size, stop, point_value, cost, account, limits):
    verdict = apply_limits(size, stop, point_value, cost, account, limits)
    rpc = stop * point_value + cost
    assert 0 <= verdict.size <= min(size, limits.max_contracts)
    assert verdict.requested == size
    assert verdict.risk_usd == verdict.size * rpc
    for allowance in allowances(account, limits).values():
        assert verdict.risk_usd <= max(allowance, 0.0)
    if any(vetoes(account, limits).values()):
        assert verdict.size == 0


@given(sizes, stops, point_values, costs, accounts(), limits_st)
def test_every_cut_names_its_limit_and_the_size_is_the_largest_allowed(
        size, stop, point_value, cost, account, limits):
    verdict = apply_limits(size, stop, point_value, cost, account, limits)
    rpc = stop * point_value + cost
    binding = {"max_contracts": size > limits.max_contracts}
    binding |= {name: size * rpc > a for name, a in allowances(account, limits).items()}
    binding |= vetoes(account, limits)
    expected = tuple(name for name in LIMIT_NAMES if binding[name]) if size > 0 else ()
    assert verdict.reasons == expected
    assert (verdict.size < size) == bool(verdict.reasons)
    assert verdict.vetoed == (size > 0 and verdict.size == 0)
    if 0 < verdict.size + 1 <= size and not any(vetoes(account, limits).values()):
        # one more contract would break a named limit: floored, never rounded away
        more = verdict.size + 1
        assert more > limits.max_contracts or any(
            more * rpc > a for a in allowances(account, limits).values())


@given(sizes, sizes, stops, point_values, costs, accounts(), limits_st)
def test_a_larger_request_never_gets_a_smaller_size(a, b, stop, point_value, cost, account,
                                                   limits):
    small, large = sorted((a, b))
    smaller = apply_limits(small, stop, point_value, cost, account, limits)
    larger = apply_limits(large, stop, point_value, cost, account, limits)
    assert smaller.size <= larger.size
    assert smaller.size == min(small, larger.size)


CHICAGO = ZoneInfo("America/Chicago")
FIRST_OPEN = datetime(2013, 9, 2, 17, 0, tzinfo=CHICAGO)


def ns(moment):
    return int(moment.timestamp()) * 10**9


def closed(ts, pnl):
    return TradeClosed(ts_event=ts, ts_init=ts, instrument="ES", strategy="s", trade_id=1,
                       order_id=1, direction="long", quantity=1, ts_entry=ts, entry_price=1.0,
                       ts_exit=ts, exit_price=1.0, exit_reason="exit", pnl_points=0.0,
                       gross_pnl_usd=float(pnl), commission_usd=0.0, slippage_usd=0.0,
                       pnl_usd=float(pnl), r_multiple=None, bars_held=1, mae_points=0.0,
                       mfe_points=0.0)


session_days = st.lists(
    st.tuples(st.integers(1, 3),                                   # days since the last one
              st.booleans(),                                       # a bar opens the day
              st.lists(st.integers(-1000, 1000), max_size=6)),     # trade P&L, whole USD
    min_size=1, max_size=6)


@given(session_days, st.integers(100, 3000))
def test_a_daily_loss_breach_blocks_trading_until_the_next_session_day(days, daily_limit):
    limits = RiskLimitsConfig(daily_loss_limit=float(daily_limit), max_drawdown=1e9,
                              max_risk_pct=100.0)
    tracker = AccountTracker(AccountTrackerConfig(instrument="ES", limits=limits))
    offset = 0
    for gap, bar_first, pnls in days:
        offset += gap
        open_ = FIRST_OPEN + timedelta(days=offset)
        day = session_day_of(ns(open_), "17:00", "America/Chicago")
        if bar_first:  # the first bar of the day rolls it: trading resumes whatever came before
            ts = ns(open_ + timedelta(minutes=1))
            tracker.on_event(Bar(ts_event=ts, ts_init=ts, instrument="ES", timeframe="1m",
                                 ts_open=ts - 60 * 10**9, open=1.0, high=1.0, low=1.0,
                                 close=1.0, volume=1.0))
            state = tracker.state
            assert state.session_day == day and state.daily_pnl == 0 and not state.halted
            assert apply_limits(1, 0.01, 50.0, 0.0, state, limits).size == 1
        cumulative = 0
        breached = False
        for i, pnl in enumerate(pnls):
            tracker.on_event(closed(ns(open_ + timedelta(minutes=10 * (i + 1))), pnl))
            cumulative += pnl
            breached = breached or cumulative <= -daily_limit
            state = tracker.state
            assert state.session_day == day and state.daily_pnl == cumulative
            assert state.halted == breached
            verdict = apply_limits(1, 0.01, 50.0, 0.0, state, limits)
            if breached:
                assert verdict.vetoed and "halted_for_session" in verdict.reasons
            else:
                assert verdict.size == 1 and verdict.reasons == ()


def test_worked_example_of_the_module_docstring():
    account = AccountState(equity=50_000.0, start_equity=50_000.0, peak_equity=50_600.0,
                           day_start_equity=50_600.0, daily_pnl=-600.0)
    verdict = apply_limits(5, 4.0, 50.0, 17.5, account, RiskLimitsConfig())
    assert (verdict.size, verdict.risk_usd) == (1, 217.5)
    assert verdict.reasons == ("max_risk_per_trade", "daily_loss_limit")
    assert not verdict.vetoed
    assert apply_limits(0, 4.0, 50.0, 17.5, account, RiskLimitsConfig()).reasons == ()


@pytest.mark.parametrize("field, value", [
    ("max_risk_pct", 0.0), ("max_risk_pct", 101.0), ("max_risk_pct", float("nan")),
    ("daily_loss_limit", -1.0), ("max_drawdown", 0.0), ("max_contracts", 0),
    ("max_open_positions", -1), ("max_trades_per_day", 0),
])
def test_limits_config_errors_name_the_field_and_value(field, value):
    with pytest.raises(ValueError, match=rf"^{field}: expected .*, was {value!r}$"):
        RiskLimitsConfig(**{field: value})


@pytest.mark.parametrize("args, field", [
    ((-1, 1.0, 50.0, 0.0), "size"), ((1, 0.0, 50.0, 0.0), "stop_distance"),
    ((1, float("inf"), 50.0, 0.0), "stop_distance"), ((1, 1.0, -5.0, 0.0), "point_value"),
    ((1, 1.0, 50.0, -0.5), "cost_per_contract"),
])
def test_apply_limits_rejects_bad_arguments_by_name(args, field):
    account = AccountState(equity=1.0, start_equity=1.0, peak_equity=1.0, day_start_equity=1.0)
    with pytest.raises(ValueError, match=rf"^{field}: expected"):
        apply_limits(*args, account, RiskLimitsConfig())
