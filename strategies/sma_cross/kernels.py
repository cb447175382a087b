"""Numba kernels of the SMA crossover decision (kernel layer).

Long/flat: at a bar close where the fast SMA crosses above the slow SMA (fast > slow now,
fast <= slow at the previous close, both defined) while flat, buy; where it crosses below
(fast < slow now, fast >= slow before) while long, close. The decision returns a code: 0
nothing, 1 buy, 2 close. State: ``cross`` float64[3] (long flag, previous fast, previous slow)
plus the two SMA states of :mod:`components.indicators.kernels`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from components.indicators.kernels import sma_step_nb

__all__ = ["NOTHING", "BUY", "CLOSE", "sma_cross_batch_nb", "sma_cross_init_state",
           "sma_cross_step_nb"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

NOTHING = 0
BUY = 1
CLOSE = 2
_LONG = 0
_PREV_FAST = 1
_PREV_SLOW = 2


def sma_cross_init_state() -> Floats:
    """Fresh crossover state: flat, no previous averages."""
    return np.array([0.0, np.nan, np.nan], dtype=np.float64)


@njit(cache=True, inline="always")
def sma_cross_step_nb(cross: Floats, fast_state: Floats, slow_state: Floats,
                      close: float) -> int:
    """Feed one close; return the decision code at this bar's close."""
    fast = sma_step_nb(fast_state, close)
    slow = sma_step_nb(slow_state, close)
    prev_fast = cross[_PREV_FAST]
    prev_slow = cross[_PREV_SLOW]
    cross[_PREV_FAST] = fast
    cross[_PREV_SLOW] = slow
    if np.isnan(fast) or np.isnan(slow) or np.isnan(prev_fast) or np.isnan(prev_slow):
        return NOTHING
    if cross[_LONG] == 0.0 and fast > slow and prev_fast <= prev_slow:
        cross[_LONG] = 1.0
        return BUY
    if cross[_LONG] == 1.0 and fast < slow and prev_fast >= prev_slow:
        cross[_LONG] = 0.0
        return CLOSE
    return NOTHING


@njit(cache=True)
def sma_cross_batch_nb(cross: Floats, fast_state: Floats, slow_state: Floats,
                       closes: Floats) -> tuple[Ints, Ints]:
    """:func:`sma_cross_step_nb` over ``closes``: (positions, codes) of the decisions."""
    n = closes.shape[0]
    pos = np.empty(n, dtype=np.int64)
    codes = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        code = sma_cross_step_nb(cross, fast_state, slow_state, closes[i])
        if code != NOTHING:
            pos[m] = i
            codes[m] = code
            m += 1
    return pos[:m], codes[:m]
