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
from dataclasses import dataclass, field

from engine.core.events import Bar, Event, OrderIntent, OrderRejected, TradeClosed
from replay.broker import SimulatedBroker, SimulatedBrokerConfig

__all__ = ["TradeRun", "run_trade", "simulate_trade"]


@dataclass(frozen=True)
class TradeRun:
    """The closed trade (``None`` when the bars ran out first or the order was refused), the
    rejection reason if any, and for each bar fed its index and the broker's events for it."""

    trade: TradeClosed | None
    rejected: str | None
    steps: list[tuple[int, list[Event]]] = field(default_factory=list)

    @property
    def bars(self) -> int:
        """Bars fed to the broker."""
        return len(self.steps)


def run_trade(config: SimulatedBrokerConfig, intent: OrderIntent, bars: Sequence[Bar],
              start: int = 0) -> TradeRun:
    """Execute ``intent`` on a fresh broker over ``bars[start:]`` (execution-timeframe bars
    closing after ``intent.ts_event``, in order) until its position is flat again, the order
    is refused or the bars end."""
    broker = SimulatedBroker(config)
    for event in broker.on_event(intent):
        if isinstance(event, OrderRejected):
            return TradeRun(None, event.reason)
    steps: list[tuple[int, list[Event]]] = []
    for index in range(start, len(bars)):
        events = list(broker.on_event(bars[index]))
        steps.append((index, events))
        for event in events:
            if isinstance(event, OrderRejected) and event.order_id == intent.order_id:
                return TradeRun(None, event.reason, steps)
            if (isinstance(event, TradeClosed) and event.order_id == intent.order_id
                    and broker.position == 0):
                return TradeRun(event, None, steps)
    return TradeRun(None, None, steps)


simulate_trade = run_trade
