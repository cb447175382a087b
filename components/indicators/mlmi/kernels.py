"""Numba kernels of MLMI, the kNN momentum index (kernel layer).

DESIGN section 4, after the reference implementation of spec section 2.4.2 (b), made causal
(spec section 7, defect 7). On one close per slow bar:

- ``ma_fast = WMA(close, 5)``, ``ma_slow = WMA(close, 20)``; ``x1 = WMA(RSI(close, 20), 20)``,
  ``x2 = WMA(RSI(close, 5), 20)`` (the shared WMA and Wilder RSI kernels, TA-Lib conventions:
  RSI from bar ``period``, 0 on a flat window, where the reference starts a bar earlier and
  gives 100; each feature WMA starts at the first defined RSI).
- A crossover is a bar where ``ma_fast > ma_slow`` and previously ``ma_fast <= ma_slow`` (up,
  +1), or ``ma_fast < ma_slow`` and previously ``ma_fast >= ma_slow`` (down, -1), both averages
  defined on both bars. At a crossover where ``x1`` and ``x2`` are defined the point
  ``(x1, x2)`` is stored with label +1 if ``close >= `` the close of the previously stored point,
  else -1; the first stored point has label 0 (as the reference). Crossovers seen while the
  features warm up are not stored and set no close to compare with.
- Memory: a ring buffer of ``capacity`` points (default 10,000); when full, the oldest point is
  evicted. Labels compare with the last stored close even after that point was evicted.
- ``value = sum of the labels of the neighbors (default 200) nearest stored points`` to
  ``(x1, x2)`` of the current bar (all points if fewer), by Euclidean distance compared as the
  float64 ``dx * dx + dy * dy`` (same order as the distance); equal distances rank the newer
  point first. The memory holds the crossovers up to and including the current bar (a point
  stored this bar is at distance 0), never a later one. Range -neighbors..+neighbors.
  Exact, O(capacity) per bar, no sorting: the distances to all points, then the
  ``neighbors``-th smallest by a few vectorised counting passes (interpolation search on the
  distance with a bisection fallback on its bit pattern), then one pass summing the labels.
- ``signal``: +1 when ``value`` goes from ``<= 0`` to ``> 0``, -1 from ``>= 0`` to ``< 0``
  (both bars defined), else 0.

Warm-up (default periods): ``ma_fast`` is ``nan`` for the first 4 bars, ``ma_slow`` for 19,
``x2`` for 24, ``x1`` and ``value`` for 39. Once the features are defined, ``value`` is the sum
above (0 while the memory is empty). ``signal``, ``stored``, ``crossover`` and ``label`` are 0
before that (no point is stored before the features exist); the first defined ``value`` never
signals.

State: one float64 array from :func:`mlmi_init_state`, so a copy of it is a snapshot: a
header (parameters, ring count and head, points ever stored, last stored close, previous
``ma_fast``, ``ma_slow`` and ``value``, offsets of the parts), the states of the six shared
kernels, the memory ``x1[capacity], x2[capacity], label[capacity]`` and a distance scratch of
``capacity`` (840 + 32 * capacity bytes with the default periods: 321 KB). Outputs per bar,
columns :data:`MLMI_COLUMNS`: ``value``, ``signal``, ``stored`` (points in memory),
``crossover`` (+1/-1 when this bar stored a point: the direction of its cross; else 0),
``label`` (of the point stored this bar, else 0), ``ma_fast``, ``ma_slow``, ``x1``, ``x2``.
Inputs must be finite.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from components.indicators.shared_kernels import (
    rsi_init_state,
    rsi_step_nb,
    wma_init_state,
    wma_step_nb,
)

__all__ = ["MLMI_COLUMNS", "mlmi_batch_nb", "mlmi_init_state", "mlmi_step_nb"]

Floats = npt.NDArray[np.float64]

MLMI_COLUMNS = ("value", "signal", "stored", "crossover", "label", "ma_fast", "ma_slow", "x1",
                "x2")
N_OUT = len(MLMI_COLUMNS)

# state header; sub-states follow in the order of the offsets, each ending where the next starts
_NEIGHBORS = 0
_CAPACITY = 1
_COUNT = 2  # points in memory
_HEAD = 3  # next ring slot
_TOTAL = 4  # points ever stored
_LAST_CLOSE = 5  # close of the last stored point
_PREV_FAST = 6
_PREV_SLOW = 7
_PREV_VALUE = 8
_AT_MA_FAST = 9
_AT_MA_SLOW = 10
_AT_RSI_FAST = 11
_AT_RSI_SLOW = 12
_AT_X1 = 13  # WMA of the slow RSI
_AT_X2 = 14  # WMA of the fast RSI
_AT_MEMORY = 15  # x1[capacity], x2[capacity], label[capacity]
_AT_WORK = 16  # scratch: distance[capacity]
_AT_END = 17
_HEADER = 18
_INF_BITS = 0x7FF0000000000000  # bits of +inf, above those of every finite d >= 0


def mlmi_init_state(neighbors: int = 200, capacity: int = 10_000, ma_fast_period: int = 5,
                    ma_slow_period: int = 20, rsi_fast_period: int = 5,
                    rsi_slow_period: int = 20, feature_period: int = 20) -> Floats:
    """Fresh MLMI state: empty memory of ``capacity`` points, ``neighbors`` voters.

    Examples
    --------
    >>> state = mlmi_init_state(neighbors=3, capacity=4, ma_fast_period=2, ma_slow_period=3,
    ...                         rsi_fast_period=2, rsi_slow_period=3, feature_period=2)
    >>> out = mlmi_batch_nb(state, np.array([5.0, 4, 3, 4, 5, 6, 5, 4, 3, 4, 5, 4, 3]))
    >>> out[:, 0].tolist()  # value: features defined from bar 4
    [nan, nan, nan, nan, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0, 0.0, 0.0, -2.0]
    >>> out[:, 1].tolist()  # signal
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
    >>> out[:, 3].tolist()  # crossover stored this bar: +1 up, -1 down
    [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0]
    >>> out[:, 4].tolist()  # label of the stored point: the first is 0
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0]
    """
    if neighbors < 1:
        raise ValueError(f"mlmi neighbors: expected >= 1, was {neighbors}")
    if capacity < 1:
        raise ValueError(f"mlmi capacity: expected >= 1, was {capacity}")
    parts = [wma_init_state(ma_fast_period), wma_init_state(ma_slow_period),
             rsi_init_state(rsi_fast_period), rsi_init_state(rsi_slow_period),
             wma_init_state(feature_period), wma_init_state(feature_period),
             np.zeros(3 * capacity), np.zeros(capacity)]
    header = np.zeros(_HEADER)
    header[_NEIGHBORS] = neighbors
    header[_CAPACITY] = capacity
    header[[_PREV_FAST, _PREV_SLOW, _PREV_VALUE]] = np.nan
    at = _HEADER
    for i, part in enumerate(parts):
        header[_AT_MA_FAST + i] = at
        at += part.shape[0]
    header[_AT_END] = at
    return np.concatenate([header, *parts])


@njit(cache=True, inline="always")
def _store_nb(state: Floats, x1: float, x2: float, label: float) -> None:
    """Write a point at the ring head, evicting the oldest when the memory is full."""
    capacity = int(state[_CAPACITY])
    memory = int(state[_AT_MEMORY])
    head = int(state[_HEAD])
    state[memory + head] = x1
    state[memory + capacity + head] = x2
    state[memory + 2 * capacity + head] = label
    head += 1
    state[_HEAD] = head if head < capacity else 0
    if state[_COUNT] < capacity:
        state[_COUNT] += 1


@njit(cache=True, inline="always")
def _bits(x: float) -> int:
    """Bit pattern of a double (for doubles >= 0 it sorts as the doubles)."""
    return int(np.float64(x).view(np.int64))


@njit(cache=True, inline="always")
def _float(bits: int) -> float:
    """The double of a bit pattern."""
    return float(np.int64(bits).view(np.float64))


@njit(cache=True, inline="always")
def _select_nb(bits: npt.NDArray[np.int64], n: int, rank: int, lo: int, hi: int) -> int:
    """The ``rank``-th smallest (1-based) of ``bits[:n]``, all in ``(lo, hi]``.

    ``bits`` are the bit patterns of doubles >= 0, which sort as the doubles. Counting passes
    narrow ``(lo, hi]`` (invariant: fewer than ``rank`` elements ``<= lo``, at least ``rank``
    ``<= hi``) at the double interpolated linearly from the two counts, or at the midpoint of
    the patterns after a step that failed to halve the interval (so at most about 128 passes,
    typically 8). A count of ``rank`` or ``rank - 1`` ends the search with one more pass.
    Integer reductions only: they vectorize where float ones would not.
    """
    below = 0  # elements <= lo
    upto = n  # elements <= hi
    bisect = False
    while hi - lo > 1:
        width = hi - lo
        if bisect:
            mid = lo + width // 2
        else:
            lo_value = _float(lo) if lo >= 0 else 0.0
            hi_value = _float(hi)
            guess = lo_value + (hi_value - lo_value) * ((rank - below - 0.5) / (upto - below))
            mid = min(max(_bits(guess), lo + 1), hi - 1)
        count = 0
        for i in range(n):
            count += bits[i] <= mid
        if count >= rank:
            hi, upto = mid, count
            if count == rank:  # the answer is the largest element <= mid
                best = lo
                for i in range(n):
                    best = max(best, bits[i] if bits[i] <= mid else lo)
                return best
        else:
            lo, below = mid, count
            if count == rank - 1:  # the answer is the smallest element > mid
                best = hi
                for i in range(n):
                    best = min(best, bits[i] if bits[i] > mid else hi)
                return best
        bisect = 2 * (hi - lo) > width
    return hi


@njit(cache=True, inline="always")
def _vote_nb(state: Floats, q1: float, q2: float) -> float:
    """Sum of the labels of the ``neighbors`` stored points nearest to ``(q1, q2)``.

    Exact, without sorting: the squared distances to all points, the ``neighbors``-th smallest
    of them by :func:`_select_nb`; the points nearer than it vote, and of the points at exactly
    that distance the newest fill the remaining places.
    """
    k = int(state[_NEIGHBORS])
    capacity = int(state[_CAPACITY])
    count = int(state[_COUNT])
    memory = int(state[_AT_MEMORY])
    labels = state[memory + 2 * capacity:memory + 3 * capacity]
    total = 0.0
    if count <= k:
        for slot in range(count):
            total += labels[slot]
        return total
    xs1 = state[memory:memory + capacity]
    xs2 = state[memory + capacity:memory + 2 * capacity]
    work = int(state[_AT_WORK])
    distances = state[work:work + capacity]
    bits = distances.view(np.int64)  # d >= 0 and finite: the bits sort as the doubles
    for slot in range(count):  # views, not offsets into state: the loops vectorize
        dx = xs1[slot] - q1
        dy = xs2[slot] - q2
        distances[slot] = dx * dx + dy * dy
    lo = _INF_BITS
    hi = 0
    for slot in range(count):
        lo = min(lo, bits[slot])
        hi = max(hi, bits[slot])
    kth = _select_nb(bits, count, k, lo - 1, hi)
    # labels are -1, 0 or +1: integer counts keep the passes vectorized
    taken = ups = downs = tied = tied_ups = tied_downs = 0
    for slot in range(count):
        near = bits[slot] < kth
        at = bits[slot] == kth
        up = labels[slot] > 0.0
        down = labels[slot] < 0.0
        taken += near
        ups += near & up
        downs += near & down
        tied += at
        tied_ups += at & up
        tied_downs += at & down
    if taken + tied == k:  # no tie to break
        return float(ups + tied_ups - downs - tied_downs)
    # more points at the k-th distance than places left: the newest, slots head-1 .. 0, then
    # capacity-1 .. head (when the ring is full; else no slot is >= head)
    total = float(ups - downs)
    head = int(state[_HEAD])
    for slot in range(head - 1, -1, -1):
        if bits[slot] == kth:
            total += float(labels[slot])
            taken += 1
            if taken == k:
                return total
    for slot in range(count - 1, head - 1, -1):
        if bits[slot] == kth:
            total += float(labels[slot])
            taken += 1
            if taken == k:
                return total
    return total


@njit(cache=True, inline="always")
def mlmi_step_nb(state: Floats, close: float, out: Floats) -> None:
    """Consume one close; write the :data:`MLMI_COLUMNS` of the bar into ``out``."""
    a = int(state[_AT_MA_FAST])
    b = int(state[_AT_MA_SLOW])
    c = int(state[_AT_RSI_FAST])
    d = int(state[_AT_RSI_SLOW])
    e = int(state[_AT_X1])
    f = int(state[_AT_X2])
    g = int(state[_AT_MEMORY])
    fast = wma_step_nb(state[a:b], close)
    slow = wma_step_nb(state[b:c], close)
    rsi_fast = rsi_step_nb(state[c:d], close)
    rsi_slow = rsi_step_nb(state[d:e], close)
    x1 = wma_step_nb(state[e:f], rsi_slow) if rsi_slow == rsi_slow else np.nan
    x2 = wma_step_nb(state[f:g], rsi_fast) if rsi_fast == rsi_fast else np.nan
    prev_fast = state[_PREV_FAST]
    prev_slow = state[_PREV_SLOW]
    state[_PREV_FAST] = fast
    state[_PREV_SLOW] = slow
    # comparisons with nan are false: no crossover unless both averages exist on both bars
    direction = 0.0
    if fast > slow and prev_fast <= prev_slow:
        direction = 1.0
    elif fast < slow and prev_fast >= prev_slow:
        direction = -1.0
    defined = x1 == x1 and x2 == x2
    label = 0.0
    crossover = 0.0
    if direction != 0.0 and defined:
        if state[_TOTAL] > 0.0:
            label = 1.0 if close >= state[_LAST_CLOSE] else -1.0
        _store_nb(state, x1, x2, label)
        state[_LAST_CLOSE] = close
        state[_TOTAL] += 1.0
        crossover = direction
    value = _vote_nb(state, x1, x2) if defined else np.nan
    prev_value = state[_PREV_VALUE]
    state[_PREV_VALUE] = value
    signal = 0.0
    if prev_value <= 0.0 and value > 0.0:
        signal = 1.0
    elif prev_value >= 0.0 and value < 0.0:
        signal = -1.0
    out[0] = value
    out[1] = signal
    out[2] = state[_COUNT]
    out[3] = crossover
    out[4] = label
    out[5] = fast
    out[6] = slow
    out[7] = x1
    out[8] = x2


@njit(cache=True)
def mlmi_batch_nb(state: Floats, close: Floats) -> Floats:
    """:func:`mlmi_step_nb` over ``close``: float64 ``(n, len(MLMI_COLUMNS))``."""
    n = close.shape[0]
    out = np.empty((n, N_OUT), dtype=np.float64)
    for i in range(n):
        mlmi_step_nb(state, close[i], out[i])
    return out
