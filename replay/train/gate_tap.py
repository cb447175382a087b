"""The learned backtest's per-setup gate diagnostics, read off the bus (training layer).

:class:`GateTap` is a bus tap for ``algospace backtest --strategy marl``: it keeps, from
``start_ns``, every ``SynergyDetected`` and what answered it (gate 1's ``ConsensusReached``, or
its ``TradeRejected`` with the failed ``verdict``; the risk stage's ``RiskProposal`` or
rejection; gate 2's rejection; the ``OrderIntent`` and the ``TradeClosed``), and every
execution bar. :meth:`rows` then builds the :class:`~replay.train.marl_diagnostics.GateRow` of each
setup, its hindsight R computed by the backtest's broker on the bars after it (a label for
calibration and ranking, never an input). It only reads events; the backtest's decisions do
not depend on it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from engine.core.events import (
    Bar,
    ConsensusReached,
    Event,
    OrderIntent,
    RiskProposal,
    SynergyDetected,
    TradeClosed,
    TradeRejected,
)
from replay.broker import SimulatedBrokerConfig
from replay.train.marl_diagnostics import GateRow, gate_row
from replay.train.mrms_data import SetupData, SetupSample
from replay.train.outcomes import FIXED_BRACKET, one_contract

__all__ = ["GateTap"]


@dataclass
class _Setup:
    setup: SynergyDetected
    verdict: ConsensusReached | None = None
    reasons: tuple[str, ...] = ()
    ended: str = "gate1"
    size: int = 0
    order_id: int | None = None
    pnl: float = 0.0


@dataclass
class GateTap:
    """Collect the learned pipeline's per-setup path (module docstring)."""

    broker: SimulatedBrokerConfig
    start_ns: int
    bars: list[Bar] = field(default_factory=list)
    setups: dict[int, _Setup] = field(default_factory=dict)
    orders: dict[int, int] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        """Record ``event`` if it belongs to a setup's path or is an execution bar."""
        kind = type(event)
        if kind is Bar:
            assert isinstance(event, Bar)
            if event.timeframe == self.broker.timeframe:
                self.bars.append(event)
            return
        if event.ts_event < self.start_ns:
            return
        if kind is SynergyDetected:
            assert isinstance(event, SynergyDetected)
            self.setups[event.ts_event] = _Setup(event)
        elif kind is ConsensusReached:
            assert isinstance(event, ConsensusReached)
            if (s := self.setups.get(event.setup.ts_event)) is not None:
                s.verdict, s.ended = event, "risk"
        elif kind is TradeRejected:
            assert isinstance(event, TradeRejected)
            if (s := self.setups.get(event.ts_event)) is not None:
                if event.stage == "gate1":
                    s.verdict, s.reasons, s.ended = event.verdict, event.reasons, "gate1"
                elif event.stage in ("risk", "gate2"):
                    s.ended = event.stage
        elif kind is RiskProposal:
            assert isinstance(event, RiskProposal)
            if (s := self.setups.get(event.setup_ts)) is not None:
                s.size, s.ended = event.size, "gate2"
        elif kind is OrderIntent:
            assert isinstance(event, OrderIntent)
            if (s := self.setups.get(event.ts_event)) is not None:
                s.ended, s.order_id = "traded", event.order_id
                self.orders[event.order_id] = event.ts_event
        elif kind is TradeClosed:
            assert isinstance(event, TradeClosed)
            ts = self.orders.get(event.order_id)
            if ts is not None:
                self.setups[ts].pnl += event.pnl_usd

    def rows(self) -> list[GateRow]:
        """One row per setup that gate 1 voted on, in time order."""
        data = SetupData([], self.bars, self.broker)
        ts = [b.ts_event for b in self.bars]
        out = []
        for t in sorted(self.setups):
            s = self.setups[t]
            v = s.verdict
            if v is None:  # refused before the agents voted (not_ready)
                continue
            setup = s.setup
            sample = SetupSample(setup, (), (), bisect.bisect_right(ts, t))
            r = one_contract(data, sample, setup.direction, *FIXED_BRACKET)[0]
            out.append(gate_row(t, setup.direction, setup.pattern, v.agree, v.mean, v.std,
                                v.confidence, v.uncertainty, v.score, v.entropy,
                                v.mutual_information, s.reasons, s.ended, s.size, r, s.pnl))
        return out
