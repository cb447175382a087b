"""Numba kernels of the slow matrix: MLMI, NW-RQK, LVN and time per slow bar (kernel layer).

Columns :data:`SLOW_COLUMNS`, normalisations in docs/assemblers.md; the ring and the z-score
are :mod:`components.assemblers.kernels`.

- :func:`slow_bar_nb` (a slow bar): keeps its close and opens the row: the carried indicator
  columns, the two signals 0, and the bar's time of day and weekday (UTC). The row counts as
  complete once MLMI, NW-RQK and LVN each reported.
- :func:`slow_mlmi_nb`, :func:`slow_nwrqk_nb`, :func:`slow_lvn_nb`: that event's columns of the
  open row; all but the signals are carried to the next rows.
  ``slow_lvn_nb`` takes the four optional fields with ``nan`` for ``None`` and ``given``, a
  bitmask of those that are not ``None`` (1 support distance, 2 support strength, 4 resistance
  distance, 8 resistance strength): ``None`` gives 0, a ``nan`` value stays ``nan``.

The event kernels do nothing before the first bar.

**State** (:func:`slow_init_state`): the ring header, the open bar's close, the inputs seen (bit
mask: 1 MLMI, 2 NW-RQK, 4 LVN), the MLMI vote range, the 13 carried values, the slope z-score.
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

__all__ = ["SLOW_COLUMNS", "SLOW_PARAMETERS", "slow_bar_nb", "slow_init_state",
           "slow_legacy_state", "slow_lvn_nb", "slow_mlmi_nb", "slow_nwrqk_nb"]

SLOW_COLUMNS = ("mlmi_value", "mlmi_signal", "nwrqk_distance", "nwrqk_slope", "nwrqk_signal",
                "lvn_support_proximity", "lvn_support_strength", "lvn_resistance_proximity",
                "lvn_resistance_strength", "hour_sin", "hour_cos", "weekday_sin", "weekday_cos")
_WIDTH = len(SLOW_COLUMNS)
_DAY_NS = 86_400 * 10**9
_TAU = 2.0 * math.pi

_CLOSE = BUFFER_HEADER
_SEEN = _CLOSE + 1
_MLMI_SCALE = _CLOSE + 2
_CARRY = _CLOSE + 3  # 13 values; the signals (1, 4) and the time (9..12) stay 0
_SLOPE = _CARRY + _WIDTH
_SIZE = _SLOPE + ZSCORE_SIZE

SLOW_PARAMETERS = (BUFFER_WINDOW, BUFFER_WIDTH, _MLMI_SCALE, _SLOPE + ZSCORE_ALPHA,
                   _SLOPE + ZSCORE_CLIP)


def slow_init_state(window: int, mlmi_neighbors: int, slope_span: int) -> Floats:
    """Fresh state: no rows, nothing seen.

    Examples
    --------
    >>> state = slow_init_state(2, 200, 100)
    >>> rows = np.zeros((2, len(SLOW_COLUMNS)), dtype=np.float32)
    >>> slow_bar_nb(state, rows, 100.0, 4 * 3600 * 10**9)  # 1970-01-01 04:00, a Thursday
    >>> slow_mlmi_nb(state, rows, 50.0, 1)
    >>> slow_lvn_nb(state, rows, 1.0, 80.0, np.nan, np.nan, 3)
    >>> [round(v, 4) for v in rows[0].tolist()]
    [0.25, 1.0, 0.0, 0.0, 0.0, 0.3679, 0.8, 0.0, 0.0, 0.866, 0.5, 0.4339, -0.901]
    """
    state = np.zeros(_SIZE, dtype=np.float64)
    buffer_init(state, window, _WIDTH)
    state[_CLOSE] = np.nan
    state[_MLMI_SCALE] = mlmi_neighbors
    zscore_init(state, _SLOPE, slope_span)
    return state


def slow_legacy_state(state: Floats, carry: list[float], close: float, seen: int,
                      slope: tuple[float, float, int]) -> None:
    """Fill ``state`` (ring header set) from the fields of a snapshot written before these
    kernels."""
    state[_CARRY:_CARRY + _WIDTH] = carry
    state[_CLOSE] = close
    state[_SEEN] = seen
    zscore_load(state, _SLOPE, *slope)


@njit(cache=True)
def slow_bar_nb(state: Floats, rows: Floats32, close: float, ts_event: int) -> None:
    """Open the row of a slow bar closing at ``ts_event`` (ns since the epoch, UTC)."""
    state[_CLOSE] = close
    head = buffer_open_nb(state, state[_SEEN] == 7.0)
    for j in range(9):
        rows[head, j] = state[_CARRY + j]
    hour = (ts_event % _DAY_NS) / 3.6e12
    weekday = (ts_event // _DAY_NS + 3) % 7  # 1970-01-01 was a Thursday
    rows[head, 9] = math.sin(_TAU * hour / 24)
    rows[head, 10] = math.cos(_TAU * hour / 24)
    rows[head, 11] = math.sin(_TAU * weekday / 7)
    rows[head, 12] = math.cos(_TAU * weekday / 7)


@njit(cache=True)
def slow_mlmi_nb(state: Floats, rows: Floats32, value: float, signal: int) -> None:
    """Write an ``MlmiValue`` into the open row."""
    if state[BUFFER_COUNT] == 0.0:
        return
    head = int(state[BUFFER_HEAD])
    v = clip_unit_nb(value, state[_MLMI_SCALE])
    rows[head, 0] = v
    state[_CARRY] = v
    rows[head, 1] = float(signal)
    state[_SEEN] = int(state[_SEEN]) | 1


@njit(cache=True)
def slow_nwrqk_nb(state: Floats, rows: Floats32, yhat1: float, slope: float,
                  signal: int) -> None:
    """Write an ``NwrqkValue`` into the open row."""
    if state[BUFFER_COUNT] == 0.0:
        return
    head = int(state[BUFFER_HEAD])
    close = state[_CLOSE]
    v = clip_unit_nb((yhat1 - close) / close, 0.05)
    rows[head, 2] = v
    state[_CARRY + 2] = v
    v = zscore_step_nb(state, _SLOPE, slope / close)
    rows[head, 3] = v
    state[_CARRY + 3] = v
    rows[head, 4] = float(signal)
    state[_SEEN] = int(state[_SEEN]) | 2


@njit(cache=True, inline="always")
def _proximity(distance: float, close: float, given: bool) -> float:
    return math.exp(-100.0 * distance / close) if given else 0.0


@njit(cache=True, inline="always")
def _strength(strength: float, given: bool) -> float:
    # (strength or 0.0) / 100: None and +-0 give 0.0, nan stays nan
    return (strength if given and strength != 0.0 else 0.0) / 100.0


@njit(cache=True)
def slow_lvn_nb(state: Floats, rows: Floats32, support_distance: float,
                support_strength: float, resistance_distance: float,
                resistance_strength: float, given: int) -> None:
    """Write an ``LvnLevels`` into the open row (``given``: module docstring)."""
    if state[BUFFER_COUNT] == 0.0:
        return
    head = int(state[BUFFER_HEAD])
    close = state[_CLOSE]
    v = _proximity(support_distance, close, (given & 1) != 0)
    rows[head, 5] = v
    state[_CARRY + 5] = v
    v = _strength(support_strength, (given & 2) != 0)
    rows[head, 6] = v
    state[_CARRY + 6] = v
    v = _proximity(resistance_distance, close, (given & 4) != 0)
    rows[head, 7] = v
    state[_CARRY + 7] = v
    v = _strength(resistance_strength, (given & 8) != 0)
    rows[head, 8] = v
    state[_CARRY + 8] = v
    state[_SEEN] = int(state[_SEEN]) | 4
