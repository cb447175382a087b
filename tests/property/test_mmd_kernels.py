"""MMD kernels: incremental MMD^2 == the direct estimator at every step, step == batch at every
prefix, the warm-up, snapshot/restore, no look-ahead, and the estimator's symmetry and scale.

The oracle is the unbiased estimator written out in numpy from its definition (mean of the
Gaussian kernel over the distinct pairs of the window, plus the same over the set, minus twice
the mean over all window x set pairs: :func:`mmd2_oracle`), on the window of normalised vectors
rebuilt here from ``mmd_vectors_batch_nb`` and ``(x - mean) / std``; per step it is rebuilt from
the window's entries of the kernel matrix of all vectors, no running sum. Tolerance for MMD^2:
abs 1e-10. Every term is a mean of kernel values in [0, 1] and the incremental sums differ
from the oracle's only by rounding: ``S`` and ``C_k`` are sums of at most
``W (W - 1) / 2 <= 435`` and ``W sum(n_k) <= 6,300`` such values (~1e-13 relative after the
divisions), and without recomputation they drift by at most one rounding per update over
<= 160 updates, so errors stay near 1e-13; 1e-10 leaves margin and is far below the change of a
missing or doubled kernel term of any point within a few bandwidths. Scores are
``sqrt(max(MMD^2, 0))``, and ``|sqrt(a) - sqrt(b)| <= sqrt(|a - b|)``, so they are held to
``sqrt(1e-10)``. Every other comparison is exact (``nan`` equal to ``nan``): step and batch run
one code path. Statistics against pandas / TA-Lib and the 1,000,000-update run are in
``tests/unit/components/regime/test_mmd_kernels.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from components.regime.mmd.kernels import (
    MMD_STAT_NAMES,
    N_SETS,
    mmd2_direct_nb,
    mmd_batch_nb,
    mmd_init_state,
    mmd_mmd2_nb,
    mmd_step_nb,
    mmd_vectors_batch_nb,
    mmd_vectors_init_state,
)

ROOT = Path(__file__).resolve().parents[2]
FRAME = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv")
# Writable contiguous copies: numba compiles one specialisation per array layout/flags.
REAL = tuple(np.array(FRAME[c], dtype=np.float64) for c in ("high", "low", "close", "volume"))
TOL = 1e-10

# Random arrays come from numpy generators seeded by hypothesis: drawing hundreds of floats
# one by one costs ~10 ms an example, most of the time of these tests.
seeds = st.integers(0, 2**32 - 1)


@st.composite
def bar_paths(draw, min_bars, max_bars):
    """(high, low, close, volume): a slice of the real BTC/USD hours, or a random path with
    flat stretches (zero returns), zero-range bars and zero volumes."""
    n = draw(st.integers(min_bars, max_bars))
    if draw(st.booleans()):
        start = draw(st.integers(0, REAL[2].shape[0] - n))
        return tuple(x[start:start + n].copy() for x in REAL)
    rng = np.random.default_rng(draw(seeds))
    flat, sigma = draw(st.sampled_from([0.0, 0.5, 1.0])), draw(st.sampled_from([0.001, 0.05]))
    moves = np.where(rng.random(n) < flat, 0.0, rng.normal(0.0, sigma, n))
    up, down = (np.where(rng.random(n) < flat, 0.0, rng.uniform(0.0, 0.05, n))
                for _ in range(2))
    volume = np.where(rng.random(n) < flat, 0.0, rng.uniform(0.0, 1e3, n))
    close = 100.0 * np.exp(np.cumsum(moves))
    return close * (1.0 + up), close * (1.0 - down), close, volume


@st.composite
def configs(draw, max_vol_window=20):
    """Keyword arguments of ``mmd_init_state``: 1..7 sets of 2..M points, padded with arbitrary
    finite values (which must be ignored)."""
    k = draw(st.integers(1, N_SETS))
    m = draw(st.integers(2, 30))
    window = draw(st.integers(2, 30))
    rng = np.random.default_rng(draw(seeds))
    return {
        "refs": rng.normal(0.0, draw(st.sampled_from([0.5, 2.0])), (k, m, 4)),
        "counts": rng.integers(2, m + 1, k) if draw(st.booleans()) else np.full(k, m),
        "norm_mean": rng.uniform(-0.01, 0.01, 4),
        "norm_std": rng.uniform(0.003, 0.05, 4),
        "bandwidth": draw(st.floats(0.2, 5.0)),
        "window": window,
        # long volatility windows too: warm-up vol_window + window - 1 beyond bar 100
        "vol_window": draw(st.one_of(st.integers(2, min(20, max_vol_window)),
                                     st.integers(min(70, max_vol_window), max_vol_window))),
        "recompute_every": draw(st.sampled_from([1, 3, window, 10**9])),
    }


def gauss(a, b, gamma):
    """Gaussian kernel between every row of ``a`` and every row of ``b``."""
    return np.exp(-gamma * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def pair_mean(a, gamma):
    """Mean of the kernel over the distinct (ordered) pairs of the rows of ``a``."""
    g = gauss(a, a, gamma)
    n = a.shape[0]
    return (g.sum() - np.trace(g)) / (n * (n - 1))


def mmd2_oracle(x, sets, gamma):
    """Unbiased MMD^2 of the sample ``x`` against each sample in ``sets``."""
    xx = pair_mean(x, gamma)
    return np.array([xx + pair_mean(y, gamma) - 2.0 * gauss(x, y, gamma).mean() for y in sets])


def normalised_vectors(bars, cfg):
    raw = mmd_vectors_batch_nb(mmd_vectors_init_state(cfg["vol_window"]), *bars[:3])
    return (raw - cfg["norm_mean"]) / cfg["norm_std"]


def warm_up(cfg):
    """First bar (0-based) with every column defined."""
    return max(cfg["vol_window"] + cfg["window"] - 1, 100)


@given(bars=bar_paths(60, 160), cfg=configs())
def test_incremental_mmd2_equals_the_direct_estimator_at_every_step(bars, cfg):
    k, w = cfg["refs"].shape[0], cfg["window"]
    gamma = 1.0 / (2.0 * cfg["bandwidth"] ** 2)
    sets = [cfg["refs"][j, :cfg["counts"][j]] for j in range(k)]
    vectors = normalised_vectors(bars, cfg)
    # The kernel between every two vectors and every vector's sums to each set, once; each
    # step's estimate is then rebuilt from scratch out of its window's entries.
    between = gauss(vectors, vectors, gamma)
    to_sets = np.stack([gauss(vectors, y, gamma).sum(1) for y in sets], axis=1)
    yy = np.array([pair_mean(y, gamma) for y in sets])
    full = cfg["vol_window"] + w - 1  # the window is full from this bar
    state, row = mmd_init_state(**cfg), np.empty(k + len(MMD_STAT_NAMES))
    for t in range(bars[2].shape[0]):
        mmd_step_nb(state, bars[0][t], bars[1][t], bars[2][t], bars[3][t], row)
        mmd2 = mmd_mmd2_nb(state)
        if t < full:
            assert np.isnan(mmd2).all()
            continue
        lo = t - w + 1
        block = between[lo:t + 1, lo:t + 1]
        expected = ((block.sum() - np.trace(block)) / (w * (w - 1)) + yy
                    - 2.0 * to_sets[lo:t + 1].sum(0) / (w * cfg["counts"]))
        assert np.abs(mmd2 - expected).max() <= TOL, (t, mmd2 - expected)
        if t >= warm_up(cfg):
            scores = np.sqrt(np.maximum(expected, 0.0))
            assert np.abs(row[:k] - scores).max() <= np.sqrt(TOL)
        else:
            assert np.isnan(row).all()


@given(bars=bar_paths(1, 200), cfg=configs(max_vol_window=100), cut=st.integers(0, 200))
def test_step_matches_batch_at_every_prefix_and_a_restored_snapshot_resumes(bars, cfg, cut):
    """One bar at a time from Python == the batch kernel, rows exactly; at bar ``cut`` the state
    is copied, the original consumes other bars (no shared buffers), and the loop goes on from
    the copy restored into a fresh array through plain floats (no hidden state). Every column
    is ``nan`` exactly until bar ``max(vol_window + window - 1, 100)``, then all finite."""
    n, k = bars[2].shape[0], cfg["refs"].shape[0]
    out = mmd_batch_nb(mmd_init_state(**cfg), *bars)
    assert out.shape == (n, k + len(MMD_STAT_NAMES))
    cut = min(cut, n)
    state, rows = mmd_init_state(**cfg), np.zeros_like(out)
    for t in range(n):  # row t is the output of the prefix [:t + 1]
        if t == cut:
            snapshot = state.copy()
            mmd_batch_nb(state, *(x[t:] * 1.5 for x in bars))
            state = np.array(snapshot.tolist())
        mmd_step_nb(state, bars[0][t], bars[1][t], bars[2][t], bars[3][t], rows[t])
    np.testing.assert_array_equal(rows, out)
    prefix = mmd_batch_nb(mmd_init_state(**cfg), *(x[:cut] for x in bars))
    np.testing.assert_array_equal(prefix, out[:cut])
    first = warm_up(cfg)
    assert np.isnan(out[:first]).all()
    assert np.isfinite(out[first:]).all()


@given(bars=bar_paths(1, 200), cfg=configs(max_vol_window=100), t=st.integers(0, 199),
       change=st.sampled_from(["reverse", "scale", "flat", "volume"]),
       factor=st.floats(0.5, 2.0))
def test_no_look_ahead(bars, cfg, t, change, factor):
    t = min(t, bars[2].shape[0] - 1)
    changed = [x.copy() for x in bars]
    for i, x in enumerate(changed):
        if change == "reverse":
            x[t + 1:] = x[t + 1:][::-1].copy()
        elif change == "scale" and i < 3:
            x[t + 1:] *= factor
        elif change == "flat" and i < 3:
            x[t + 1:] = bars[2][t]
        elif change == "volume" and i == 3:
            x[t + 1:] = factor * 1e3
    a = mmd_batch_nb(mmd_init_state(**cfg), *bars)
    b = mmd_batch_nb(mmd_init_state(**cfg), *changed)
    np.testing.assert_array_equal(a[:t + 1], b[:t + 1])


@given(sizes=st.tuples(st.integers(2, 30), st.integers(2, 30)), spread=st.floats(0.1, 4.0),
       shift=st.floats(-2.0, 2.0), seed=seeds, bandwidth=st.floats(0.2, 5.0),
       c=st.floats(0.01, 100.0))
def test_direct_estimator_is_the_definition_symmetric_and_scale_free(sizes, spread, shift, seed,
                                                                     bandwidth, c):
    """Symmetric and the oracle up to summation order (1e-12). Scaling both samples and the
    bandwidth by ``c`` leaves every exponent the same up to a few roundings of the coordinates
    (1e-11). The same sample on both sides: the unbiased estimator is not 0 but exactly
    ``-(2 / W) (1 - mean g over distinct pairs)`` (the biased one is 0), so never positive
    beyond rounding, within ``2 / W`` of 0, and the score is 0."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(0.0, 1.0, (sizes[0], 4)), rng.normal(shift, spread, (sizes[1], 4))
    gamma = 1.0 / (2.0 * bandwidth ** 2)
    w, n = float(x.shape[0]), float(y.shape[0])
    xy = mmd2_direct_nb(x, y[None], np.array([n]), gamma)[0]
    yx = mmd2_direct_nb(y, x[None], np.array([w]), gamma)[0]
    assert abs(xy - yx) <= 1e-12
    assert abs(xy - mmd2_oracle(x, [y], gamma)[0]) <= 1e-12
    scaled = mmd2_direct_nb(c * x, (c * y)[None], np.array([n]),
                            1.0 / (2.0 * (c * bandwidth) ** 2))[0]
    assert abs(scaled - xy) <= 1e-11
    same = mmd2_direct_nb(x, x[None], np.array([w]), gamma)[0]
    assert abs(same - (-2.0 / w) * (1.0 - pair_mean(x, gamma))) <= 1e-12
    assert -2.0 / w - 1e-12 <= same <= 1e-12
    assert np.sqrt(max(same, 0.0)) <= 1e-6
