"""Numba kernels of low-volume nodes (LVN) of a rolling volume profile (kernel layer).

docs/design.md section 4 / docs/reference/algospace_spec.md 2.4.5 (b), on the real slow bars (not
Heiken Ashi: the profile needs
real prices and volume), with a strength taken from the profile alone: no touch counts and no
recency (the original's recency used ``datetime.now()``, spec section 7 item 10), so the outputs
depend only on the bars, and any future decay would count bars.

**Profile.** The last ``window`` bars (default 20). A price snaps to the tick grid as tick index
``floor(price / tick_size + 0.5)`` (the nearest tick, halves up, so the rounding error of the
division never moves an on-grid price such as 2505.56 off its tick), and bin ``j`` holds the
tick indices ``[j * m, (j + 1) * m)`` where ``m = bin_size / tick_size`` (``bin_size`` defaults
to the tick size; a coarser bin is a parameter, e.g. for BTC). Bar ``i`` covers the bins
``lo_i..hi_i`` of its low and high and adds ``volume_i / (hi_i - lo_i + 1)`` to each. The profile
spans the window's ``[min lo, max hi]``; bins there that no bar covers (price gaps) hold 0, and
so do the bins outside it. The price of bin ``j`` is its lower edge ``j * m * tick_size``,
computed as ``j * m / (1 / tick_size)`` when ``1 / tick_size`` is an integer, so that decimal
grids (0.25, 0.01) give the decimal price exactly.

**Representation.** The profile is a sum of ``window`` boxes, so it is constant between
consecutive box edges (``lo_i`` and ``hi_i + 1``): at most ``2 * window - 1`` segments, whatever
the price range or bin size. The state keeps a ring of ``(lo bin, hi bin, volume per bin)`` of
the last ``window`` bars and the sorted box edges of the window, both updated incrementally
(the leaving bar's two edges out, the new bar's two in: O(window)). Each bar every bar of the
ring adds its volume per bin to the segments it covers, oldest bar first, which costs at most
``window * (2 * window - 1)`` additions (780 for 20 bars) and O(window) memory, independent of
the number of bins (BTC at a 0.01 tick spans up to 625,065 bins in 20 hourly bars), so there
is no bin array to re-base, no ``max_bins`` and no overflow status. The additions are the ones
a brute-force per-bin profile does (bar by bar, oldest first), so the profile is bitwise equal
to it. That exactness matters: bins covered by the same bars hold equal volumes, ties are the
rule, and a running profile that subtracts the leaving bar keeps residues that split a plateau
into false local minima (in 37 of the 58 windows of the ES 30-minute test file).

**Nodes.** A node is a maximal run of bins of equal volume (a plateau; usually one bin) whose
volume is strictly below that of the bin before the run and the bin after it, and strictly
below ``threshold`` (default 0.3) times the point-of-control volume. The window's edge bins have
0 outside, so they are never nodes. A node's price is its middle bin (the lower middle for an
even width). The point of control (POC) is the maximal volume; among equal maxima the
lowest-priced run, again reported by its middle bin.

**Outputs** (:data:`LVN_COLUMNS`). Support is the node with the highest price ``<= close``,
resistance the node with the lowest price ``> close``; distances in points are
``close - support >= 0`` and ``resistance - close > 0``. Strength is
``100 * (1 - node volume / POC volume)``, in ``(100 * (1 - threshold), 100]``. Then the POC price
and volume and the number of nodes.

**Warm-up.** Every column is ``nan`` until ``window`` bars have been seen (the spec's "LVN needs
20 bars"). After that ``poc_price``, ``poc_volume`` and ``lvn_count`` (all nodes of the window)
are always defined (``poc_volume`` is 0 and there are no nodes when the window traded nothing),
and the support or resistance columns are ``nan`` when no node lies on that side.

**Inputs.** ``high >= low``, ``close`` and ``volume >= 0`` finite; anything else raises
``ValueError`` (the component validates bars before they get here).

State: one float64 array of ``7 + 11 * window`` values, ``[window, tick_size, 1 / tick_size or
0, m, threshold, count, next slot]``, the ring (``3 * window``), the sorted edges (``2 *
window``), then scratch for the distinct edges and the runs (``6 * window``). Copying it is a
complete snapshot.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["LVN_COLUMNS", "LVN_N_OUT", "lvn_batch_nb", "lvn_init_state", "lvn_step_nb"]

Floats = npt.NDArray[np.float64]

LVN_COLUMNS = (
    "support_price",
    "support_strength",
    "support_distance_points",
    "resistance_price",
    "resistance_strength",
    "resistance_distance_points",
    "poc_price",
    "poc_volume",
    "lvn_count",
)
LVN_N_OUT = len(LVN_COLUMNS)

_WINDOW = 0
_TICK = 1
_INV_TICK = 2  # 1 / tick_size when it is an integer (decimal tick grids), else 0
_TICKS_PER_BIN = 3
_THRESHOLD = 4
_COUNT = 5
_SLOT = 6
_RING = 7  # window x (lo bin, hi bin, volume per bin), then 2 x window sorted edges, scratch


def _ratio(x: float, unit: float) -> int:
    """``x / unit`` when it is a positive integer (to 1e-9), else 0."""
    q = x / unit
    k = round(q)
    return k if k >= 1 and abs(q - k) <= 1e-9 * k else 0


def lvn_init_state(tick_size: float, bin_size: float | None = None, window: int = 20,
                   threshold: float = 0.3) -> Floats:
    """Fresh LVN state.

    Parameters
    ----------
    tick_size : float
        The instrument's price grid (ES 0.25, BTC/USD 0.01).
    bin_size : float, optional
        Width of a profile bin, a positive multiple of ``tick_size``; default ``tick_size``.
    window : int
        Bars in the rolling profile (>= 1).
    threshold : float
        A node's volume must be below ``threshold`` times the POC volume (0..1).

    Examples
    --------
    >>> state, out = lvn_init_state(1.0, window=3), np.empty(LVN_N_OUT)
    >>> for high, low, volume in ((8.0, 0.0, 9.0), (2.0, 0.0, 30.0), (8.0, 6.0, 30.0)):
    ...     lvn_step_nb(state, high, low, 7.0, volume, out)
    >>> dict(zip(LVN_COLUMNS, out.round(2).tolist()))  # doctest: +NORMALIZE_WHITESPACE
    {'support_price': 4.0, 'support_strength': 90.91, 'support_distance_points': 3.0,
     'resistance_price': nan, 'resistance_strength': nan, 'resistance_distance_points': nan,
     'poc_price': 1.0, 'poc_volume': 11.0, 'lvn_count': 1.0}
    """
    if not (math.isfinite(tick_size) and tick_size > 0.0):
        raise ValueError(f"lvn tick_size: expected > 0, was {tick_size}")
    if bin_size is None:
        bin_size = tick_size
    ticks_per_bin = _ratio(bin_size, tick_size) if math.isfinite(bin_size) else 0
    if ticks_per_bin == 0:
        raise ValueError(f"lvn bin_size: expected a positive multiple of tick_size {tick_size}, "
                         f"was {bin_size}")
    if window < 1:
        raise ValueError(f"lvn window: expected >= 1, was {window}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"lvn threshold: expected 0..1, was {threshold}")
    state = np.zeros(_RING + 11 * window, dtype=np.float64)
    state[_WINDOW] = window
    state[_TICK] = tick_size
    state[_INV_TICK] = _ratio(1.0, tick_size)
    state[_TICKS_PER_BIN] = ticks_per_bin
    state[_THRESHOLD] = threshold
    return state


@njit(cache=True, inline="always")
def _bin_nb(price: float, tick: float, ticks_per_bin: int) -> float:
    return float(math.floor(price / tick + 0.5) // ticks_per_bin)


@njit(cache=True, inline="always")
def _price_nb(state: Floats, first: float, last: float) -> float:
    """Price of the middle bin of the run ``first..last``."""
    ticks = (first + math.floor((last - first) / 2.0)) * float(state[_TICKS_PER_BIN])
    inv = float(state[_INV_TICK])
    return ticks / inv if inv > 0.0 else ticks * float(state[_TICK])


@njit(cache=True, inline="always")
def _insert_nb(state: Floats, start: int, n: int, x: float) -> int:
    """Insert ``x`` into the sorted ``state[start:start + n]``; return the new size."""
    k = start + n
    while k > start and state[k - 1] > x:
        state[k] = state[k - 1]
        k -= 1
    state[k] = x
    return n + 1


@njit(cache=True, inline="always")
def _remove_nb(state: Floats, start: int, n: int, x: float) -> int:
    """Remove one ``x`` from the sorted ``state[start:start + n]``; return the new size."""
    k = start
    while k < start + n - 1 and state[k] != x:
        k += 1
    for j in range(k, start + n - 1):
        state[j] = state[j + 1]
    return n - 1


@njit(cache=True, inline="always")
def lvn_step_nb(state: Floats, high: float, low: float, close: float, volume: float,
                out: Floats) -> None:
    """Add one bar; write the :data:`LVN_COLUMNS` of the last ``window`` bars into ``out``."""
    if not (math.isfinite(high) and math.isfinite(low) and math.isfinite(close)
            and math.isfinite(volume) and high >= low and volume >= 0.0):
        raise ValueError("lvn bar: expected finite prices, high >= low and volume >= 0")
    window = int(state[_WINDOW])
    tick = state[_TICK]
    ticks_per_bin = int(state[_TICKS_PER_BIN])
    slot = int(state[_SLOT])
    lo = _bin_nb(low, tick, ticks_per_bin)
    hi = _bin_nb(high, tick, ticks_per_bin)
    ring = _RING + 3 * slot
    multiset = _RING + 3 * window  # every bar's lo and hi + 1, sorted
    size = 2 * int(state[_COUNT])
    if size == 2 * window:  # the oldest bar leaves
        size = _remove_nb(state, multiset, size, state[ring])
        size = _remove_nb(state, multiset, size, state[ring + 1] + 1.0)
    size = _insert_nb(state, multiset, size, lo)
    size = _insert_nb(state, multiset, size, hi + 1.0)
    state[ring] = lo
    state[ring + 1] = hi
    state[ring + 2] = volume / (hi - lo + 1.0)
    slot += 1
    if slot == window:
        slot = 0
    state[_SLOT] = slot
    if state[_COUNT] < window:
        state[_COUNT] += 1
        if state[_COUNT] < window:
            for j in range(LVN_N_OUT):
                out[j] = np.nan
            return
    edges = multiset + 2 * window
    state[edges] = state[multiset]
    n_edges = 1
    for j in range(1, 2 * window):
        x = state[multiset + j]
        if x != state[edges + n_edges - 1]:
            state[edges + n_edges] = x
            n_edges += 1
    # segment volumes: each bar adds to the segments it covers, oldest bar first
    starts = edges + 2 * window
    volumes = starts + 2 * window
    n_seg = n_edges - 1
    for k in range(n_seg):
        state[volumes + k] = 0.0
    for q in range(window):
        i = slot + q
        if i >= window:
            i -= window
        first = state[_RING + 3 * i]
        stop = state[_RING + 3 * i + 1] + 1.0
        per = state[_RING + 3 * i + 2]
        a = 0
        b = n_edges - 1
        while a < b:  # edges[a] == first
            mid = (a + b) >> 1
            if state[edges + mid] < first:
                a = mid + 1
            else:
                b = mid
        k = a
        while state[edges + k] < stop:
            state[volumes + k] += per
            k += 1
    n_runs = 0
    for k in range(n_seg):
        total = state[volumes + k]
        if n_runs == 0 or total != state[volumes + n_runs - 1]:
            state[starts + n_runs] = state[edges + k]
            state[volumes + n_runs] = total
            n_runs += 1
    end = state[edges + n_edges - 1]  # one past the last bin
    poc = 0
    for r in range(1, n_runs):
        if state[volumes + r] > state[volumes + poc]:
            poc = r
    poc_volume = state[volumes + poc]
    poc_last = state[starts + poc + 1] - 1.0 if poc + 1 < n_runs else end - 1.0
    cut = state[_THRESHOLD] * poc_volume
    for j in range(LVN_N_OUT):
        out[j] = np.nan
    count = 0
    for r in range(1, n_runs - 1):
        v = state[volumes + r]
        if v < state[volumes + r - 1] and v < state[volumes + r + 1] and v < cut:
            count += 1
            price = _price_nb(state, state[starts + r], state[starts + r + 1] - 1.0)
            strength = 100.0 * (1.0 - v / poc_volume)
            if price <= close:  # runs ascend: the last such node is the highest
                out[0] = price
                out[1] = strength
                out[2] = close - price
            elif math.isnan(out[3]):  # the first node above the close
                out[3] = price
                out[4] = strength
                out[5] = price - close
    out[6] = _price_nb(state, state[starts + poc], poc_last)
    out[7] = poc_volume
    out[8] = count


@njit(cache=True)
def lvn_batch_nb(state: Floats, high: Floats, low: Floats, close: Floats,
                 volume: Floats) -> Floats:
    """:func:`lvn_step_nb` over bars: float64 ``(n, LVN_N_OUT)``; the state continues."""
    n = close.shape[0]
    out = np.empty((n, LVN_N_OUT), dtype=np.float64)
    for i in range(n):
        lvn_step_nb(state, high[i], low[i], close[i], volume[i], out[i])
    return out
