"""Gate 2 and the orders of the learned strategy: a consensus, then its proposal, becomes an
order of the proposed size and bracket; a filtered setup, an open position, a zero size or a
missing risk is refused at stage gate2 with the reasons; one position at a time; snapshot and
restore continue identically."""

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from engine.core.events import (
    ConsensusReached,
    OrderIntent,
    RiskProposal,
    SynergyDetected,
    SynergySignal,
    TradeClosed,
    TradeRejected,
)
from strategies.marl import MarlStrategy, MarlStrategyConfig

SIGNAL = SynergySignal(1, 1, "BTCUSD", "4h", "mlmi", 1, 0.0, 0.5)


def consensus(ts, direction=1, pattern=3):
    setup = SynergyDetected(ts, ts, "BTCUSD", "1h", pattern, direction, (SIGNAL,) * 3, 3,
                            10_000.0, 100.0, 0.01, 1.0, None, None, None, None, None, None)
    return ConsensusReached(
        ts_event=ts, ts_init=ts, instrument="BTCUSD", strategy="marl", setup=setup,
        direction="long" if direction > 0 else "short", agree=3, confidence=0.8,
        uncertainty=0.05, score=0.775, entropy=0.6, mutual_information=0.01, mean=(0.1,) * 9,
        std=(0.0,) * 9, samples=50, model="marl/x/1")


def proposal(ts, size=2, risk=300.0, direction="long"):
    return RiskProposal(
        ts_event=ts, ts_init=ts, instrument="BTCUSD", strategy="marl", setup_ts=ts,
        direction=direction, size=size, entry=10_000.0, stop=9_850.0, target=10_300.0,
        stop_points=150.0, target_points=300.0, risk_usd=risk, reward_usd=2 * risk, rr=2.0,
        confidence=0.7, model="mrms/x/1")


def closed(ts, order_id, quantity=2):
    return TradeClosed(ts_event=ts, ts_init=ts, instrument="BTCUSD", strategy="marl",
                       trade_id=order_id, order_id=order_id, direction="long",
                       quantity=quantity, ts_entry=ts - 1, entry_price=1.0, ts_exit=ts,
                       exit_price=1.0, exit_reason="stop", pnl_points=0.0, gross_pnl_usd=0.0,
                       commission_usd=0.0, slippage_usd=0.0, pnl_usd=0.0, r_multiple=None,
                       bars_held=1, mae_points=0.0, mfe_points=0.0, tag="TYPE_3")


def test_an_approved_proposal_becomes_an_order_of_its_size_and_bracket():
    s = MarlStrategy(MarlStrategyConfig())
    assert s.on_event(consensus(10, pattern=4)) == ()
    (order,) = s.on_event(proposal(10, size=3))
    assert isinstance(order, OrderIntent)
    assert (order.action, order.quantity, order.stop_points, order.target_points,
            order.tag) == ("buy", 3, 150.0, 300.0, "TYPE_4")


def test_gate_two_refuses_by_name():
    s = MarlStrategy(MarlStrategyConfig(directions="long"))
    s.on_event(consensus(10, direction=-1))
    (refused,) = s.on_event(proposal(10, direction="short", size=0, risk=float("nan")))
    assert isinstance(refused, TradeRejected) and refused.stage == "gate2"
    assert refused.reasons == ("filtered", "size_zero", "no_risk")
    assert s.flat


def test_one_position_at_a_time_until_it_closes():
    s = MarlStrategy(MarlStrategyConfig())
    s.on_event(consensus(10))
    (order,) = s.on_event(proposal(10))
    s.on_event(consensus(11))
    (refused,) = s.on_event(proposal(11))
    assert refused.reasons == ("position_open",)
    s.on_event(closed(12, order.order_id))
    s.on_event(consensus(13))
    assert isinstance(s.on_event(proposal(13))[0], OrderIntent)


def test_a_proposal_without_its_consensus_is_ignored():
    s = MarlStrategy(MarlStrategyConfig())
    assert s.on_event(proposal(10)) == ()
    s.on_event(consensus(11))
    assert s.on_event(proposal(10)) == ()
    assert s.on_event(msgspec.structs.replace(proposal(11), strategy="synergy")) == ()


@given(cut=st.integers(0, 6))
def test_snapshot_restore_at_any_point_continues_identically(cut):
    events = [consensus(10), proposal(10), consensus(11), proposal(11), closed(12, 1),
              consensus(13), proposal(13)]
    whole = MarlStrategy(MarlStrategyConfig())
    expected = [whole.on_event(e) for e in events]
    first = MarlStrategy(MarlStrategyConfig())
    got = [first.on_event(e) for e in events[:cut]]
    second = MarlStrategy(MarlStrategyConfig())
    second.restore(first.snapshot())
    assert got + [second.on_event(e) for e in events[cut:]] == expected
