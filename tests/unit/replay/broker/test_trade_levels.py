"""A closed trade carries its bracket (replay/broker/fill_kernels.py ``_set_bracket`` and
``_close_part``): ``TradeClosed.stop_price``/``target_price`` are the position's stop and target
when it closed (the absolute levels of the order, or its point distances from the entry fill
rounded to the tick), ``None`` without a bracket; ``r_multiple`` is the net P&L over the risk
``|entry - stop|``; ``trades.csv`` ends with the two columns, empty for ``None``.

ES: tick 0.25, $50 per point; default costs (1 tick of slippage, $2.25 per contract per side);
decisions on bar 0, fills from bar 1 (as in test_intrabar.py).
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.core.backtest_config import BrokerConfig, CostsConfig, ReportConfig
from engine.core.events import Bar, OrderIntent, TradeClosed
from engine.core.instruments import BUILTIN_INSTRUMENTS
from replay.broker import SimulatedBroker, SimulatedBrokerConfig
from replay.metrics.types import Interval, Metrics
from replay.report import TRADE_COLUMNS, CostTotals, EquityCurve, ReportData, write_report

ES = BUILTIN_INSTRUMENTS["ES"]
MIN = 60 * 10**9
T0 = 1_378_216_800 * 10**9  # 2013-09-03 09:00 CDT, no session close nearby
DECIDE = (100.0, 100.5, 99.5, 100.0)
ENTRY = (100.0, 101.0, 99.5, 100.5)  # a market buy fills at 100.25 here, a sell at 99.75
QUIET = (100.5, 101.0, 100.0, 100.5)


def broker() -> SimulatedBroker:
    return SimulatedBroker(SimulatedBrokerConfig(
        instrument=ES, timeframe="1m", broker=BrokerConfig(), costs=CostsConfig(),
        intrabar="pessimistic"))


def play(b: SimulatedBroker, bars: list[tuple[float, float, float, float]],
         orders: dict[int, list[dict[str, object]]]) -> list[TradeClosed]:
    """Feed ``bars`` (o, h, l, c); after bar ``i`` submit each intent of ``orders[i]``; the
    trades closed."""
    order_id = 0
    for i, (o, h, lo, c) in enumerate(bars):
        close = T0 + (i + 1) * MIN
        b.on_event(Bar(ts_event=close, ts_init=close, instrument="ES", timeframe="1m",
                       ts_open=close - MIN, open=o, high=h, low=lo, close=c, volume=1.0))
        for fields in orders.get(i, ()):
            order_id += 1
            b.on_event(OrderIntent(ts_event=close, ts_init=close, instrument="ES",
                                   strategy="t", order_id=order_id,
                                   **{"quantity": 1, **fields}))  # type: ignore[arg-type]
    return list(b.trades)


def risk_r(trade: TradeClosed) -> float:
    assert trade.stop_price is not None
    return trade.pnl_usd / (abs(trade.entry_price - trade.stop_price) * trade.quantity
                            * ES.point_value)


def test_point_distances_become_tick_rounded_levels_from_the_fill():
    # 100.25 - 2.1 = 98.15 -> 98.25; 100.25 + 3.3 = 103.55 -> 103.5 (nearest tick)
    [trade] = play(broker(), [DECIDE, ENTRY, QUIET, (100.5, 104.0, 100.5, 103.75)],
                   {0: [{"action": "buy", "stop_points": 2.1, "target_points": 3.3}]})
    assert trade.entry_price == 100.25
    assert (trade.stop_price, trade.target_price) == (98.25, 103.5)
    assert (trade.exit_reason, trade.exit_price) == ("target", 103.5)
    assert trade.r_multiple == pytest.approx(risk_r(trade))
    assert trade.r_multiple == pytest.approx((3.25 * 50 - 4.5) / (2.0 * 50))


def test_absolute_levels_of_a_short_are_kept_as_given():
    [trade] = play(broker(), [DECIDE, ENTRY, (100.0, 102.5, 99.75, 102.25)],
                   {0: [{"action": "sell", "stop_price": 102.0, "target_price": 97.0}]})
    assert (trade.direction, trade.entry_price) == ("short", 99.75)
    assert (trade.stop_price, trade.target_price) == (102.0, 97.0)
    assert (trade.exit_reason, trade.exit_price) == ("stop", 102.25)  # one tick of slippage
    assert trade.r_multiple == pytest.approx(risk_r(trade))
    assert trade.r_multiple == pytest.approx((-2.5 * 50 - 4.5) / (2.25 * 50))


def test_a_stop_only_bracket_has_no_target():
    [trade] = play(broker(), [DECIDE, ENTRY, QUIET, QUIET],
                   {0: [{"action": "buy", "stop_points": 1.5}], 2: [{"action": "close"}]})
    assert (trade.stop_price, trade.target_price) == (98.75, None)
    assert trade.exit_reason == "close"
    assert trade.r_multiple == pytest.approx(risk_r(trade))


def test_a_target_only_bracket_has_no_stop_and_no_r():
    [trade] = play(broker(), [DECIDE, ENTRY, QUIET, QUIET],
                   {0: [{"action": "buy", "target_points": 5.0}], 2: [{"action": "close"}]})
    assert (trade.stop_price, trade.target_price) == (None, 105.25)
    assert trade.r_multiple is None


def test_a_market_order_without_bracket_has_no_levels_and_no_r():
    [trade] = play(broker(), [DECIDE, ENTRY, QUIET, QUIET],
                   {0: [{"action": "buy"}], 2: [{"action": "sell"}]})
    assert (trade.stop_price, trade.target_price, trade.r_multiple) == (None, None, None)
    assert trade.exit_reason == "exit"


def test_the_levels_of_a_position_closed_early_are_its_brackets_and_do_not_leak():
    # a bracket position flattened by a close order keeps its levels; the next trade, without
    # a bracket, has none (while a bracket is active, buys and sells are refused)
    b = broker()
    trades = play(b, [DECIDE, ENTRY, QUIET, QUIET, QUIET, QUIET, QUIET],
                  {0: [{"action": "buy", "stop_price": 98.0, "target_price": 104.0}],
                   1: [{"action": "sell"}], 2: [{"action": "close"}], 3: [{"action": "sell"}],
                   4: [{"action": "buy"}]})
    assert [r.reason for r in b.rejections] == ["bracket_active"]
    first, second = trades
    assert (first.exit_reason, first.stop_price, first.target_price) == ("close", 98.0, 104.0)
    assert first.r_multiple == pytest.approx(risk_r(first))
    assert (second.direction, second.exit_reason) == ("short", "exit")
    assert (second.stop_price, second.target_price, second.r_multiple) == (None, None, None)


def test_the_risk_of_several_contracts_is_per_contract_times_the_quantity():
    [trade] = play(broker(), [DECIDE, ENTRY, QUIET, (100.5, 103.5, 100.5, 103.0)],
                   {0: [{"action": "buy", "quantity": 2, "stop_points": 2.0,
                         "target_points": 3.0}]})
    assert (trade.quantity, trade.stop_price, trade.target_price) == (2, 98.25, 103.25)
    assert trade.pnl_usd == 2 * 3.0 * 50 - 4 * 2.25
    assert trade.r_multiple == pytest.approx(trade.pnl_usd / (2 * 2.0 * 50))


# -- trades.csv -----------------------------------------------------------------------------


def metrics() -> Metrics:
    fields: dict[str, object] = {}
    for field in Metrics.__struct_fields__:
        kind = Metrics.__annotations__[field]
        fields[field] = (0 if kind in ("int", int) else
                         Interval(low=math.nan, high=math.nan, level=0.95)
                         if kind in ("Interval", Interval) else math.nan)
    return Metrics(**fields)  # type: ignore[arg-type]


def test_trades_csv_ends_with_the_levels_empty_without_a_bracket(tmp_path):
    trades = play(broker(), [DECIDE, ENTRY, QUIET, (100.5, 104.0, 100.5, 103.75), QUIET,
                             QUIET, QUIET],
                  {0: [{"action": "buy", "stop_points": 2.1, "target_points": 3.3}],
                   4: [{"action": "buy"}], 5: [{"action": "close"}]})
    assert [(t.stop_price, t.target_price) for t in trades] == [(98.25, 103.5), (None, None)]
    assert TRADE_COLUMNS[-2:] == ("stop_price", "target_price")
    data = ReportData(title="t", strategy="t", instrument="ES", timeframe="1m", config_id="x",
                      metrics=metrics(), bound=metrics(), intrabar="pessimistic", targets=[],
                      costs=CostTotals(commission_usd=0.0, fees_usd=0.0, slippage_usd=0.0),
                      counts={}, assumptions=[], trades=trades)
    ts = [T0 + (i + 1) * MIN for i in range(3)]
    equity = EquityCurve(np.array(ts, dtype=np.int64), np.full(3, 1e5), np.zeros(3))
    written = write_report(tmp_path, data, equity, ReportConfig(html=False, equity_csv=False))
    with written["trades_csv"].open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == TRADE_COLUMNS
    assert [row[-2:] for row in rows[1:]] == [["98.25", "103.5"], ["", ""]]
    assert rows[2][TRADE_COLUMNS.index("r_multiple")] == ""
    table = pq.read_table(written["trades_parquet"])
    assert table.column_names[-2:] == ["stop_price", "target_price"]
    assert table.column("stop_price").to_pylist() == [98.25, None]
    assert table.column("target_price").to_pylist() == [103.5, None]
