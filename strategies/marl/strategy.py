"""The learned strategy and gate 2 (component layer).

Upstream on the bus, the MARL decider answers each setup with ``ConsensusReached`` (gate 1
passed) or a gate-1 ``TradeRejected``; the consensus risk manager answers each consensus with
a ``RiskProposal`` (the M-RMS's size and bracket, capped by the hard limits) or a risk-stage
``TradeRejected``. This strategy remembers the consensus and, on its proposal, applies
**gate 2, risk approval**:

- the setup's pattern and direction are ones the strategy trades (``filtered`` otherwise);
- no position or order of the strategy is open (``position_open``): one position at a time;
- the proposal has a size above 0 (``size_zero``) and a finite, positive dollar risk
  (``no_risk``); the hard limits were applied by the risk manager, which only emits proposals
  they allow.

Approved: a market ``OrderIntent`` of the proposed size with the proposal's stop and target
distances, tagged ``TYPE_<pattern>``. Refused: a ``TradeRejected`` at stage ``gate2`` naming
the reasons. (A learned decision-gate network, which docs/design.md allows as a further gate-2
check,
is not part of this version.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import msgspec

from engine.core.events import (
    ConsensusReached,
    Event,
    OrderIntent,
    OrderRejected,
    RiskProposal,
    TradeClosed,
    TradeRejected,
)
from strategies.marl.config import MarlStrategyConfig

__all__ = ["MarlStrategy", "MarlStrategyConfig"]


class _Snapshot(msgspec.Struct, array_like=True):
    next_id: int
    order_id: int
    open_quantity: int
    taken: int
    pending_ts: int
    pending_pattern: int


class MarlStrategy:
    """Gate 2 and the orders of the learned pipeline (module docstring)."""

    key: ClassVar[str] = "marl"
    config_type: ClassVar[type[MarlStrategyConfig]] = MarlStrategyConfig
    inputs: ClassVar[tuple[type[Event], ...]] = (ConsensusReached, RiskProposal, TradeClosed,
                                                 OrderRejected)
    #: reported beside: the rule-based strategy with fixed brackets, and buy-and-hold
    baselines: ClassVar[dict[str, dict[str, object]]] = {"synergy": {"sizing": "fixed"},
                                                         "buy_hold": {}}
    _next_id: int
    _order_id: int
    _open_quantity: int
    _taken: int
    _pending_ts: int
    _pending_pattern: int

    def __init__(self, config: MarlStrategyConfig) -> None:
        self.config = config
        self.name = config.name
        self._patterns = frozenset(config.patterns)
        self._sides = {"both": ("long", "short"), "long": ("long",),
                       "short": ("short",)}[config.directions]
        self.reset()

    @property
    def ready(self) -> bool:
        """Always: decisions arrive only from ready upstream components."""
        return True

    @property
    def flat(self) -> bool:
        """No order pending and no position open."""
        return self._order_id == 0

    @property
    def taken(self) -> int:
        """Orders sent."""
        return self._taken

    def on_event(self, event: Event) -> Sequence[Event]:
        """Remember each consensus; approve or refuse its proposal; free up on the close."""
        kind = type(event)
        if kind is ConsensusReached:
            assert isinstance(event, ConsensusReached)
            if event.strategy == self.name:
                self._pending_ts, self._pending_pattern = event.ts_event, event.setup.pattern
            return ()
        if kind is RiskProposal:
            assert isinstance(event, RiskProposal)
            return self._on_proposal(event)
        if kind is TradeClosed:
            assert isinstance(event, TradeClosed)
            if event.strategy == self.name and event.order_id == self._order_id:
                self._open_quantity -= event.quantity
                if self._open_quantity <= 0:
                    self._order_id = 0
        elif kind is OrderRejected:
            assert isinstance(event, OrderRejected)
            if event.strategy == self.name and event.order_id == self._order_id:
                self._order_id = 0
        return ()

    def _on_proposal(self, p: RiskProposal) -> Sequence[Event]:
        if p.strategy != self.name or p.setup_ts != self._pending_ts or not self._pending_pattern:
            return ()
        pattern, self._pending_ts, self._pending_pattern = self._pending_pattern, 0, 0
        reasons = []
        if pattern not in self._patterns or p.direction not in self._sides:
            reasons.append("filtered")
        if not self.flat:
            reasons.append("position_open")
        if p.size <= 0:
            reasons.append("size_zero")
        if not (math.isfinite(p.risk_usd) and p.risk_usd > 0):
            reasons.append("no_risk")
        if reasons:
            return (TradeRejected(ts_event=p.ts_event, ts_init=p.ts_init, instrument=p.instrument,
                                  strategy=self.name, stage="gate2", reasons=tuple(reasons),
                                  direction=p.direction),)
        self._next_id += 1
        self._order_id = self._next_id
        self._open_quantity = p.size
        self._taken += 1
        return (OrderIntent(ts_event=p.ts_event, ts_init=p.ts_init,
                            instrument=self.config.instrument or p.instrument, strategy=self.name,
                            order_id=self._next_id,
                            action="buy" if p.direction == "long" else "sell", quantity=p.size,
                            stop_points=p.stop_points, target_points=p.target_points,
                            tag=f"TYPE_{pattern}"),)

    def reset(self) -> None:
        """Flat, no orders sent, nothing pending."""
        self._next_id = self._order_id = self._open_quantity = self._taken = 0
        self._pending_ts = self._pending_pattern = 0

    def snapshot(self) -> bytes:
        """The order counter, the open order and position, the count, the pending consensus."""
        return msgspec.msgpack.encode(_Snapshot(self._next_id, self._order_id,
                                                self._open_quantity, self._taken,
                                                self._pending_ts, self._pending_pattern))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_Snapshot)
        self._next_id, self._order_id, self._open_quantity = s.next_id, s.order_id, s.open_quantity
        self._taken, self._pending_ts, self._pending_pattern = (s.taken, s.pending_ts,
                                                                s.pending_pattern)
