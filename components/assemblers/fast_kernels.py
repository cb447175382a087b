"""Numba kernels of the fast matrix: FVG state, momentum and volume per fast bar (kernel layer).

Columns :data:`FAST_COLUMNS`, normalisations in docs/assemblers.md; the ring and the z-score
are :mod:`components.assemblers.kernels`.

- :func:`fast_bar_nb` (a fast bar): scores ``log(close / close[-5])`` once five closes were
  seen, takes the volume ratio against the EMA of the earlier volumes (0 on the first bar,
  then while the EMA is <= 0; -1 at a volume <= 0), updates the EMA, and opens the row: the
  five carried FVG columns, mitigation 0, momentum, volume ratio. The row counts as complete
  once an ``FvgState`` was seen and five rows were opened before it.
- :func:`fast_fvg_nb` (``FvgState``): the five FVG columns of the open row, carried to the next
  rows. ``level``, ``age``, ``size_pct`` arrive as ``nan`` for ``None`` (0 in the row).
- :func:`fast_mitigated_nb` (``FvgMitigated``): adds ``side`` to the row's mitigation column
  (a float64 sum kept in the state; the cell holds its float32).

The event kernels do nothing before the first bar.

**State** (:func:`fast_init_state`): the ring header, the open bar's close, the volume EMA's
weight, the EMA (``nan`` before the first bar), whether an ``FvgState`` was seen, the open
row's mitigation sum, the number of closes kept (<= 5) and the closes (oldest first), the five
carried values, the momentum z-score.
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

__all__ = ["FAST_COLUMNS", "FAST_PARAMETERS", "fast_bar_nb", "fast_fvg_nb", "fast_init_state",
           "fast_legacy_state", "fast_mitigated_nb"]

FAST_COLUMNS = ("fvg_bullish_active", "fvg_bearish_active", "fvg_nearest_level",
                "fvg_nearest_age", "fvg_nearest_size", "fvg_mitigation", "momentum_5",
                "volume_ratio")
MOMENTUM_BARS = 5
CARRIED = 5  # the FVG columns 0..4

_CLOSE = BUFFER_HEADER  # close of the open bar
_VOLUME_ALPHA = _CLOSE + 1
_VOLUME_EMA = _CLOSE + 2
_SEEN = _CLOSE + 3  # 1.0 once an FvgState arrived
_MITIGATION = _CLOSE + 4  # the open row's mitigation column, float64
_N_CLOSES = _CLOSE + 5
_CLOSES = _CLOSE + 6  # MOMENTUM_BARS closes, oldest first
_CARRY = _CLOSES + MOMENTUM_BARS
_MOMENTUM = _CARRY + CARRIED
_SIZE = _MOMENTUM + ZSCORE_SIZE

# the slots that hold settings: a snapshot must agree with the config on them
FAST_PARAMETERS = (BUFFER_WINDOW, BUFFER_WIDTH, _VOLUME_ALPHA, _MOMENTUM + ZSCORE_ALPHA,
                   _MOMENTUM + ZSCORE_CLIP)


def fast_init_state(window: int, momentum_span: int, volume_alpha: float) -> Floats:
    """Fresh state: no rows, nothing seen.

    Examples
    --------
    >>> state = fast_init_state(3, 200, 0.02)
    >>> rows = np.zeros((3, len(FAST_COLUMNS)), dtype=np.float32)
    >>> fast_bar_nb(state, rows, 100.0, 10.0)
    >>> fast_fvg_nb(state, rows, 1, 0, 101.0, 2, 0.5)
    >>> fast_mitigated_nb(state, rows, -1)
    >>> rows[0].tolist()[:6]
    [1.0, 0.0, 0.5, 0.8187307715415955, 0.5, -1.0]
    """
    state = np.zeros(_SIZE, dtype=np.float64)
    buffer_init(state, window, len(FAST_COLUMNS))
    state[_CLOSE] = np.nan
    state[_VOLUME_ALPHA] = volume_alpha
    state[_VOLUME_EMA] = np.nan
    zscore_init(state, _MOMENTUM, momentum_span)
    return state


def fast_legacy_state(state: Floats, rows: Floats32, carry: list[float], close: float,
                      closes: list[float], volume_ema: float, seen: bool,
                      momentum: tuple[float, float, int]) -> None:
    """Fill ``state`` (ring header set, ring ``rows`` loaded) from the fields of a snapshot
    written before these kernels."""
    state[_CARRY:_CARRY + CARRIED] = carry
    state[_CLOSE] = close
    state[_N_CLOSES] = len(closes)
    state[_CLOSES:_CLOSES + len(closes)] = closes
    state[_VOLUME_EMA] = volume_ema
    state[_SEEN] = float(seen)
    # the open row was restored from float32, as the older code did
    state[_MITIGATION] = float(rows[int(state[BUFFER_HEAD]), 5]) if state[BUFFER_COUNT] else 0.0
    zscore_load(state, _MOMENTUM, *momentum)


@njit(cache=True)
def fast_bar_nb(state: Floats, rows: Floats32, close: float, volume: float) -> None:
    """Open the row of a fast bar."""
    n = int(state[_N_CLOSES])
    momentum = 0.0
    if n == MOMENTUM_BARS:
        momentum = zscore_step_nb(state, _MOMENTUM, math.log(close / state[_CLOSES]))
        for j in range(MOMENTUM_BARS - 1):
            state[_CLOSES + j] = state[_CLOSES + j + 1]
        state[_CLOSES + MOMENTUM_BARS - 1] = close
    else:
        state[_CLOSES + n] = close
        state[_N_CLOSES] = n + 1
    ema = state[_VOLUME_EMA]
    if math.isnan(ema):
        ratio = 0.0
        state[_VOLUME_EMA] = volume
    else:
        if ema <= 0.0:
            ratio = 0.0
        elif volume <= 0.0:
            ratio = -1.0
        else:
            ratio = math.tanh(math.log(volume / ema))
        a = state[_VOLUME_ALPHA]
        state[_VOLUME_EMA] = a * volume + (1.0 - a) * ema
    state[_CLOSE] = close
    complete = state[_SEEN] != 0.0 and state[BUFFER_COUNT] >= MOMENTUM_BARS
    head = buffer_open_nb(state, complete)
    for j in range(CARRIED):
        rows[head, j] = state[_CARRY + j]
    rows[head, 5] = 0.0
    rows[head, 6] = momentum
    rows[head, 7] = ratio
    state[_MITIGATION] = 0.0


@njit(cache=True)
def fast_fvg_nb(state: Floats, rows: Floats32, bullish_count: int, bearish_count: int,
                level: float, age: float, size_pct: float) -> None:
    """Write an ``FvgState`` into the open row (``nan`` for a ``None`` field)."""
    if state[BUFFER_COUNT] == 0.0:
        return
    close = state[_CLOSE]
    v0 = 1.0 if bullish_count > 0 else 0.0
    v1 = 1.0 if bearish_count > 0 else 0.0
    v2 = 0.0 if math.isnan(level) else clip_unit_nb((level - close) / close, 0.02)
    v3 = 0.0 if math.isnan(age) else math.exp(-age / 10.0)
    m = size_pct if size_pct > 0.0 else 0.0  # max(0.0, size_pct): nan -> 0
    v4 = m if m < 1.0 else 1.0  # min(1.0, m)
    head = int(state[BUFFER_HEAD])
    rows[head, 0] = v0
    rows[head, 1] = v1
    rows[head, 2] = v2
    rows[head, 3] = v3
    rows[head, 4] = v4
    state[_CARRY] = v0
    state[_CARRY + 1] = v1
    state[_CARRY + 2] = v2
    state[_CARRY + 3] = v3
    state[_CARRY + 4] = v4
    state[_SEEN] = 1.0


@njit(cache=True)
def fast_mitigated_nb(state: Floats, rows: Floats32, side: int) -> None:
    """Add an ``FvgMitigated``'s side (+1 bullish, -1 bearish) to the open row."""
    if state[BUFFER_COUNT] == 0.0:
        return
    total = state[_MITIGATION] + side
    state[_MITIGATION] = total
    rows[int(state[BUFFER_HEAD]), 5] = total
