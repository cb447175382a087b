"""Layout and fill helpers of the broker kernels (kernel layer).

The slots of the caller-owned state arrays (``fstate`` float64, ``istate`` int64), the columns
of the output rows, the order/reason codes, and the helpers that execute one fill, close a
position part as a trade, check brackets and gaps. :mod:`replay.broker.kernels` composes them
into the per-bar, submit and batch kernels and states the execution rules.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

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
O_STOP = 10  # the position's stop level when it closed (nan: none)
O_TARGET = 11
OUT_F = 12

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
    out_f[k, O_STOP] = fstate[F_STOP]
    out_f[k, O_TARGET] = fstate[F_TARGET]
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
