"""Numba kernels of the simulated broker (kernel layer).

A call between jitted functions costs atomic reference-count updates for its array arguments,
and a call site inside a loop costs them on every iteration even when it is not taken. So the
batch loop calls the full bar kernel only on bars with something to execute (pending orders,
brackets, a time stop, a session end) and otherwise runs the kernel's own quiet path (bar
count and mark) inline; the small helpers are inlined (``inline="always"``).

One bar of execution is :func:`broker_bar_nb`; an order decided at a bar close enters with
:func:`broker_submit_nb` and can first fill on the next bar. :func:`broker_batch_nb` is a loop
over both, so a chunk of bars advanced in one call gives exactly the fills, trades and equity
marks of the bar-by-bar path.

State lives in two caller-owned arrays from :func:`broker_init_state`: ``fstate`` (float64:
account, open-position bookkeeping, parameters, the pending-order table's prices) and
``istate`` (int64: position, counters, the order table's integer fields). Outputs go to
``out_f``/``out_i`` (one row per fill, closed trade or rejection, in the order they happen)
and ``marks_f``/``marks_i`` (one row per bar: equity, position, cash; bar close time).

Execution rules, in the order applied to each bar (prices in the instrument's points):

1. A position open before the bar: a stop or target the open gapped through fills at the open
   (the stop with slippage); then the time stop (``bars held >= limit``) exits at the open.
   The same gap rule applies to a bracket entered at this bar's open (a level set from the
   decision bar's close that the open has already passed).
2. Pending orders in submission order: ``close`` and ``market`` fill at the open plus
   slippage; a ``limit`` fills at the open if the open is through it, else at its price when
   the range reaches it (no slippage); a ``stop`` fills at the open if the open is through it,
   else at its price when the range reaches it, plus slippage. Expired orders are cancelled.
   All fills at the open come first, then the fills inside the range (each pass in submission
   order), so no order fills at the open against a position opened later in the bar.
3. Stop and target of the open position inside the bar. When both are inside the range the
   intrabar rule decides (pessimistic: stop first; optimistic: target first) and the bar is
   counted as ambiguous. On the bar of an intrabar entry only the level the rule favours
   (pessimistic: the stop; optimistic: the target) can fill, because the path before the entry
   is unknown.
4. Flat at session end: a position still open exits at the close (with slippage) and pending
   entry orders are cancelled.
5. Mark to market at the close: ``equity = cash + (close - avg_price) * position * point_value``.

Slippage is ``slippage_ticks * tick_size`` against the trader, clamped so that no fill lies
outside the bar's high-low range. Fees (commission + exchange + NFA, per contract per side) are
charged to cash on every fill, plus ``fee_bps`` of the traded notional (crypto and FX venues
charge a share of the notional instead of a fixed fee). Cash accrues realised P&L and fees
(futures-style variation margin; no contract value is exchanged).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "ACTION_BUY", "ACTION_CLOSE", "ACTION_SELL", "MAX_ORDERS", "OUT_ROWS_PER_BAR",
    "REASONS", "REJECT_REASONS", "TYPE_LIMIT", "TYPE_MARKET", "TYPE_STOP",
    "broker_bar_nb", "broker_batch_nb", "broker_init_state", "broker_submit_nb",
]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

MAX_ORDERS = 32
OUT_ROWS_PER_BAR = 4 * MAX_ORDERS + 16  # upper bound of rows one bar can write

# fstate slots
F_CASH = 0
F_AVG = 1
F_REALIZED = 2
F_FEES = 3
F_SLIPPAGE = 4
F_STOP = 5
F_TARGET = 6
F_RISK_PTS = 7
F_MAE = 8
F_MFE = 9
F_ENTRY_FEES = 10
F_ENTRY_SLIP = 11
F_TICK = 12
F_POINT_VALUE = 13
F_SLIP_TICKS = 14
F_FEE = 15
F_OPTIMISTIC = 16
F_INITIAL = 17
F_FEE_BPS = 18
F_ORDERS = 24  # order table: MAX_ORDERS rows of OF_N floats
OF_PRICE = 0
OF_STOP = 1
OF_TARGET = 2
OF_STOP_PTS = 3
OF_TARGET_PTS = 4
OF_N = 5
F_N = F_ORDERS + MAX_ORDERS * OF_N

# istate slots
I_POS = 0
I_BAR = 1
I_ENTRY_BAR = 2
I_ENTRY_TS = 3
I_TIME_STOP = 4
I_ENTRY_ORDER = 5
I_TRADE_SEQ = 6
I_N_ORDERS = 7
I_AMBIGUOUS = 8
I_INTRABAR_ENTRY = 9
I_TAG = 10
I_N_OUT = 11
I_N_MARKS = 12
I_DEFAULT_TIME_STOP = 13
I_MAX_POSITION = 14
I_BAR_TS = 15
I_ORDERS = 24  # order table: MAX_ORDERS rows of OI_N ints
OI_ID = 0
OI_ACTION = 1
OI_TYPE = 2
OI_QTY = 3
OI_SUBMIT_BAR = 4
OI_EXPIRE = 5
OI_TIME_STOP = 6
OI_TAG = 7
OI_BRACKET = 8
OI_N = 9
I_N = I_ORDERS + MAX_ORDERS * OI_N

ACTION_BUY = 0
ACTION_SELL = 1
ACTION_CLOSE = 2
TYPE_MARKET = 0
TYPE_LIMIT = 1
TYPE_STOP = 2

# out rows: out_i columns
O_KIND = 0  # 0 fill, 1 trade, 2 rejection
O_ORDER = 1
O_TS = 2  # fill time / exit time
O_SIDE = 3  # +1/-1 (fill side; trade direction)
O_QTY = 4
O_REASON = 5
O_POS_AFTER = 6
O_TRADE_ID = 7
O_TS_ENTRY = 8
O_BARS_HELD = 9
O_TAG = 10
O_BAR_TS = 11  # close of the bar being processed (the event's ts_event)
OUT_I = 12
# out_f columns
O_PRICE = 0  # fill price / exit price
O_FEES = 1
O_SLIP = 2
O_ENTRY_PRICE = 3
O_PNL_PTS = 4
O_GROSS = 5
O_PNL = 6
O_R = 7
O_MAE = 8
O_MFE = 9
OUT_F = 10

KIND_FILL = 0
KIND_TRADE = 1
KIND_REJECT = 2

R_ENTRY = 0
R_EXIT = 1
R_STOP = 2
R_TARGET = 3
R_TIME_STOP = 4
R_SESSION_END = 5
R_CLOSE = 6
REASONS = ("entry", "exit", "stop", "target", "time_stop", "session_end", "close")

X_POSITION_OPEN = 0
X_BRACKET_ACTIVE = 1
X_MAX_POSITION = 2
X_EXPIRED = 3
X_NO_POSITION = 4
X_SESSION_END = 5
X_TABLE_FULL = 6
X_INVALID = 7
REJECT_REASONS = ("position_open", "bracket_active", "max_position", "expired", "no_position",
                  "session_end", "order_table_full", "invalid_order")

# marks_f columns
M_EQUITY = 0
M_POSITION = 1
M_CASH = 2


def broker_init_state(initial_cash: float, tick_size: float, point_value: float,
                      slippage_ticks: float, fee_per_contract: float, optimistic: bool,
                      time_stop_bars: int, max_position: int,
                      fee_bps: float = 0.0) -> tuple[Floats, Ints]:
    """Return fresh ``(fstate, istate)``: flat, ``initial_cash``, no pending orders."""
    fstate = np.zeros(F_N, dtype=np.float64)
    istate = np.zeros(I_N, dtype=np.int64)
    fstate[F_CASH] = initial_cash
    fstate[F_INITIAL] = initial_cash
    fstate[F_STOP] = np.nan
    fstate[F_TARGET] = np.nan
    fstate[F_RISK_PTS] = np.nan
    fstate[F_TICK] = tick_size
    fstate[F_POINT_VALUE] = point_value
    fstate[F_SLIP_TICKS] = slippage_ticks
    fstate[F_FEE] = fee_per_contract
    fstate[F_FEE_BPS] = fee_bps
    fstate[F_OPTIMISTIC] = 1.0 if optimistic else 0.0
    istate[I_BAR] = -1
    istate[I_INTRABAR_ENTRY] = -1
    istate[I_DEFAULT_TIME_STOP] = time_stop_bars
    istate[I_MAX_POSITION] = max_position
    return fstate, istate


@njit(cache=True, inline="always")
def _round_tick(x: float, tick: float, direction: int) -> float:
    q = x / tick
    if direction > 0:
        n = math.ceil(q - 1e-9)
    elif direction < 0:
        n = math.floor(q + 1e-9)
    else:
        n = math.floor(q + 0.5)
    return n * tick


@njit(cache=True, inline="always")
def _slipped(fstate: Floats, price: float, side: int, low: float, high: float) -> float:
    """``price`` moved ``slippage_ticks`` against a fill on ``side``, kept inside the bar."""
    ticks = float(fstate[F_SLIP_TICKS])
    if ticks == 0.0:
        return price
    out = price + side * ticks * float(fstate[F_TICK])
    if ticks != math.floor(ticks):
        out = _round_tick(out, fstate[F_TICK], side)
    return min(max(out, low), high)


@njit(cache=True)
def _reject(istate: Ints, out_i: Ints, order_id: int, code: int) -> None:
    k = istate[I_N_OUT]
    out_i[k, O_KIND] = KIND_REJECT
    out_i[k, O_BAR_TS] = istate[I_BAR_TS]
    out_i[k, O_ORDER] = order_id
    out_i[k, O_REASON] = code
    istate[I_N_OUT] = k + 1


@njit(cache=True)
def _close_part(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, qty: int, price: float,
                fee: float, slip_usd: float, ts: int, reason: int) -> None:
    """Book the closing of ``qty`` contracts of the open position at ``price`` as a trade."""
    pos = istate[I_POS]
    direction = 1 if pos > 0 else -1
    size = abs(pos)
    share = qty / size
    pv = fstate[F_POINT_VALUE]
    pnl_pts = (price - fstate[F_AVG]) * direction
    gross = pnl_pts * qty * pv
    entry_fees = fstate[F_ENTRY_FEES] * share
    entry_slip = fstate[F_ENTRY_SLIP] * share
    fstate[F_ENTRY_FEES] -= entry_fees
    fstate[F_ENTRY_SLIP] -= entry_slip
    fees = entry_fees + fee
    pnl = gross - fees
    fstate[F_CASH] += gross
    fstate[F_REALIZED] += gross
    mae = min(fstate[F_MAE], pnl_pts)
    mfe = max(fstate[F_MFE], pnl_pts)
    k = istate[I_N_OUT]
    istate[I_TRADE_SEQ] += 1
    out_i[k, O_KIND] = KIND_TRADE
    out_i[k, O_BAR_TS] = istate[I_BAR_TS]
    out_i[k, O_ORDER] = istate[I_ENTRY_ORDER]
    out_i[k, O_TS] = ts
    out_i[k, O_SIDE] = direction
    out_i[k, O_QTY] = qty
    out_i[k, O_REASON] = reason
    out_i[k, O_POS_AFTER] = pos - direction * qty
    out_i[k, O_TRADE_ID] = istate[I_TRADE_SEQ]
    out_i[k, O_TS_ENTRY] = istate[I_ENTRY_TS]
    out_i[k, O_BARS_HELD] = istate[I_BAR] - istate[I_ENTRY_BAR]
    out_i[k, O_TAG] = istate[I_TAG]
    out_f[k, O_PRICE] = price
    out_f[k, O_FEES] = fees
    out_f[k, O_SLIP] = entry_slip + slip_usd
    out_f[k, O_ENTRY_PRICE] = fstate[F_AVG]
    out_f[k, O_PNL_PTS] = pnl_pts
    out_f[k, O_GROSS] = gross
    out_f[k, O_PNL] = pnl
    risk = fstate[F_RISK_PTS]
    out_f[k, O_R] = pnl / (risk * qty * pv) if risk > 0.0 else np.nan
    out_f[k, O_MAE] = mae
    out_f[k, O_MFE] = mfe
    istate[I_N_OUT] = k + 1
    istate[I_POS] = pos - direction * qty
    if istate[I_POS] == 0:
        fstate[F_AVG] = 0.0
        fstate[F_STOP] = np.nan
        fstate[F_TARGET] = np.nan
        fstate[F_RISK_PTS] = np.nan
        fstate[F_ENTRY_FEES] = 0.0
        fstate[F_ENTRY_SLIP] = 0.0
        istate[I_TIME_STOP] = 0
        istate[I_INTRABAR_ENTRY] = -1


@njit(cache=True)
def _fill(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, order_id: int, side: int,
          qty: int, price: float, ref_price: float, ts: int, reason: int, tag: int,
          time_stop: int) -> None:
    """Execute ``qty`` contracts on ``side`` at ``price``: fees, slippage, position, trades."""
    pv = fstate[F_POINT_VALUE]
    fee = qty * fstate[F_FEE] + abs(price) * qty * pv * fstate[F_FEE_BPS] * 1e-4
    slip_usd = abs(price - ref_price) * qty * pv
    fstate[F_CASH] -= fee
    fstate[F_FEES] += fee
    fstate[F_SLIPPAGE] += slip_usd
    k = istate[I_N_OUT]  # the fill's row comes before the trade row it closes
    istate[I_N_OUT] = k + 1
    pos = istate[I_POS]
    remaining = qty
    if pos != 0 and (pos > 0) != (side > 0):
        closing = min(qty, abs(pos))
        part = closing / qty
        _close_part(fstate, istate, out_f, out_i, closing, price, fee * part, slip_usd * part,
                    ts, reason if reason != R_ENTRY else R_EXIT)
        remaining = qty - closing
    if remaining > 0:
        part = remaining / qty
        pos = istate[I_POS]
        if pos == 0:
            istate[I_ENTRY_BAR] = istate[I_BAR]
            istate[I_ENTRY_TS] = ts
            istate[I_ENTRY_ORDER] = order_id
            istate[I_TAG] = tag
            istate[I_TIME_STOP] = time_stop
            fstate[F_AVG] = price
            fstate[F_MAE] = 0.0
            fstate[F_MFE] = 0.0
        else:
            fstate[F_AVG] = (fstate[F_AVG] * abs(pos) + price * remaining) / (abs(pos) + remaining)
        fstate[F_ENTRY_FEES] += fee * part
        fstate[F_ENTRY_SLIP] += slip_usd * part
        istate[I_POS] = pos + side * remaining
    out_i[k, O_KIND] = KIND_FILL
    out_i[k, O_BAR_TS] = istate[I_BAR_TS]
    out_i[k, O_ORDER] = order_id
    out_i[k, O_TS] = ts
    out_i[k, O_SIDE] = side
    out_i[k, O_QTY] = qty
    out_i[k, O_REASON] = reason
    out_i[k, O_POS_AFTER] = istate[I_POS]
    out_i[k, O_TAG] = tag
    out_f[k, O_PRICE] = price
    out_f[k, O_FEES] = fee
    out_f[k, O_SLIP] = slip_usd


@njit(cache=True)
def _exit_all(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, price: float,
              ref_price: float, ts: int, reason: int) -> None:
    pos = istate[I_POS]
    side = -1 if pos > 0 else 1
    _fill(fstate, istate, out_f, out_i, istate[I_ENTRY_ORDER], side, abs(pos), price, ref_price,
          ts, reason, istate[I_TAG], 0)


@njit(cache=True)
def _set_bracket(fstate: Floats, istate: Ints, row: int, fill_price: float, side: int,
                 intrabar: bool) -> None:
    base = F_ORDERS + row * OF_N
    tick = fstate[F_TICK]
    stop = fstate[base + OF_STOP]
    if not math.isfinite(stop) and fstate[base + OF_STOP_PTS] > 0.0:
        stop = _round_tick(fill_price - side * fstate[base + OF_STOP_PTS], tick, 0)
    target = fstate[base + OF_TARGET]
    if not math.isfinite(target) and fstate[base + OF_TARGET_PTS] > 0.0:
        target = _round_tick(fill_price + side * fstate[base + OF_TARGET_PTS], tick, 0)
    fstate[F_STOP] = stop
    fstate[F_TARGET] = target
    fstate[F_RISK_PTS] = abs(fill_price - stop) if math.isfinite(stop) else np.nan
    istate[I_INTRABAR_ENTRY] = istate[I_BAR] if intrabar else -1


@njit(cache=True)
def _remove_order(fstate: Floats, istate: Ints, row: int) -> None:
    n = istate[I_N_ORDERS]
    for r in range(row, n - 1):
        for j in range(OF_N):
            fstate[F_ORDERS + r * OF_N + j] = fstate[F_ORDERS + (r + 1) * OF_N + j]
        for j in range(OI_N):
            istate[I_ORDERS + r * OI_N + j] = istate[I_ORDERS + (r + 1) * OI_N + j]
    istate[I_N_ORDERS] = n - 1


@njit(cache=True)
def _try_order(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, row: int,
               ts_open: int, ts_close: int, o: float, h: float, lo: float,
               inside: bool) -> bool:
    """Fill the pending order in ``row`` if this bar reaches it; True when it is done.

    ``inside`` False: only fills at the open; True: only fills inside the bar's range.
    """
    ib = I_ORDERS + row * OI_N
    fb = F_ORDERS + row * OF_N
    order_id = istate[ib + OI_ID]
    action = istate[ib + OI_ACTION]
    pos = istate[I_POS]
    if action == ACTION_CLOSE:
        if pos == 0:
            _reject(istate, out_i, order_id, X_NO_POSITION)
            return True
        side = -1 if pos > 0 else 1
        price = _slipped(fstate, o, side, lo, h)
        _exit_all(fstate, istate, out_f, out_i, price, o, ts_open, R_CLOSE)
        return True
    side = 1 if action == ACTION_BUY else -1
    kind = istate[ib + OI_TYPE]
    level = fstate[fb + OF_PRICE]
    at_open = True
    if kind == TYPE_MARKET:
        ref = o
    elif kind == TYPE_LIMIT:
        if (side > 0 and o <= level) or (side < 0 and o >= level):
            ref = o
        elif inside and ((side > 0 and lo <= level) or (side < 0 and h >= level)):
            ref = level
            at_open = False
        else:
            return False
    else:
        if (side > 0 and o >= level) or (side < 0 and o <= level):
            ref = o
        elif inside and ((side > 0 and h >= level) or (side < 0 and lo <= level)):
            ref = level
            at_open = False
        else:
            return False
    qty = istate[ib + OI_QTY]
    bracket = istate[ib + OI_BRACKET] == 1
    if bracket and pos != 0:
        _reject(istate, out_i, order_id, X_POSITION_OPEN)
        return True
    if not bracket and pos != 0 and (math.isfinite(fstate[F_STOP])
                                     or math.isfinite(fstate[F_TARGET])):
        _reject(istate, out_i, order_id, X_BRACKET_ACTIVE)
        return True
    if abs(pos + side * qty) > istate[I_MAX_POSITION]:
        _reject(istate, out_i, order_id, X_MAX_POSITION)
        return True
    price = ref if kind == TYPE_LIMIT else _slipped(fstate, ref, side, lo, h)
    time_stop = istate[ib + OI_TIME_STOP]
    if time_stop < 0:
        time_stop = istate[I_DEFAULT_TIME_STOP] if bracket else 0
    reducing = pos != 0 and (pos > 0) != (side > 0)
    _fill(fstate, istate, out_f, out_i, order_id, side, qty, price, ref,
          ts_open if at_open else ts_close, R_EXIT if reducing else R_ENTRY,
          istate[ib + OI_TAG], time_stop)
    if bracket:
        _set_bracket(fstate, istate, row, price, side, not at_open)
    return True


@njit(cache=True, inline="always")
def _brackets(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, ts_close: int,
              h: float, lo: float) -> None:
    pos = istate[I_POS]
    stop = fstate[F_STOP]
    target = fstate[F_TARGET]
    if pos == 0 or (not math.isfinite(stop) and not math.isfinite(target)):
        return
    long = pos > 0
    stop_hit = math.isfinite(stop) and ((long and lo <= stop) or (not long and h >= stop))
    target_hit = math.isfinite(target) and ((long and h >= target) or (not long and lo <= target))
    optimistic = fstate[F_OPTIMISTIC] > 0.0
    if stop_hit and target_hit:
        istate[I_AMBIGUOUS] += 1
        if optimistic:
            stop_hit = False
        else:
            target_hit = False
    elif istate[I_INTRABAR_ENTRY] == istate[I_BAR]:
        # entered inside this bar: the path before the entry is unknown
        if optimistic:
            stop_hit = False
        else:
            target_hit = False
    side = -1 if long else 1
    if stop_hit:
        price = _slipped(fstate, stop, side, lo, h)
        _exit_all(fstate, istate, out_f, out_i, price, stop, ts_close, R_STOP)
    elif target_hit:
        price = min(max(target, lo), h)  # a target set beyond the range on an entry bar
        _exit_all(fstate, istate, out_f, out_i, price, price, ts_close, R_TARGET)


@njit(cache=True, inline="always")
def _gap_exit(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, ts_open: int,
              o: float, h: float, lo: float) -> bool:
    """Exit at the open if it is through the stop (plus slippage) or the target."""
    long = istate[I_POS] > 0
    side = -1 if long else 1
    stop = fstate[F_STOP]
    target = fstate[F_TARGET]
    if math.isfinite(stop) and ((long and o <= stop) or (not long and o >= stop)):
        _exit_all(fstate, istate, out_f, out_i, _slipped(fstate, o, side, lo, h), o, ts_open,
                  R_STOP)
        return True
    if math.isfinite(target) and ((long and o >= target) or (not long and o <= target)):
        _exit_all(fstate, istate, out_f, out_i, o, o, ts_open, R_TARGET)
        return True
    return False


@njit(cache=True, inline="always")
def broker_bar_nb(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, marks_f: Floats,
                  marks_i: Ints, ts_open: int, ts_close: int, o: float, h: float, lo: float,
                  c: float, session_end: bool) -> None:
    """Execute one bar: gaps, time stop, pending orders, brackets, session end, mark."""
    istate[I_BAR] += 1
    istate[I_BAR_TS] = ts_close
    if _active(fstate, istate, session_end):
        _execute_nb(fstate, istate, out_f, out_i, ts_open, ts_close, o, h, lo, c, session_end)
    _mark(fstate, istate, marks_f, marks_i, ts_close, h, lo, c)


@njit(cache=True, inline="always")
def _active(fstate: Floats, istate: Ints, session_end: bool) -> bool:
    """Whether this bar has anything to execute (else only the mark changes)."""
    pos = istate[I_POS]
    return bool(istate[I_N_ORDERS] > 0 or session_end
                or (pos != 0 and (istate[I_TIME_STOP] > 0 or math.isfinite(fstate[F_STOP])
                                  or math.isfinite(fstate[F_TARGET]))))


@njit(cache=True, inline="always")
def _mark(fstate: Floats, istate: Ints, marks_f: Floats, marks_i: Ints, ts_close: int,
          h: float, lo: float, c: float) -> None:
    """Step 5: excursions of the open position and the equity mark at the close."""
    pos = istate[I_POS]
    avg = fstate[F_AVG]
    if pos != 0:
        direction = 1.0 if pos > 0 else -1.0
        if istate[I_INTRABAR_ENTRY] == istate[I_BAR]:
            worst = (c - avg) * direction
            best = worst
        else:
            worst = ((lo if pos > 0 else h) - avg) * direction
            best = ((h if pos > 0 else lo) - avg) * direction
        fstate[F_MAE] = min(fstate[F_MAE], worst, 0.0)
        fstate[F_MFE] = max(fstate[F_MFE], best, 0.0)
    m = istate[I_N_MARKS]
    cash = fstate[F_CASH]
    marks_f[m, M_EQUITY] = cash + ((c - avg) * pos * fstate[F_POINT_VALUE] if pos != 0 else 0.0)
    marks_f[m, M_POSITION] = pos
    marks_f[m, M_CASH] = cash
    marks_i[m] = ts_close
    istate[I_N_MARKS] = m + 1


@njit(cache=True)
def _execute_nb(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, ts_open: int,
                ts_close: int, o: float, h: float, lo: float, c: float,
                session_end: bool) -> None:
    """Steps 1-4 of a bar: gaps and time stop, pending orders, brackets, session end."""
    bar = istate[I_BAR]
    pos = istate[I_POS]
    if pos != 0 and not _gap_exit(fstate, istate, out_f, out_i, ts_open, o, h, lo):
        if istate[I_TIME_STOP] > 0 and bar - istate[I_ENTRY_BAR] >= istate[I_TIME_STOP]:
            side = -1 if pos > 0 else 1
            _exit_all(fstate, istate, out_f, out_i, _slipped(fstate, o, side, lo, h), o, ts_open,
                      R_TIME_STOP)
    for inside in (False, True):  # fills at the open precede fills inside the bar
        if inside and istate[I_POS] != 0 and istate[I_ENTRY_BAR] == bar:
            # entered at this open: a stop or target the open is already through fills now
            _gap_exit(fstate, istate, out_f, out_i, ts_open, o, h, lo)
        row = 0
        while row < istate[I_N_ORDERS]:
            ib = I_ORDERS + row * OI_N
            expire = istate[ib + OI_EXPIRE]
            if expire > 0 and bar - istate[ib + OI_SUBMIT_BAR] > expire:
                _reject(istate, out_i, istate[ib + OI_ID], X_EXPIRED)
                _remove_order(fstate, istate, row)
            elif _try_order(fstate, istate, out_f, out_i, row, ts_open, ts_close, o, h, lo,
                            inside):
                _remove_order(fstate, istate, row)
            else:
                row += 1
    _brackets(fstate, istate, out_f, out_i, ts_close, h, lo)
    pos = istate[I_POS]
    if session_end:
        if pos != 0:
            side = -1 if pos > 0 else 1
            _exit_all(fstate, istate, out_f, out_i, _slipped(fstate, c, side, lo, h), c,
                      ts_close, R_SESSION_END)
        while istate[I_N_ORDERS] > 0:
            _reject(istate, out_i, istate[I_ORDERS + OI_ID], X_SESSION_END)
            _remove_order(fstate, istate, 0)


@njit(cache=True)
def broker_submit_nb(fstate: Floats, istate: Ints, out_i: Ints, order_id: int, action: int,
                     order_type: int, quantity: int, price: float, stop_price: float,
                     target_price: float, stop_points: float, target_points: float,
                     time_stop_bars: int, expire_bars: int, tag: int) -> bool:
    """Queue an order decided at the close of the current bar; False (and a row) if refused.

    ``price``/``stop_price``/``target_price`` are ``nan`` when absent, the point distances 0;
    ``time_stop_bars`` is -1 for the broker default.
    """
    valid = action == ACTION_CLOSE or quantity > 0
    if order_type != TYPE_MARKET and not math.isfinite(price):
        valid = False
    if not valid:
        _reject(istate, out_i, order_id, X_INVALID)
        return False
    row = istate[I_N_ORDERS]
    if row >= MAX_ORDERS:
        _reject(istate, out_i, order_id, X_TABLE_FULL)
        return False
    ib = I_ORDERS + row * OI_N
    fb = F_ORDERS + row * OF_N
    bracket = (math.isfinite(stop_price) or math.isfinite(target_price) or stop_points > 0.0
               or target_points > 0.0)
    istate[ib + OI_ID] = order_id
    istate[ib + OI_ACTION] = action
    istate[ib + OI_TYPE] = order_type if action != ACTION_CLOSE else TYPE_MARKET
    istate[ib + OI_QTY] = quantity
    istate[ib + OI_SUBMIT_BAR] = istate[I_BAR]
    istate[ib + OI_EXPIRE] = expire_bars
    istate[ib + OI_TIME_STOP] = time_stop_bars
    istate[ib + OI_TAG] = tag
    istate[ib + OI_BRACKET] = 1 if bracket and action != ACTION_CLOSE else 0
    fstate[fb + OF_PRICE] = price
    fstate[fb + OF_STOP] = stop_price
    fstate[fb + OF_TARGET] = target_price
    fstate[fb + OF_STOP_PTS] = stop_points
    fstate[fb + OF_TARGET_PTS] = target_points
    istate[I_N_ORDERS] = row + 1
    return True


@njit(cache=True)
def _quiet_run_nb(fstate: Floats, istate: Ints, marks_f: Floats, marks_i: Ints,
                  ts_close: Ints, h: Floats, lo: Floats, c: Floats,
                  session_end: npt.NDArray[np.bool_], start: int, stop: int,
                  intent_bar: int) -> int:
    """Run bars with nothing to execute from ``start``; return the first bar not run.

    Stops before a bar that has something to execute and after the bar ``intent_bar`` (whose
    intents must be submitted before the next bar). Does exactly what :func:`broker_bar_nb`
    does on such bars, without its call (see the module notes).
    """
    i = start
    while i < stop:
        if _active(fstate, istate, session_end[i]):
            return i
        istate[I_BAR] += 1
        istate[I_BAR_TS] = ts_close[i]
        _mark(fstate, istate, marks_f, marks_i, ts_close[i], h[i], lo[i], c[i])
        i += 1
        if i - 1 == intent_bar:
            return i
    return i


@njit(cache=True)
def broker_batch_nb(fstate: Floats, istate: Ints, out_f: Floats, out_i: Ints, marks_f: Floats,
                    marks_i: Ints, ts_open: Ints, ts_close: Ints, o: Floats, h: Floats,
                    lo: Floats, c: Floats, session_end: npt.NDArray[np.bool_], start: int,
                    intent_bar: Ints, intent_i: Ints, intent_f: Floats, intent_start: int
                    ) -> tuple[int, int]:
    """Run :func:`broker_bar_nb` from bar ``start`` on, submitting each bar's intents after it.

    Intents are rows sorted by ``intent_bar`` (the chunk position of the deciding bar):
    ``intent_i`` columns (order_id, action, type, quantity, time_stop_bars, expire_bars, tag),
    ``intent_f`` columns (price, stop_price, target_price, stop_points, target_points). Stops
    early when the output or mark buffers could overflow and returns ``(next bar, next
    intent)`` so the caller can drain the buffers and continue. Bars with nothing to execute
    run through :func:`_quiet_run_nb`, which is :func:`broker_bar_nb`'s own quiet path.
    """
    n = ts_open.shape[0]
    k = intent_start
    n_intents = intent_bar.shape[0]
    i = start
    while i < n:
        if (istate[I_N_OUT] + OUT_ROWS_PER_BAR > out_i.shape[0]
                or istate[I_N_MARKS] >= marks_i.shape[0]):
            break
        next_intent = intent_bar[k] if k < n_intents else -1
        stop = min(n, i + marks_i.shape[0] - istate[I_N_MARKS])
        j = _quiet_run_nb(fstate, istate, marks_f, marks_i, ts_close, h, lo, c, session_end,
                          i, stop, next_intent)
        if j == i:
            broker_bar_nb(fstate, istate, out_f, out_i, marks_f, marks_i, ts_open[i],
                          ts_close[i], o[i], h[i], lo[i], c[i], session_end[i])
            j = i + 1
        while k < n_intents and intent_bar[k] == j - 1:
            broker_submit_nb(fstate, istate, out_i, intent_i[k, 0], intent_i[k, 1],
                             intent_i[k, 2], intent_i[k, 3], intent_f[k, 0], intent_f[k, 1],
                             intent_f[k, 2], intent_f[k, 3], intent_f[k, 4], intent_i[k, 4],
                             intent_i[k, 5], intent_i[k, 6])
            k += 1
        i = j
    return i, k
