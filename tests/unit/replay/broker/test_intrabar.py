"""SimulatedBroker execution rules on hand-built ES bars, with the exact expected prices.

ES: tick 0.25, $50 per point. Unless a test says otherwise the costs are the defaults (1 tick
of slippage against the trader, $2.25 per contract per side) and the decision bar is bar 0, so
the first fill can happen on bar 1. Bars are one minute long from 09:00 CDT on 2013-09-03 (no
session close nearby) except in the session-end tests.
"""

import math

import pytest

from engine.core.backtest_config import BrokerConfig, CostsConfig
from engine.core.events import Bar, Fill, OrderIntent, OrderRejected, TradeClosed
from engine.core.instruments import BUILTIN_INSTRUMENTS
from replay.broker import SimulatedBroker, SimulatedBrokerConfig

ES = BUILTIN_INSTRUMENTS["ES"]
MIN = 60 * 10**9
T0 = 1_378_216_800 * 10**9  # 2013-09-03 14:00 UTC = 09:00 CDT
T_CLOSE = 1_378_242_000 * 10**9  # 2013-09-03 21:00 UTC = 16:00 CDT, the ES session close
DECIDE = (100.0, 100.5, 99.5, 100.0)
ENTRY = (100.0, 101.0, 99.5, 100.5)  # a market buy decided on DECIDE fills at 100.25 here


def broker(intrabar="pessimistic", slippage=1.0, costs=None, **rules):
    return SimulatedBroker(SimulatedBrokerConfig(
        instrument=ES, timeframe="1m", broker=BrokerConfig(**rules),
        costs=costs or CostsConfig(slippage_ticks=slippage), intrabar=intrabar))


def ts_open(i, t0=T0):
    return t0 + i * MIN


def ts_close(i, t0=T0):
    return t0 + (i + 1) * MIN


def play(b, bars, orders=None, t0=T0):
    """Feed ``bars`` (o, h, l, c); after bar ``i`` submit each intent of ``orders[i]``."""
    orders = orders or {}
    events = []
    order_id = 0
    for i, (o, h, lo, c) in enumerate(bars):
        events += b.on_event(Bar(ts_event=ts_close(i, t0), ts_init=ts_close(i, t0),
                                 instrument="ES", timeframe="1m", ts_open=ts_open(i, t0),
                                 open=o, high=h, low=lo, close=c, volume=1.0))
        for fields in orders.get(i, ()):
            order_id += 1
            events += b.on_event(OrderIntent(ts_event=ts_close(i, t0), ts_init=ts_close(i, t0),
                                             instrument="ES", strategy="t", order_id=order_id,
                                             **fields))
    return events


def buy(**fields):
    return {"action": "buy", "quantity": 1, **fields}


def sell(**fields):
    return {"action": "sell", "quantity": 1, **fields}


def fills(b):
    return [(f.price, f.ts_fill, f.side, f.quantity, f.reason) for f in b.fills]


BRACKET = buy(stop_price=98.0, target_price=103.0)


# -- stop and target inside one bar ---------------------------------------------------------


def test_pessimistic_fills_the_stop_first_when_both_levels_are_inside_one_bar():
    b = broker("pessimistic")
    play(b, [DECIDE, ENTRY, (100.5, 103.5, 97.5, 100.0)], {0: [BRACKET]})
    assert fills(b) == [(100.25, ts_open(1), 1, 1, "entry"), (97.75, ts_close(2), -1, 1, "stop")]
    [trade] = b.trades
    assert (trade.entry_price, trade.exit_price, trade.exit_reason) == (100.25, 97.75, "stop")
    assert trade.pnl_points == -2.5
    assert trade.gross_pnl_usd == -125.0
    assert trade.commission_usd == 4.5
    assert trade.pnl_usd == -129.5
    assert trade.r_multiple == pytest.approx(-129.5 / (2.25 * 50))
    assert (trade.mae_points, trade.mfe_points) == (-2.5, 0.75)
    assert trade.bars_held == 1
    assert b.ambiguous_bars == 1
    assert b.position == 0


def test_optimistic_fills_the_target_first_when_both_levels_are_inside_one_bar():
    b = broker("optimistic")
    play(b, [DECIDE, ENTRY, (100.5, 103.5, 97.5, 100.0)], {0: [BRACKET]})
    assert fills(b) == [(100.25, ts_open(1), 1, 1, "entry"),
                        (103.0, ts_close(2), -1, 1, "target")]
    [trade] = b.trades
    assert trade.pnl_usd == 137.5 - 4.5
    assert trade.r_multiple == pytest.approx(133.0 / 112.5)
    assert (trade.mae_points, trade.mfe_points) == (-0.75, 2.75)
    assert b.ambiguous_bars == 1


@pytest.mark.parametrize("intrabar", ["pessimistic", "optimistic"])
def test_a_bar_reaching_only_one_level_is_not_ambiguous(intrabar):
    b = broker(intrabar)
    play(b, [DECIDE, ENTRY, (100.5, 103.25, 99.0, 103.0)], {0: [BRACKET]})
    assert fills(b)[-1] == (103.0, ts_close(2), -1, 1, "target")
    assert b.ambiguous_bars == 0


# -- gaps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("bar", "price"), [
    ((97.0, 97.75, 96.5, 97.5), 96.75),  # open minus one tick of slippage
    ((97.0, 97.75, 97.0, 97.5), 97.0),  # the slippage is clamped to the bar's low
])
def test_a_gap_through_the_stop_fills_at_the_open_with_slippage(bar, price):
    b = broker()
    play(b, [DECIDE, ENTRY, bar], {0: [BRACKET]})
    assert fills(b)[-1] == (price, ts_open(2), -1, 1, "stop")
    assert b.trades[0].exit_reason == "stop"


def test_a_gap_through_the_target_fills_at_the_open_without_slippage():
    b = broker()
    play(b, [DECIDE, ENTRY, (104.0, 104.5, 103.5, 104.25)], {0: [BRACKET]})
    assert fills(b)[-1] == (104.0, ts_open(2), -1, 1, "target")
    assert b.trades[0].pnl_points == 3.75


# -- time stop ------------------------------------------------------------------------------


QUIET = (100.5, 101.0, 100.0, 100.5)


@pytest.mark.parametrize(("default", "fields", "exit_bar"), [
    (100, {"time_stop_bars": 2}, 3),  # the order's own limit
    (3, {}, 4),  # the broker's default for bracket orders
    (3, {"time_stop_bars": 0}, None),  # 0 disables it
])
def test_the_time_stop_exits_at_the_open_after_n_bars_held(default, fields, exit_bar):
    b = broker(time_stop_bars=default)
    bars = [DECIDE, ENTRY, *[QUIET] * 5]
    play(b, bars, {0: [buy(stop_points=10.0, **fields)]})
    if exit_bar is None:
        assert b.position == 1 and not b.trades
        return
    assert fills(b)[-1] == (100.25, ts_open(exit_bar), -1, 1, "time_stop")
    [trade] = b.trades
    assert trade.exit_reason == "time_stop"
    assert trade.bars_held == exit_bar - 1


def test_a_plain_order_has_no_time_stop():
    b = broker(time_stop_bars=2)
    play(b, [DECIDE, ENTRY, *[QUIET] * 5], {0: [buy()]})
    assert b.position == 1 and not b.trades


# -- the short side mirrors the long side ---------------------------------------------------


MID = 100.0


def mirror_price(p):
    return 2 * MID - p


def mirror_bar(bar):
    o, h, lo, c = bar
    return (mirror_price(o), mirror_price(lo), mirror_price(h), mirror_price(c))


def mirror_order(fields):
    out = dict(fields)
    out["action"] = {"buy": "sell", "sell": "buy"}.get(fields["action"], fields["action"])
    for key in ("price", "stop_price", "target_price"):
        if key in out:
            out[key] = mirror_price(out[key])
    return out


SCENARIOS = {
    "ambiguous": ([DECIDE, ENTRY, (100.5, 103.5, 97.5, 100.0)], {0: [BRACKET]}),
    "gap_stop": ([DECIDE, ENTRY, (97.0, 97.75, 96.5, 97.5)], {0: [BRACKET]}),
    "gap_target": ([DECIDE, ENTRY, (104.0, 104.5, 103.5, 104.25)], {0: [BRACKET]}),
    "points_bracket": ([DECIDE, ENTRY, QUIET, (100.5, 102.75, 100.25, 102.0)],
                       {0: [buy(stop_points=1.5, target_points=2.25, quantity=2)]}),
    "time_stop": ([DECIDE, ENTRY, QUIET, QUIET, QUIET],
                  {0: [buy(stop_points=5.0, time_stop_bars=2)]}),
    "limit_then_close": ([DECIDE, (100.0, 100.25, 99.25, 99.5), QUIET, QUIET],
                         {0: [buy(order_type="limit", price=99.5)], 2: [{"action": "close"}]}),
    "stop_entry_bracket": ([DECIDE, (100.0, 101.5, 99.0, 99.5), (99.5, 100.0, 98.0, 98.5)],
                           {0: [buy(order_type="stop", price=101.0, stop_points=2.0,
                                    target_points=1.0)]}),
    "flip": ([DECIDE, ENTRY, QUIET, (99.0, 99.5, 98.0, 98.25), QUIET],
             {0: [buy(quantity=2)], 1: [sell(quantity=3)], 3: [{"action": "close"}]}),
}


@pytest.mark.parametrize("intrabar", ["pessimistic", "optimistic"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_short_on_mirrored_prices_gives_mirrored_fills_and_the_same_pnl(scenario, intrabar):
    bars, orders = SCENARIOS[scenario]
    long, short = broker(intrabar), broker(intrabar)
    play(long, bars, orders)
    play(short, [mirror_bar(bar) for bar in bars],
         {i: [mirror_order(o) for o in os] for i, os in orders.items()})
    assert long.fills, "the scenario must trade"
    assert [(mirror_price(p), t, -s, q, r) for p, t, s, q, r in fills(long)] == fills(short)
    assert len(long.trades) == len(short.trades)
    for a, b in zip(long.trades, short.trades, strict=True):
        assert {"long": "short", "short": "long"}[a.direction] == b.direction
        assert (a.entry_price, a.exit_price) == (mirror_price(b.entry_price),
                                                 mirror_price(b.exit_price))
        for name in ("quantity", "ts_entry", "ts_exit", "exit_reason", "pnl_points",
                     "gross_pnl_usd", "commission_usd", "slippage_usd", "pnl_usd",
                     "r_multiple", "bars_held", "mae_points", "mfe_points"):
            assert getattr(a, name) == getattr(b, name), name
    assert long.cash == short.cash
    assert long.ambiguous_bars == short.ambiguous_bars


# -- entries --------------------------------------------------------------------------------


@pytest.mark.parametrize(("bar", "expected"), [
    ((99.0, 99.75, 98.75, 99.5), (99.0, ts_open(1))),  # open through the limit: the open
    ((100.0, 100.25, 99.25, 99.5), (99.5, ts_close(1))),  # the range reaches it: the limit
    ((100.0, 100.25, 99.5, 99.75), (99.5, ts_close(1))),  # low touching it is enough
    ((100.0, 100.25, 99.75, 100.0), None),  # not reached: still pending
])
def test_a_limit_buy_fills_at_the_open_through_it_or_at_its_price(bar, expected):
    b = broker(slippage=2.0)
    play(b, [DECIDE, bar], {0: [buy(order_type="limit", price=99.5)]})
    if expected is None:
        assert not b.fills and b.pending_orders == 1
        return
    [fill] = b.fills
    assert (fill.price, fill.ts_fill) == expected
    assert fill.slippage_usd == 0.0


@pytest.mark.parametrize(("bar", "expected"), [
    ((101.5, 102.0, 101.25, 101.75), (101.75, ts_open(1))),  # open through: open + slippage
    ((100.0, 101.5, 99.75, 101.25), (101.25, ts_close(1))),  # reached: stop + slippage
    ((100.0, 101.0, 99.75, 101.0), (101.0, ts_close(1))),  # the slippage clamped to the high
    ((100.0, 100.75, 99.75, 100.5), None),
])
def test_a_stop_buy_fills_at_the_open_through_it_or_at_its_level_plus_slippage(bar, expected):
    b = broker()
    play(b, [DECIDE, bar], {0: [buy(order_type="stop", price=101.0)]})
    if expected is None:
        assert not b.fills and b.pending_orders == 1
        return
    [fill] = b.fills
    assert (fill.price, fill.ts_fill) == expected
    assert fill.slippage_usd == (fill.price - (101.0 if fill.ts_fill == ts_close(1)
                                                else bar[0])) * 50


@pytest.mark.parametrize(("fields", "bar", "price"), [
    (buy(), (100.0, 100.0, 99.0, 99.5), 100.0),  # open == high: no room for slippage
    (sell(), (100.0, 101.0, 100.0, 100.5), 100.0),  # open == low
    (buy(), (100.0, 100.5, 99.0, 99.5), 100.5),  # 4 ticks wanted, 2 available
    (buy(order_type="stop", price=100.5), (100.0, 100.5, 99.0, 99.5), 100.5),
    (sell(order_type="stop", price=99.5), (100.0, 101.0, 99.5, 100.0), 99.5),
])
def test_slippage_never_moves_a_fill_outside_the_bar(fields, bar, price):
    b = broker(slippage=4.0)
    play(b, [DECIDE, bar], {0: [fields]})
    [fill] = b.fills
    assert fill.price == price
    assert bar[2] <= fill.price <= bar[1]


def test_fractional_slippage_rounds_out_to_a_whole_tick_against_the_trader():
    b = broker(slippage=0.5)
    play(b, [DECIDE, ENTRY], {0: [buy()]})
    assert b.fills[0].price == 100.25


# -- the bar of an intrabar entry -----------------------------------------------------------


STOP_ENTRY = buy(order_type="stop", price=101.0, stop_points=2.0, target_points=1.0)
# fills at 101.25 (101 + 1 tick) inside bar 1; stop 99.25, target 102.25


@pytest.mark.parametrize(("intrabar", "bar", "exit_fill"), [
    # only the target is inside the entry bar: pessimistic keeps the position
    ("pessimistic", (100.0, 102.5, 99.5, 102.0), None),
    ("optimistic", (100.0, 102.5, 99.5, 102.0), (102.25, "target")),
    # only the stop is inside the entry bar: optimistic keeps the position
    ("pessimistic", (100.0, 101.5, 99.0, 99.5), (99.0, "stop")),
    ("optimistic", (100.0, 101.5, 99.0, 99.5), None),
])
def test_on_the_bar_of_an_intrabar_entry_only_the_favoured_level_can_fill(intrabar, bar,
                                                                           exit_fill):
    b = broker(intrabar)
    play(b, [DECIDE, bar], {0: [STOP_ENTRY]})
    assert fills(b)[0] == (101.25, ts_close(1), 1, 1, "entry")
    if exit_fill is None:
        assert b.position == 1 and len(b.fills) == 1
        return
    price, reason = exit_fill
    assert fills(b)[1] == (price, ts_close(1), -1, 1, reason)
    assert b.position == 0
    assert b.ambiguous_bars == 0


def test_an_intrabar_entry_bar_with_both_levels_inside_is_ambiguous():
    b = broker("pessimistic")
    play(b, [DECIDE, (100.0, 102.5, 99.0, 100.0)], {0: [STOP_ENTRY]})
    assert fills(b)[1] == (99.0, ts_close(1), -1, 1, "stop")
    assert b.ambiguous_bars == 1


# -- session end ----------------------------------------------------------------------------


def test_flat_at_session_end_exits_at_the_close_of_the_last_bar_and_cancels_entries():
    b = broker(flat_at_session_end=True)
    t0 = T_CLOSE - 5 * MIN  # bar 4 is 15:59-16:00 CDT, the session's last
    events = play(b, [DECIDE, ENTRY, QUIET, QUIET, (100.5, 101.0, 100.0, 100.0), QUIET],
                  {0: [buy()], 2: [buy(order_type="limit", price=90.0)]}, t0=t0)
    last = ts_close(4, t0)
    assert last == T_CLOSE
    assert fills(b) == [(100.25, ts_open(1, t0), 1, 1, "entry"),
                        (100.0, last, -1, 1, "session_end")]  # close - 1 tick, clamped
    assert b.trades[0].exit_reason == "session_end"
    assert b.rejections == [OrderRejected(ts_event=last, ts_init=last, instrument="ES",
                                          strategy="", order_id=2, reason="session_end")]
    tail = [e for e in events if e.ts_event == last]
    # the exit (its fill and trade rows) comes before the cancellation
    assert {type(e) for e in tail[:2]} == {Fill, TradeClosed}
    assert type(tail[2]) is OrderRejected and len(tail) == 3
    assert b.position == 0 and b.pending_orders == 0


def test_without_flat_at_session_end_the_position_is_held_over_the_close():
    b = broker()
    t0 = T_CLOSE - 5 * MIN
    play(b, [DECIDE, ENTRY, QUIET, QUIET, QUIET, QUIET], {0: [buy()]}, t0=t0)
    assert b.position == 1 and not b.trades


# -- order life cycle and refusals ----------------------------------------------------------


FAR = (100.0, 100.5, 99.5, 100.0)


def test_expire_bars_cancels_an_unfilled_order_after_that_many_bars():
    b = broker()
    events = play(b, [DECIDE, FAR, FAR, FAR, FAR],
                  {0: [buy(order_type="limit", price=95.0, expire_bars=2)]})
    assert not b.fills
    [rejected] = b.rejections
    assert (rejected.reason, rejected.ts_event, rejected.order_id) == ("expired", ts_close(3), 1)
    assert rejected in events


def test_an_order_can_still_fill_on_its_last_bar_before_expiry():
    b = broker()
    play(b, [DECIDE, FAR, (100.0, 100.5, 94.5, 95.5), FAR],
         {0: [buy(order_type="limit", price=95.0, expire_bars=2)]})
    assert fills(b) == [(95.0, ts_close(2), 1, 1, "entry")]
    assert not b.rejections


def test_a_bracket_order_while_a_position_is_open_is_rejected():
    b = broker()
    play(b, [DECIDE, ENTRY, QUIET, QUIET], {0: [buy()], 1: [buy(stop_points=2.0)]})
    assert [r.reason for r in b.rejections] == ["position_open"]
    assert b.rejections[0].ts_event == ts_close(2)
    assert b.position == 1


def test_a_plain_order_while_a_bracket_is_active_is_rejected_but_close_works():
    b = broker()
    play(b, [DECIDE, ENTRY, QUIET, QUIET], {0: [buy(stop_points=2.0)], 1: [buy()],
                                            2: [{"action": "close"}]})
    assert [r.reason for r in b.rejections] == ["bracket_active"]
    assert fills(b)[-1] == (100.25, ts_open(3), -1, 1, "close")
    assert b.position == 0


def test_a_close_without_a_position_is_rejected():
    b = broker()
    play(b, [DECIDE, ENTRY], {0: [{"action": "close"}]})
    assert [r.reason for r in b.rejections] == ["no_position"]


def test_orders_beyond_max_position_are_rejected_and_a_flip_within_it_is_allowed():
    b = broker(max_position=2)
    play(b, [DECIDE, ENTRY, QUIET, QUIET, QUIET],
         {0: [buy(quantity=2)], 1: [buy()], 2: [sell(quantity=4)]})
    assert [r.reason for r in b.rejections] == ["max_position"]
    assert b.rejections[0].ts_event == ts_close(2)
    assert fills(b) == [(100.25, ts_open(1), 1, 2, "entry"), (100.25, ts_open(3), -1, 4, "exit")]
    assert b.position == -2
    [trade] = b.trades
    assert (trade.direction, trade.quantity, trade.pnl_points) == ("long", 2, 0.0)
    # the trade carries the entry's two sides and half of the four-contract exit fill
    assert trade.commission_usd == 2 * 2.25 + 2 * 2.25
    assert b.fees_usd == 6 * 2.25


def test_an_invalid_order_is_rejected_when_submitted():
    b = broker()
    events = play(b, [DECIDE], {0: [buy(quantity=0), buy(order_type="limit")]})
    assert [r.reason for r in b.rejections] == ["invalid_order", "invalid_order"]
    assert all(e.ts_event == ts_close(0) for e in events)


# -- P&L figures ----------------------------------------------------------------------------


def test_r_multiple_is_pnl_over_the_initial_risk_times_quantity_and_point_value():
    b = broker()
    play(b, [DECIDE, ENTRY, (100.5, 103.5, 100.25, 103.0)],
         {0: [buy(quantity=2, stop_price=98.0, target_price=103.0)]})
    [trade] = b.trades
    assert trade.gross_pnl_usd == 2.75 * 2 * 50
    assert trade.commission_usd == 4 * 2.25
    assert trade.pnl_usd == 275.0 - 9.0
    assert trade.r_multiple == pytest.approx(trade.pnl_usd / (abs(100.25 - 98.0) * 2 * 50))


def test_r_multiple_is_none_without_a_stop():
    b = broker()
    play(b, [DECIDE, ENTRY, QUIET, QUIET], {0: [buy(target_points=50.0)],
                                            2: [{"action": "close"}]})
    assert b.trades[0].r_multiple is None


def test_mae_and_mfe_are_the_worst_and_best_excursion_while_open():
    b = broker()
    play(b, [DECIDE, ENTRY, (100.5, 102.0, 99.0, 101.0), (101.0, 101.5, 100.5, 101.0)],
         {0: [buy()], 2: [{"action": "close"}]})
    [trade] = b.trades
    # entry 100.25 at bar 1's open; bars 1 and 2 reach 99.0 and 102.0; exit 100.75
    assert trade.exit_price == 100.75
    assert (trade.mae_points, trade.mfe_points) == (-1.25, 1.75)
    assert trade.pnl_points == 0.5


def test_mae_and_mfe_of_a_trade_that_never_moves_against_or_for_it_are_zero():
    b = broker(slippage=0.0)
    flat = (100.0, 100.0, 100.0, 100.0)
    play(b, [flat, flat, flat, flat], {0: [buy()], 2: [{"action": "close"}]})
    [trade] = b.trades
    assert (trade.mae_points, trade.mfe_points, trade.pnl_points) == (0.0, 0.0, 0.0)


def test_default_commission_is_2_25_per_contract_per_side():
    b = broker(costs=CostsConfig())
    play(b, [DECIDE, ENTRY, QUIET, QUIET], {0: [buy(quantity=3)], 2: [{"action": "close"}]})
    assert [f.commission_usd for f in b.fills] == [3 * 2.25, 3 * 2.25]
    [trade] = b.trades
    assert trade.commission_usd == 6 * 2.25
    assert trade.pnl_usd == trade.gross_pnl_usd - 13.5
    assert b.cash == 100_000.0 + trade.pnl_usd
    assert math.isclose(b.slippage_usd, 2 * 3 * 0.25 * 50)


# -- regressions ----------------------------------------------------------------------------


def test_fills_at_the_open_come_before_fills_inside_the_bar_whatever_the_submission_order():
    # a resting limit buy (submitted first) fills inside bar 2; the close submitted later
    # fills at bar 2's open and must close only the position held at the open
    b = broker()
    play(b, [DECIDE, ENTRY, (100.5, 100.75, 99.0, 99.5)],
         {0: [buy()], 1: [buy(order_type="limit", price=99.5), {"action": "close"}]})
    assert fills(b) == [(100.25, ts_open(1), 1, 1, "entry"),
                        (100.25, ts_open(2), -1, 1, "close"),
                        (99.5, ts_close(2), 1, 1, "entry")]
    assert b.position == 1
    assert all(t.ts_entry <= t.ts_exit for t in b.trades)


@pytest.mark.parametrize(("fields", "price", "reason"), [
    (buy(target_price=100.25), 100.75, "target"),  # the open 100.75 is above the target
    (buy(stop_price=101.0), 100.5, "stop"),  # the open is below the stop: open - 1 tick
])
def test_a_bracket_level_the_entry_open_has_passed_fills_at_that_open(fields, price, reason):
    b = broker()
    play(b, [DECIDE, (100.75, 101.0, 100.5, 100.75)], {0: [fields]})
    assert fills(b) == [(101.0, ts_open(1), 1, 1, "entry"), (price, ts_open(1), -1, 1, reason)]
    assert all(100.5 <= f.price <= 101.0 for f in b.fills)
