"""Numba kernels of MLMI, the kNN momentum index (kernel layer).

docs/design.md section 4, after the reference implementation of docs/reference/algospace_spec.md
2.4.2 (b), made causal
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
  Exact, no sorting, through a uniform grid of ``grid x grid`` cells over ``[0, 100]^2`` (the
  range of the features; a coordinate outside goes to the edge cell, so any finite point has
  a cell): square rings of cells around the query's cell until the ``neighbors``-th smallest
  squared distance among the points seen is below that of every point outside the visited
  block (with margins for rounding); that distance by a few vectorised counting passes
  (interpolation search on the distance with a bisection fallback on its bit pattern), then
  the labels of the points within it. Cost: the points in the cells near the query (about
  twice ``neighbors`` on real data; more where many points coincide), not ``capacity``.
- ``signal``: +1 when ``value`` goes from ``<= 0`` to ``> 0``, -1 from ``>= 0`` to ``< 0``
  (both bars defined), else 0.

Warm-up (default periods): ``ma_fast`` is ``nan`` for the first 4 bars, ``ma_slow`` for 19,
``x2`` for 24, ``x1`` and ``value`` for 39. Once the features are defined, ``value`` is the sum
above (0 while the memory is empty). ``signal``, ``stored``, ``crossover`` and ``label`` are 0
before that (no point is stored before the features exist); the first defined ``value`` never
signals.

State: one float64 array from :func:`mlmi_init_state`, so a copy of it is a snapshot: a
header (parameters, ring count and head, points ever stored, last stored close, previous
``ma_fast``, ``ma_slow`` and ``value``, grid size, offsets of the parts), the states of the six
shared kernels, the memory ``x1[capacity], x2[capacity], label[capacity]``, the grid index and
a scratch ``distance[capacity], slot[capacity]``. The index: ``first[grid * grid]`` (the newest
slot of each cell, row-major by ``x1`` then ``x2``) and per slot ``next``, ``previous`` (the
cell's next older and newer slot) and ``cell``, so each cell lists its points newest first
(doubly linked, ``-1`` ends a list or marks an empty cell; integers held as float64 values).
A store links the new slot at the front of its cell's list, after unlinking the evicted slot
(the oldest of its cell, so the list's last), in O(1). Size: 856 + 8 * grid^2 + 64 * capacity
bytes with the default periods (715 KB with the defaults). Outputs per bar,
columns :data:`MLMI_COLUMNS`: ``value``, ``signal``, ``stored`` (points in memory),
``crossover`` (+1/-1 when this bar stored a point: the direction of its cross; else 0),
``label`` (of the point stored this bar, else 0), ``ma_fast``, ``ma_slow``, ``x1``, ``x2``.
Inputs must be finite.

Unlike the cheap shared kernels, the step kernel and its search are not ``inline="always"``: a
bar costs microseconds, so a call is noise (batch speed unchanged, measured), while inlining
the search into every caller made the first compile about 3.5x longer (50 s vs 14 s cold).
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
_GRID = 9  # cells per axis of the index
_AT_MA_FAST = 10
_AT_MA_SLOW = 11
_AT_RSI_FAST = 12
_AT_RSI_SLOW = 13
_AT_X1 = 14  # WMA of the slow RSI
_AT_X2 = 15  # WMA of the fast RSI
_AT_MEMORY = 16  # x1[capacity], x2[capacity], label[capacity]
_AT_INDEX = 17  # first[grid * grid], next[capacity], previous[capacity], cell[capacity]
_AT_WORK = 18  # scratch: distance[capacity], slot[capacity]
_AT_END = 19
_HEADER = 20
_INF_BITS = 0x7FF0000000000000  # bits of +inf, above those of every finite d >= 0
_SPAN = 100.0  # the grid covers [0, _SPAN]^2, the range of the features
# Margins of the search bounds: where the cell function changes differs from the edges as
# computed (i * width) by about 1e-14, and a squared distance carries a few ulps of rounding.
_EDGE_SLACK = 1e-9
_ROUNDING_SLACK = 1e-9


def mlmi_init_state(neighbors: int = 200, capacity: int = 10_000, ma_fast_period: int = 5,
                    ma_slow_period: int = 20, rsi_fast_period: int = 5,
                    rsi_slow_period: int = 20, feature_period: int = 20,
                    grid: int = 96) -> Floats:
    """Fresh MLMI state: empty memory of ``capacity`` points, ``neighbors`` voters.

    ``grid`` cells per axis index the memory over ``[0, 100]^2``: it changes the speed only
    (96, cells of about 1 x 1, suits a full memory of 10,000 points spread as real features).

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
    if grid < 1:
        raise ValueError(f"mlmi grid: expected >= 1, was {grid}")
    parts = [wma_init_state(ma_fast_period), wma_init_state(ma_slow_period),
             rsi_init_state(rsi_fast_period), rsi_init_state(rsi_slow_period),
             wma_init_state(feature_period), wma_init_state(feature_period),
             np.zeros(3 * capacity), np.full(grid * grid + 3 * capacity, -1.0),
             np.zeros(2 * capacity)]
    header = np.zeros(_HEADER)
    header[_NEIGHBORS] = neighbors
    header[_CAPACITY] = capacity
    header[_GRID] = grid
    header[[_PREV_FAST, _PREV_SLOW, _PREV_VALUE]] = np.nan
    at = _HEADER
    for i, part in enumerate(parts):
        header[_AT_MA_FAST + i] = at
        at += part.shape[0]
    header[_AT_END] = at
    return np.concatenate([header, *parts])


@njit(cache=True, inline="always")
def _cell_nb(x: float, scale: float, grid: int) -> int:
    """Grid column (or row) of a coordinate: ``floor(x * scale)`` clamped to ``[0, grid)``."""
    c = x * scale
    if not c >= 0.0:  # below the grid, or nan
        return 0
    if c >= grid:
        return grid - 1
    return int(c)


@njit(cache=True)
def _store_nb(state: Floats, x1: float, x2: float, label: float) -> None:
    """Write a point at the ring head, evicting the oldest when the memory is full.

    The slot moves to the front of its cell's list (each list runs newest first); an evicted
    slot leaves its old cell's list first.
    """
    capacity = int(state[_CAPACITY])
    memory = int(state[_AT_MEMORY])
    grid = int(state[_GRID])
    first = int(state[_AT_INDEX])
    after = first + grid * grid  # next[capacity], then previous, then cell
    before = after + capacity
    cells = before + capacity
    head = int(state[_HEAD])
    if state[_COUNT] == capacity:  # unlink the evicted point
        nxt = state[after + head]
        prv = state[before + head]
        if prv >= 0.0:
            state[after + int(prv)] = nxt
        else:
            state[first + int(state[cells + head])] = nxt
        if nxt >= 0.0:
            state[before + int(nxt)] = prv
    else:
        state[_COUNT] += 1
    state[memory + head] = x1
    state[memory + capacity + head] = x2
    state[memory + 2 * capacity + head] = label
    scale = grid / _SPAN
    cell = _cell_nb(x1, scale, grid) * grid + _cell_nb(x2, scale, grid)
    old = state[first + cell]
    if old >= 0.0:
        state[before + int(old)] = head
    state[after + head] = old
    state[before + head] = -1.0
    state[cells + head] = cell
    state[first + cell] = head
    head += 1
    state[_HEAD] = head if head < capacity else 0


@njit(cache=True, inline="always")
def _bits(x: float) -> int:
    """Bit pattern of a double (for doubles >= 0 it sorts as the doubles)."""
    return int(np.float64(x).view(np.int64))


@njit(cache=True, inline="always")
def _float(bits: int) -> float:
    """The double of a bit pattern."""
    return float(np.int64(bits).view(np.float64))


@njit(cache=True)
def _select_nb(bits: npt.NDArray[np.int64], n: int, rank: int, lo: int, hi: int) -> int:
    """The ``rank``-th smallest (1-based) of ``bits[:n]``, all in ``(lo, hi]``.

    ``bits`` are the bit patterns of doubles >= 0, which sort as the doubles. Counting passes
    narrow ``(lo, hi]`` (invariant: fewer than ``rank`` elements ``<= lo``, at least ``rank``
    ``<= hi``) at the double interpolated linearly from the two counts, or at the midpoint of
    the patterns after a step that failed to halve the interval (so at most about 128 passes,
    typically 8). A count of ``rank`` or ``rank - 1`` ends the search with one more pass. After
    a pass that moved no element out of the interval (equal elements around the answer) the
    next one also closes the interval on the elements next to its cut, so a run of equal
    elements ends the search. Integer reductions only: they vectorize where float ones would
    not.
    """
    below = 0  # elements <= lo
    upto = n  # elements <= hi
    bisect = False
    snap = False
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
        if snap:
            left = lo  # the largest element <= mid (those <= lo do not matter)
            right = hi  # the smallest element > mid (those > hi do not matter)
            for i in range(n):
                b = bits[i]
                count += b <= mid
                left = max(left, b if b <= mid else lo)
                right = min(right, b if b > mid else hi)
            if count >= rank:
                if count == rank:
                    return left
                hi, upto = left, count
            else:
                if count == rank - 1:
                    return right
                lo, below = right - 1, count
            snap = False
        else:
            for i in range(n):
                count += bits[i] <= mid
            if count >= rank:
                if count == rank:  # the answer is the largest element <= mid
                    best = lo
                    for i in range(n):
                        best = max(best, bits[i] if bits[i] <= mid else lo)
                    return best
                snap = count == upto
                hi, upto = mid, count
            else:
                if count == rank - 1:  # the answer is the smallest element > mid
                    best = hi
                    for i in range(n):
                        best = min(best, bits[i] if bits[i] > mid else hi)
                    return best
                snap = count == below
                lo, below = mid, count
        bisect = 2 * (hi - lo) > width
    return hi


@njit(cache=True)
def _vote_nb(state: Floats, q1: float, q2: float) -> float:
    """Sum of the labels of the ``neighbors`` stored points nearest to ``(q1, q2)``.

    Exact, without sorting. The cells in square rings around the query's cell give the
    candidates, the visited points within a reach: unbounded until there are ``neighbors``
    candidates, then their ``neighbors``-th smallest squared distance (by
    :func:`_select_nb`), again after each ring that adds candidates. Cells beyond the reach are
    skipped, and the search ends once every point outside the visited block is beyond it (or
    the block is the grid): the candidates are then every point within reach, at least
    ``neighbors`` of them, so their ``neighbors``-th smallest is that of the memory. The
    candidates nearer than it vote, and of those at exactly that distance the newest fill the
    remaining places.
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
    grid = int(state[_GRID])
    first = int(state[_AT_INDEX])
    firsts = state[first:first + grid * grid]
    nexts = state[first + grid * grid:first + grid * grid + capacity]
    work = int(state[_AT_WORK])
    distances = state[work:work + capacity]
    slots = state[work + capacity:work + 2 * capacity]
    bits = distances.view(np.int64)  # d >= 0 and finite: the bits sort as the doubles
    width = _SPAN / grid
    scale = grid / _SPAN
    cx = _cell_nb(q1, scale, grid)
    cy = _cell_nb(q2, scale, grid)
    reach = np.inf  # candidates: the visited points with d <= reach
    known = False  # reach is the k-th smallest candidate
    n = 0  # candidates, in the order visited
    lo = _INF_BITS  # the smallest candidate
    hi = 0  # the largest candidate
    r = 0
    while True:  # ring r: the cells at Chebyshev distance r from (cx, cy), inside the grid
        limit = _bits(reach)
        before = n
        x0 = cx - r
        x1 = cx + r
        y0 = cy - r
        y1 = cy + r
        for ix in range(max(x0, 0), min(x1, grid - 1) + 1):
            # gap from the query to the column (edge columns reach to infinity), less a slack
            gx = 0.0
            if ix > 0 and q1 < ix * width:
                gx = ix * width - q1
            elif ix < grid - 1 and q1 > (ix + 1) * width:
                gx = q1 - (ix + 1) * width
            gx = max(gx - _EDGE_SLACK, 0.0)
            side = ix == x0 or ix == x1  # a whole column of the ring, else its two ends
            iy = max(y0, 0) if side else y0
            end = min(y1, grid - 1) if side else y1
            step = 1 if side else 2 * r
            while iy <= end:
                slot = int(firsts[ix * grid + iy]) if 0 <= iy < grid else -1
                if slot >= 0:
                    gy = 0.0
                    if iy > 0 and q2 < iy * width:
                        gy = iy * width - q2
                    elif iy < grid - 1 and q2 > (iy + 1) * width:
                        gy = q2 - (iy + 1) * width
                    gy = max(gy - _EDGE_SLACK, 0.0)
                    if (gx * gx + gy * gy) * (1.0 - _ROUNDING_SLACK) > reach:
                        slot = -1  # the whole cell is beyond the reach
                    while slot >= 0:
                        dx = xs1[slot] - q1
                        dy = xs2[slot] - q2
                        b = _bits(dx * dx + dy * dy)
                        if b <= limit:
                            bits[n] = b
                            slots[n] = slot
                            lo = min(lo, b)
                            hi = max(hi, b)
                            n += 1
                        slot = int(nexts[slot])
                iy += step
        if n > before:
            known = False
        # nearest side of the block [x0, x1] x [y0, y1] to the query; a side on the grid's
        # edge is no limit: clamping put every point beyond it inside the block
        bound = np.inf
        if x0 > 0:
            bound = min(bound, q1 - x0 * width)
        if x1 < grid - 1:
            bound = min(bound, (x1 + 1) * width - q1)
        if y0 > 0:
            bound = min(bound, q2 - y0 * width)
        if y1 < grid - 1:
            bound = min(bound, (y1 + 1) * width - q2)
        if bound == np.inf:  # the block is the grid: every point within reach is a candidate
            break
        bound = max(bound - _EDGE_SLACK, 0.0)
        beyond = bound * bound * (1.0 - _ROUNDING_SLACK)  # below d of every point outside
        if n >= k and not known and beyond <= reach:
            # a tighter reach: the k-th smallest candidate (the others beyond it dropped)
            kth = _select_nb(bits, n, k, lo - 1, hi)
            reach = _float(kth)
            known = True
            hi = kth
            m = 0
            for i in range(n):
                if bits[i] <= kth:
                    bits[m] = bits[i]
                    slots[m] = slots[i]
                    m += 1
            n = m
        if n >= k and beyond > reach:  # k candidates within reach, and every point within it
            break
        r += 1
    kth = hi if known else _select_nb(bits, n, k, lo - 1, hi)
    taken = 0  # candidates nearer than the k-th
    for i in range(n):
        taken += bits[i] < kth
    need = k - taken  # places for the ties at the k-th distance: the newest fill them
    # Age of a slot: (head - 1 - slot) mod capacity, the ring order head-1 .. 0, then
    # capacity-1 .. head. The first ``need`` ties in the order visited vote when they are
    # younger than every later tie (always so for the ties of one cell, as each cell lists its
    # points newest first).
    head = int(state[_HEAD])
    ties = 0
    nearer = 0
    taken_oldest = -1  # the oldest age among the first ``need`` ties
    i = 0
    while ties < need:  # the nearer ones up to the need-th tie, and those ties
        if bits[i] <= kth:
            slot = int(slots[i])
            total += labels[slot]
            if bits[i] == kth:
                age = head - 1 - slot
                taken_oldest = max(taken_oldest, age if age >= 0 else age + capacity)
                ties += 1
            else:
                nearer += 1
        i += 1
    # views of the rest: a loop from 0 vectorizes where one from i does not
    rest_bits = bits[i:n]
    rest_slots = slots[i:n]
    rest_youngest = capacity  # the youngest age among the later ties
    for j in range(n - i):
        age = head - 1 - int(rest_slots[j])
        age += capacity if age < 0 else 0
        rest_youngest = min(rest_youngest, age if rest_bits[j] == kth else capacity)
    if nearer < taken:  # the nearer ones after the need-th tie
        for j in range(n - i):
            if rest_bits[j] < kth:
                total += labels[int(rest_slots[j])]
    if taken_oldest < rest_youngest:
        return total
    # ties from several cells, out of age order: the need-th smallest age by selection
    total = 0.0
    m = 0
    oldest = -1
    for i in range(n):  # the nearer ones vote; the ties' ages and slots compacted (m <= i)
        if bits[i] < kth:
            total += labels[int(slots[i])]
        elif bits[i] == kth:
            slot = int(slots[i])
            age = head - 1 - slot if slot < head else head - 1 - slot + capacity
            distances[m] = age
            slots[m] = slot
            oldest = max(oldest, bits[m])
            m += 1
    cut = _select_nb(bits, m, need, -1, oldest)
    for i in range(m):
        if bits[i] <= cut:
            total += labels[int(slots[i])]
    return total


@njit(cache=True)
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
