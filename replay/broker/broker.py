"""The simulated broker as a component (replay layer).

``SimulatedBroker`` reacts to the bars of its execution timeframe and to ``OrderIntent``
events. A bar runs :func:`~replay.broker.kernels.broker_bar_nb` (pending orders, brackets,
time stop, session end, mark); an intent is queued with
:func:`~replay.broker.kernels.broker_submit_nb` and can first fill on the next bar, so a
decision at a bar close executes at the next bar's open at the earliest. The broker returns
``Fill``, ``TradeClosed`` and ``OrderRejected`` events, keeps the trade list and the per-bar
equity marks (drained with :meth:`SimulatedBroker.take_marks`), and can be advanced over a chunk
of bars with :meth:`SimulatedBroker.on_chunk`: the batch kernel loops the same step kernel, so
both paths give identical results.

Subscribe the broker to the bus **before** any strategy or indicator: its events for a bar are
then delivered before any event derived from that bar, so a strategy deciding on a derived
event already knows the bar's fills.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Literal, NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from engine.core.backtest_config import BrokerConfig, CostsConfig
from engine.core.chunks import BarChunk, IntentChunk
from engine.core.config import Config
from engine.core.events import Bar, Event, Fill, OrderIntent, OrderRejected, TradeClosed
from engine.core.instruments import Instrument
from replay.broker import fill_kernels as layout
from replay.broker import kernels as k
from replay.broker.sessions import SessionCloses

__all__ = ["Marks", "SimulatedBroker", "SimulatedBrokerConfig"]

_ACTIONS = {"buy": layout.ACTION_BUY, "sell": layout.ACTION_SELL, "close": layout.ACTION_CLOSE}
_TYPES = {"market": layout.TYPE_MARKET, "limit": layout.TYPE_LIMIT, "stop": layout.TYPE_STOP}
_MARK_CAPACITY = 4096
_BATCH_OUT_ROWS = 64 * layout.OUT_ROWS_PER_BAR


class SimulatedBrokerConfig(Config, frozen=True):
    """Broker component settings: instrument, execution timeframe, rules and costs.

    ``intrabar`` overrides ``broker.intrabar`` (the run's bound uses the other order).
    ``strategy`` names the strategy whose intents this broker executes (empty: any).
    ``publish = False`` keeps the events in the ledger without returning them to the bus
    (a shadow broker computing the intrabar bound must not feed strategies its fills).
    """

    instrument: Instrument
    timeframe: str
    broker: BrokerConfig = BrokerConfig()
    costs: CostsConfig = CostsConfig()
    intrabar: Literal["pessimistic", "optimistic"] | None = None
    strategy: str = ""
    publish: bool = True

    def __post_init__(self) -> None:
        if self.broker.flat_at_session_end and self.instrument.session_close is None:
            raise ValueError(
                f"broker.flat_at_session_end: expected an instrument with a session_close, "
                f"{self.instrument.symbol} has none")


class Marks(NamedTuple):
    """Equity marked at each bar close."""

    ts: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    position: npt.NDArray[np.float64]
    cash: npt.NDArray[np.float64]


class _Snapshot(msgspec.Struct, frozen=True):
    fstate: list[float]
    istate: list[int]
    tags: list[str]
    next_close: int
    marks_ts: list[int]
    marks_f: list[list[float]]
    ledger_f: list[list[float]]
    ledger_i: list[list[int]]


class _Block(NamedTuple):
    """Rows of the ledger written in one kernel call, and their events once built."""

    floats: np.ndarray
    ints: np.ndarray
    events: list[Event] | None


class SimulatedBroker:
    """Next-open execution of market, limit, stop and bracket orders with accounting.

    Examples
    --------
    >>> from engine.core.instruments import BUILTIN_INSTRUMENTS
    >>> broker = SimulatedBroker(SimulatedBrokerConfig(
    ...     instrument=BUILTIN_INSTRUMENTS["ES"], timeframe="5m"))
    >>> def bar(i, o, h, lo, c):
    ...     return Bar(ts_event=(i + 1) * 300, ts_init=(i + 1) * 300, instrument="ES",
    ...                timeframe="5m", ts_open=i * 300, open=o, high=h, low=lo, close=c,
    ...                volume=1.0)
    >>> _ = broker.on_event(bar(0, 100.0, 101.0, 99.0, 100.5))
    >>> _ = broker.on_event(OrderIntent(ts_event=300, ts_init=300, instrument="ES",
    ...     strategy="demo", order_id=1, action="buy", quantity=1))
    >>> [(f.price, f.reason) for f in broker.on_event(bar(1, 100.75, 102.0, 100.5, 101.5))]
    [(101.0, 'entry')]
    """

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, OrderIntent)

    def __init__(self, config: SimulatedBrokerConfig) -> None:
        self.config = config
        self.name = f"broker.{config.instrument.symbol}.{config.timeframe}"
        intrabar = config.intrabar or config.broker.intrabar
        self.intrabar: str = intrabar
        spec = config.instrument
        self._init_args = (config.broker.initial_cash, spec.tick_size, spec.point_value,
                           config.costs.slippage_ticks, config.costs.fee_per_contract,
                           intrabar == "optimistic", config.broker.time_stop_bars,
                           config.broker.max_position, config.costs.commission_bps)
        self._closes = (SessionCloses(spec.session_close, spec.session_timezone)
                        if config.broker.flat_at_session_end and spec.session_close else None)
        self.reset()

    # -- Component protocol ------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Always ready: the broker needs no warm-up."""
        return True

    def on_event(self, event: Event) -> Sequence[Event]:
        """Execute a bar of the execution timeframe, or queue an order intent."""
        match event:
            case Bar(timeframe=tf) if tf == self.config.timeframe:
                return self._on_bar(event)
            case OrderIntent():
                return self._on_intent(event)
        return ()

    def reset(self) -> None:
        """Flat, initial cash, no orders, no history."""
        self._fstate, self._istate = k.broker_init_state(*self._init_args)
        self._out_f = np.zeros((layout.OUT_ROWS_PER_BAR, layout.OUT_F), dtype=np.float64)
        self._out_i = np.zeros((layout.OUT_ROWS_PER_BAR, layout.OUT_I), dtype=np.int64)
        self._marks_f = np.zeros((_MARK_CAPACITY, 3), dtype=np.float64)
        self._marks_i = np.zeros(_MARK_CAPACITY, dtype=np.int64)
        self._taken: list[Marks] = []
        self._tags: list[str] = [""]
        self._tag_ids: dict[str, int] = {"": 0}
        self._ledger: list[_Block] = []
        self._batch_out: tuple[np.ndarray, np.ndarray] | None = None
        self._built = 0
        self._trades: list[TradeClosed] = []
        self._fills: list[Fill] = []
        self._rejections: list[OrderRejected] = []
        if self._closes is not None:
            self._closes.set_state(-(2**63))

    def snapshot(self) -> bytes:
        """Serialise account, orders, marks not yet taken and the ledger."""
        self._spill_marks()
        marks = self.take_marks()
        self._taken = [marks] if marks.ts.shape[0] else []
        marks_f = np.stack([marks.equity, marks.position, marks.cash], axis=1)
        return msgspec.msgpack.encode(_Snapshot(
            fstate=self._fstate.tolist(), istate=self._istate.tolist(), tags=self._tags,
            next_close=self._closes.state() if self._closes is not None else 0,
            marks_ts=marks.ts.tolist(), marks_f=marks_f.tolist(),
            ledger_f=[row for b in self._ledger for row in b.floats.tolist()],
            ledger_i=[row for b in self._ledger for row in b.ints.tolist()]))

    def restore(self, state: bytes) -> None:
        """Rebuild the state written by :meth:`snapshot`."""
        snap = msgspec.msgpack.decode(state, type=_Snapshot)
        self.reset()
        self._fstate[:] = snap.fstate
        self._istate[:] = snap.istate
        if snap.marks_ts:
            f = np.array(snap.marks_f, dtype=np.float64)
            self._taken = [Marks(np.array(snap.marks_ts, dtype=np.int64),
                                 f[:, layout.M_EQUITY].copy(), f[:, layout.M_POSITION].copy(),
                                 f[:, layout.M_CASH].copy())]
        self._tags = list(snap.tags)
        self._tag_ids = {tag: i for i, tag in enumerate(self._tags)}
        if self._closes is not None:
            self._closes.set_state(snap.next_close)
        if snap.ledger_i:
            floats = np.array(snap.ledger_f, dtype=np.float64).reshape(len(snap.ledger_i), -1)
            if floats.shape[1] < layout.OUT_F:  # a snapshot from before the stop/target columns
                floats = np.pad(floats, ((0, 0), (0, layout.OUT_F - floats.shape[1])),
                                constant_values=np.nan)
            self._ledger.append(_Block(floats, np.array(snap.ledger_i, dtype=np.int64), None))

    def fork(self, intrabar: Literal["pessimistic", "optimistic"]) -> SimulatedBroker:
        """A non-publishing copy of this broker's whole state under another intrabar rule.

        Until a bracket order exists the intrabar rule changes nothing, so a bound broker
        forked at the first bracket order equals one that ran from the start.
        """
        other = SimulatedBroker(msgspec.structs.replace(self.config, intrabar=intrabar,
                                                        publish=False))
        other.restore(self.snapshot())
        other._fstate[layout.F_OPTIMISTIC] = 1.0 if intrabar == "optimistic" else 0.0
        return other

    # -- ledger ------------------------------------------------------------------------------

    @property
    def trades(self) -> list[TradeClosed]:
        """Closed trades, in order."""
        self._build()
        return self._trades

    @property
    def fills(self) -> list[Fill]:
        """Fills, in order."""
        self._build()
        return self._fills

    @property
    def rejections(self) -> list[OrderRejected]:
        """Refused and cancelled orders, in order."""
        self._build()
        return self._rejections

    def count(self, kind: Literal["fill", "trade", "rejection"]) -> int:
        """Number of ledger rows of ``kind``, without building events."""
        code = {"fill": layout.KIND_FILL, "trade": layout.KIND_TRADE,
                "rejection": layout.KIND_REJECT}[kind]
        return sum(int(np.count_nonzero(b.ints[:, layout.O_KIND] == code)) for b in self._ledger)

    # -- account views -----------------------------------------------------------------------

    @property
    def position(self) -> int:
        """Signed open position in contracts."""
        return int(self._istate[layout.I_POS])

    @property
    def cash(self) -> float:
        """Initial cash plus realised P&L minus fees."""
        return float(self._fstate[layout.F_CASH])

    @property
    def average_price(self) -> float:
        """Average entry price of the open position (0 when flat)."""
        return float(self._fstate[layout.F_AVG])

    @property
    def realised_pnl_usd(self) -> float:
        """Realised P&L before fees."""
        return float(self._fstate[layout.F_REALIZED])

    @property
    def fees_usd(self) -> float:
        """Commission and exchange/NFA fees charged so far."""
        return float(self._fstate[layout.F_FEES])

    @property
    def slippage_usd(self) -> float:
        """Cost of slippage against the no-slippage fill prices so far."""
        return float(self._fstate[layout.F_SLIPPAGE])

    @property
    def ambiguous_bars(self) -> int:
        """Bars in which both the stop and the target were inside the range."""
        return int(self._istate[layout.I_AMBIGUOUS])

    @property
    def pending_orders(self) -> int:
        """Orders queued and not yet filled or cancelled."""
        return int(self._istate[layout.I_N_ORDERS])

    def take_marks(self) -> Marks:
        """Return the equity marks recorded since the last call, and forget them."""
        self._spill_marks()
        taken, self._taken = self._taken, []
        if not taken:
            empty = np.zeros(0, dtype=np.float64)
            return Marks(np.zeros(0, dtype=np.int64), empty, empty, empty)
        if len(taken) == 1:
            return taken[0]
        return Marks(*(np.concatenate(cols) for cols in zip(*taken, strict=True)))

    # -- batch path --------------------------------------------------------------------------

    def on_chunk(self, bars: BarChunk, intents: IntentChunk) -> None:
        """Advance over a chunk of execution bars, submitting each bar's intents after it.

        Gives exactly the ledger and marks of calling :meth:`on_event` with each bar and then
        each of its intents; the ledger's events are built when first read.
        """
        n = bars.ts_open.shape[0]
        flags = (self._closes.flags(bars.ts_open, bars.ts_close) if self._closes is not None
                 else np.zeros(n, dtype=np.bool_))
        if self._batch_out is None:
            self._batch_out = (np.zeros((_BATCH_OUT_ROWS, layout.OUT_F), dtype=np.float64),
                               np.zeros((_BATCH_OUT_ROWS, layout.OUT_I), dtype=np.int64))
        out_f, out_i = self._batch_out
        self._spill_marks()
        if self._marks_i.shape[0] < n:
            self._marks_f = np.zeros((n, 3), dtype=np.float64)
            self._marks_i = np.zeros(n, dtype=np.int64)
        start, intent_start = 0, 0
        while start < n:
            self._spill_marks()
            start, intent_start = k.broker_batch_nb(
                self._fstate, self._istate, out_f, out_i, self._marks_f, self._marks_i,
                bars.ts_open, bars.ts_close, bars.open, bars.high, bars.low, bars.close, flags,
                start, intents.bar, intents.ints, intents.floats, intent_start)
            if self._istate[layout.I_N_OUT]:
                self._take(out_f, out_i, build=False)

    # -- internals ---------------------------------------------------------------------------

    def _on_bar(self, bar: Bar) -> list[Event]:
        if self._istate[layout.I_N_MARKS] >= self._marks_i.shape[0]:
            self._spill_marks()
        flag = (self._closes.is_last(bar.ts_open, bar.ts_event) if self._closes is not None
                else False)
        k.broker_bar_nb(self._fstate, self._istate, self._out_f, self._out_i, self._marks_f,
                        self._marks_i, bar.ts_open, bar.ts_event, bar.open, bar.high, bar.low,
                        bar.close, flag)
        if self._istate[layout.I_N_OUT] == 0:
            return []
        return self._take(self._out_f, self._out_i, self.config.publish)

    def _on_intent(self, intent: OrderIntent) -> list[Event]:
        if self.config.strategy and intent.strategy != self.config.strategy:
            return []
        tag = self.tag_id(intent.tag)
        ok = k.broker_submit_nb(
            self._fstate, self._istate, self._out_i, intent.order_id, _ACTIONS[intent.action],
            _TYPES[intent.order_type], intent.quantity, _or_nan(intent.price),
            _or_nan(intent.stop_price), _or_nan(intent.target_price),
            intent.stop_points or 0.0, intent.target_points or 0.0,
            -1 if intent.time_stop_bars is None else intent.time_stop_bars,
            intent.expire_bars, tag)
        if ok:
            return []
        return self._take(self._out_f, self._out_i, self.config.publish)

    def tag_id(self, tag: str) -> int:
        """The id of ``tag`` in this broker's tag table (batch intents carry ids)."""
        found = self._tag_ids.get(tag)
        if found is None:
            found = self._tag_ids[tag] = len(self._tags)
            self._tags.append(tag)
        return found

    def intent_columns(self, intents: Sequence[tuple[int, OrderIntent]]) -> IntentChunk:
        """Pack ``(bar position, intent)`` pairs into the batch kernel's columns."""
        n = len(intents)
        bar = np.zeros(n, dtype=np.int64)
        ints = np.zeros((n, 7), dtype=np.int64)
        floats = np.zeros((n, 5), dtype=np.float64)
        for row, (pos, it) in enumerate(intents):
            tag = self.tag_id(it.tag)
            bar[row] = pos
            ints[row] = (it.order_id, _ACTIONS[it.action], _TYPES[it.order_type], it.quantity,
                         -1 if it.time_stop_bars is None else it.time_stop_bars,
                         it.expire_bars, tag)
            floats[row] = (_or_nan(it.price), _or_nan(it.stop_price),
                           _or_nan(it.target_price), it.stop_points or 0.0,
                           it.target_points or 0.0)
        return IntentChunk(bar, ints, floats)

    def _spill_marks(self) -> None:
        n = int(self._istate[layout.I_N_MARKS])
        if n == 0:
            return
        f = self._marks_f[:n]
        self._taken.append(Marks(self._marks_i[:n].copy(), f[:, layout.M_EQUITY].copy(),
                                 f[:, layout.M_POSITION].copy(), f[:, layout.M_CASH].copy()))
        self._istate[layout.I_N_MARKS] = 0

    def _take(self, out_f: np.ndarray, out_i: np.ndarray, build: bool) -> list[Event]:
        """Move the kernel's output rows into the ledger; build their events if asked."""
        n = int(self._istate[layout.I_N_OUT])
        self._istate[layout.I_N_OUT] = 0
        floats, ints = out_f[:n].copy(), out_i[:n].copy()
        events = self._events(floats, ints) if build else None
        self._ledger.append(_Block(floats, ints, events))
        return events or []

    def _build(self) -> None:
        for block in self._ledger[self._built:]:
            events = block.events if block.events is not None else self._events(block.floats,
                                                                                 block.ints)
            for event in events:
                if isinstance(event, Fill):
                    self._fills.append(event)
                elif isinstance(event, TradeClosed):
                    self._trades.append(event)
                else:
                    assert isinstance(event, OrderRejected)
                    self._rejections.append(event)
        self._built = len(self._ledger)

    def _events(self, floats: np.ndarray, ints: np.ndarray) -> list[Event]:
        rows_i = ints.tolist()
        rows_f = floats.tolist()
        symbol = self.config.instrument.symbol
        strategy = self.config.strategy
        reasons, rejects, tags = layout.REASONS, layout.REJECT_REASONS, self._tags
        kind_fill, kind_trade = layout.KIND_FILL, layout.KIND_TRADE
        events: list[Event] = []
        for ri, rf in zip(rows_i, rows_f, strict=True):
            kind = ri[0]
            ts = ri[11]
            if kind == kind_fill:
                events.append(Fill(
                    ts_event=ts, ts_init=ts, instrument=symbol, strategy=strategy,
                    order_id=ri[1], ts_fill=ri[2], side=ri[3], quantity=ri[4], price=rf[0],
                    reason=reasons[ri[5]],  # type: ignore[arg-type]
                    commission_usd=rf[1], slippage_usd=rf[2], position_after=ri[6]))
            elif kind == kind_trade:
                r, stop, target = rf[7], rf[10], rf[11]
                events.append(TradeClosed(
                    ts_event=ts, ts_init=ts, instrument=symbol, strategy=strategy,
                    trade_id=ri[7], order_id=ri[1], direction="long" if ri[3] > 0 else "short",
                    quantity=ri[4], ts_entry=ri[8], entry_price=rf[3], ts_exit=ri[2],
                    exit_price=rf[0], exit_reason=reasons[ri[5]],  # type: ignore[arg-type]
                    pnl_points=rf[4], gross_pnl_usd=rf[5], commission_usd=rf[1],
                    slippage_usd=rf[2], pnl_usd=rf[6], r_multiple=None if r != r else r,
                    bars_held=ri[9], mae_points=rf[8], mfe_points=rf[9], tag=tags[ri[10]],
                    stop_price=None if stop != stop else stop,
                    target_price=None if target != target else target))
            else:
                events.append(OrderRejected(ts_event=ts, ts_init=ts, instrument=symbol,
                                            strategy=strategy, order_id=ri[1],
                                            reason=rejects[ri[5]]))
        return events


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
