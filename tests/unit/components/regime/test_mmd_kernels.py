"""MMD kernels against independent numpy / pandas / TA-Lib oracles on the bundled real BTC/USD
hourly bars, a window equal to a reference set, price-scale invariance, a flat market, a
1,000,000-update run against the direct recomputation, and the parameter checks.

Oracles are written here from the formulas (pandas for shifts and rolling means, numpy sliding
windows for the population moments, ``talib.RSI`` for the RSI), not from the kernel's code.
Reference sets for these tests are chunks of the data's own normalised vectors (not the fitting
procedure, which ``replay/train/mmd_fit.py`` implements and tests). Tolerances are stated where
used;
MMD^2 is held to abs 1e-10 and scores, ``sqrt(max(MMD^2, 0))``, to ``sqrt(1e-10)`` (see
``tests/property/test_mmd_kernels.py`` for why).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from numpy.lib.stride_tricks import sliding_window_view

from components.regime.mmd.kernels import (
    MMD_FEATURE_NAMES,
    MMD_STAT_NAMES,
    N_SETS,
    mmd2_direct_nb,
    mmd_batch_nb,
    mmd_init_state,
    mmd_mmd2_nb,
    mmd_vectors_batch_nb,
    mmd_vectors_init_state,
)

ROOT = Path(__file__).resolve().parents[4]
FRAME = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv")
# Writable contiguous copies: numba compiles one specialisation per array layout/flags.
HIGH, LOW, CLOSE, VOLUME = (np.array(FRAME[c], dtype=np.float64)
                            for c in ("high", "low", "close", "volume"))
COL = {name: i for i, name in enumerate(MMD_FEATURE_NAMES)}
WARM = 119  # max(vol_window + window - 1, 100) with the defaults
TOL = 1e-10


def gauss(a, b, gamma):
    return np.exp(-gamma * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def pair_mean(a, gamma):
    g = gauss(a, a, gamma)
    return (g.sum() - np.trace(g)) / (a.shape[0] * (a.shape[0] - 1))


def mmd2_oracle(x, sets, gamma):
    """Unbiased MMD^2: mean kernel over the distinct pairs of ``x``, plus over those of the set,
    minus twice the mean over all cross pairs."""
    xx = pair_mean(x, gamma)
    return np.array([xx + pair_mean(y, gamma) - 2.0 * gauss(x, y, gamma).mean() for y in sets])


def rolling(x, n, reduce):
    """``reduce`` over the trailing windows of ``n`` values (axis -1), nan before the first."""
    out = np.full(x.shape[0], np.nan)
    out[n - 1:] = reduce(sliding_window_view(x, n))
    return out


def population_moments(windows):
    d = windows - windows.mean(-1, keepdims=True)
    m2, m3, m4 = ((d ** p).mean(-1) for p in (2, 3, 4))
    return m3 / m2 ** 1.5, m4 / m2 ** 2 - 3.0


def oracle_stats(high, low, close, volume, vol_window=20):
    """The 13 non-MMD statistics from pandas / numpy / TA-Lib, by name."""
    c, h, lo, v = (pd.Series(x) for x in (close, high, low, volume))
    ret = c.pct_change().to_numpy()
    rets = ret[1:]  # the first return is at bar 1
    std = lambda n: np.concatenate([[np.nan], rolling(rets, n, lambda w: w.std(-1))])  # noqa: E731
    skew, kurt = (np.concatenate([[np.nan] * 50, m])
                  for m in population_moments(sliding_window_view(rets, 50)))
    stats = {
        "return": ret,
        "log_return": np.log(c / c.shift(1)).to_numpy(),
        "range": ((h - lo) / c.shift(1)).to_numpy(),
        "volatility": std(vol_window),
        **{f"momentum_{n}": c.pct_change(n).to_numpy() for n in (5, 10, 20, 50)},
        "skew_50": skew,
        "kurtosis_50": kurt,
        "rsi_14": talib.RSI(close, 14),
        "volume_ratio": (v / v.rolling(20).mean()).to_numpy(),
        "volatility_ratio": std(20) / std(100),
    }
    assert tuple(stats) == MMD_STAT_NAMES[:13]
    return stats


def median_bandwidth(points):
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    return float(np.sqrt(np.median(d2[np.triu_indices(points.shape[0], 1)])))


def reference_chunks(vectors, sizes, start=0):
    """Sets of consecutive normalised vectors (padded with zeros), their counts, and the
    normalisation: load for tests, not the fitting procedure."""
    defined = vectors[~np.isnan(vectors).any(1)]
    mean, std = defined.mean(0), defined.std(0)
    norm = (defined - mean) / std
    refs = np.zeros((len(sizes), max(sizes), 4))
    at = start
    for k, n in enumerate(sizes):
        refs[k, :n] = norm[at:at + n]
        at += n
    return refs, np.array(sizes, dtype=np.int64), mean, std


@pytest.fixture(scope="module")
def real():
    """The default configuration (window 100, vol_window 20) on all 20,111 real hours, with 7
    sets of 200 of the data's own vectors from the oracle (pandas / numpy)."""
    stats = oracle_stats(HIGH, LOW, CLOSE, VOLUME)
    vectors = np.column_stack([stats[name] for name in MMD_STAT_NAMES[:4]])
    refs, counts, mean, std = reference_chunks(vectors, [200] * N_SETS, start=3000)
    bandwidth = median_bandwidth(refs.reshape(-1, 4))
    state = mmd_init_state(refs, counts, mean, std, bandwidth)
    # the run in pieces ending at 100 checkpoints, the incremental MMD^2 read at each
    checkpoints = np.unique(np.linspace(WARM, CLOSE.shape[0] - 1, 100).astype(int))
    rows, mmd2, start = [], [], 0
    for t in checkpoints:
        rows.append(mmd_batch_nb(state, *(x[start:t + 1] for x in (HIGH, LOW, CLOSE, VOLUME))))
        mmd2.append(mmd_mmd2_nb(state))
        start = t + 1
    rows.append(mmd_batch_nb(state, HIGH[start:], LOW[start:], CLOSE[start:], VOLUME[start:]))
    return {"stats": stats, "vectors": vectors, "refs": refs, "counts": counts, "mean": mean,
            "std": std, "bandwidth": bandwidth, "out": np.concatenate(rows),
            "checkpoints": checkpoints, "mmd2": np.array(mmd2)}


def test_warm_up_and_statistics_match_the_oracles_on_real_bars(real):
    out, stats = real["out"], real["stats"]
    assert out.shape == (CLOSE.shape[0], len(MMD_FEATURE_NAMES))
    assert np.isnan(out[:WARM]).all()
    assert np.isfinite(out[WARM:]).all()
    # Same formula, other summation order or library: last-bit differences. Returns, log
    # returns and ranges are ~1e-2 and differ by ~1e-17 (abs 1e-15); moments and ratios
    # are relative (1e-9, kurtosis up to ~40 divides by m2^2); RSI as the shared kernel's test
    # against TA-Lib (1e-7 on 0..100).
    tolerances = {"return": (0, 1e-15), "log_return": (0, 1e-15), "range": (0, 1e-15),
                  "volatility": (1e-12, 0), "rsi_14": (0, 1e-7), "skew_50": (1e-9, 1e-12),
                  "kurtosis_50": (1e-9, 1e-12)}
    for name in MMD_STAT_NAMES[:13]:
        rtol, atol = tolerances.get(name, (1e-10, 1e-15))
        np.testing.assert_allclose(out[WARM:, COL[name]], stats[name][WARM:], rtol=rtol,
                                   atol=atol, err_msg=name)
    scores = out[WARM:, :N_SETS]
    np.testing.assert_allclose(out[WARM:, COL["mmd_mean"]], scores.mean(1), rtol=1e-15)
    np.testing.assert_array_equal(out[WARM:, COL["mmd_min"]], scores.min(1))
    np.testing.assert_array_equal(out[WARM:, COL["mmd_nearest"]], scores.argmin(1))
    assert len(np.unique(scores.argmin(1))) == N_SETS  # every set is the nearest somewhere
    # what the references are fitted on is the state's own vector, from bar vol_window on
    raw = mmd_vectors_batch_nb(mmd_vectors_init_state(20), HIGH, LOW, CLOSE)
    assert np.isnan(raw[:20]).all() and not np.isnan(raw[20:]).any()
    np.testing.assert_array_equal(raw[WARM:], out[WARM:, N_SETS:N_SETS + 4])


def test_mmd_matches_the_direct_estimator_on_real_bars(real):
    """At 100 checkpoints: the incremental MMD^2 and the scores against the oracle on windows
    of normalised vectors built from the pandas / numpy statistics."""
    gamma = 1.0 / (2.0 * real["bandwidth"] ** 2)
    norm = (real["vectors"] - real["mean"]) / real["std"]
    sets = [real["refs"][k, :n] for k, n in enumerate(real["counts"])]
    yy = np.array([pair_mean(y, gamma) for y in sets])  # mmd2_oracle's fixed term, once
    for t, mmd2 in zip(real["checkpoints"], real["mmd2"], strict=True):
        x = norm[t - 99:t + 1]
        expected = pair_mean(x, gamma) + yy - 2.0 * np.array([gauss(x, y, gamma).mean()
                                                              for y in sets])
        assert np.abs(mmd2 - expected).max() <= TOL, t
        scores = np.sqrt(np.maximum(expected, 0.0))
        assert np.abs(real["out"][t, :N_SETS] - scores).max() <= np.sqrt(TOL), t


def test_window_equal_to_a_reference_set():
    """Set 0 is exactly the window of normalised vectors at bar t. The unbiased estimator is
    then not 0 but ``-(2 / W) (1 - mean kernel over the window's distinct pairs)`` (only the
    biased V-statistic is 0): negative, within 2 / W of 0, so the score is exactly 0 and set 0
    the nearest. Same value from the direct kernel."""
    w, t = 50, 700
    raw = mmd_vectors_batch_nb(mmd_vectors_init_state(20), HIGH, LOW, CLOSE)
    refs, counts, mean, std = reference_chunks(raw, [w] * N_SETS, start=2000)
    window = (raw[t - w + 1:t + 1] - mean) / std
    refs[0] = window
    bandwidth = median_bandwidth(refs.reshape(-1, 4))
    gamma = 1.0 / (2.0 * bandwidth ** 2)
    state = mmd_init_state(refs, counts, mean, std, bandwidth, window=w)
    out = mmd_batch_nb(state, *(x[:t + 1] for x in (HIGH, LOW, CLOSE, VOLUME)))
    closed_form = -2.0 / w * (1.0 - pair_mean(window, gamma))
    assert -2.0 / w < closed_form < -1e-3
    assert abs(mmd_mmd2_nb(state)[0] - closed_form) <= 1e-12
    direct = mmd2_direct_nb(window, refs, counts.astype(np.float64), gamma)
    assert abs(direct[0] - closed_form) <= 1e-12
    assert np.abs(mmd_mmd2_nb(state) - direct).max() <= TOL
    assert out[t, 0] == 0.0
    assert out[t, COL["mmd_min"]] == 0.0 and out[t, COL["mmd_nearest"]] == 0.0


def test_prices_times_a_constant_leave_every_output_unchanged():
    """Returns, ranges, momenta, moments and the RSI are ratios of prices. x1024 (a power of 2,
    every product exact): bit for bit the same rows. x1000: each ratio rounds differently in
    the last bit, ~1e-16 on returns of ~1e-2, so statistics within rel 1e-9 / abs 1e-13 and
    MMD^2 well within 1e-10 (scores within sqrt(1e-10))."""
    n = 3000
    bars = [x[:n] for x in (HIGH, LOW, CLOSE, VOLUME)]
    raw = mmd_vectors_batch_nb(mmd_vectors_init_state(20), *bars[:3])
    refs, counts, mean, std = reference_chunks(raw, [20, 35, 50, 60, 80, 100, 120])
    bandwidth = median_bandwidth(refs.reshape(-1, 4))
    run = lambda scale: mmd_batch_nb(  # noqa: E731
        mmd_init_state(refs, counts, mean, std, bandwidth),
        *(x * scale for x in bars[:3]), bars[3])
    base = run(1.0)
    np.testing.assert_array_equal(run(1024.0), base)
    scaled = run(1000.0)
    np.testing.assert_array_equal(np.isnan(scaled), np.isnan(base))
    stats = slice(N_SETS, N_SETS + 13)
    np.testing.assert_allclose(scaled[WARM:, stats], base[WARM:, stats], rtol=1e-9, atol=1e-13)
    scores = [N_SETS + 13, N_SETS + 14, *range(N_SETS)]
    assert np.abs(scaled[WARM:, scores] - base[WARM:, scores]).max() <= np.sqrt(TOL)
    ordered = np.sort(base[WARM:, :N_SETS], axis=1)
    clear = ordered[:, 1] - ordered[:, 0] > 2 * np.sqrt(TOL)  # not a near tie
    nearest = COL["mmd_nearest"]
    np.testing.assert_array_equal(scaled[WARM:, nearest][clear], base[WARM:, nearest][clear])


def test_flat_market():
    """Constant prices and zero volume: zero returns, ranges, volatility, momenta and moments
    (of a constant window), RSI 0 (TA-Lib's convention), both 0 / 0 ratios 1; the window is one
    point repeated, so its pair term is exactly 1."""
    n, w = 160, 10
    flat, zero = np.full(n, 100.0), np.zeros(n)
    rng = np.random.default_rng(7)
    refs, counts = rng.normal(0.0, 1.0, (N_SETS, 12, 4)), np.arange(3, 3 + N_SETS)
    mean, std = np.array([0.0, 0.0, 0.01, 0.005]), np.array([0.01, 0.01, 0.01, 0.005])
    state = mmd_init_state(refs, counts, mean, std, 1.5, window=w)
    out = mmd_batch_nb(state, flat, flat, flat, zero)
    first = 100
    assert np.isnan(out[:first]).all()
    expected = np.zeros(13)
    expected[COL["rsi_14"] - N_SETS] = 0.0
    expected[COL["volume_ratio"] - N_SETS] = 1.0
    expected[COL["volatility_ratio"] - N_SETS] = 1.0
    np.testing.assert_array_equal(out[first:, N_SETS:N_SETS + 13],
                                  np.broadcast_to(expected, (n - first, 13)))
    point = (np.zeros(4) - mean) / std
    gamma = 1.0 / (2.0 * 1.5 ** 2)
    sets = [refs[k, :c] for k, c in enumerate(counts)]
    oracle = mmd2_oracle(np.repeat(point[None], w, axis=0), sets, gamma)
    assert np.abs(mmd_mmd2_nb(state) - oracle).max() <= TOL
    assert np.abs(out[-1, :N_SETS] - np.sqrt(np.maximum(oracle, 0.0))).max() <= np.sqrt(TOL)


def mirrored_path(n):
    """The real hours forward then backward, repeated: a long continuous price path for a
    numerical test (not market data)."""
    m = CLOSE.shape[0]
    i = np.arange(n) % (2 * m)
    pos = np.where(i < m, i, 2 * m - 1 - i)
    return [x[pos] for x in (HIGH, LOW, CLOSE, VOLUME)]


def test_one_million_updates_stay_on_the_direct_estimator(capsys):
    """Window 20, 7 sets of 10-20 real vectors, 1,000,000 window updates: at 125 checkpoints
    spread over the run (the last at its end) the incremental MMD^2 equals ``mmd2_direct_nb``
    on the window rebuilt from the bars before the checkpoint, within 1e-9, with the default
    recomputation (every ``window`` updates). The same run without recomputation
    (``recompute_every`` 10^18) is measured and printed, not asserted: its worst error was
    7.8e-13 here (default: 2.7e-15), so the running sums hardly drift; the recomputation
    bounds the drift whatever the input.
    """
    w, vw, updates = 20, 20, 1_000_000
    bars = mirrored_path(updates + vw)  # the first vector is at bar vw
    raw = mmd_vectors_batch_nb(mmd_vectors_init_state(vw), HIGH, LOW, CLOSE)
    rng = np.random.default_rng(1)
    sizes = [int(s) for s in rng.integers(10, 21, N_SETS)]
    refs, counts, mean, std = reference_chunks(raw, sizes, start=5000)
    bandwidth = median_bandwidth(refs.reshape(-1, 4))
    gamma = 1.0 / (2.0 * bandwidth ** 2)
    states = {every: mmd_init_state(refs, counts, mean, std, bandwidth, window=w,
                                    vol_window=vw, recompute_every=every)
              for every in (None, 10**18)}
    worst = dict.fromkeys(states, 0.0)
    checkpoints = np.linspace(updates / 125, updates + vw, 125).astype(int)
    assert checkpoints[-1] == updates + vw and checkpoints.shape == (125,)
    start = 0
    for t in checkpoints:
        for state in states.values():
            mmd_batch_nb(state, *(x[start:t] for x in bars))
        start = t
        # the window from the bars alone: vectors of the last w + vw bars (defined from vw)
        piece = mmd_vectors_batch_nb(mmd_vectors_init_state(vw),
                                     *(x[t - w - vw:t] for x in bars[:3]))
        direct = mmd2_direct_nb((piece[vw:] - mean) / std, refs, counts.astype(np.float64),
                                gamma)
        for every, state in states.items():
            worst[every] = max(worst[every], float(np.abs(mmd_mmd2_nb(state) - direct).max()))
    with capsys.disabled():
        print(f"\nMMD^2 after {updates:,} updates, worst abs error at 125 checkpoints: "
              f"recompute every {w}: {worst[None]:.2e}, never: {worst[10**18]:.2e}")
    assert worst[None] < 1e-9


VALID = {"refs": np.zeros((N_SETS, 3, 4)), "counts": np.full(N_SETS, 3),
         "norm_mean": np.zeros(4), "norm_std": np.ones(4), "bandwidth": 1.0}


@pytest.mark.parametrize(("change", "name"), [
    ({"refs": np.zeros((N_SETS, 3, 3))}, "refs"),
    ({"refs": np.zeros((N_SETS, 12))}, "refs"),
    ({"refs": np.zeros((0, 3, 4)), "counts": np.zeros(0, dtype=np.int64)}, "refs"),
    ({"refs": np.full((N_SETS, 3, 4), np.nan)}, "refs"),
    ({"refs": np.where(np.arange(4) == 2, np.inf, np.zeros((N_SETS, 3, 4)))}, "refs"),
    ({"counts": np.full(N_SETS - 1, 3)}, "counts"),
    ({"counts": np.full((N_SETS, 1), 3)}, "counts"),
    ({"counts": np.array([3, 3, 3, 1, 3, 3, 3])}, "counts"),
    ({"counts": np.array([3, 3, 3, 4, 3, 3, 3])}, "counts"),
    ({"window": 1}, "window"),
    ({"window": 0}, "window"),
    ({"vol_window": 1}, "vol_window"),
    ({"vol_window": 101}, "vol_window"),
    ({"bandwidth": 0.0}, "bandwidth"),
    ({"bandwidth": -1.0}, "bandwidth"),
    ({"bandwidth": float("nan")}, "bandwidth"),
    ({"bandwidth": float("inf")}, "bandwidth"),
    ({"norm_mean": np.zeros(3)}, "norm_mean"),
    ({"norm_mean": np.array([0.0, np.nan, 0.0, 0.0])}, "norm_mean"),
    ({"norm_std": np.array([1.0, 0.0, 1.0, 1.0])}, "norm_std"),
    ({"norm_std": np.array([1.0, -1.0, 1.0, 1.0])}, "norm_std"),
    ({"norm_std": np.array([1.0, np.inf, 1.0, 1.0])}, "norm_std"),
    ({"norm_std": np.ones(5)}, "norm_std"),
    ({"recompute_every": 0}, "recompute_every"),
])
def test_bad_parameters_are_refused_by_name(change, name):
    with pytest.raises(ValueError, match=f"^mmd {name}:"):
        mmd_init_state(**(VALID | change))


def test_valid_parameters_and_the_vector_state():
    assert mmd_init_state(**VALID).ndim == 1
    assert mmd_init_state(**(VALID | {"window": 2, "vol_window": 100,
                                      "recompute_every": 1})).ndim == 1
    for bad in (1, 101):
        with pytest.raises(ValueError, match="^mmd vol_window:"):
            mmd_vectors_init_state(bad)
