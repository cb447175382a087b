"""One trade at a time, executed by the backtest's own broker (training layer).

The M-RMS trainer asks "what would this setup have returned with this size, stop and target?"
many times. :func:`simulate_trade` answers with the :class:`~replay.broker.SimulatedBroker`
the backtest runs, not a second implementation: a fresh broker with the run's instrument,
rules and costs receives the order intent decided at the setup's bar close, then the
execution-timeframe bars that close after it, until the position the order opened is closed
(stop, target, time stop, session end) or the bars run out. Entry at the next bar's open with
slippage, gaps through levels, the pessimistic intrabar order and every cost are therefore
exactly the backtest's (``tests/integration/test_trade_sim.py`` checks every trade of a real
synergy backtest against it).
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.events import Bar, OrderIntent, OrderRejected, TradeClosed
from replay.broker import SimulatedBroker, SimulatedBrokerConfig

__all__ = ["TradeOutcome", "simulate_trade"]


class TradeOutcome:
    """The closed trade (``None`` when the bars ran out first or the order was refused), the
    rejection reason if any, and how many bars were fed."""

    __slots__ = ("bars", "rejected", "trade")

    def __init__(self, trade: TradeClosed | None, rejected: str | None, bars: int) -> None:
        self.trade = trade
        self.rejected = rejected
        self.bars = bars


def simulate_trade(config: SimulatedBrokerConfig, intent: OrderIntent, bars: Sequence[Bar],
                   start: int = 0) -> TradeOutcome:
    """Execute ``intent`` on a fresh broker over ``bars[start:]`` (execution-timeframe bars
    closing after ``intent.ts_event``, in order) until its position is flat again."""
    broker = SimulatedBroker(config)
    for event in broker.on_event(intent):
        if isinstance(event, OrderRejected):
            return TradeOutcome(None, event.reason, 0)
    fed = 0
    for bar in bars[start:]:
        fed += 1
        for event in broker.on_event(bar):
            if isinstance(event, OrderRejected) and event.order_id == intent.order_id:
                return TradeOutcome(None, event.reason, fed)
            if (isinstance(event, TradeClosed) and event.order_id == intent.order_id
                    and broker.position == 0):
                return TradeOutcome(event, None, fed)
    return TradeOutcome(None, None, fed)
