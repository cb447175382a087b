"""Numba kernels of NW-RQK: Nadaraya-Watson regression, rational-quadratic weights (kernel layer).

docs/design.md section 4 / docs/reference/algospace_spec.md 2.4.3 (reference: AlgoSpace
``src/indicators/nwrqk.py``, notebook cell
``381cc2a1``). On one input per slow bar (the caller picks the series, e.g. closes), bar ``t``
(0-based index of the input) gets::

    yhat(t; h) = sum_i w_i(h) * x[t - i] / sum_i w_i(h),   i = 0 .. min(t, window - 1)
    w_i(h) = (1 + i**2 / (2 * r * h**2)) ** (-r)

Parameters (defaults docs/design.md section 4): ``h = 8``, ``r = 8``, ``x0 = 25``, ``lag = 2``,
``window = 500``. ``yhat1`` uses ``h``, ``yhat2`` uses ``h - lag``. The reference summed over the
whole history; docs/design.md bounds the sum to the last ``window`` bars (``max_window`` 500 in the
reference's strategy config), so a bar costs O(window) and memory is fixed.

Warm-up (``x0`` as in the reference, which computes only ``if i >= x_0`` on the 0-based bar
index): ``yhat1``/``yhat2`` are ``nan`` for bars ``t < x0`` and defined from bar ``x0`` on, i.e.
once ``x0 + 1`` inputs have been seen, each over all inputs seen so far (up to ``window``). The
reference's loop bound ``size + x_0 + 1`` always exceeds the history it is given, so its
``x_0`` never shortens the sum, and ours does not either. ``slope`` and the crosses
need the previous bar's estimates (defined from bar ``x0 + 1``), the changes the two previous
ones (from bar ``x0 + 2``); before that ``slope`` is ``nan`` and flags and ``signal`` are 0.

Output columns :data:`NWRQK_COLUMNS` (flags are 1.0 / 0.0):

- ``yhat1``, ``yhat2``: the two estimates.
- ``slope = yhat1[t] - yhat1[t-1]``, in price units (the reference engine's relative change,
  ~1e-4, never met its 0.3 threshold, spec section 7 item 14).
- ``bullish_change``: ``yhat1[t-2] > yhat1[t-1] < yhat1[t]`` (the slope turns up);
  ``bearish_change``: ``yhat1[t-2] < yhat1[t-1] > yhat1[t]`` (the slope turns down).
- ``bullish_cross``: ``yhat2[t] > yhat1[t]`` and ``yhat2[t-1] <= yhat1[t-1]``;
  ``bearish_cross``: ``yhat2[t] < yhat1[t]`` and ``yhat2[t-1] >= yhat1[t-1]``.
- ``signal``: +1 on a bullish change, -1 on a bearish change, else 0 (the two cannot coincide).
  The reference's alert stream had the signs inverted (+1 on a bearish change); we follow the
  synergy notebooks (long on a bullish change). The reference's ``smooth_colors`` variant, which
  alerts on crosses instead, is read from the cross columns.

Numerics: the sums run over deviations from the newest input, ``yhat = x[t] + sum_i w_i *
(x[t-i] - x[t]) / sum_i w_i`` (the same estimate), so a flat window gives exactly ``x[t]`` and
rounding cannot fake a turn. Inputs must be finite; a non-finite input makes the estimates
non-finite while it is in the window (no flag fires on ``nan``), and they recover afterwards.

State: one float64 array (layout in the ``_`` constants below): parameters, bars seen, the
next ring slot, the previous ``yhat1`` (two bars) and ``yhat2``, both weight vectors (index =
age in bars) and the ring buffer of the last ``window`` inputs. Weights are computed once by
:func:`nwrqk_init_state`; the step kernel allocates nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["NWRQK_COLUMNS", "nwrqk_batch_nb", "nwrqk_init_state", "nwrqk_step_nb"]

Floats = npt.NDArray[np.float64]

NWRQK_COLUMNS = ("yhat1", "yhat2", "slope", "bullish_change", "bearish_change",
                 "bullish_cross", "bearish_cross", "signal")

# state: [window, h, h - lag, r, x0, count, next slot, yhat1[t-1], yhat1[t-2], yhat2[t-1],
#         w1[window], w2[window], ring[window]]
_WINDOW = 0
_H1 = 1
_H2 = 2
_R = 3
_X0 = 4
_COUNT = 5
_SLOT = 6
_PREV1 = 7
_PREV1_2 = 8
_PREV2 = 9
_HEADER = 10


def nwrqk_init_state(h: float = 8.0, r: float = 8.0, x0: int = 25, lag: float = 2.0,
                     window: int = 500) -> Floats:
    """Fresh NW-RQK state with the weights of both lines precomputed.

    Parameters
    ----------
    h : float
        Bandwidth of ``yhat1`` (> 0).
    r : float
        Relative weight of the rational-quadratic kernel (> 0).
    x0 : int
        First 0-based bar with an estimate (>= 0).
    lag : float
        ``yhat2`` uses bandwidth ``h - lag`` (0 <= lag < h).
    window : int
        Inputs in each weighted sum, newest first (>= 1).

    Examples
    --------
    >>> state, out = nwrqk_init_state(x0=2, window=3), np.zeros(len(NWRQK_COLUMNS))
    >>> for x in (3.0, 2.0, 1.0, 2.0, 3.0):  # yhat1 from bar 2: 1.9896, 1.665, 2.0104
    ...     nwrqk_step_nb(state, x, out)
    >>> dict(zip(NWRQK_COLUMNS, out.round(4).tolist()))  # doctest: +NORMALIZE_WHITESPACE
    {'yhat1': 2.0104, 'yhat2': 2.0184, 'slope': 0.3454, 'bullish_change': 1.0,
     'bearish_change': 0.0, 'bullish_cross': 1.0, 'bearish_cross': 0.0, 'signal': 1.0}
    """
    if not h > 0.0:
        raise ValueError(f"nwrqk h: expected > 0, was {h}")
    if not r > 0.0:
        raise ValueError(f"nwrqk r: expected > 0, was {r}")
    if not 0.0 <= lag < h:
        raise ValueError(f"nwrqk lag: expected 0 <= lag < h = {h}, was {lag}")
    if x0 < 0 or int(x0) != x0:
        raise ValueError(f"nwrqk x0: expected an integer >= 0, was {x0}")
    if window < 1 or int(window) != window:
        raise ValueError(f"nwrqk window: expected an integer >= 1, was {window}")
    window = int(window)
    state = np.zeros(_HEADER + 3 * window, dtype=np.float64)
    state[_WINDOW] = window
    state[_H1] = h
    state[_H2] = h - lag
    state[_R] = r
    state[_X0] = x0
    state[_PREV1] = state[_PREV1_2] = state[_PREV2] = np.nan
    age = np.arange(window, dtype=np.float64)
    for line, bandwidth in enumerate((h, h - lag)):
        start = _HEADER + line * window
        state[start:start + window] = (1.0 + age**2 / (2.0 * r * bandwidth**2)) ** -r
    return state


@njit(cache=True, inline="always")
def nwrqk_step_nb(state: Floats, x: float, out: Floats) -> None:
    """Add input ``x``; write the row of :data:`NWRQK_COLUMNS` for this bar into ``out``."""
    window = int(state[_WINDOW])
    ring = _HEADER + 2 * window
    slot = int(state[_SLOT])
    state[ring + slot] = x
    state[_SLOT] = slot + 1 if slot + 1 < window else 0
    count = state[_COUNT] + 1.0
    state[_COUNT] = count
    for j in range(3, 8):
        out[j] = 0.0
    out[2] = np.nan
    if count <= state[_X0]:
        out[0] = np.nan
        out[1] = np.nan
        return
    w1 = _HEADER
    w2 = _HEADER + window
    num1 = 0.0
    den1 = 0.0
    num2 = 0.0
    den2 = 0.0
    # Sums of deviations from the newest input x: yhat = x + sum(w * (y - x)) / sum(w) is the
    # same estimate, but a flat window gives exactly x (so rounding cannot fake a turn and fire a
    # signal), and the rounding error scales with the price moves, not the price level.
    # Newest first: ages 0..slot sit at slots slot..0; once the ring is full, the older ages
    # slot+1..window-1 sit at slots window-1..slot+1 (two plain loops: no wrap test inside).
    for i in range(slot + 1):
        y = state[ring + slot - i] - x
        a = state[w1 + i]
        b = state[w2 + i]
        num1 += a * y
        den1 += a
        num2 += b * y
        den2 += b
    if count > window:
        for i in range(slot + 1, window):
            y = state[ring + slot + window - i] - x
            a = state[w1 + i]
            b = state[w2 + i]
            num1 += a * y
            den1 += a
            num2 += b * y
            den2 += b
    yhat1 = x + num1 / den1
    yhat2 = x + num2 / den2
    prev1 = state[_PREV1]
    prev1_2 = state[_PREV1_2]
    prev2 = state[_PREV2]
    # the previous estimates are nan until defined, and every comparison with nan is false
    out[0] = yhat1
    out[1] = yhat2
    out[2] = yhat1 - prev1
    if prev1_2 > prev1 and prev1 < yhat1:
        out[3] = 1.0
        out[7] = 1.0
    if prev1_2 < prev1 and prev1 > yhat1:
        out[4] = 1.0
        out[7] = -1.0
    if yhat2 > yhat1 and prev2 <= prev1:
        out[5] = 1.0
    if yhat2 < yhat1 and prev2 >= prev1:
        out[6] = 1.0
    state[_PREV1_2] = prev1
    state[_PREV1] = yhat1
    state[_PREV2] = yhat2


@njit(cache=True)
def nwrqk_batch_nb(state: Floats, xs: Floats) -> Floats:
    """:func:`nwrqk_step_nb` over ``xs``: float64 ``(n, len(NWRQK_COLUMNS))``."""
    out = np.empty((xs.shape[0], 8), dtype=np.float64)
    for t in range(xs.shape[0]):
        nwrqk_step_nb(state, xs[t], out[t])
    return out
