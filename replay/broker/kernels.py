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

from replay.broker.fill_kernels import (
    ACTION_CLOSE,
    F_AVG,
    F_CASH,
    F_FEE,
    F_FEE_BPS,
    F_INITIAL,
    F_MAE,
    F_MFE,
    F_N,
    F_OPTIMISTIC,
    F_ORDERS,
    F_POINT_VALUE,
    F_RISK_PTS,
    F_SLIP_TICKS,
    F_STOP,
    F_TARGET,
    F_TICK,
    I_BAR,
    I_BAR_TS,
    I_DEFAULT_TIME_STOP,
    I_ENTRY_BAR,
    I_INTRABAR_ENTRY,
    I_MAX_POSITION,
    I_N,
    I_N_MARKS,
    I_N_ORDERS,
    I_N_OUT,
    I_ORDERS,
    I_POS,
    I_TIME_STOP,
    M_CASH,
    M_EQUITY,
    M_POSITION,
    MAX_ORDERS,
    OF_N,
    OF_PRICE,
    OF_STOP,
    OF_STOP_PTS,
    OF_TARGET,
    OF_TARGET_PTS,
    OI_ACTION,
    OI_BRACKET,
    OI_EXPIRE,
    OI_ID,
    OI_N,
    OI_QTY,
    OI_SUBMIT_BAR,
    OI_TAG,
    OI_TIME_STOP,
    OI_TYPE,
    OUT_ROWS_PER_BAR,
    R_SESSION_END,
    R_TIME_STOP,
    TYPE_MARKET,
    X_EXPIRED,
    X_INVALID,
    X_SESSION_END,
    X_TABLE_FULL,
    _brackets,
    _exit_all,
    _gap_exit,
    _reject,
    _remove_order,
    _slipped,
    _try_order,
)

__all__ = ["broker_bar_nb", "broker_batch_nb", "broker_init_state", "broker_submit_nb"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


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
