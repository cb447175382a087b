"""NW-RQK kernels against a direct oracle, on real closes and on random series.

Oracle (written independently of the kernel): for every bar ``t >= x0`` the weighted mean of the
full input prefix cut to the last ``window`` bars, ``x[t::-1][:window]``, with weights
``(1 + i**2 / (2 r h**2)) ** -r`` from ``np.arange`` (the reference's ``calculate_nw_regression``
loop with the window bound of docs/design.md section 4). Slope and signals follow the reference's
pandas
``shift`` formulas. Warm-up: ``yhat1``/``yhat2`` ``nan`` before bar ``x0``, ``slope`` ``nan``
before ``x0 + 1``; flags and ``signal`` 0 until defined (crosses from ``x0 + 1``, changes from
``x0 + 2``).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.indicators.nwrqk import (
    NWRQK_COLUMNS,
    nwrqk_batch_nb,
    nwrqk_init_state,
    nwrqk_step_nb,
)

DATA = Path(__file__).resolve().parents[4] / "data"
COL = {name: j for j, name in enumerate(NWRQK_COLUMNS)}
FLAGS = ("bullish_change", "bearish_change", "bullish_cross", "bearish_cross", "signal")


def closes(name: str, n: int | None = None) -> np.ndarray:
    return pd.read_csv(DATA / name, usecols=["close"], nrows=n)["close"].to_numpy(np.float64)


def oracle_yhat(xs, h, r, x0, window):
    out = np.full(xs.shape[0], np.nan)
    for t in range(x0, xs.shape[0]):
        y = xs[t::-1][:window]  # newest first
        w = (1.0 + np.arange(y.shape[0]) ** 2 / (2.0 * r * h**2)) ** -r
        out[t] = np.sum(w * y) / np.sum(w)
    return out


def oracle_signals(yhat1, yhat2):
    """The reference's shift formulas (comparisons with nan are false, so warm-up gives 0)."""
    y1, y2 = pd.Series(yhat1), pd.Series(yhat2)
    bullish_change = (y1.shift(2) > y1.shift(1)) & (y1.shift(1) < y1)
    bearish_change = (y1.shift(2) < y1.shift(1)) & (y1.shift(1) > y1)
    bullish_cross = (y2 > y1) & (y2.shift(1) <= y1.shift(1))
    bearish_cross = (y2 < y1) & (y2.shift(1) >= y1.shift(1))
    return {
        "bullish_change": bullish_change.to_numpy(float),
        "bearish_change": bearish_change.to_numpy(float),
        "bullish_cross": bullish_cross.to_numpy(float),
        "bearish_cross": bearish_cross.to_numpy(float),
        "signal": bullish_change.to_numpy(float) - bearish_change.to_numpy(float),
    }


def oracle(xs, h=8.0, r=8.0, x0=25, lag=2.0, window=500):
    yhat1 = oracle_yhat(xs, h, r, x0, window)
    yhat2 = oracle_yhat(xs, h - lag, r, x0, window)
    return {"yhat1": yhat1, "yhat2": yhat2, "slope": np.diff(yhat1, prepend=np.nan),
            **oracle_signals(yhat1, yhat2)}


def assert_matches_oracle(out, ref, xs):
    scale = np.max(np.abs(xs)) if xs.size else 1.0
    for name in ("yhat1", "yhat2"):
        np.testing.assert_allclose(out[:, COL[name]], ref[name], rtol=1e-12,
                                   atol=1e-12 * scale, err_msg=name)
    # a difference of two estimates: its error is relative to the price, not to itself
    np.testing.assert_allclose(out[:, COL["slope"]], ref["slope"], rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize(("name", "n"), [("es_30min_2013-09.csv", None),
                                         ("btcusd_1h_coinbase_2017-2019.csv", 1500)])
def test_nwrqk_matches_oracle_on_real_closes(name, n):
    """Default parameters; 1,500 BTC bars exercise the 500-bar window, ES (77 bars) the prefix."""
    xs = closes(name, n)
    out = nwrqk_batch_nb(nwrqk_init_state(), xs)
    ref = oracle(xs)
    np.testing.assert_allclose(out[:, COL["yhat1"]], ref["yhat1"], rtol=1e-12)
    np.testing.assert_allclose(out[:, COL["yhat2"]], ref["yhat2"], rtol=1e-12)
    assert_matches_oracle(out, ref, xs)
    # real prices leave no near-ties, so the signals of the two computations agree exactly
    for flag in FLAGS:
        np.testing.assert_array_equal(out[:, COL[flag]], ref[flag], err_msg=flag)
    changes = out[:, COL["bullish_change"]] + out[:, COL["bearish_change"]]
    assert changes.sum() > 2  # the signals fire on real data


@given(
    xs=arrays(np.float64, st.integers(0, 80),
              elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)),
    h=st.floats(0.5, 20.0), r=st.floats(0.1, 20.0), lag_fraction=st.floats(0.0, 0.9),
    x0=st.integers(0, 10), window=st.integers(1, 40),
)
def test_nwrqk_matches_oracle_on_random_series(xs, h, r, lag_fraction, x0, window):
    """Values against the oracle; flags from the oracle's formulas applied to the kernel's own
    estimates (two summation orders may break a near-tie differently, so an independent estimate
    cannot decide the flags bit for bit)."""
    lag = lag_fraction * h
    out = nwrqk_batch_nb(nwrqk_init_state(h, r, x0, lag, window), xs)
    assert out.shape == (xs.shape[0], len(NWRQK_COLUMNS))
    assert_matches_oracle(out, oracle(xs, h, r, x0, lag, window), xs)
    own = oracle_signals(out[:, COL["yhat1"]], out[:, COL["yhat2"]])
    for flag in FLAGS:
        np.testing.assert_array_equal(out[:, COL[flag]], own[flag], err_msg=flag)


def test_warm_up_policy():
    """Estimates from bar x0, slope and crosses from x0 + 1, changes from x0 + 2; finite after."""
    xs = closes("es_30min_2013-09.csv")
    out = nwrqk_batch_nb(nwrqk_init_state(x0=25), xs)
    assert np.isnan(out[:25, :3]).all()
    assert np.isfinite(out[25:, :2]).all()
    assert np.isnan(out[25, COL["slope"]])
    assert np.isfinite(out[26:, COL["slope"]]).all()
    assert (out[:26, 3:] == 0.0).all()
    assert (out[:27, COL["bullish_change"]] == 0.0).all()
    # bar x0 averages all x0 + 1 inputs: the reference's x0 is a warm-up, not a window
    first = oracle_yhat(xs[:26], 8.0, 8.0, 0, 26)[-1]
    assert out[25, COL["yhat1"]] == pytest.approx(first, rel=1e-12)


def test_window_of_one_is_the_input():
    xs = closes("es_30min_2013-09.csv")
    out = nwrqk_batch_nb(nwrqk_init_state(x0=0, window=1), xs)
    np.testing.assert_array_equal(out[:, COL["yhat1"]], xs)
    np.testing.assert_array_equal(out[:, COL["yhat2"]], xs)


def test_signal_is_plus_one_on_a_bullish_change_and_minus_one_on_a_bearish_change():
    xs = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0])
    out = nwrqk_batch_nb(nwrqk_init_state(x0=0, window=1), xs)
    signal = out[:, COL["signal"]]
    np.testing.assert_array_equal(np.flatnonzero(signal), [5, 9])
    assert signal[5] == 1.0 and out[5, COL["bullish_change"]] == 1.0
    assert signal[9] == -1.0 and out[9, COL["bearish_change"]] == 1.0


def test_flat_input_fires_nothing():
    out = nwrqk_batch_nb(nwrqk_init_state(x0=3, window=10), np.full(50, 1234.25))
    np.testing.assert_array_equal(out[3:, COL["yhat1"]], 1234.25)
    assert (out[:, 3:] == 0.0).all()


def test_step_writes_every_column():
    state, row = nwrqk_init_state(x0=0, window=5), np.full(len(NWRQK_COLUMNS), 7.0)
    nwrqk_step_nb(state, 100.0, row)
    assert row.tolist()[:2] == [100.0, 100.0]
    assert np.isnan(row[COL["slope"]]) and (row[3:] == 0.0).all()


def test_init_state_layout_and_weights():
    state = nwrqk_init_state(window=500)
    assert state.dtype == np.float64 and state.shape == (10 + 3 * 500,)
    w1, w2 = state[10:510], state[510:1010]
    i = np.arange(500)
    np.testing.assert_allclose(w1, (1 + i**2 / (2 * 8 * 8**2)) ** -8.0, rtol=1e-15)
    np.testing.assert_allclose(w2, (1 + i**2 / (2 * 8 * 6**2)) ** -8.0, rtol=1e-15)


@pytest.mark.parametrize("kwargs", [{"h": 0.0}, {"r": -1.0}, {"lag": 8.0}, {"lag": -1.0},
                                    {"x0": -1}, {"x0": 2.5}, {"window": 0}, {"h": float("nan")}])
def test_init_state_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError, match="expected"):
        nwrqk_init_state(**kwargs)
