"""The live account the risk layer reads (component layer: deterministic, no I/O, no clock).

:class:`AccountTracker` follows the broker's ``Fill`` and ``TradeClosed`` events and the bars
of the traded instrument, and keeps what the hard limits (:func:`~components.risk.limits.
apply_limits`) and the learned risk model read: equity, its peak, the session day's P&L, open
positions, trades entered today, the daily-loss halt and recent trade statistics. It returns no
events: other components read :attr:`AccountTracker.state`.

Bookkeeping
-----------
- Realised P&L is the sum of ``TradeClosed.pnl_usd`` (after the commissions of both sides).
- Open P&L (only with ``point_value`` set, for the configured ``instrument``) is
  ``(mark - average entry) * position * point_value``. The average entry comes from the fills
  (a fill that opens or flips the position sets it to its price, one that adds averages it in,
  one that reduces keeps it). The mark is the close of the last bar of the instrument, or the
  fill's price when the fill came without a bar of the same ``ts_event``. The entry's
  commission enters the equity with the ``TradeClosed`` (the broker charges it at the fill),
  so while a position is open the equity is above the broker's by that commission.
- ``equity = start_equity + realised + open``; ``daily_pnl = equity - day_start_equity``.
- Open positions: instruments whose ``Fill.position_after`` is not 0. Trades today: fills
  that open a position from flat or flip it (adding to a position is not a new trade).
- Recent statistics: wins, losses and their gross sums over the last ``recent_trades`` closed
  trades (a partial close is a trade of its own; a break-even trade is neither win nor loss).

Session days
------------
A session day starts at ``session_open`` local time in ``session_timezone`` (the bar buckets'
rule, :class:`~components.bars.SessionBuckets`; DST-correct). Every input event's ``ts_event``
is a bar close, and the bar is ``[ts_open, ts_event)``, so an event belongs to the session day
of ``ts_event - 1`` ns: a bar closing exactly at the session open, and a stop filled inside it,
belong to the day that ends there. The first event of a later session day rolls the account:
``day_start_equity`` becomes the current equity (an open position carries over at its last
mark), ``daily_pnl`` and ``trades_today`` restart at 0. Session days never go back.

Peak and halt
-------------
The trailing peak and the daily-loss halt are judged on the account at the end of each bus
step (all events of one ``ts_event``): the bus delivers a bar before the fills the broker
derived from it, so between them the tracker marks the position the bar started with, which
the bar's stop or target may already have closed. A mid-step mark therefore never raises the
committed peak or halts the day; :attr:`AccountTracker.state` shows the step so far (peak and
halt included) and is exact once the step's fills are in, which is when a risk decision
derived from the bar reads it. The day is halted when ``daily_pnl <= -limits.daily_loss_limit``
at the end of a step; the halt latches for the rest of that session day (a later recovery of
the open P&L does not lift it) and lifts at the next session day. The tracker holds the
limits so that the latch is part of the account; :func:`apply_limits` turns it into the
``halted_for_session`` veto (and independently caps by the remaining daily allowance).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import msgspec

from components.bars.sessions import DAY_NS, SessionBuckets, parse_session_open
from components.risk.limits import NO_DAY, AccountState, RiskLimitsConfig
from engine.core.config import Config, PositiveFloat, PositiveInt
from engine.core.events import Bar, Event, Fill, TradeClosed
from engine.core.instruments import Instrument

__all__ = ["AccountTracker", "AccountTrackerConfig", "session_day_of"]

_NS = 1_000_000_000
_BEFORE_ANY = -(2**63)


class AccountTrackerConfig(Config, frozen=True):
    """Settings of :class:`AccountTracker` (defaults: a 50,000 USD prop account on CME hours).

    Parameters
    ----------
    start_equity
        USD at the start.
    session_open, session_timezone
        Local wall time (``"HH:MM"``) and IANA zone at which a session day starts.
    strategy
        Only fills and trades of this strategy count (``None``: all).
    instrument
        Only fills, trades and bars of this instrument count (``None``: all).
    point_value
        USD per point of ``instrument``: marks the open position to market at bar closes.
        ``None`` keeps the equity at realised P&L only. Requires ``instrument``.
    recent_trades
        Closed trades behind the win/loss statistics.
    limits
        The hard limits; the tracker uses ``daily_loss_limit`` for the session halt.
    """

    start_equity: PositiveFloat = 50_000.0
    session_open: str = "17:00"
    session_timezone: str = "America/Chicago"
    strategy: str | None = None
    instrument: str | None = None
    point_value: PositiveFloat | None = None
    recent_trades: PositiveInt = 20
    limits: RiskLimitsConfig = RiskLimitsConfig()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_equity) and self.start_equity > 0):
            raise ValueError(f"start_equity: expected a finite number > 0, "
                             f"was {self.start_equity!r}")
        if self.point_value is not None:
            if not (math.isfinite(self.point_value) and self.point_value > 0):
                raise ValueError(f"point_value: expected a finite number > 0, "
                                 f"was {self.point_value!r}")
            if self.instrument is None:
                raise ValueError("instrument: expected a symbol when point_value is set "
                                 "(open P&L is marked for one instrument), was None")
        if self.recent_trades <= 0:
            raise ValueError(f"recent_trades: expected > 0, was {self.recent_trades!r}")
        SessionBuckets(DAY_NS, self.session_open, self.session_timezone)  # validates both

    @classmethod
    def for_instrument(cls, instrument: Instrument, **fields: Any) -> AccountTrackerConfig:
        """A config with the session clock, symbol and point value of ``instrument``."""
        base = {"session_open": instrument.session_open,
                "session_timezone": instrument.session_timezone,
                "instrument": instrument.symbol, "point_value": instrument.point_value}
        return cls(**{**base, **fields})


def session_day_of(day_start_ns: int, session_open: str, session_timezone: str) -> int:
    """Number a session day by its start (UTC ns): days since 1970-01-01 of its local open.

    Examples
    --------
    >>> start = 1378159200 * 10**9   # 2013-09-02 17:00 CDT, the ES session of 3 September
    >>> session_day_of(start, "17:00", "America/Chicago")  # 2013-09-02
    15950
    """
    offset = datetime.fromtimestamp(day_start_ns // _NS, tz=ZoneInfo(session_timezone)).utcoffset()
    assert offset is not None
    wall = day_start_ns + round(offset.total_seconds()) * _NS
    # The day start is the first instant the clock reads the open or later (a DST jump may
    # put it past the open, never by a day), so the floor recovers the day.
    return (wall - parse_session_open(session_open)) // DAY_NS


class _State(msgspec.Struct, array_like=True):
    realised: float
    positions: dict[str, int]
    avg_price: float
    mark: float
    mark_ts: int
    day_start_ns: int
    session_day: int
    day_start_equity: float
    halted_day: int
    peak: float
    step_ts: int
    trades_today: int
    trades_total: int
    recent: list[float]


class AccountTracker:
    """Keep the live :class:`~components.risk.limits.AccountState` from fills, closed trades
    and bars (module docstring for the rules). Returns no events; read :attr:`state`.

    Examples
    --------
    >>> from engine.core.events import TradeClosed
    >>> tracker = AccountTracker(AccountTrackerConfig(session_open="00:00",
    ...                                               session_timezone="UTC"))
    >>> loss = TradeClosed(ts_event=3600 * 10**9, ts_init=0, instrument="ES", strategy="s",
    ...                    trade_id=1, order_id=1, direction="long", quantity=2, ts_entry=0,
    ...                    entry_price=100.0, ts_exit=3600 * 10**9, exit_price=90.0,
    ...                    exit_reason="stop", pnl_points=-10.0, gross_pnl_usd=-1000.0,
    ...                    commission_usd=10.0, slippage_usd=0.0, pnl_usd=-1010.0,
    ...                    r_multiple=-1.0, bars_held=3, mae_points=-10.0, mfe_points=1.0)
    >>> tracker.on_event(loss)
    ()
    >>> state = tracker.state
    >>> state.equity, state.daily_pnl, state.halted, state.losses, state.gross_loss
    (48990.0, -1010.0, True, 1, 1010.0)
    """

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, Fill, TradeClosed)

    def __init__(self, config: AccountTrackerConfig) -> None:
        self.config = config
        self.name = "risk.account" if config.strategy is None else f"risk.account.{config.strategy}"
        self._buckets = SessionBuckets(DAY_NS, config.session_open, config.session_timezone)
        self.reset()

    @property
    def ready(self) -> bool:
        """Always: the account is defined from the start (at ``start_equity``)."""
        return True

    @property
    def state(self) -> AccountState:
        """The account after the events seen so far (module docstring: peak and halt)."""
        cfg = self.config
        equity = self._equity()
        daily = equity - self._day_start_equity
        halted_day = self._halted_day
        if self._session_day != NO_DAY and daily <= -cfg.limits.daily_loss_limit:
            halted_day = self._session_day
        recent = self._recent
        win_sum = math.fsum(p for p in recent if p > 0)
        loss_sum = -math.fsum(p for p in recent if p < 0)
        return AccountState(
            equity=equity, start_equity=cfg.start_equity, peak_equity=max(self._peak, equity),
            day_start_equity=self._day_start_equity, daily_pnl=daily,
            open_pnl=self._open_pnl(), open_positions=len(self._positions),
            trades_today=self._trades_today, session_day=self._session_day,
            halted_day=halted_day, recent=len(recent), wins=sum(1 for p in recent if p > 0),
            losses=sum(1 for p in recent if p < 0), gross_win=win_sum, gross_loss=loss_sum,
            trades_total=self._trades_total)

    def on_event(self, event: Event) -> Sequence[Event]:
        """Update the account; return nothing."""
        cfg = self.config
        match event:
            case Bar():
                if cfg.instrument is not None and event.instrument != cfg.instrument:
                    return ()
                self._advance(event.ts_event)
                if cfg.point_value is not None:
                    self._mark, self._mark_ts = event.close, event.ts_event
            case Fill():
                if not self._counts(event.instrument, event.strategy):
                    return ()
                self._advance(event.ts_event)
                self._on_fill(event)
            case TradeClosed():
                if not self._counts(event.instrument, event.strategy):
                    return ()
                self._advance(event.ts_event)
                self._realised += event.pnl_usd
                self._recent.append(event.pnl_usd)
                self._trades_total += 1
        return ()

    def reset(self) -> None:
        """Back to ``start_equity``: flat, no session day, no trades."""
        start = self.config.start_equity
        self._realised = 0.0
        self._positions: dict[str, int] = {}
        self._avg_price = 0.0
        self._mark = 0.0
        self._mark_ts = _BEFORE_ANY
        self._day_start_ns = _BEFORE_ANY
        self._session_day = NO_DAY
        self._day_start_equity = start
        self._halted_day = NO_DAY
        self._peak = start
        self._step_ts = _BEFORE_ANY
        self._trades_today = 0
        self._trades_total = 0
        self._recent: deque[float] = deque(maxlen=self.config.recent_trades)

    def snapshot(self) -> bytes:
        """Every account figure, the open position, the session day and the recent trades."""
        return msgspec.msgpack.encode(_State(
            self._realised, dict(self._positions), self._avg_price, self._mark, self._mark_ts,
            self._day_start_ns, self._session_day, self._day_start_equity, self._halted_day,
            self._peak, self._step_ts, self._trades_today, self._trades_total,
            list(self._recent)))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self.reset()
        self._realised, self._positions = s.realised, s.positions
        self._avg_price, self._mark, self._mark_ts = s.avg_price, s.mark, s.mark_ts
        self._day_start_ns, self._session_day = s.day_start_ns, s.session_day
        self._day_start_equity, self._halted_day = s.day_start_equity, s.halted_day
        self._peak, self._step_ts = s.peak, s.step_ts
        self._trades_today, self._trades_total = s.trades_today, s.trades_total
        self._recent.extend(s.recent)

    def _counts(self, instrument: str, strategy: str) -> bool:
        cfg = self.config
        return ((cfg.instrument is None or instrument == cfg.instrument)
                and (cfg.strategy is None or strategy == cfg.strategy))

    def _open_pnl(self) -> float:
        cfg = self.config
        if cfg.point_value is None or cfg.instrument is None:
            return 0.0
        position = self._positions.get(cfg.instrument, 0)
        if position == 0:
            return 0.0
        return (self._mark - self._avg_price) * position * cfg.point_value

    def _equity(self) -> float:
        return self.config.start_equity + self._realised + self._open_pnl()

    def _advance(self, ts_event: int) -> None:
        """Close the previous bus step (peak, halt) and roll the session day if ``ts_event``
        starts a later one."""
        if ts_event > self._step_ts:
            equity = self._equity()
            self._peak = max(self._peak, equity)
            if (self._session_day != NO_DAY
                    and equity - self._day_start_equity <= -self.config.limits.daily_loss_limit):
                self._halted_day = self._session_day
            self._step_ts = ts_event
        start, _ = self._buckets.bounds(ts_event - 1)
        if start > self._day_start_ns:
            cfg = self.config
            self._day_start_ns = start
            self._session_day = session_day_of(start, cfg.session_open, cfg.session_timezone)
            self._day_start_equity = self._equity()
            self._trades_today = 0

    def _on_fill(self, fill: Fill) -> None:
        after = fill.position_after
        before = after - fill.side * fill.quantity
        flipped = before != 0 and after != 0 and (before > 0) != (after > 0)
        if after != 0 and (before == 0 or flipped):
            self._trades_today += 1
        if after == 0:
            self._positions.pop(fill.instrument, None)
        else:
            self._positions[fill.instrument] = after
        cfg = self.config
        if cfg.point_value is None or fill.instrument != cfg.instrument:
            return
        if after == 0:
            self._avg_price = 0.0
        elif before == 0 or flipped:
            self._avg_price = fill.price
        elif abs(after) > abs(before):
            added = fill.price * fill.quantity
            self._avg_price = (self._avg_price * abs(before) + added) / abs(after)
        if self._mark_ts != fill.ts_event:  # no bar of this step seen yet: mark at the fill
            self._mark = fill.price
