"""MLMI kernels against a brute-force numpy oracle: real data, random data, ties, eviction.

The oracle (:func:`mlmi_oracle`) is written from the formulas: WMA and Wilder RSI as causal
formulas in the kernels' order of float operations (so crossovers and distance ties come out
bit-identical; :func:`test_oracle_features_match_talib` checks the formulas against TA-Lib),
crossovers from numpy comparisons, and for every bar the memory rebuilt from scratch out of
the crossovers up to that bar (last ``capacity`` kept), all distances sorted with
``np.argsort(kind="stable")`` over the points ordered newest first (equal distances: newer
first). Warm-up policy: ``nan`` values and 0 flags until defined, exactly as the oracle.
The grid index of the kNN vote is checked against the same brute force (:func:`knn_oracle`)
with points and queries outside the grid, equal distances across cells, tiny grids and
wrapped rings, and its lists against the ring they index.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.indicators.mlmi import MLMI_COLUMNS, mlmi_batch_nb, mlmi_init_state
from components.indicators.mlmi.kernels import (
    _AT_INDEX,
    _AT_MEMORY,
    _CAPACITY,
    _COUNT,
    _GRID,
    _HEAD,
    _select_nb,
    _store_nb,
    _vote_nb,
)

ROOT = Path(__file__).resolve().parents[4]
DEFAULTS = {"neighbors": 200, "capacity": 10_000, "ma_fast_period": 5, "ma_slow_period": 20,
            "rsi_fast_period": 5, "rsi_slow_period": 20, "feature_period": 20}


def closes(name):
    return pd.read_csv(ROOT / "data" / name)["close"].to_numpy(np.float64)


def wma(x, period):
    """Weights 1..period, oldest first (the kernel's summation order); nan until defined."""
    out = np.full(x.shape[0], np.nan)
    m = x.shape[0] - period + 1
    if m > 0:
        total = np.zeros(m)
        for j in range(period):
            total = total + (j + 1.0) * x[j:j + m]
        out[period - 1:] = total / (period * (period + 1) / 2.0)
    return out


def rsi(x, period):
    """Wilder: seed = mean of the first ``period`` changes (value at index period)."""
    out = np.full(x.shape[0], np.nan)
    gain = loss = 0.0
    for i in range(1, x.shape[0]):
        change = x[i] - x[i - 1]
        up = change if change > 0.0 else 0.0
        down = -change if change < 0.0 else 0.0
        if i < period:
            gain += up
            loss += down
            continue
        if i == period:
            gain, loss = (gain + up) / period, (loss + down) / period
        else:
            gain = (gain * (period - 1.0) + up) / period
            loss = (loss * (period - 1.0) + down) / period
        out[i] = 100.0 * gain / (gain + loss) if gain + loss != 0.0 else 0.0
    return out


def wma_of_defined(x, period):
    out = np.full(x.shape[0], np.nan)
    first = np.flatnonzero(~np.isnan(x))
    if first.size:
        out[first[0]:] = wma(x[first[0]:], period)
    return out


def features(close, p):
    ma_fast = wma(close, p["ma_fast_period"])
    ma_slow = wma(close, p["ma_slow_period"])
    x1 = wma_of_defined(rsi(close, p["rsi_slow_period"]), p["feature_period"])
    x2 = wma_of_defined(rsi(close, p["rsi_fast_period"]), p["feature_period"])
    return ma_fast, ma_slow, x1, x2


def knn_oracle(x1s, x2s, labels, q1, q2, k):
    """Points given newest first; stable argsort keeps the newer of equal distances first."""
    d = (x1s - q1) ** 2 + (x2s - q2) ** 2
    return float(labels[np.argsort(d, kind="stable")[:k]].sum())


def mlmi_oracle(close, **params):
    p = DEFAULTS | params
    n = close.shape[0]
    ma_fast, ma_slow, x1, x2 = features(close, p)
    direction = np.zeros(n)
    with np.errstate(invalid="ignore"):
        up = (ma_fast[1:] > ma_slow[1:]) & (ma_fast[:-1] <= ma_slow[:-1])
        down = (ma_fast[1:] < ma_slow[1:]) & (ma_fast[:-1] >= ma_slow[:-1])
    direction[1:] = up.astype(float) - down.astype(float)
    at = np.flatnonzero((direction != 0) & ~np.isnan(x1) & ~np.isnan(x2))  # stored bars
    labels = np.zeros(at.shape[0])  # the first point 0, then close vs the previous stored close
    labels[1:] = np.where(close[at[1:]] >= close[at[:-1]], 1.0, -1.0)
    out = np.zeros((n, len(MLMI_COLUMNS)))
    out[:, 5:] = np.column_stack([ma_fast, ma_slow, x1, x2])
    for t in range(n):
        m = np.searchsorted(at, t, side="right")  # points stored up to and including bar t
        memory = np.arange(max(0, m - p["capacity"]), m)[::-1]  # the last capacity, newest first
        out[t, 2] = memory.shape[0]
        if m and at[m - 1] == t:
            out[t, 3], out[t, 4] = direction[t], labels[m - 1]
        if not (np.isnan(x1[t]) or np.isnan(x2[t])):
            bars = at[memory]
            out[t, 0] = knn_oracle(x1[bars], x2[bars], labels[memory], x1[t], x2[t],
                                   p["neighbors"])
        else:
            out[t, 0] = np.nan
    value, before = out[1:, 0], out[:-1, 0]
    with np.errstate(invalid="ignore"):
        out[1:, 1] = ((before <= 0) & (value > 0)).astype(float) - ((before >= 0) & (value < 0))
    return out


def run(close, **params):
    return mlmi_batch_nb(mlmi_init_state(**(DEFAULTS | params)), close)


def test_oracle_features_match_talib():
    close = closes("btcusd_1h_coinbase_2017-2019.csv")[:3000]
    ma_fast, ma_slow, x1, x2 = features(close, DEFAULTS)
    np.testing.assert_allclose(ma_fast, talib.WMA(close, 5), rtol=1e-12)
    np.testing.assert_allclose(ma_slow, talib.WMA(close, 20), rtol=1e-12)
    np.testing.assert_allclose(x1, talib.WMA(talib.RSI(close, 20), 20), rtol=1e-9)
    np.testing.assert_allclose(x2, talib.WMA(talib.RSI(close, 5), 20), rtol=1e-9)


@pytest.mark.parametrize(("name", "bars", "params"), [
    ("es_30min_2013-09.csv", None, {}),
    ("btcusd_1h_coinbase_2017-2019.csv", 6000, {}),
    # eviction with a full ring; k well below the memory
    ("btcusd_1h_coinbase_2017-2019.csv", None, {"capacity": 50, "neighbors": 7}),
    # eviction, and a memory far above k
    ("btcusd_1h_coinbase_2017-2019.csv", None, {"capacity": 400, "neighbors": 20}),
    # the same through coarse and fine grids, and a single cell
    ("btcusd_1h_coinbase_2017-2019.csv", None, {"capacity": 400, "neighbors": 20, "grid": 3}),
    ("btcusd_1h_coinbase_2017-2019.csv", 6000, {"grid": 250}),
    ("btcusd_1h_coinbase_2017-2019.csv", 3000, {"neighbors": 50, "grid": 1}),
], ids=["es-defaults", "btc-defaults", "btc-capacity50-k7", "btc-capacity400-k20",
        "btc-capacity400-k20-grid3", "btc-grid250", "btc-k50-grid1"])
def test_matches_oracle_on_real_data(name, bars, params):
    close = closes(name)[:bars]
    out = run(close, **params)
    np.testing.assert_array_equal(out, mlmi_oracle(close, **params))
    capacity = (DEFAULTS | params)["capacity"]
    assert out[:, 3].any()
    if close.shape[0] > 1000:
        assert out[-1, 2] == min(capacity, np.count_nonzero(out[:, 3]))
        assert np.count_nonzero(out[:, 1]) > 10
    if capacity < 1000:
        assert np.count_nonzero(out[:, 3]) > 3 * capacity  # the ring wrapped several times


def test_warm_up_with_default_periods():
    out = run(closes("btcusd_1h_coinbase_2017-2019.csv")[:300])
    first = {c: int(np.flatnonzero(~np.isnan(out[:, MLMI_COLUMNS.index(c)]))[0])
             for c in ("value", "ma_fast", "ma_slow", "x1", "x2")}
    assert first == {"value": 39, "ma_fast": 4, "ma_slow": 19, "x1": 39, "x2": 24}
    assert not out[:39, 1:5].any()
    assert np.all(np.isfinite(out[39:]))


closes_or_ticks = st.one_of(
    arrays(np.float64, st.integers(1, 90), elements=st.floats(1.0, 1e4)),
    arrays(np.float64, st.integers(1, 90), elements=st.sampled_from([1.0, 2.0, 3.0, 4.0])),  # ties
)
small_params = st.fixed_dictionaries({
    "neighbors": st.integers(1, 6), "capacity": st.integers(1, 40),
    "ma_fast_period": st.sampled_from([1, 2, 3]), "ma_slow_period": st.sampled_from([2, 4, 6]),
    "rsi_fast_period": st.sampled_from([1, 2, 3]), "rsi_slow_period": st.sampled_from([3, 5]),
    "feature_period": st.sampled_from([1, 2, 3]), "grid": st.integers(1, 9),
})


@given(close=closes_or_ticks, params=small_params, cut=st.integers(0, 90))
def test_matches_oracle_on_random_data(close, params, cut):
    """Exact at every bar; the oracle on a prefix is the oracle's rows of that prefix."""
    expected = mlmi_oracle(close, **params)
    np.testing.assert_array_equal(run(close, **params), expected)
    cut = min(cut, close.shape[0])
    np.testing.assert_array_equal(mlmi_oracle(close[:cut], **params), expected[:cut])


def memory_with(points, labels, neighbors, capacity, grid=None):
    state = mlmi_init_state(neighbors=neighbors, capacity=capacity,
                            **({} if grid is None else {"grid": grid}))
    for (a, b), label in zip(points, labels, strict=True):
        _store_nb(state, a, b, label)
    return state


def stored(n, coordinates, labels):
    return st.tuples(arrays(np.float64, (n, 2), elements=coordinates),
                     arrays(np.float64, n, elements=labels))


grid = st.integers(1, 70).flatmap(
    lambda n: stored(n, st.sampled_from([0.0, 1.0, 2.0, 3.0]), st.sampled_from([-1.0, 0.0, 1.0])))


@given(memory=grid, neighbors=st.integers(1, 12), capacity=st.integers(1, 60),
       query=st.tuples(st.integers(0, 3), st.integers(0, 3)))
def test_vote_ties_go_to_the_newest_point(memory, neighbors, capacity, query):
    """Points on a 4x4 grid: many equal distances, a wrapped ring."""
    points, labels = memory
    state = memory_with(points, labels, neighbors, capacity)
    kept, kept_labels = points[-capacity:][::-1], labels[-capacity:][::-1]  # newest first
    expected = knn_oracle(kept[:, 0], kept[:, 1], kept_labels, *query, neighbors)
    assert _vote_nb(state, float(query[0]), float(query[1])) == expected


unit_circle = st.integers(1, 60).flatmap(
    lambda n: stored(n, st.sampled_from([-1.0, 0.0, 1.0]), st.sampled_from([-1.0, 1.0])))


@given(memory=unit_circle, neighbors=st.integers(1, 30), capacity=st.integers(1, 50))
def test_vote_of_equidistant_points_is_the_newest_labels(memory, neighbors, capacity):
    """Every point at distance 1 from the query: the newest ``neighbors`` kept points vote."""
    points, labels = memory
    points[:, 1] = np.where(points[:, 0] == 0.0, 1.0, 0.0)  # (+-1, 0) or (0, 1)
    state = memory_with(points, labels, neighbors, capacity)
    assert _vote_nb(state, 0.0, 0.0) == labels[-capacity:][-neighbors:].sum()


def kept_newest_first(points, labels, capacity):
    return points[-capacity:][::-1], labels[-capacity:][::-1]


# coordinates over [-10, 110]^2: the grid covers [0, 100]^2, points beyond go to edge cells
spread = st.integers(1, 80).flatmap(
    lambda n: stored(n, st.floats(-10.0, 110.0), st.sampled_from([-1.0, 0.0, 1.0])))
# a lattice of step 10 (cell edges and centres for most grids): many equal distances, from
# points in different cells, and points on cell edges
lattice = st.integers(-1, 11).map(lambda i: 10.0 * i)
quantised = st.integers(1, 80).flatmap(
    lambda n: stored(n, lattice, st.sampled_from([-1.0, 0.0, 1.0])))
anywhere = st.one_of(st.floats(-30.0, 130.0), lattice, lattice.map(lambda x: x + 5.0),
                     st.floats(-1e6, 1e6))


@given(memory=st.one_of(spread, quantised), neighbors=st.integers(1, 12),
       capacity=st.integers(1, 60), grid=st.integers(1, 9),
       queries=st.lists(st.tuples(anywhere, anywhere), min_size=1, max_size=5))
def test_vote_through_the_grid_matches_brute_force(memory, neighbors, capacity, grid, queries):
    """Any points and queries, inside the grid or not; small grids; wrapped rings."""
    points, labels = memory
    state = memory_with(points, labels, neighbors, capacity, grid)
    kept, kept_labels = kept_newest_first(points, labels, capacity)
    for q1, q2 in queries:
        expected = knn_oracle(kept[:, 0], kept[:, 1], kept_labels, q1, q2, neighbors)
        assert _vote_nb(state, q1, q2) == expected


@pytest.mark.parametrize("grid", [1, 3, 16, 64, 250])
@pytest.mark.parametrize("layout", ["uniform", "clusters", "duplicates"])
def test_vote_on_a_wrapped_memory_of_thousands_matches_brute_force(layout, grid):
    """Many rings, cells pruned by the reach, and ties among thousands of equal points."""
    rng = np.random.default_rng(7)
    n, capacity, neighbors = 5000, 3000, 200
    if layout == "uniform":
        points = rng.uniform(-5.0, 105.0, (n, 2))
    elif layout == "clusters":
        points = rng.normal(rng.uniform(20.0, 80.0, (8, 2))[rng.integers(0, 8, n)], 3.0)
    else:  # six places, each repeated (as the bench's tiled series)
        points = rng.uniform(30.0, 60.0, (6, 2))[rng.integers(0, 6, n)]
    labels = rng.choice([-1.0, 0.0, 1.0], n)
    state = memory_with(points, labels, neighbors, capacity, grid)
    kept, kept_labels = kept_newest_first(points, labels, capacity)
    queries = np.concatenate([rng.uniform(-20.0, 120.0, (60, 2)), points[-40:],
                              points[rng.integers(0, n, 40)] + 1e-9])
    for q1, q2 in queries:
        expected = knn_oracle(kept[:, 0], kept[:, 1], kept_labels, q1, q2, neighbors)
        assert _vote_nb(state, q1, q2) == expected


# offsets at squared distance exactly 100 from a query, 12 of them, in up to 9 cells
RIM = [(10.0, 0.0), (-10.0, 0.0), (0.0, 10.0), (0.0, -10.0), (6.0, 8.0), (6.0, -8.0),
       (-6.0, 8.0), (-6.0, -8.0), (8.0, 6.0), (8.0, -6.0), (-8.0, 6.0), (-8.0, -6.0)]


@given(at=st.lists(st.integers(0, len(RIM) - 1), min_size=2, max_size=120),
       labels=st.data(), neighbors=st.integers(1, 40), capacity=st.integers(1, 100),
       grid=st.integers(2, 12), centre=st.sampled_from([50.0, 3.0, 97.0]))
def test_vote_ties_across_cells_go_to_the_newest(at, labels, neighbors, capacity, grid,
                                                   centre):
    """Every point at the same distance, spread over cells visited out of age order."""
    points = centre + np.array([RIM[i] for i in at])
    marks = np.array(labels.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=len(at),
                                          max_size=len(at))))
    state = memory_with(points, marks, neighbors, capacity, grid)
    kept, kept_labels = kept_newest_first(points, marks, capacity)
    expected = knn_oracle(kept[:, 0], kept[:, 1], kept_labels, centre, centre, neighbors)
    assert expected == marks[-capacity:][-neighbors:].sum()  # the newest, as all tie
    assert _vote_nb(state, centre, centre) == expected


def cell_lists(state):
    """Each cell's list from the index, followed from its first slot, checking the links."""
    grid, capacity = int(state[_GRID]), int(state[_CAPACITY])
    at = int(state[_AT_INDEX])
    first = state[at:at + grid * grid]
    after = state[at + grid * grid:at + grid * grid + capacity]
    before = state[at + grid * grid + capacity:at + grid * grid + 2 * capacity]
    cell = state[at + grid * grid + 2 * capacity:at + grid * grid + 3 * capacity]
    lists = {}
    for c in range(grid * grid):
        slots, slot, newer = [], int(first[c]), -1
        while slot >= 0:
            assert before[slot] == newer and cell[slot] == c
            slots.append(slot)
            newer, slot = slot, int(after[slot])
            assert len(slots) <= capacity
        if slots:
            lists[c] = slots
    return lists


@given(memory=st.one_of(spread, quantised), capacity=st.integers(1, 40),
       grid=st.integers(1, 9))
def test_index_lists_every_stored_point_once_in_its_cell_newest_first(memory, capacity, grid):
    points, labels = memory
    state = mlmi_init_state(capacity=capacity, grid=grid)
    memory_at = int(state[_AT_MEMORY])
    for t, ((a, b), label) in enumerate(zip(points, labels, strict=True)):
        _store_nb(state, a, b, label)
        count, head = int(state[_COUNT]), int(state[_HEAD])
        assert count == min(t + 1, capacity)
        lists = cell_lists(state)
        listed = sorted(s for slots in lists.values() for s in slots)
        assert listed == list(range(count))  # the occupied slots, each once
        scale = grid / 100.0
        for c, slots in lists.items():
            for slot in slots:  # the cell of the point the slot holds, clamped as the kernel
                x1, x2 = state[memory_at + slot], state[memory_at + capacity + slot]
                assert c == (min(max(int(np.floor(x1 * scale)), 0), grid - 1) * grid
                             + min(max(int(np.floor(x2 * scale)), 0), grid - 1))
            ages = [(head - 1 - slot) % capacity for slot in slots]
            assert ages == sorted(ages)  # newest first


@given(values=arrays(np.float64, st.integers(1, 120), elements=st.one_of(
           st.sampled_from([0.0, 1.0, 2.0, 5e-324]), st.floats(0.0, 1e300))),
       data=st.data())
def test_select_is_the_rank_th_smallest(values, data):
    """Duplicates, zeros, subnormals and wide magnitudes: the bisection fallback's ground."""
    rank = data.draw(st.integers(1, values.shape[0]))
    bits = values.view(np.int64)
    kth = _select_nb(bits, values.shape[0], rank, int(bits.min()) - 1, int(bits.max()))
    assert kth == np.sort(values)[rank - 1].view(np.int64)


def test_first_point_has_label_zero_and_equal_close_is_up():
    # fast = close, slow = WMA(close, 2): fast > slow exactly when the close rose
    params = {"neighbors": 10, "capacity": 10, "ma_fast_period": 1, "ma_slow_period": 2,
              "rsi_fast_period": 1, "rsi_slow_period": 1, "feature_period": 1}
    close = np.array([1.0, 3.0, 2.0, 1.0, 2.0, 1.0])
    out = run(close, **params)
    np.testing.assert_array_equal(out, mlmi_oracle(close, **params))
    assert out[:, 3].tolist() == [0.0, 0.0, -1.0, 0.0, 1.0, -1.0]  # a cross is a turn
    assert out[:, 4].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, -1.0]  # first 0, 2 >= 2 up, 1 < 2


@pytest.mark.parametrize("bad", [{"neighbors": 0}, {"capacity": 0}, {"ma_slow_period": 0},
                                 {"rsi_fast_period": 0}, {"feature_period": -1}, {"grid": 0}])
def test_init_rejects_bad_parameters(bad):
    with pytest.raises(ValueError, match="expected >= 1"):
        mlmi_init_state(**(DEFAULTS | bad))
