"""The synergy strategy: each setup traded with a fixed ATR bracket or as the M-RMS sizes it
(component layer).

Reacts to ``SynergyDetected`` (from :mod:`components.synergy`), one position at a time: while
flat, a setup of an allowed pattern and direction becomes a market ``OrderIntent`` (filled by
the broker at the next bar's open), tagged ``TYPE_<pattern>`` so the trade list shows which
pattern each trade came from.

- ``sizing = "fixed"``: ``quantity`` contracts, ``stop_points = stop_atr * ATR``,
  ``target_points = reward_risk * stop_points``, decided on the setup itself.
- ``sizing = "mrms"``: the setup is remembered; the ``RiskProposal`` the risk manager returns
  for it (same ``ts_event``, delivered right after it by the bus) gives the size and the
  stop and target distances. A setup the risk layer rejects gets no proposal and no order.

The strategy is busy from the order until the broker reports the position closed
(``TradeClosed`` for the whole quantity) or the order rejected (``OrderRejected``); setups
meanwhile are counted as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec

from engine.core.events import (
    Event,
    OrderIntent,
    OrderRejected,
    RiskProposal,
    SynergyDetected,
    TradeClosed,
)
from strategies.synergy.config import SynergyStrategyConfig

__all__ = ["SynergyStrategy", "SynergyStrategyConfig"]


class _Snapshot(msgspec.Struct, array_like=True):
    next_id: int
    order_id: int
    open_quantity: int
    taken: int
    skipped: int
    pending_ts: int
    pending_pattern: int


class SynergyStrategy:
    """Trade synergy setups with a stop at k x ATR and a target at RR x stop.

    Examples
    --------
    >>> from engine.core.events import SynergySignal
    >>> s = SynergySignal(1, 1, "ES", "30m", "mlmi", 1, 120.0, 0.6)
    >>> setup = SynergyDetected(5, 5, "ES", "5m", 1, 1, (s, s, s), 3, 4500.0, 2.5, 0.001, 1.2,
    ...                         None, None, None, None, None, None)
    >>> strategy = SynergyStrategy(SynergyStrategyConfig())
    >>> [(o.action, o.stop_points, o.target_points, o.tag) for o in strategy.on_event(setup)]
    [('buy', 5.0, 10.0, 'TYPE_1')]
    >>> strategy.on_event(setup)  # busy until the position is closed
    ()
    """

    key: ClassVar[str] = "synergy"
    config_type: ClassVar[type[SynergyStrategyConfig]] = SynergyStrategyConfig
    inputs: ClassVar[tuple[type[Event], ...]] = (SynergyDetected, RiskProposal, TradeClosed,
                                                 OrderRejected)
    _next_id: int
    _order_id: int
    _open_quantity: int
    _taken: int
    _skipped: int
    _pending_ts: int
    _pending_pattern: int

    def __init__(self, config: SynergyStrategyConfig) -> None:
        self.config = config
        self.name = config.name
        self._patterns = frozenset(config.patterns)
        self._sides = {"both": (1, -1), "long": (1,), "short": (-1,)}[config.directions]
        self._learned = config.sizing == "mrms"
        self.reset()

    @property
    def needs(self) -> tuple[type[Event], ...]:
        """What must run upstream: the setups (fixed sizing) or the M-RMS's proposals."""
        return (RiskProposal,) if self._learned else (SynergyDetected,)

    @property
    def ready(self) -> bool:
        """Always: the setups arrive only once the detector is warm."""
        return True

    @property
    def flat(self) -> bool:
        """No order pending and no position open."""
        return self._order_id == 0

    def on_event(self, event: Event) -> Sequence[Event]:
        """Act on a setup while flat; free up when the trade closes or the order is refused."""
        kind = type(event)
        if kind is SynergyDetected:
            assert isinstance(event, SynergyDetected)
            return self._on_setup(event)
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

    def _on_setup(self, setup: SynergyDetected) -> Sequence[Event]:
        if setup.pattern not in self._patterns or setup.direction not in self._sides:
            return ()
        if not self.flat or not setup.atr > 0.0:
            self._skipped += 1
            return ()
        c = self.config
        if self._learned:  # wait for the risk manager's proposal
            self._pending_ts, self._pending_pattern = setup.ts_event, setup.pattern
            return ()
        stop = c.stop_atr * setup.atr
        return self._order(setup.ts_event, setup.ts_init, c.instrument or setup.instrument,
                           setup.direction > 0, c.quantity, stop, c.reward_risk * stop,
                           setup.pattern)

    def _on_proposal(self, proposal: RiskProposal) -> Sequence[Event]:
        if (not self._learned or proposal.strategy != self.name
                or proposal.setup_ts != self._pending_ts or self._pending_pattern == 0):
            return ()
        pattern, self._pending_ts, self._pending_pattern = self._pending_pattern, 0, 0
        return self._order(proposal.ts_event, proposal.ts_init,
                           self.config.instrument or proposal.instrument,
                           proposal.direction == "long", proposal.size, proposal.stop_points,
                           proposal.target_points, pattern)

    def _order(self, ts_event: int, ts_init: int, instrument: str, long: bool, quantity: int,
               stop_points: float, target_points: float, pattern: int) -> Sequence[Event]:
        self._next_id += 1
        self._order_id = self._next_id
        self._open_quantity = quantity
        self._taken += 1
        return (OrderIntent(ts_event=ts_event, ts_init=ts_init, instrument=instrument,
                            strategy=self.name, order_id=self._next_id,
                            action="buy" if long else "sell", quantity=quantity,
                            stop_points=stop_points, target_points=target_points,
                            tag=f"TYPE_{pattern}"),)

    @property
    def counts(self) -> tuple[int, int]:
        """Setups traded and setups skipped while busy."""
        return self._taken, self._skipped

    def reset(self) -> None:
        """Flat, no orders sent."""
        self._next_id = 0
        self._order_id = 0
        self._open_quantity = 0
        self._taken = 0
        self._skipped = 0
        self._pending_ts = 0
        self._pending_pattern = 0

    def snapshot(self) -> bytes:
        """The order counter, the open order and position, the counts, the setup waiting for
        its proposal."""
        return msgspec.msgpack.encode(_Snapshot(self._next_id, self._order_id,
                                                self._open_quantity, self._taken, self._skipped,
                                                self._pending_ts, self._pending_pattern))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_Snapshot)
        self._next_id, self._order_id, self._open_quantity = s.next_id, s.order_id, s.open_quantity
        self._taken, self._skipped = s.taken, s.skipped
        self._pending_ts, self._pending_pattern = s.pending_ts, s.pending_pattern
