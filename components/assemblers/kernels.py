"""Numba kernels every assembler shares: the row ring, the clip, the z-score (kernel layer).

An assembler's whole state is one float64 array (its own ``*_init_state``) and the float32
ring of rows ``(window, width)``; its step kernels (``*_bar_nb`` on a bar of its timeframe,
one kernel per indicator event) are pure functions of the two and the event's fields.

**Ring.** Every state array starts with the :data:`BUFFER_HEADER` floats of the ring:
``window``, ``width``, the slot of the newest row (``-1`` before the first), the rows ever
opened (``count``) and the rows opened since every input had reported (``complete``). A bar
opens a row (:func:`buffer_open_nb` moves the head; the bar kernel writes the whole row: the
carried values and the bar's own columns), the bar's indicator events write their columns of
that row in place, and the next bar moves on. Values are computed in float64 and stored as
float32 when written, so the ring holds exactly what casting the float64 row would give; a
column that accumulates over several events of one bar (the FVG mitigation) keeps its float64
sum in the state and rewrites the cell each time.

**z-score.** :func:`zscore_step_nb` on a block of :data:`ZSCORE_SIZE` floats at ``at``
(``alpha``, ``clip``, mean, variance, values seen), from :func:`zscore_init`: the score of ``x``
against the exponentially weighted mean and variance of the values before it (weight
``alpha = 2 / (span + 1)`` on the newest), clipped to +-``clip`` and divided by ``clip``; 0
until two values were seen or while the variance is not positive. :func:`clip_unit_nb` is
``x / scale`` clipped to [-1, 1], 0 for a non-finite ``x``.

The arithmetic is the plain Python of the assemblers before these kernels, operation for
operation (``min``/``max`` as Python evaluates them, so signed zeros come out the same), with
libm's functions: the matrices are bit-identical to it (tests/property/test_assembler_kernels.py).
Division by zero raises ``ZeroDivisionError`` as in Python; ``math.log`` of a negative number
and ``math.exp`` overflow give ``nan``/``inf`` where Python raised (neither occurs with valid
bars: prices positive, volumes >= 0).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["BUFFER_COMPLETE", "BUFFER_COUNT", "BUFFER_HEAD", "BUFFER_HEADER", "BUFFER_WIDTH",
           "BUFFER_WINDOW", "ZSCORE_ALPHA", "ZSCORE_CLIP", "ZSCORE_SIZE", "Floats", "Floats32",
           "buffer_init", "buffer_open_nb", "clip_unit_nb", "zscore_init", "zscore_load",
           "zscore_step_nb"]

Floats = npt.NDArray[np.float64]
Floats32 = npt.NDArray[np.float32]

# ring header, at the start of every assembler state
BUFFER_WINDOW = 0
BUFFER_WIDTH = 1
BUFFER_HEAD = 2  # slot of the newest row, -1 before the first
BUFFER_COUNT = 3  # rows ever opened
BUFFER_COMPLETE = 4  # rows opened since every input was first seen
BUFFER_HEADER = 5

# z-score block
ZSCORE_ALPHA = 0
ZSCORE_CLIP = 1
_Z_MEAN = 2
_Z_VAR = 3
_Z_N = 4
ZSCORE_SIZE = 5


def buffer_init(state: Floats, window: int, width: int) -> None:
    """Write an empty ring's header for ``window`` (>= 1) rows of ``width`` into ``state``."""
    if window < 1:
        raise ValueError(f"assembler window: expected >= 1, was {window}")
    state[BUFFER_WINDOW] = window
    state[BUFFER_WIDTH] = width
    state[BUFFER_HEAD] = -1.0
    state[BUFFER_COUNT] = 0.0
    state[BUFFER_COMPLETE] = 0.0


@njit(cache=True, inline="always")
def buffer_open_nb(state: Floats, complete: bool) -> int:
    """Advance the ring to a new newest row and count it; return its slot (the caller writes
    the whole row). ``complete``: every input had reported before this row."""
    head = int(state[BUFFER_HEAD]) + 1
    if head == int(state[BUFFER_WINDOW]):
        head = 0
    state[BUFFER_HEAD] = head
    state[BUFFER_COUNT] += 1.0
    state[BUFFER_COMPLETE] = state[BUFFER_COMPLETE] + 1.0 if complete else 0.0
    return head


def zscore_init(state: Floats, at: int, span: int, clip: float = 3.0) -> None:
    """Write a fresh z-score block (no values seen) for ``span`` at ``state[at:]``."""
    state[at + ZSCORE_ALPHA] = 2.0 / (span + 1.0)
    state[at + ZSCORE_CLIP] = clip
    state[at + _Z_MEAN] = 0.0
    state[at + _Z_VAR] = 0.0
    state[at + _Z_N] = 0.0


@njit(cache=True, inline="always")
def clip_unit_nb(x: float, scale: float) -> float:
    """``x / scale`` clipped to [-1, 1]; 0 for a non-finite ``x``."""
    if not math.isfinite(x):
        return 0.0
    y = x / scale
    m = y if y < 1.0 else 1.0  # min(1.0, y)
    return m if m > -1.0 else -1.0  # max(-1.0, m)


@njit(cache=True, inline="always")
def zscore_step_nb(state: Floats, at: int, x: float) -> float:
    """Score ``x`` against the block at ``at``, then add it to the statistics."""
    alpha = state[at + ZSCORE_ALPHA]
    mean = state[at + _Z_MEAN]
    var = state[at + _Z_VAR]
    n = state[at + _Z_N]
    z = 0.0
    if n >= 2.0 and var > 0.0:
        z = clip_unit_nb((x - mean) / math.sqrt(var), state[at + ZSCORE_CLIP])
    if n == 0.0:
        state[at + _Z_MEAN] = x
    else:
        diff = x - mean
        incr = alpha * diff
        state[at + _Z_MEAN] = mean + incr
        state[at + _Z_VAR] = (1.0 - alpha) * (var + diff * incr)
    state[at + _Z_N] = n + 1.0
    return z


def zscore_load(state: Floats, at: int, mean: float, var: float, n: int) -> None:
    """Put the statistics of a z-score (from an older snapshot) into the block at ``at``."""
    state[at + _Z_MEAN] = mean
    state[at + _Z_VAR] = var
    state[at + _Z_N] = n
