"""The RiskManager: the trainer's state and the network's deterministic proposal, capped by the
hard limits, as a RiskProposal with consistent prices and dollars; rejections name why; the
state survives snapshot/restore."""

import math

import pytest
import torch

from components.risk.account import AccountTrackerConfig
from components.risk.limits import RiskLimitsConfig, apply_limits
from components.risk.manager import RiskManager, RiskManagerConfig
from components.risk.model import RiskModel, RiskModelConfig
from components.risk.setup_features import setup_features
from components.risk.state import account_features, cost_per_contract
from engine.core.backtest_config import CostsConfig
from engine.core.events import (
    Bar,
    RegimeVector,
    RiskProposal,
    SynergyDetected,
    SynergySignal,
    TradeClosed,
    TradeRejected,
)
from engine.core.instruments import BUILTIN_INSTRUMENTS
from engine.wiring.registry import weights_bytes

ES = BUILTIN_INSTRUMENTS["ES"]
HOUR = 3600 * 10**9
T0 = 1_700_000_000 * 10**9
MODEL = RiskModelConfig(hidden=16)


def network(size_bias):
    torch.manual_seed(0)
    net = RiskModel(MODEL)
    with torch.no_grad():  # make the proposed size deterministic: favour ``size_bias``
        net.size[-1].bias.zero_()
        net.size[-1].bias[size_bias] = 50.0
    return net


LIMITS = RiskLimitsConfig()


def manager(size_bias=2, limits=LIMITS):
    return RiskManager(RiskManagerConfig(
        model=MODEL, weights=weights_bytes(network(size_bias)), version="mrms/test/0",
        account=AccountTrackerConfig.for_instrument(ES, strategy="synergy", limits=limits),
        instrument=ES, costs=CostsConfig()))


def setup(ts, direction=1, atr=4.0):
    s = SynergySignal(ts, ts, "ES", "mlmi", "30m", direction, 1.0, 0.6)
    return SynergyDetected(ts, ts, "ES", "5m", 1, direction, (s, s, s), 4, 4500.0, atr, 0.001,
                           1.1, 4490.0, 30.0, 10.0, None, None, None)


def regime(ts):
    return RegimeVector(ts_event=ts, ts_init=ts, instrument="ES", timeframe="30m",
                        mu=(0.1, -0.2, 0.3, 0.0, 0.5, -0.5, 0.2, 0.1), model="rde/x/0")


def bar(ts, close=4500.0):
    return Bar(ts_event=ts, ts_init=ts, instrument="ES", timeframe="5m", ts_open=ts - 300 * 10**9,
               open=close, high=close + 1, low=close - 1, close=close, volume=100.0)


def test_a_proposal_is_the_networks_choice_capped_by_the_limits():
    m = manager(size_bias=2)
    assert m.on_event(setup(T0)) == (TradeRejected(
        ts_event=T0, ts_init=T0, instrument="ES", strategy="synergy", stage="risk",
        reasons=("regime_not_ready",), direction="long"),)
    m.on_event(bar(T0 + HOUR))
    m.on_event(regime(T0 + HOUR))
    s = setup(T0 + HOUR, atr=1.0)  # a small stop: two contracts fit every limit
    (out,) = m.on_event(s)
    assert isinstance(out, RiskProposal) and out.size == 2 and out.limited_by == ()
    state = (*setup_features(s, 30), *regime(0).mu,
             *account_features(m.account.state, RiskLimitsConfig()))
    with torch.inference_mode():
        action, _ = network(2).act(torch.tensor([state]), deterministic=True)
    stop = float(action.stop_atr[0]) * 1.0
    rr = float(action.rr[0])
    assert out.stop == pytest.approx(4500.0 - stop) and out.target == pytest.approx(
        4500.0 + rr * stop)
    cost = cost_per_contract(CostsConfig(), ES, 4500.0)
    assert out.risk_usd == pytest.approx(2 * (stop * 50.0 + cost))
    assert out.reward_usd == pytest.approx(2 * (rr * stop * 50.0 - cost))
    assert 0.5 <= stop <= 3.0 and 1.0 <= rr <= 5.0 and out.confidence > 0.99
    short = m.on_event(setup(T0 + HOUR, direction=-1, atr=1.0))[0]
    assert short.direction == "short" and short.stop > 4500.0 > short.target


def test_the_limits_cut_and_veto_with_their_names():
    tight = RiskLimitsConfig(max_risk_pct=0.5)  # 250 USD of 50,000: at most one ES contract
    m = manager(size_bias=5, limits=tight)
    m.on_event(regime(T0))
    (out,) = m.on_event(setup(T0, atr=1.0))
    assert isinstance(out, RiskProposal) and out.size < 5
    assert "max_risk_per_trade" in out.limited_by and "max_contracts" not in out.limited_by
    (wide,) = m.on_event(setup(T0, atr=50.0))  # one contract risks more than 250 USD
    assert isinstance(wide, TradeRejected) and "max_risk_per_trade" in wide.reasons
    nothing = manager(size_bias=0)
    nothing.on_event(regime(T0))
    assert nothing.on_event(setup(T0))[0].reasons == ("model_size_zero",)
    assert nothing.on_event(setup(T0, atr=0.0))[0].reasons == ("no_atr",)


def test_a_daily_loss_breach_halts_and_snapshot_restores():
    m = manager(size_bias=1)
    m.on_event(regime(T0))
    m.on_event(bar(T0))
    loss = TradeClosed(ts_event=T0, ts_init=T0, instrument="ES", strategy="synergy",
                       trade_id=1, order_id=1, direction="long", quantity=1, ts_entry=T0 - HOUR,
                       entry_price=4500.0, ts_exit=T0, exit_price=4470.0, exit_reason="stop",
                       pnl_points=-30.0, gross_pnl_usd=-1500.0, pnl_usd=-1504.5,
                       r_multiple=-1.0, bars_held=12, mae_points=-30.0, mfe_points=0.0,
                       tag="TYPE_1", commission_usd=4.5, slippage_usd=0.0)
    m.on_event(loss)
    m.on_event(bar(T0 + 300 * 10**9))
    (out,) = m.on_event(setup(T0 + 300 * 10**9))
    assert isinstance(out, TradeRejected) and "halted_for_session" in out.reasons
    copy = manager(size_bias=1)
    copy.restore(m.snapshot())
    assert copy.on_event(setup(T0 + 300 * 10**9)) == (out,)
    assert math.isclose(copy.account.state.equity, m.account.state.equity)
    m.reset()
    assert not m.ready


def test_limits_agree_with_apply_limits_directly():
    m = manager(size_bias=3)
    m.on_event(regime(T0))
    (out,) = m.on_event(setup(T0, atr=1.0))
    assert isinstance(out, RiskProposal)
    stop_points = 4500.0 - out.stop
    verdict = apply_limits(3, stop_points, 50.0, cost_per_contract(CostsConfig(), ES, 4500.0),
                           m.account.state, RiskLimitsConfig())
    assert (out.size, out.limited_by) == (verdict.size, verdict.reasons)
