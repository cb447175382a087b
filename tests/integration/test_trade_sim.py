"""The trainer's trade simulator is the backtest's broker: every trade of a real synergy
backtest on BTC/USD hours, re-executed alone from its order intent and the bars after it,
comes out identical (fills, exit, P&L, costs, R, excursions)."""

from pathlib import Path

import msgspec

from engine.core.events import Bar, Event, OrderIntent
from engine.wiring.build import build_broker, build_strategy, build_upstream
from engine.wiring.pipeline import ReplayPipeline, build_replay_pipeline
from engine.wiring.schema import load_app_config
from replay.train.trade_sim import simulate_trade

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "btcusd_1h.toml"


def test_every_backtest_trade_equals_its_simulation():
    loaded = load_app_config(CONFIG, ["backtest.strategy=synergy"])
    config = loaded.config
    (chunk,) = build_replay_pipeline(config, loaded.data_path).chunks()
    strategy = build_strategy(config)
    broker = build_broker(config, strategy.name)
    pipeline = ReplayPipeline(config, None, None)
    bus = pipeline.bus
    bus.subscribe(broker)
    for component in build_upstream(config):
        bus.subscribe(component)
    bus.subscribe(strategy)  # type: ignore[arg-type]
    intents: list[OrderIntent] = []
    bars: list[Bar] = []

    def on_intent(intent: OrderIntent) -> list[Event]:
        intents.append(intent)
        return []

    def on_bar(bar: Bar) -> list[Event]:
        if bar.timeframe == broker.config.timeframe:
            bars.append(bar)
        return []

    bus.subscribe_handler(OrderIntent, on_intent, "test.intents")
    bus.subscribe_handler(Bar, on_bar, "test.bars")
    pipeline.driver.step_chunk(chunk)
    trades = {t.order_id: t for t in broker.trades}
    assert len(trades) > 100 and len(intents) == len(trades) + (broker.position != 0)
    ts = [b.ts_event for b in bars]
    import bisect

    checked = 0
    for intent in intents:
        start = bisect.bisect_right(ts, intent.ts_event)
        outcome = simulate_trade(broker.config, intent, bars, start)
        expected = trades.get(intent.order_id)
        if expected is None:  # still open at the end of the data
            assert outcome.trade is None and outcome.rejected is None
            continue
        assert outcome.trade is not None
        got = msgspec.structs.replace(outcome.trade, trade_id=expected.trade_id)
        assert got == expected
        checked += 1
    assert checked == len(trades)
