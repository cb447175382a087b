"""SimulatedBroker accounting invariants on random bars and random order sequences.

Bars are ES one-minute bars on the 0.25 tick grid (open and close inside [low, high], with
occasional gaps), starting at 15:40 CDT so that flat-at-session-end, when drawn, fires on the
bar ending 16:00. Orders (market, limit, stop buys and sells of 1-3 contracts, closes,
brackets as points or absolute prices, time stops, expiries) are submitted after random bars.

The oracle re-accounts the fill list independently: position, average price, realised P&L and
cash from the fills alone, then equity at each bar close. The broker's own state is only read
to compare it with the oracle.
"""

import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from pytest import approx

from engine.core.backtest_config import BrokerConfig, CostsConfig
from engine.core.chunks import BarChunk, IntentChunk
from engine.core.events import Bar, Fill, OrderIntent, OrderRejected, TradeClosed
from engine.core.instruments import BUILTIN_INSTRUMENTS
from replay.broker import SimulatedBroker, SimulatedBrokerConfig

ES = BUILTIN_INSTRUMENTS["ES"]
TICK = 0.25
POINT_VALUE = 50.0
MIN = 60 * 10**9
T0 = 1_378_240_800 * 10**9  # 2013-09-03 20:40 UTC = 15:40 CDT; the session closes at bar 19
INITIAL = 100_000.0


def bar_list(rng, n, gap_chance):
    """(open, high, low, close) rows on the tick grid, random walk with occasional gaps."""
    rows = []
    close = 4000
    for _ in range(n):
        gap = int(rng.integers(-24, 25) if rng.random() < gap_chance else rng.integers(-2, 3))
        o = close + gap
        c = o + int(rng.integers(-6, 7))
        h = max(o, c) + int(rng.integers(0, 5))
        lo = min(o, c) - int(rng.integers(0, 5))
        rows.append((o * TICK, h * TICK, lo * TICK, c * TICK))
        close = c
    return rows


def choice(rng, options):
    return options[int(rng.integers(len(options)))]


def intent_fields(rng, ref_close):
    """Fields of one order decided at a bar whose close is ``ref_close``."""
    action = choice(rng, ["buy", "buy", "sell", "sell", "close"])
    if action == "close":
        return {"action": "close"}
    side = 1 if action == "buy" else -1
    fields = {"action": action, "quantity": int(rng.integers(1, 4)),
              "order_type": choice(rng, ["market", "limit", "stop"])}
    if fields["order_type"] != "market":
        fields["price"] = ref_close + int(rng.integers(-8, 9)) * TICK
        fields["expire_bars"] = int(rng.integers(0, 4))
    bracket = choice(rng, ["none", "none", "points", "prices"])
    if bracket == "points":
        if rng.random() < 0.7:
            fields["stop_points"] = choice(rng, [0.5, 1.0, 1.1, 2.0, 3.75])
        if rng.random() < 0.7:
            fields["target_points"] = choice(rng, [0.75, 1.0, 2.5, 4.0])
    elif bracket == "prices":
        # mostly on the right side of the decision close, sometimes already passed
        if rng.random() < 0.7:
            fields["stop_price"] = ref_close - side * int(rng.integers(-2, 13)) * TICK
        if rng.random() < 0.7:
            fields["target_price"] = ref_close + side * int(rng.integers(-2, 13)) * TICK
    if rng.random() < 0.5:
        fields["time_stop_bars"] = int(rng.integers(0, 6))
    fields["tag"] = choice(rng, ["", "a", "b"])
    return fields


@st.composite
def scenarios(draw, max_bars=40):
    """Hypothesis draws the structure (sizes, rates, rules, costs, seed); the bars and orders
    come from a seeded generator, which keeps examples cheap and reproducible."""
    n = draw(st.integers(1, max_bars))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bars = bar_list(rng, n, draw(st.sampled_from([0.0, 0.1, 0.5])))
    n_orders = draw(st.integers(0, 3 * n))
    positions = np.sort(rng.integers(0, n, n_orders)).tolist()
    orders = [(i, intent_fields(rng, bars[i][3])) for i in positions]
    config = SimulatedBrokerConfig(
        instrument=ES, timeframe="1m",
        intrabar=draw(st.sampled_from(["pessimistic", "optimistic"])),
        broker=BrokerConfig(initial_cash=INITIAL,
                            time_stop_bars=draw(st.sampled_from([0, 2, 100])),
                            flat_at_session_end=draw(st.booleans()),
                            max_position=draw(st.integers(1, 5))),
        costs=CostsConfig(slippage_ticks=draw(st.sampled_from([0.5, 1.0, 2.0])),
                          commission_per_contract=draw(st.sampled_from([0.0, 2.25, 1.1])),
                          exchange_fee_per_contract=draw(st.sampled_from([0.0, 1.38]))))
    return config, bars, orders


def bar_event(i, ohlc):
    o, h, lo, c = ohlc
    return Bar(ts_event=T0 + (i + 1) * MIN, ts_init=T0 + (i + 1) * MIN, instrument="ES",
               timeframe="1m", ts_open=T0 + i * MIN, open=o, high=h, low=lo, close=c,
               volume=1.0)


def intents(orders):
    return [(i, OrderIntent(ts_event=T0 + (i + 1) * MIN, ts_init=T0 + (i + 1) * MIN,
                            instrument="ES", strategy="", order_id=k + 1, **fields))
            for k, (i, fields) in enumerate(orders)]


def run_bus(broker, bars, orders, start=0, stop=None):
    """Bars ``start:stop`` one at a time, each followed by its intents."""
    by_bar = {}
    for i, intent in intents(orders):
        by_bar.setdefault(i, []).append(intent)
    events = []
    for i in range(start, len(bars) if stop is None else stop):
        events += broker.on_event(bar_event(i, bars[i]))
        for intent in by_bar.get(i, ()):
            events += broker.on_event(intent)
    return events


def bar_chunk(bars, start, stop):
    rows = np.array(bars[start:stop], dtype=np.float64).reshape(-1, 4)
    ts_open = T0 + np.arange(start, stop, dtype=np.int64) * MIN
    return BarChunk(ts_open, ts_open + MIN, rows[:, 0].copy(), rows[:, 1].copy(),
                    rows[:, 2].copy(), rows[:, 3].copy(), np.ones(stop - start))


def run_batch(broker, bars, orders, cuts, start=0):
    """Bars ``start:`` in chunks cut at ``cuts``, each chunk with its intents' columns."""
    every = intents(orders)
    edges = [start, *sorted(c for c in set(cuts) if start < c < len(bars)), len(bars)]
    for a, b in zip(edges, edges[1:], strict=False):
        chunk_intents = [(i - a, intent) for i, intent in every if a <= i < b]
        columns = (broker.intent_columns(chunk_intents) if chunk_intents
                   else IntentChunk.empty())
        broker.on_chunk(bar_chunk(bars, a, b), columns)


class Oracle:
    """Straightforward re-accounting of a fill list (no broker internals)."""

    def __init__(self):
        self.position = 0
        self.average = 0.0
        self.realised = 0.0
        self.fees = 0.0

    def apply(self, fill):
        qty, side, price = fill.quantity, fill.side, fill.price
        if self.position == 0 or (self.position > 0) == (side > 0):
            size = abs(self.position)
            self.average = (self.average * size + price * qty) / (size + qty)
            self.position += side * qty
        else:
            closing = min(qty, abs(self.position))
            direction = 1 if self.position > 0 else -1
            self.realised += (price - self.average) * direction * closing * POINT_VALUE
            self.position += side * qty
            if self.position == 0:
                self.average = 0.0
            elif qty > closing:
                self.average = price  # flipped: the rest opens at this fill's price
        self.fees += fill.commission_usd

    @property
    def cash(self):
        return INITIAL + self.realised - self.fees

    def equity(self, close):
        return self.cash + (close - self.average) * self.position * POINT_VALUE


def check_against_oracle(config, bars, orders):
    broker = SimulatedBroker(config)
    by_bar = {}
    for i, intent in intents(orders):
        by_bar.setdefault(i, []).append(intent)
    oracle = Oracle()
    fee = config.costs.fee_per_contract
    limit = config.broker.max_position
    seen_fills = 0
    for i, (_, h, lo, c) in enumerate(bars):
        broker.on_event(bar_event(i, bars[i]))
        for intent in by_bar.get(i, ()):
            broker.on_event(intent)
        for fill in broker.fills[seen_fills:]:
            assert fill.ts_event == T0 + (i + 1) * MIN  # processed in this bar
            assert fill.ts_fill in (T0 + i * MIN, T0 + (i + 1) * MIN)
            assert lo <= fill.price <= h
            assert fill.price / TICK == round(fill.price / TICK)
            assert fill.quantity > 0 and fill.side in (1, -1)
            assert fill.commission_usd == approx(fee * fill.quantity, abs=1e-9)
            oracle.apply(fill)
            assert fill.position_after == oracle.position
            assert abs(oracle.position) <= limit
        seen_fills = len(broker.fills)
        marks = broker.take_marks()
        assert marks.ts.tolist() == [T0 + (i + 1) * MIN]
        assert marks.position[0] == oracle.position == broker.position
        assert marks.equity[0] == approx(oracle.equity(c), abs=1e-6)
        assert marks.cash[0] == approx(oracle.cash, abs=1e-6)
        assert broker.cash == marks.cash[0]
        gross = sum(t.gross_pnl_usd for t in broker.trades)
        assert broker.realised_pnl_usd == approx(gross, abs=1e-6)
        assert oracle.realised == approx(gross, abs=1e-6)
        fill_fees = sum(f.commission_usd for f in broker.fills)
        assert broker.cash == approx(INITIAL + gross - fill_fees, abs=1e-6)
        assert broker.fees_usd == approx(fill_fees, abs=1e-6)
        assert broker.slippage_usd == approx(sum(f.slippage_usd for f in broker.fills),
                                             abs=1e-6)
        if oracle.position:
            assert broker.average_price == approx(oracle.average, abs=1e-9)
    contracts = sum(f.quantity for f in broker.fills)
    assert sum(f.commission_usd for f in broker.fills) == approx(fee * contracts, abs=1e-6)
    for trade in broker.trades:
        assert trade.quantity > 0
        assert trade.ts_entry <= trade.ts_exit
        assert trade.gross_pnl_usd == approx(trade.pnl_points * trade.quantity * POINT_VALUE)
        assert trade.pnl_usd == approx(trade.gross_pnl_usd - trade.commission_usd)
        assert trade.mae_points <= min(trade.pnl_points, 0.0)
        assert trade.mfe_points >= max(trade.pnl_points, 0.0)
        if trade.r_multiple is not None:
            assert math.isfinite(trade.r_multiple)
    if broker.position == 0:
        assert sum(t.commission_usd for t in broker.trades) == approx(
            sum(f.commission_usd for f in broker.fills), abs=1e-6)
        assert sum(t.pnl_usd for t in broker.trades) == approx(broker.cash - INITIAL, abs=1e-6)
    closed = sum(t.quantity for t in broker.trades)
    opened = sum(f.quantity for f in broker.fills) - closed
    assert opened - closed == abs(broker.position)  # every contract opened is closed once


PINNED = SimulatedBrokerConfig(
    instrument=ES, timeframe="1m", broker=BrokerConfig(initial_cash=INITIAL, max_position=1,
                                                       time_stop_bars=0),
    costs=CostsConfig(slippage_ticks=0.5, commission_per_contract=0.0))


@given(scenarios())
# a limit filled inside the bar before a later-submitted close filled at the open
# (the trade had ts_exit < ts_entry)
@example((PINNED, [(1000.0, 1000.0, 1000.0, 1000.0), (1000.25, 1000.25, 1000.0, 1000.25),
                   (1000.25, 1000.25, 1000.25, 1000.25)],
          [(0, {"action": "buy", "quantity": 1}), (0, {"action": "sell", "quantity": 1}),
           (0, {"action": "buy", "quantity": 1, "order_type": "limit", "price": 1000.0}),
           (0, {"action": "close"})]))
# a target the entry bar's open had passed filled at the target, below the bar's low
@example((PINNED, [(1000.0, 1000.0, 1000.0, 1000.0), (1000.5, 1000.5, 1000.5, 1000.5)],
          [(0, {"action": "buy", "quantity": 1, "target_price": 1000.25})]))
def test_equity_cash_and_pnl_match_an_independent_reaccounting_of_the_fills(scenario):
    check_against_oracle(*scenario)


def test_the_generated_scenarios_exercise_the_rules():
    """Guard against a generator that never trades: a fixed busy scenario fills and exits."""
    bars = [(1000.0, 1001.0, 999.0, 1000.5), (1000.5, 1002.0, 999.5, 1001.0),
            (1001.0, 1003.0, 998.0, 999.0), (995.0, 996.0, 994.0, 995.5)]
    orders = [(0, {"action": "buy", "quantity": 2, "stop_points": 1.0, "target_points": 2.0}),
              (1, {"action": "sell", "quantity": 1, "order_type": "limit", "price": 1001.5}),
              (2, {"action": "sell", "quantity": 3})]
    config = SimulatedBrokerConfig(instrument=ES, timeframe="1m",
                                   broker=BrokerConfig(initial_cash=INITIAL))
    check_against_oracle(config, bars, orders)


@given(scenarios(), st.lists(st.integers(1, 39), max_size=5))
def test_the_bus_path_equals_the_batch_path_for_any_chunking(scenario, cuts):
    config, bars, orders = scenario
    bus, batch = SimulatedBroker(config), SimulatedBroker(config)
    events = run_bus(bus, bars, orders)
    run_batch(batch, bars, orders, cuts)
    for kind, ledger in ((Fill, bus.fills), (TradeClosed, bus.trades),
                         (OrderRejected, bus.rejections)):
        assert [e for e in events if isinstance(e, kind)] == ledger
    assert bus.fills == batch.fills
    assert bus.trades == batch.trades
    assert bus.rejections == batch.rejections
    for a, b in zip(bus.take_marks(), batch.take_marks(), strict=True):
        assert np.array_equal(a, b)
    assert (bus.cash, bus.position, bus.average_price, bus.realised_pnl_usd, bus.fees_usd,
            bus.slippage_usd, bus.ambiguous_bars, bus.pending_orders) == (
        batch.cash, batch.position, batch.average_price, batch.realised_pnl_usd,
        batch.fees_usd, batch.slippage_usd, batch.ambiguous_bars, batch.pending_orders)


@given(scenarios(), st.integers(0, 40), st.booleans())
def test_snapshot_restore_at_any_bar_continues_identically(scenario, split, batch_rest):
    config, bars, orders = scenario
    split = min(split, len(bars))
    whole = SimulatedBroker(config)
    whole_events = run_bus(whole, bars, orders)
    first = SimulatedBroker(config)
    head = run_bus(first, bars, orders, stop=split)
    second = SimulatedBroker(config)
    second.restore(first.snapshot())
    if batch_rest:
        run_batch(second, bars, orders, [], start=split)
    else:
        tail = run_bus(second, bars, orders, start=split)
        assert head + tail == whole_events
    assert second.fills == whole.fills
    assert second.trades == whole.trades
    assert second.rejections == whole.rejections
    assert (second.cash, second.position, second.ambiguous_bars) == (
        whole.cash, whole.position, whole.ambiguous_bars)
    for a, b in zip(second.take_marks(), whole.take_marks(), strict=True):
        assert np.array_equal(a, b)
