"""Numba kernels of the regime matrix: the 23 MMD features and 3 more per slow bar (kernel
layer).

Columns ``REGIME_COLUMNS`` (components/assemblers/regime.py), normalisations in
docs/assemblers.md; the ring and the z-score are :mod:`components.assemblers.kernels`.

- :func:`regime_bar_nb` (a slow bar): from the second bar on adds the return ``close / prev -
  1`` to the last 30 (oldest first) and scores the change of return (from the third bar) and,
  once 30 returns are kept, the population standard deviation of them (summed in order, the
  squares with libm's ``pow(x, 2.0)`` as Python's ``** 2``, which differs from ``x * x`` in the
  last bit for about one value in a thousand: the exponent is read from the state so the
  compiler cannot turn it into a product). Opens the row: the carried values, the two bar
  columns. The row counts as complete once MMD and LVN reported and 30 returns are kept.
- :func:`regime_mmd_nb` (``MmdFeatures``): the 23 MMD columns of the open row from the
  event's tuple of 23 floats, carried to the next rows.
- :func:`regime_lvn_nb` (``LvnLevels``): the scored distance to the point of control, carried.

The event kernels do nothing before the first bar.

**State** (:func:`regime_init_state`): the ring header, the open bar's close, the previous
close (``nan`` before the first bar), the inputs seen (1 MMD, 2 LVN), the exponent 2.0, the
number of returns kept (<= 30) and the returns, the 26 carried values, then 13 z-scores: the
ten scored MMD statistics in the order of :data:`ZSCORED`, volatility, point of control,
acceleration.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from components.assemblers.kernels import (
    BUFFER_COUNT,
    BUFFER_HEAD,
    BUFFER_HEADER,
    BUFFER_WIDTH,
    BUFFER_WINDOW,
    ZSCORE_ALPHA,
    ZSCORE_CLIP,
    ZSCORE_SIZE,
    Floats,
    Floats32,
    buffer_init,
    buffer_open_nb,
    clip_unit_nb,
    zscore_init,
    zscore_load,
    zscore_step_nb,
)
from components.regime.mmd import MMD_FEATURE_NAMES, N_SETS

__all__ = ["REGIME_PARAMETERS", "REGIME_WIDTH", "ZSCORED", "regime_bar_nb",
           "regime_init_state", "regime_legacy_state", "regime_lvn_nb", "regime_mmd_nb"]

N_MMD = len(MMD_FEATURE_NAMES)
REGIME_WIDTH = N_MMD + 3
_SCORE_SCALE = math.sqrt(2.0)  # MMD^2 <= 2 for a kernel bounded by 1
# statistics (index into MmdFeatures.values) scored against their own recent history
ZSCORED = tuple(MMD_FEATURE_NAMES.index(n) for n in (
    "return", "log_return", "range", "volatility", "momentum_5", "momentum_10", "momentum_20",
    "momentum_50", "volume_ratio", "volatility_ratio"))
_N_ZSCORED = len(ZSCORED)
_FIRST_RATIO = _N_ZSCORED - 2  # the two ratios, scored on a log scale
_SKEW = MMD_FEATURE_NAMES.index("skew_50")
_KURT = MMD_FEATURE_NAMES.index("kurtosis_50")
_RSI = MMD_FEATURE_NAMES.index("rsi_14")
_MEAN = MMD_FEATURE_NAMES.index("mmd_mean")
_MIN = MMD_FEATURE_NAMES.index("mmd_min")
_NEAREST = MMD_FEATURE_NAMES.index("mmd_nearest")
VOL_BARS = 30
_C_VOLATILITY = N_MMD  # matrix columns after the MMD ones
_C_POC = N_MMD + 1
_C_ACCELERATION = N_MMD + 2

_CLOSE = BUFFER_HEADER
_PREV_CLOSE = _CLOSE + 1
_SEEN = _CLOSE + 2
_TWO = _CLOSE + 3
_N_RETURNS = _CLOSE + 4
_RETURNS = _CLOSE + 5  # VOL_BARS returns, oldest first
_CARRY = _RETURNS + VOL_BARS  # REGIME_WIDTH values (the two bar columns stay 0)
_Z = _CARRY + REGIME_WIDTH  # 13 z-score blocks
_Z_VOLATILITY = _Z + _N_ZSCORED * ZSCORE_SIZE
_Z_POC = _Z_VOLATILITY + ZSCORE_SIZE
_Z_ACCELERATION = _Z_POC + ZSCORE_SIZE
N_SCORES = _N_ZSCORED + 3
_SIZE = _Z + N_SCORES * ZSCORE_SIZE

REGIME_PARAMETERS = (BUFFER_WINDOW, BUFFER_WIDTH, _TWO,
                     *(_Z + k * ZSCORE_SIZE + p for k in range(N_SCORES)
                       for p in (ZSCORE_ALPHA, ZSCORE_CLIP)))


def regime_init_state(window: int, span: int) -> Floats:
    """Fresh state: no rows, nothing seen.

    Examples
    --------
    >>> state = regime_init_state(4, 200)
    >>> rows = np.zeros((4, REGIME_WIDTH), dtype=np.float32)
    >>> regime_bar_nb(state, rows, 100.0)
    >>> regime_mmd_nb(state, rows, tuple([0.7] * 7 + [0.0] * 10 + [75.0] + [1.0] * 5))
    >>> [round(v, 4) for v in rows[0, [0, 17, 22, 23]].tolist()]
    [0.495, 0.5, -0.6667, 0.0]
    """
    state = np.zeros(_SIZE, dtype=np.float64)
    buffer_init(state, window, REGIME_WIDTH)
    state[_CLOSE] = np.nan
    state[_PREV_CLOSE] = np.nan
    state[_TWO] = 2.0
    for k in range(N_SCORES):
        zscore_init(state, _Z + k * ZSCORE_SIZE, span)
    return state


def regime_legacy_state(state: Floats, carry: list[float], close: float, returns: list[float],
                        prev_close: float, seen: int,
                        scores: list[tuple[float, float, int]]) -> None:
    """Fill ``state`` (ring header set) from the fields of a snapshot written before these
    kernels."""
    if len(scores) != N_SCORES or len(returns) > VOL_BARS:
        raise ValueError(f"expected {N_SCORES} z-scores and at most {VOL_BARS} returns")
    state[_CARRY:_CARRY + REGIME_WIDTH] = carry
    state[_CLOSE] = close
    state[_PREV_CLOSE] = prev_close
    state[_SEEN] = seen
    state[_N_RETURNS] = len(returns)
    state[_RETURNS:_RETURNS + len(returns)] = returns
    for k, score in enumerate(scores):
        zscore_load(state, _Z + k * ZSCORE_SIZE, *score)


@njit(cache=True)
def regime_bar_nb(state: Floats, rows: Floats32, close: float) -> None:
    """Open the row of a slow bar."""
    prev = state[_PREV_CLOSE]
    volatility = 0.0
    acceleration = 0.0
    n = int(state[_N_RETURNS])
    if not math.isnan(prev):
        r = close / prev - 1.0
        if n:
            acceleration = zscore_step_nb(state, _Z_ACCELERATION,
                                          r - state[_RETURNS + n - 1])
        if n == VOL_BARS:
            for j in range(VOL_BARS - 1):
                state[_RETURNS + j] = state[_RETURNS + j + 1]
            state[_RETURNS + VOL_BARS - 1] = r
        else:
            state[_RETURNS + n] = r
            n += 1
            state[_N_RETURNS] = n
        if n == VOL_BARS:
            total = 0.0
            for j in range(VOL_BARS):
                total += state[_RETURNS + j]
            mean = total / VOL_BARS
            two = state[_TWO]
            squares = 0.0
            for j in range(VOL_BARS):
                squares += math.pow(state[_RETURNS + j] - mean, two)
            volatility = zscore_step_nb(state, _Z_VOLATILITY, math.sqrt(squares / VOL_BARS))
    state[_PREV_CLOSE] = close
    state[_CLOSE] = close
    head = buffer_open_nb(state, state[_SEEN] == 3.0 and n == VOL_BARS)
    for j in range(REGIME_WIDTH):
        rows[head, j] = state[_CARRY + j]
    rows[head, _C_VOLATILITY] = volatility
    rows[head, _C_ACCELERATION] = acceleration


@njit(cache=True, inline="always")
def _put(state: Floats, rows: Floats32, head: int, column: int, value: float) -> None:
    rows[head, column] = value
    state[_CARRY + column] = value


@njit(cache=True)
def regime_mmd_nb(state: Floats, rows: Floats32, values: tuple[float, ...]) -> None:
    """Write an ``MmdFeatures`` (its 23 values) into the open row."""
    if state[BUFFER_COUNT] == 0.0:
        return
    head = int(state[BUFFER_HEAD])
    for k in range(N_SETS):
        _put(state, rows, head, k, clip_unit_nb(values[k], _SCORE_SCALE))
    for j in range(_N_ZSCORED):
        i = ZSCORED[j]
        x = values[i]
        if j >= _FIRST_RATIO:  # 1 = no change; 0 maps far below
            x = math.log(1e-12 if 1e-12 > x else x)  # max(x, 1e-12): nan stays nan
        _put(state, rows, head, i, zscore_step_nb(state, _Z + j * ZSCORE_SIZE, x))
    _put(state, rows, head, _SKEW, clip_unit_nb(values[_SKEW], 3.0))
    _put(state, rows, head, _KURT, clip_unit_nb(values[_KURT], 10.0))
    _put(state, rows, head, _RSI, (values[_RSI] - 50.0) / 50.0)
    _put(state, rows, head, _MEAN, clip_unit_nb(values[_MEAN], _SCORE_SCALE))
    _put(state, rows, head, _MIN, clip_unit_nb(values[_MIN], _SCORE_SCALE))
    _put(state, rows, head, _NEAREST, values[_NEAREST] / (N_SETS - 1) * 2.0 - 1.0)
    state[_SEEN] = int(state[_SEEN]) | 1


@njit(cache=True)
def regime_lvn_nb(state: Floats, rows: Floats32, poc_price: float) -> None:
    """Write an ``LvnLevels`` (its point of control) into the open row."""
    if state[BUFFER_COUNT] == 0.0:
        return
    close = state[_CLOSE]
    _put(state, rows, int(state[BUFFER_HEAD]), _C_POC,
         zscore_step_nb(state, _Z_POC, (close - poc_price) / close))
    state[_SEEN] = int(state[_SEEN]) | 2
