"""Numba kernels of Heiken Ashi bars (kernel layer).

docs/design.md section 4 / docs/reference/algospace_spec.md 2.4.1, applied once to the real OHLC of
each bar (the original applied
it twice on some paths, spec section 7):

- ``ha_close = (open + high + low + close) / 4``
- ``ha_open = (previous ha_open + previous ha_close) / 2``; on the first bar ``(open + close) / 2``
- ``ha_high = max(high, ha_open, ha_close)``, ``ha_low = min(low, ha_open, ha_close)``

State: float64 ``[count, previous ha_open, previous ha_close]``. Output columns
:data:`HEIKEN_ASHI_COLUMNS`; defined from the first bar (no warm-up).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["HEIKEN_ASHI_COLUMNS", "heiken_ashi_batch_nb", "heiken_ashi_init_state",
           "heiken_ashi_step_nb"]

Floats = npt.NDArray[np.float64]

HEIKEN_ASHI_COLUMNS = ("open", "high", "low", "close")


def heiken_ashi_init_state() -> Floats:
    """Fresh state: no previous bar.

    Examples
    --------
    >>> state, out = heiken_ashi_init_state(), np.zeros(4)
    >>> heiken_ashi_step_nb(state, 10.0, 12.0, 9.0, 11.0, out); out.tolist()
    [10.5, 12.0, 9.0, 10.5]
    >>> heiken_ashi_step_nb(state, 11.0, 13.0, 10.0, 12.0, out); out.tolist()
    [10.5, 13.0, 10.0, 11.5]
    """
    return np.zeros(3, dtype=np.float64)


@njit(cache=True, inline="always")
def heiken_ashi_step_nb(state: Floats, o: float, h: float, lo: float, c: float,
                        out: Floats) -> None:
    """Write the Heiken Ashi open, high, low, close of one bar into ``out``."""
    ha_close = (o + h + lo + c) / 4.0
    if state[0] == 0.0:
        ha_open = (o + c) / 2.0
    else:
        ha_open = (state[1] + state[2]) / 2.0
    state[0] += 1.0
    state[1] = ha_open
    state[2] = ha_close
    out[0] = ha_open
    out[1] = max(h, ha_open, ha_close)
    out[2] = min(lo, ha_open, ha_close)
    out[3] = ha_close


@njit(cache=True)
def heiken_ashi_batch_nb(state: Floats, o: Floats, h: Floats, lo: Floats,
                         c: Floats) -> Floats:
    """:func:`heiken_ashi_step_nb` over bars: float64 ``(n, 4)``."""
    n = c.shape[0]
    out = np.empty((n, 4), dtype=np.float64)
    for i in range(n):
        heiken_ashi_step_nb(state, o[i], h[i], lo[i], c[i], out[i])
    return out
