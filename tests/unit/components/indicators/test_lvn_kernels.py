"""LVN kernels against a brute-force per-bin oracle; the node, strength and price rules by hand.

Oracle: at every bar, rebuild the volume profile of the last ``window`` bars as a dense numpy
array over the window's bins (``np.add.at``, bar by bar, oldest first), split it into runs of
equal bins, and apply the rules of the kernel's docstring plainly: a run is a node when it is
strictly lower than the bins on both sides (0 outside the window's range) and than
``threshold`` times the maximum; the POC is the first maximal run; prices are run middles.
The kernel never builds that array (it sums per segment between box edges), yet does the same
additions in the same order, so the comparison is exact, NaN positions included.

Warm-up: every column is NaN for the first ``window - 1`` bars; afterwards the POC columns and
the count are finite and a side with no node is NaN.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.indicators.lvn import LVN_COLUMNS, LVN_N_OUT, lvn_batch_nb, lvn_init_state

ROOT = Path(__file__).resolve().parents[4]
COL = {name: j for j, name in enumerate(LVN_COLUMNS)}


def oracle(high, low, close, volume, tick_size, bin_size=None, window=20, threshold=0.3,
           rows=None):
    """Brute-force LVN outputs at ``rows`` (default: every bar); NaN elsewhere."""
    m = round((bin_size or tick_size) / tick_size)
    lo = np.floor(low / tick_size + 0.5).astype(np.int64) // m
    hi = np.floor(high / tick_size + 0.5).astype(np.int64) // m
    per_bin = volume / (hi - lo + 1)
    inverse = 1.0 / tick_size

    def price(bins):
        ticks = (bins * m).astype(np.float64)
        if inverse == round(inverse):
            return ticks / round(inverse)
        return ticks * tick_size

    out = np.full((close.size, LVN_N_OUT), np.nan)
    for t in range(window - 1, close.size) if rows is None else rows:
        w = slice(t - window + 1, t + 1)
        base = lo[w].min()
        profile = np.zeros(hi[w].max() - base + 1)
        bins = np.concatenate([np.arange(a, b + 1) for a, b in zip(lo[w], hi[w], strict=True)])
        np.add.at(profile, bins - base, np.repeat(per_bin[w], hi[w] - lo[w] + 1))
        first = np.flatnonzero(np.r_[True, profile[1:] != profile[:-1]])
        last = np.r_[first[1:] - 1, profile.size - 1]
        vol = profile[first]
        middle = base + first + (last - first) // 2
        poc = np.argmax(vol)
        padded = np.r_[0.0, vol, 0.0]
        node = (vol < padded[:-2]) & (vol < padded[2:]) & (vol < threshold * vol[poc])
        prices = price(middle[node])
        strengths = 100.0 * (1.0 - vol[node] / vol[poc])
        below = prices <= close[t]
        row = out[t]
        if below.any():
            j = np.flatnonzero(below)[-1]
            row[0:3] = prices[j], strengths[j], close[t] - prices[j]
        if (~below).any():
            j = np.flatnonzero(~below)[0]
            row[3:6] = prices[j], strengths[j], prices[j] - close[t]
        row[6:9] = price(middle[poc : poc + 1])[0], vol[poc], node.sum()
    return out


@st.composite
def tick_bars(draw):
    """Bars on a tick grid (prices as ``ticks * tick_size``, so not always exact doubles).

    One integer per bar encodes its low, span, close position and volume; a drawn factor makes
    volumes non-integer.
    """
    n = draw(st.integers(1, 60))
    tick = draw(st.sampled_from([0.25, 0.01, 1.0, 5.0]))
    cells = draw(arrays(np.int64, n, elements=st.integers(0, 31 * 9 * 101 * 1001 - 1)))
    low, cells = 1000 + cells % 31, cells // 31
    span, cells = cells % 9, cells // 9
    where, cells = cells % 101 / 100, cells // 101
    volume = cells * draw(st.sampled_from([1.0, 0.37, 13.1]))
    close = low + where * span
    if draw(st.booleans()):  # closes on the grid too, so some sit exactly on a node
        close = np.round(close)
    return (low + span) * tick, low * tick, close * tick, volume, tick


@given(bars=tick_bars(), window=st.sampled_from([1, 2, 3, 5, 20]),
       ticks_per_bin=st.sampled_from([1, 2, 3]), threshold=st.sampled_from([0.0, 0.3, 0.5, 1.0]))
def test_lvn_matches_oracle_on_random_tick_grid_bars(bars, window, ticks_per_bin, threshold):
    high, low, close, volume, tick = bars
    params = {"bin_size": ticks_per_bin * tick, "window": window, "threshold": threshold}
    ours = lvn_batch_nb(lvn_init_state(tick, **params), high, low, close, volume)
    np.testing.assert_array_equal(ours, oracle(high, low, close, volume, tick, **params))


def read(name):
    frame = pd.read_csv(ROOT / "data" / name)
    return tuple(frame[c].to_numpy(np.float64) for c in ("high", "low", "close", "volume"))


@pytest.mark.parametrize(("bin_size", "window"), [(0.25, 20), (1.0, 20), (0.25, 5)])
def test_lvn_matches_oracle_on_es_30min(bin_size, window):
    bars = read("es_30min_2013-09.csv")
    ours = lvn_batch_nb(lvn_init_state(0.25, bin_size, window), *bars)
    np.testing.assert_array_equal(ours, oracle(*bars, 0.25, bin_size, window))
    assert np.isnan(ours[: window - 1]).all()
    assert np.isfinite(ours[window - 1 :, COL["poc_price"]]).all()
    assert np.nanmax(ours[:, COL["lvn_count"]]) >= 1  # real profiles do have nodes


@pytest.mark.parametrize(("bin_size", "step"), [(0.01, 150), (10.0, 20)])
def test_lvn_matches_oracle_on_btc_hourly(bin_size, step):
    """Tick 0.01: up to 625,065 bins in one 20-bar window, the state stays 7 + 11 * 20 floats."""
    high, low, close, volume = read("btcusd_1h_coinbase_2017-2019.csv")
    state = lvn_init_state(0.01, bin_size)
    assert state.size == 7 + 11 * 20
    ours = lvn_batch_nb(state, high, low, close, volume)
    ticks_lo = pd.Series(np.floor(low / 0.01 + 0.5)).rolling(20).min()
    span = (pd.Series(np.floor(high / 0.01 + 0.5)).rolling(20).max() - ticks_lo + 1).to_numpy()
    widest = int(np.nanargmax(span))
    if bin_size == 0.01:
        assert span[widest] == 625_065
    rows = sorted({*range(19, close.size, step), widest})
    expected = oracle(high, low, close, volume, 0.01, bin_size, rows=rows)
    np.testing.assert_array_equal(ours[rows], expected[rows])
    assert np.isfinite(ours[19:, COL["poc_volume"]]).all()
    assert (ours[19:, COL["lvn_count"]] > 0).mean() > 0.3


def last_row(bars, close, window=None, tick_size=1.0, **params):
    high, low, volume = (np.array(x, dtype=np.float64) for x in zip(*bars, strict=True))
    closes = np.full(high.size, close, dtype=np.float64)
    state = lvn_init_state(tick_size, window=window or high.size, **params)
    return dict(zip(LVN_COLUMNS, lvn_batch_nb(state, high, low, closes, volume)[-1].tolist(),
                    strict=True))


# (high, low, volume) bars on a 1-point grid; volume per bin = volume / bins covered
VALLEY = [(8.0, 0.0, 9.0), (2.0, 0.0, 30.0), (8.0, 6.0, 30.0)]  # 11 11 11 1 1 1 11 11 11


def test_lvn_plateau_is_one_node_at_its_middle_bin():
    row = last_row(VALLEY, close=7.0)
    assert row["lvn_count"] == 1
    assert row["support_price"] == 4.0
    assert row["support_distance_points"] == 3.0
    assert row["support_strength"] == pytest.approx(100.0 * (1 - 1 / 11))
    assert np.isnan(row["resistance_price"])
    even = last_row([(9.0, 0.0, 10.0), (2.0, 0.0, 30.0), (9.0, 7.0, 30.0)], close=0.0)
    assert even["resistance_price"] == 4.0  # bins 3..6: the lower middle
    assert even["resistance_distance_points"] == 4.0


def test_lvn_poc_ties_go_to_the_lowest_run_and_report_its_middle():
    row = last_row(VALLEY, close=7.0)
    assert (row["poc_price"], row["poc_volume"]) == (1.0, 11.0)


def test_lvn_close_on_a_node_makes_it_support_at_distance_zero():
    row = last_row(VALLEY, close=4.0)
    assert (row["support_price"], row["support_distance_points"]) == (4.0, 0.0)
    assert np.isnan(row["resistance_price"])
    below = last_row(VALLEY, close=3.75)
    assert (below["resistance_price"], below["resistance_distance_points"]) == (4.0, 0.25)


def test_lvn_needs_strictly_higher_bins_on_both_sides():
    # 10 10 10 4 4 4 0 0 0: the last run sits on the window's edge (0 outside), no valley
    row = last_row([(2.0, 0.0, 30.0), (5.0, 3.0, 12.0), (8.0, 6.0, 0.0)], close=4.0)
    assert row["lvn_count"] == 0
    assert np.isnan(row["support_price"]) and np.isnan(row["resistance_price"])


def test_lvn_threshold_is_a_fraction_of_poc_volume():
    bars = [(8.0, 0.0, 27.0), (2.0, 0.0, 24.0), (8.0, 6.0, 24.0)]  # 11 11 11 3 3 3 11 11 11
    assert last_row(bars, close=0.0)["lvn_count"] == 1  # 3 < 0.3 * 11
    assert last_row(bars, close=0.0, threshold=0.25)["lvn_count"] == 0
    assert last_row(bars, close=0.0, threshold=0.0)["lvn_count"] == 0


def test_lvn_price_gap_is_a_full_strength_node_and_nodes_split_by_the_close():
    # 10 10 10 0 0 0 10 10 10 0 5 5 5: price gaps at bins 3..5 and bin 9
    bars = [(2.0, 0.0, 30.0), (8.0, 6.0, 30.0), (12.0, 10.0, 15.0)]
    row = last_row(bars, close=6.0)
    assert row["lvn_count"] == 2
    assert (row["support_price"], row["support_strength"]) == (4.0, 100.0)
    assert (row["resistance_price"], row["resistance_strength"]) == (9.0, 100.0)
    assert row["resistance_distance_points"] == 3.0


def test_lvn_coarse_bins_report_their_lower_edge():
    # tick 0.25, bins of 1.0: 100.25..100.75 fall in bin 100, 103.5 in bin 103
    bars = [(101.75, 100.25, 20.0), (104.0, 103.5, 20.0)]
    row = last_row(bars, close=104.0, tick_size=0.25, bin_size=1.0)
    assert (row["support_price"], row["poc_price"]) == (102.0, 100.0)


def test_lvn_decimal_grid_prices_are_the_decimal_values():
    bars = [(2505.02, 2505.00, 3.0), (2505.08, 2505.06, 3.0)]
    row = last_row(bars, close=2505.08, tick_size=0.01)
    assert row["support_price"] == 2505.04
    assert row["support_distance_points"] == 2505.08 - 2505.04
    assert row["poc_price"] == 2505.01


def test_lvn_warm_up_is_nan_until_window_bars():
    high = np.array([2.0, 8.0, 8.0, 9.0])
    low = np.array([0.0, 0.0, 6.0, 1.0])
    out = lvn_batch_nb(lvn_init_state(1.0, window=3), high, low, high, np.full(4, 10.0))
    assert np.isnan(out[:2]).all()
    assert np.isfinite(out[2:, COL["poc_price"] :]).all()


@pytest.mark.parametrize(("high", "low", "close", "volume"), [
    (np.nan, 1.0, 1.0, 1.0), (1.0, 2.0, 1.0, 1.0), (2.0, 1.0, np.inf, 1.0), (2.0, 1.0, 1.0, -1.0),
])
def test_lvn_step_rejects_invalid_bars(high, low, close, volume):
    with pytest.raises(ValueError, match="lvn bar"):
        lvn_batch_nb(lvn_init_state(1.0), *(np.array([x]) for x in (high, low, close, volume)))


@pytest.mark.parametrize(("args", "match"), [
    ((0.0,), "tick_size"), ((np.nan,), "tick_size"), ((0.25, 0.3), "bin_size"),
    ((0.25, 0.0), "bin_size"), ((0.25, None, 0), "window"), ((0.25, None, 20, 1.5), "threshold"),
])
def test_lvn_init_state_validates_parameters(args, match):
    with pytest.raises(ValueError, match=match):
        lvn_init_state(*args)
