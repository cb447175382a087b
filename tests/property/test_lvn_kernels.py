"""LVN kernels: incremental == batch at every prefix, snapshot/resume, no look-ahead, invariants.

Warm-up/NaN policy: every column is NaN for the first ``window - 1`` bars. From bar
``window - 1`` on, ``poc_price``, ``poc_volume`` and ``lvn_count`` are finite; the support and
resistance columns are NaN exactly when no node lies on that side of the close. All comparisons
are exact (NaN equals NaN): the step and batch kernels run the same code on the same state.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.indicators.lvn import (
    LVN_COLUMNS,
    LVN_N_OUT,
    lvn_batch_nb,
    lvn_init_state,
    lvn_step_nb,
)

COL = {name: j for j, name in enumerate(LVN_COLUMNS)}
windows = st.sampled_from([1, 2, 3, 5, 20])


@st.composite
def tick_bars(draw, max_bars=50):
    """``(high, low, close, volume, tick_size)`` on a tick grid; closes anywhere in the bar.

    One integer per bar encodes its low, span, close position and volume (one draw per bar
    instead of four keeps 500 examples fast); a drawn factor makes volumes non-integer.
    """
    n = draw(st.integers(1, max_bars))
    tick = draw(st.sampled_from([0.25, 0.01, 1.0]))
    cells = draw(arrays(np.int64, n, elements=st.integers(0, 41 * 11 * 101 * 1001 - 1)))
    low, cells = 4000 + cells % 41, cells // 41
    span, cells = cells % 11, cells // 11
    where, cells = cells % 101 / 100, cells // 101
    volume = cells * draw(st.floats(0.01, 100.0))
    return (low + span) * tick, low * tick, (low + where * span) * tick, volume, tick


def step_all(state, high, low, close, volume):
    rows = np.empty((close.size, LVN_N_OUT))
    for i in range(close.size):
        lvn_step_nb(state, high[i], low[i], close[i], volume[i], rows[i])
    return rows


@given(bars=tick_bars(), window=windows, cut=st.integers(0, 50))
def test_lvn_incremental_matches_batch_and_resumes_from_a_copied_state(bars, window, cut):
    *ohlcv, tick = bars
    batch = lvn_batch_nb(lvn_init_state(tick, window=window), *ohlcv)
    np.testing.assert_array_equal(step_all(lvn_init_state(tick, window=window), *ohlcv), batch)
    cut = min(cut, batch.shape[0])
    state = lvn_init_state(tick, window=window)
    head = lvn_batch_nb(state, *(x[:cut] for x in ohlcv))
    np.testing.assert_array_equal(head, batch[:cut])  # the batch of a prefix is a prefix
    snapshot = state.copy()
    lvn_batch_nb(state, *(x[cut:] for x in ohlcv))  # the original runs on, the copy is untouched
    tail = step_all(snapshot, *(x[cut:] for x in ohlcv))
    np.testing.assert_array_equal(np.concatenate([head, tail]), batch)


@given(bars=tick_bars(), window=windows, t=st.integers(0, 50), shift=st.integers(-20, 20))
def test_lvn_outputs_never_depend_on_later_bars(bars, window, t, shift):
    *ohlcv, tick = bars
    t = min(t, ohlcv[0].size - 1)
    high, low, close, volume = (x.copy() for x in ohlcv)
    for x in (high, low, close):  # bars after t: reversed, shifted by whole ticks
        x[t + 1 :] = x[t + 1 :][::-1] + shift * tick
    volume[t + 1 :] = volume[t + 1 :][::-1] * 3.0 + 1.0
    first = lvn_batch_nb(lvn_init_state(tick, window=window), *ohlcv)
    second = lvn_batch_nb(lvn_init_state(tick, window=window), high, low, close, volume)
    np.testing.assert_array_equal(first[: t + 1], second[: t + 1])


@given(bars=tick_bars(), window=windows, threshold=st.sampled_from([0.1, 0.3, 0.7]))
def test_lvn_invariants(bars, window, threshold):
    *ohlcv, tick = bars
    close = ohlcv[2]
    out = lvn_batch_nb(lvn_init_state(tick, window=window, threshold=threshold), *ohlcv)
    assert np.isnan(out[: window - 1]).all()
    live = out[window - 1 :]
    c = close[window - 1 :]
    assert np.isfinite(live[:, COL["poc_price"] :]).all()
    support, resistance = live[:, COL["support_price"]], live[:, COL["resistance_price"]]
    has_s, has_r = ~np.isnan(support), ~np.isnan(resistance)
    assert (support[has_s] <= c[has_s]).all() and (resistance[has_r] > c[has_r]).all()
    np.testing.assert_array_equal(live[has_s, COL["support_distance_points"]],
                                  c[has_s] - support[has_s])
    np.testing.assert_array_equal(live[has_r, COL["resistance_distance_points"]],
                                  resistance[has_r] - c[has_r])
    for side in ("support", "resistance"):
        strength = live[:, COL[f"{side}_strength"]]
        ok = ~np.isnan(strength)
        assert (strength[ok] > 100.0 * (1.0 - threshold)).all() and (strength[ok] <= 100.0).all()
        assert (np.isnan(live[:, COL[f"{side}_distance_points"]]) == ~ok).all()
    assert (live[:, COL["lvn_count"]] >= has_s.astype(int) + has_r.astype(int)).all()
    # bins are multiples of the tick: LVN and POC prices lie on the grid
    for prices in (support[has_s], resistance[has_r], live[:, COL["poc_price"]]):
        np.testing.assert_allclose(prices / tick, np.round(prices / tick), rtol=0, atol=1e-6)
