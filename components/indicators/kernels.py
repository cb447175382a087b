"""Numba kernels of moving averages (kernel layer).

Each indicator has ``<name>_init_state`` (a caller-owned float64 state array), a step kernel
``<name>_step_nb(state, x) -> float`` and a batch kernel ``<name>_batch_nb`` that loops the
step kernel, so the incremental and the batch results are the same numbers.

SMA reproduces ``pandas.Series.rolling(period).mean()``: ``nan`` until ``period`` values have
been seen. The window sum is a running sum (add the new value, subtract the one leaving),
recomputed exactly from the ring buffer (oldest first) each time the ring wraps, so rounding
error lives at most ``period`` steps and cannot accumulate over millions of them; values on a
price grid such as ES quarters sum exactly, so ties between two averages are exact. The result
depends only on the sequence of inputs, never on chunking.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["sma_batch_nb", "sma_init_state", "sma_step_nb"]

Floats = npt.NDArray[np.float64]

# sma state: [period, count, next slot, running sum, window...]
_PERIOD = 0
_COUNT = 1
_SLOT = 2
_SUM = 3
_WINDOW = 4


def sma_init_state(period: int) -> Floats:
    """Fresh SMA state for ``period`` (>= 1) values.

    Examples
    --------
    >>> state = sma_init_state(2)
    >>> [sma_step_nb(state, x) for x in (1.0, 2.0, 4.0)]
    [nan, 1.5, 3.0]
    """
    if period < 1:
        raise ValueError(f"sma period: expected >= 1, was {period}")
    state = np.zeros(_WINDOW + period, dtype=np.float64)
    state[_PERIOD] = period
    return state


@njit(cache=True, inline="always")
def sma_step_nb(state: Floats, x: float) -> float:
    """Add ``x``; return the mean of the last ``period`` values (``nan`` while warming up)."""
    period = int(state[_PERIOD])
    slot = int(state[_SLOT])
    old = state[_WINDOW + slot]
    state[_WINDOW + slot] = x
    slot += 1
    if slot == period:
        slot = 0
    state[_SLOT] = slot
    if slot == 0:  # the ring wrapped: exact sum, oldest first
        total = 0.0
        for j in range(_WINDOW, _WINDOW + period):
            total += state[j]
    else:
        total = state[_SUM] + x - old
    state[_SUM] = total
    if state[_COUNT] < period:
        state[_COUNT] += 1
        if state[_COUNT] < period:
            return np.nan
    return total / period


@njit(cache=True)
def sma_batch_nb(state: Floats, xs: Floats) -> Floats:
    """:func:`sma_step_nb` over ``xs``; the state continues from where it was."""
    out = np.empty(xs.shape[0], dtype=np.float64)
    for i in range(xs.shape[0]):
        out[i] = sma_step_nb(state, xs[i])
    return out
