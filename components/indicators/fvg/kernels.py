"""Numba kernels of fair value gaps, FVG (kernel layer).

docs/design.md section 4 (which decides over docs/reference/algospace_spec.md 2.4.4), on fast OHLC
bars. At bar ``i``:

- **Body filter.** The middle bar's body ``|close[i-1] - open[i-1]|`` must exceed (strictly)
  ``body_multiplier`` times the mean body of the ``body_lookback`` bars *before the middle
  bar*, bars ``i-1-body_lookback .. i-2`` (docs/reference/algospace_spec.md 2.4.4 b; the mean is
  :func:`~components.indicators.kernels.sma_step_nb` over the bodies). The mean is not floored:
  the reference's floor of 0.001 points is a price-scale constant (spec section 7), and the
  strict inequality already refuses a zero body (after ten doji any real body qualifies).
- **Bullish gap** if ``low[i] > high[i-2]``: zone ``bottom = high[i-2]``, ``top = low[i]``.
  **Bearish gap** if ``high[i] < low[i-2]``: zone ``bottom = high[i]``, ``top = low[i-2]``.
  The two exclude each other, so a bar creates at most one gap. The PRD's extra rules
  (``close[i-1]`` beyond the far edge, gap > 0.1 % of price) are not part of docs/design.md.
- **Age** of a gap at bar ``t`` is ``t - i`` (0 on the bar that creates it). A gap is active
  while its age is at most ``max_age``; at age ``max_age + 1`` it expires (spec: "drop > 50
  bars old").
- **Mitigation.** A later bar mitigates a bullish gap when its low trades down to the level
  ``(1 - fill_fraction) * top + fill_fraction * bottom``, a bearish gap when its high trades up
  to ``(1 - fill_fraction) * bottom + fill_fraction * top`` (inclusive). ``fill_fraction = 0``
  means touching the near edge ("price trades back into a gap", docs/design.md); ``1`` means
  filling to
  the far edge (the PRD's "returns to its lower boundary"). It is reported on the first bar that
  does it, never on the creating bar, and the gap stops being active. Expiry is applied before
  mitigation: a gap can be mitigated at ages ``1 .. max_age``.
- **Capacity.** Each side keeps at most ``capacity`` active gaps (oldest first); a new gap on a
  full side evicts the oldest. A side gains at most one gap per bar, so ``capacity >= max_age +
  1`` (the defaults: 64 and 50) never evicts.

Order within one bar: expire, mitigate (against this bar's high/low), detect and add the new gap,
then report (counts, nearest) with the new gap included.

**Nearest level.** Over every active gap of both sides, the gap edge (bottom or top) closest to
this bar's close by ``|close - edge|``. Ties go to the younger gap (ages are unique: one gap per
bar at most), then, for the two edges of one gap (close exactly in the middle), to the edge a
returning price meets first (bullish: top, bearish: bottom).

Parameters (docs/design.md defaults): ``body_multiplier`` 1.5, ``body_lookback`` 10, ``max_age`` 50,
``capacity`` 64, ``fill_fraction`` 0.0. Inputs are assumed finite with ``low <= high``
(validated at the edges).

**State** (one float64 array from :func:`fvg_init_state`; copying it is a snapshot): the five
parameters, bars seen, high/low/body of bars ``i-1`` and ``i-2``, the SMA state of the bodies,
then per side (bullish, bearish) a count and ``capacity`` slots of (bottom, top, creating bar,
mitigation level, size %), oldest first.

**Warm-up.** The first gap can appear at bar ``body_lookback + 1`` (it needs the middle bar and
the ``body_lookback`` bodies before it); before that the flags and counts are 0. Every column is
defined from the first bar on: values are ``nan`` when there is nothing to report (no new gap,
no active gap, nothing mitigated), flags and counts 0.

Output columns (:data:`FVG_COLUMNS`, one row per bar; sizes in price points, ``*_pct`` =
``100 * size / |close|`` with the close of the bar that created the gap (``nan`` when that close
is 0), ages in bars):

- ``bullish_new``, ``bearish_new``: 1.0 when this bar created a gap of that side, else 0.0.
- ``new_bottom``, ``new_top``, ``new_size``, ``new_size_pct``: the zone created by this bar.
- ``bullish_count``, ``bearish_count``: active gaps per side after this bar.
- ``bullish_active``, ``bearish_active``: 1.0 when that count is positive.
- ``nearest_side``: +1.0 bullish, -1.0 bearish, 0.0 when no gap is active.
- ``nearest_level``, ``nearest_distance``: the nearest edge and ``|close - nearest_level|``.
- ``nearest_bottom``, ``nearest_top``, ``nearest_age``, ``nearest_size``, ``nearest_size_pct``:
  the gap that owns the nearest edge.
- ``bullish_mitigated``, ``bearish_mitigated``: 1.0 when this bar mitigated a gap of that side.
- ``bullish_mitigated_count``, ``bearish_mitigated_count``: how many (a wide bar can mitigate
  several).
- ``bullish_mitigated_size``, ``bullish_mitigated_size_pct``, ``bullish_mitigated_age`` and the
  bearish three: the largest gap mitigated by this bar (ties: the younger).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from components.indicators.kernels import sma_init_state, sma_step_nb

__all__ = ["FVG_COLUMNS", "FVG_N_OUT", "fvg_batch_nb", "fvg_init_state", "fvg_step_nb"]

Floats = npt.NDArray[np.float64]

FVG_COLUMNS = (
    "bullish_new", "bearish_new", "new_bottom", "new_top", "new_size", "new_size_pct",
    "bullish_count", "bearish_count", "bullish_active", "bearish_active",
    "nearest_side", "nearest_level", "nearest_distance", "nearest_bottom", "nearest_top",
    "nearest_age", "nearest_size", "nearest_size_pct",
    "bullish_mitigated", "bullish_mitigated_count", "bullish_mitigated_size",
    "bullish_mitigated_size_pct", "bullish_mitigated_age",
    "bearish_mitigated", "bearish_mitigated_count", "bearish_mitigated_size",
    "bearish_mitigated_size_pct", "bearish_mitigated_age",
)
FVG_N_OUT = len(FVG_COLUMNS)

# state: header, SMA state of the bodies (4 + body_lookback), bullish table, bearish table.
# A table is [count, capacity x gap]; gaps oldest first; a gap is _GAP_FIELDS floats.
_MULT = 0
_LOOKBACK = 1
_MAX_AGE = 2
_CAPACITY = 3
_FILL = 4
_BARS = 5  # bars seen
_HIGH1 = 6  # bar i-1
_LOW1 = 7
_BODY1 = 8
_HIGH2 = 9  # bar i-2
_LOW2 = 10
_BODY2 = 11
_SMA = 12
_SMA_HEADER = 4  # sma_init_state(period) has 4 + period floats
# gap fields
_BOTTOM = 0
_TOP = 1
_CREATED = 2  # bar index
_LEVEL = 3  # mitigation level
_PCT = 4  # size in % of the creating close
_GAP_FIELDS = 5
# output columns
_O_BULL_NEW = 0
_O_BEAR_NEW = 1
_O_NEW = 2  # bottom, top, size, size_pct
_O_BULL_COUNT = 6
_O_BEAR_COUNT = 7
_O_BULL_ACTIVE = 8
_O_BEAR_ACTIVE = 9
_O_NEAREST = 10  # side, level, distance, bottom, top, age, size, size_pct
_O_BULL_MIT = 18  # flag, count, size, size_pct, age
_O_BEAR_MIT = 23


def fvg_init_state(*, body_multiplier: float, body_lookback: int, max_age: int, capacity: int,
                   fill_fraction: float) -> Floats:
    """Fresh FVG state (parameters are stored in it).

    Parameters
    ----------
    body_multiplier : float
        The middle body must exceed this multiple (>= 0) of the mean body.
    body_lookback : int
        Number of bodies (>= 1) before the middle bar in the mean.
    max_age : int
        Bars (>= 1) a gap stays active.
    capacity : int
        Active gaps (>= 1) kept per side; the oldest is evicted.
    fill_fraction : float
        Fraction of the gap (0..1) price must fill to mitigate it; 0 touches the near edge.

    Examples
    --------
    >>> state = fvg_init_state(body_multiplier=1.5, body_lookback=2, max_age=50, capacity=64,
    ...                        fill_fraction=0.0)
    >>> o = np.array([10.0, 10.0, 10.0, 11.0, 15.0, 15.5])
    >>> c = np.array([10.5, 10.5, 10.5, 14.5, 15.5, 14.0])
    >>> h = np.array([11.0, 11.0, 11.0, 15.0, 16.0, 15.5])
    >>> lo = np.array([10.0, 10.0, 10.0, 11.0, 15.0, 13.0])
    >>> out = fvg_batch_nb(state, o, h, lo, c)
    >>> col = {name: out[:, j] for j, name in enumerate(FVG_COLUMNS)}
    >>> col["bullish_new"].tolist(), col["new_bottom"][4].item(), col["new_top"][4].item()
    ([0.0, 0.0, 0.0, 0.0, 1.0, 0.0], 11.0, 15.0)
    >>> col["bullish_count"].tolist(), col["bullish_mitigated_age"][5].item()
    ([0.0, 0.0, 0.0, 0.0, 1.0, 0.0], 1.0)
    """
    if not (body_multiplier >= 0.0 and math.isfinite(body_multiplier)):
        raise ValueError(f"fvg body_multiplier: expected finite >= 0, was {body_multiplier}")
    if body_lookback < 1:
        raise ValueError(f"fvg body_lookback: expected >= 1, was {body_lookback}")
    if max_age < 1:
        raise ValueError(f"fvg max_age: expected >= 1, was {max_age}")
    if capacity < 1:
        raise ValueError(f"fvg capacity: expected >= 1, was {capacity}")
    if not 0.0 <= fill_fraction <= 1.0:
        raise ValueError(f"fvg fill_fraction: expected 0 <= x <= 1, was {fill_fraction}")
    table = 1 + capacity * _GAP_FIELDS
    state = np.zeros(_SMA + _SMA_HEADER + body_lookback + 2 * table, dtype=np.float64)
    state[_MULT] = body_multiplier
    state[_LOOKBACK] = body_lookback
    state[_MAX_AGE] = max_age
    state[_CAPACITY] = capacity
    state[_FILL] = fill_fraction
    state[_SMA:_SMA + _SMA_HEADER + body_lookback] = sma_init_state(body_lookback)
    return state


@njit(cache=True, inline="always")
def fvg_step_nb(state: Floats, open_: float, high: float, low: float, close: float,
                out: Floats) -> None:
    """Consume one bar; write the :data:`FVG_COLUMNS` row into ``out`` (length ``FVG_N_OUT``)."""
    multiplier = state[_MULT]
    lookback = int(state[_LOOKBACK])
    max_age = int(state[_MAX_AGE])
    capacity = int(state[_CAPACITY])
    fill = state[_FILL]
    bull = _SMA + _SMA_HEADER + lookback
    bear = bull + 1 + capacity * _GAP_FIELDS
    bar = int(state[_BARS])
    state[_BARS] = bar + 1

    # detection: mean body of bars bar-1-lookback .. bar-2, fed one body late
    bullish_new = False
    bearish_new = False
    if bar >= 2:
        mean = sma_step_nb(state[_SMA:bull], state[_BODY2])
        if state[_BODY1] > multiplier * mean:  # False while mean is nan
            bullish_new = low > state[_HIGH2]
            bearish_new = high < state[_LOW2]
    if bullish_new:
        bottom, top = state[_HIGH2], low
    else:
        bottom, top = high, state[_LOW2]
    state[_HIGH2] = state[_HIGH1]
    state[_LOW2] = state[_LOW1]
    state[_BODY2] = state[_BODY1]
    state[_HIGH1] = high
    state[_LOW1] = low
    state[_BODY1] = abs(close - open_)

    # tracking: expire, then mitigate against this bar, then add the new gap
    for side in range(2):
        base = bull if side == 0 else bear
        count = int(state[base])
        kept = 0
        mitigated = 0
        mit_size = np.nan
        mit_pct = np.nan
        mit_age = np.nan
        for g in range(count):
            src = base + 1 + g * _GAP_FIELDS
            age = bar - int(state[src + _CREATED])
            if age > max_age:
                continue
            if (low <= state[src + _LEVEL]) if side == 0 else (high >= state[src + _LEVEL]):
                mitigated += 1
                size = state[src + _TOP] - state[src + _BOTTOM]
                if mitigated == 1 or size >= mit_size:  # oldest first: >= keeps the younger
                    mit_size = size
                    mit_pct = state[src + _PCT]
                    mit_age = age
                continue
            if kept != g:
                dst = base + 1 + kept * _GAP_FIELDS
                for f in range(_GAP_FIELDS):
                    state[dst + f] = state[src + f]
            kept += 1
        state[base] = kept
        col = _O_BULL_MIT if side == 0 else _O_BEAR_MIT
        out[col] = 1.0 if mitigated > 0 else 0.0
        out[col + 1] = mitigated
        out[col + 2] = mit_size
        out[col + 3] = mit_pct
        out[col + 4] = mit_age
    out[_O_BULL_NEW] = 1.0 if bullish_new else 0.0
    out[_O_BEAR_NEW] = 1.0 if bearish_new else 0.0
    if bullish_new or bearish_new:
        base = bull if bullish_new else bear
        count = int(state[base])
        if count == capacity:  # evict the oldest
            for j in range(base + 1, base + 1 + (capacity - 1) * _GAP_FIELDS):
                state[j] = state[j + _GAP_FIELDS]
            count -= 1
        size = top - bottom
        pct = 100.0 * size / abs(close) if close != 0.0 else np.nan
        dst = base + 1 + count * _GAP_FIELDS
        state[dst + _BOTTOM] = bottom
        state[dst + _TOP] = top
        state[dst + _CREATED] = bar
        if bullish_new:
            state[dst + _LEVEL] = (1.0 - fill) * top + fill * bottom
        else:
            state[dst + _LEVEL] = (1.0 - fill) * bottom + fill * top
        state[dst + _PCT] = pct
        state[base] = count + 1
        out[_O_NEW] = bottom
        out[_O_NEW + 1] = top
        out[_O_NEW + 2] = size
        out[_O_NEW + 3] = pct
    else:
        for j in range(_O_NEW, _O_NEW + 4):
            out[j] = np.nan

    # report
    n_bull = state[bull]
    n_bear = state[bear]
    out[_O_BULL_COUNT] = n_bull
    out[_O_BEAR_COUNT] = n_bear
    out[_O_BULL_ACTIVE] = 1.0 if n_bull > 0.0 else 0.0
    out[_O_BEAR_ACTIVE] = 1.0 if n_bear > 0.0 else 0.0
    best = -1
    best_side = 0.0
    best_level = np.nan
    best_distance = np.inf
    best_age = 0
    for side in range(2):
        base = bull if side == 0 else bear
        for g in range(int(state[base])):
            src = base + 1 + g * _GAP_FIELDS
            d_bottom = abs(close - state[src + _BOTTOM])
            d_top = abs(close - state[src + _TOP])
            if side == 0:  # bullish: top on a tie
                use_top = d_top <= d_bottom
            else:  # bearish: bottom on a tie
                use_top = d_top < d_bottom
            distance = d_top if use_top else d_bottom
            age = bar - int(state[src + _CREATED])
            if distance < best_distance or (distance == best_distance and age < best_age):
                best = src
                best_side = 1.0 if side == 0 else -1.0
                best_level = state[src + _TOP] if use_top else state[src + _BOTTOM]
                best_distance = distance
                best_age = age
    if best >= 0:
        out[_O_NEAREST] = best_side
        out[_O_NEAREST + 1] = best_level
        out[_O_NEAREST + 2] = best_distance
        out[_O_NEAREST + 3] = state[best + _BOTTOM]
        out[_O_NEAREST + 4] = state[best + _TOP]
        out[_O_NEAREST + 5] = best_age
        out[_O_NEAREST + 6] = state[best + _TOP] - state[best + _BOTTOM]
        out[_O_NEAREST + 7] = state[best + _PCT]
    else:
        out[_O_NEAREST] = 0.0
        for j in range(_O_NEAREST + 1, _O_NEAREST + 8):
            out[j] = np.nan


@njit(cache=True)
def fvg_batch_nb(state: Floats, open_: Floats, high: Floats, low: Floats,
                 close: Floats) -> Floats:
    """:func:`fvg_step_nb` over bars: float64 ``(n, FVG_N_OUT)``; the state continues."""
    n = close.shape[0]
    out = np.empty((n, FVG_N_OUT), dtype=np.float64)
    for i in range(n):
        fvg_step_nb(state, open_[i], high[i], low[i], close[i], out[i])
    return out
