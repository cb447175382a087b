"""The synergy strategy's two sizings: fixed rules decide on the setup; the M-RMS sizing waits
for the risk manager's proposal for that very setup, takes its size and bracket distances, and
trades nothing the risk layer rejected; one position at a time either way."""

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.events import (
    OrderIntent,
    OrderRejected,
    RiskProposal,
    SynergyDetected,
    SynergySignal,
    TradeClosed,
)
from strategies.synergy import SynergyStrategy, SynergyStrategyConfig

SIGNAL = SynergySignal(1, 1, "BTCUSD", "4h", "mlmi", 1, 0.0, 0.5)
LEARNED = SynergyStrategyConfig(sizing="mrms")


def setup(ts, direction=1, pattern=3, atr=100.0):
    signal = msgspec.structs.replace(SIGNAL, direction=direction)
    return SynergyDetected(ts, ts, "BTCUSD", "1h", pattern, direction, (signal,) * 3, 3,
                           10_000.0, atr, 0.01, 1.0, None, None, None, None, None, None)


def proposal(ts, size=2, stop_points=150.0, target_points=300.0, direction="long",
             strategy="synergy"):
    side = 1.0 if direction == "long" else -1.0
    return RiskProposal(
        ts_event=ts, ts_init=ts, instrument="BTCUSD", strategy=strategy, setup_ts=ts,
        direction=direction, size=size, entry=10_000.0, stop=10_000.0 - side * stop_points,
        target=10_000.0 + side * target_points, stop_points=stop_points,
        target_points=target_points, risk_usd=size * stop_points, reward_usd=size * target_points,
        rr=target_points / stop_points, confidence=0.7, model="mrms/x/1")


def closed(ts, order_id, quantity):
    return TradeClosed(ts_event=ts, ts_init=ts, instrument="BTCUSD", strategy="synergy",
                       trade_id=order_id, order_id=order_id, direction="long",
                       quantity=quantity, ts_entry=ts - 1, entry_price=1.0, ts_exit=ts,
                       exit_price=1.0, exit_reason="stop", pnl_points=0.0, gross_pnl_usd=0.0,
                       commission_usd=0.0, slippage_usd=0.0, pnl_usd=0.0, r_multiple=None,
                       bars_held=1, mae_points=0.0, mfe_points=0.0, tag="TYPE_3")


def test_learned_sizing_orders_the_proposed_size_and_distances_tagged_with_the_pattern():
    strategy = SynergyStrategy(LEARNED)
    assert strategy.on_event(setup(10, pattern=4)) == ()  # waits for the proposal
    (order,) = strategy.on_event(proposal(10, size=3, stop_points=120.0, target_points=420.0))
    assert isinstance(order, OrderIntent)
    assert (order.action, order.quantity, order.stop_points, order.target_points, order.tag,
            order.ts_event) == ("buy", 3, 120.0, 420.0, "TYPE_4", 10)


def test_learned_sizing_short_setup_sells():
    strategy = SynergyStrategy(LEARNED)
    strategy.on_event(setup(10, direction=-1))
    (order,) = strategy.on_event(proposal(10, direction="short"))
    assert order.action == "sell"


def test_a_proposal_for_another_setup_or_strategy_or_without_a_setup_is_ignored():
    strategy = SynergyStrategy(LEARNED)
    assert strategy.on_event(proposal(10)) == ()  # no setup seen
    strategy.on_event(setup(20))
    assert strategy.on_event(proposal(19)) == ()  # not this setup's
    assert strategy.on_event(proposal(20, strategy="other")) == ()
    assert len(strategy.on_event(proposal(20))) == 1
    assert strategy.on_event(proposal(20)) == ()  # answered once


def test_filtered_setups_get_no_order_even_with_a_proposal():
    strategy = SynergyStrategy(msgspec.structs.replace(LEARNED, patterns=(1, 2),
                                                       directions="long"))
    for s in (setup(10, pattern=3), setup(11, direction=-1, pattern=1)):
        strategy.on_event(s)
        assert strategy.on_event(proposal(s.ts_event)) == ()
    assert strategy.counts == (0, 0)


def test_one_position_at_a_time_until_the_whole_quantity_is_closed_or_rejected():
    strategy = SynergyStrategy(LEARNED)
    strategy.on_event(setup(10))
    (order,) = strategy.on_event(proposal(10, size=2))
    strategy.on_event(setup(11))
    assert strategy.on_event(proposal(11)) == ()
    strategy.on_event(closed(12, order.order_id, 1))
    assert not strategy.flat
    strategy.on_event(closed(13, order.order_id, 1))
    assert strategy.flat
    strategy.on_event(setup(14))
    (second,) = strategy.on_event(proposal(14))
    strategy.on_event(OrderRejected(ts_event=15, ts_init=15, instrument="BTCUSD",
                                    strategy="synergy", order_id=second.order_id,
                                    reason="cancelled"))
    assert strategy.flat
    assert strategy.counts == (2, 1)


def test_fixed_sizing_ignores_proposals_and_learned_sizing_ignores_bare_setups():
    fixed = SynergyStrategy(SynergyStrategyConfig())
    (order,) = fixed.on_event(setup(10))
    assert (order.quantity, order.stop_points, order.target_points) == (1, 200.0, 400.0)
    assert fixed.on_event(proposal(10)) == ()
    learned = SynergyStrategy(LEARNED)
    assert learned.on_event(setup(10)) == ()
    assert learned.flat


@given(cut=st.integers(0, 6))
def test_snapshot_restore_at_any_point_continues_identically(cut):
    events = [setup(10), proposal(10), setup(11), proposal(11), closed(12, 1, 2), setup(13),
              proposal(13)]
    whole = SynergyStrategy(LEARNED)
    expected = [whole.on_event(e) for e in events]
    first = SynergyStrategy(LEARNED)
    got = [first.on_event(e) for e in events[:cut]]
    second = SynergyStrategy(LEARNED)
    second.restore(first.snapshot())
    got += [second.on_event(e) for e in events[cut:]]
    assert got == expected
    assert second.snapshot() == whole.snapshot()


def test_sizing_must_be_fixed_or_mrms():
    with pytest.raises(msgspec.ValidationError, match="sizing"):
        msgspec.convert({"sizing": "kelly"}, SynergyStrategyConfig)
