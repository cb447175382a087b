"""FVG kernels: oracle on random and real bars, incremental == batch, snapshot, no look-ahead.

Oracle, written apart from the kernel: a vectorised numpy detector (shifts and a sliding-window
mean) for the new-gap columns, then a plain Python loop over a list of dicts for expiry, mitigation,
eviction, the nearest edge and the mitigation columns. Random prices lie on a 0.25 grid, so
every body sum is exact in both and ties (body == multiplier x mean, equidistant edges) really
occur; the comparison is exact.

Warm-up/NaN policy: no gap before bar ``body_lookback + 1``; every column is defined from the
first bar, ``nan`` meaning "nothing to report" (no new gap, no active gap, nothing mitigated)
and flags/counts 0.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.indicators.fvg import (
    FVG_COLUMNS,
    FVG_N_OUT,
    fvg_batch_nb,
    fvg_init_state,
    fvg_step_nb,
)

DATA = Path(__file__).resolve().parents[2] / "data"
DESIGN = {"body_multiplier": 1.5, "body_lookback": 10, "max_age": 50, "capacity": 64,
          "fill_fraction": 0.0}

params = st.fixed_dictionaries({
    "body_multiplier": st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0]),
    "body_lookback": st.sampled_from([1, 2, 3, 10]),
    "max_age": st.sampled_from([1, 2, 5, 50]),
    "capacity": st.sampled_from([1, 2, 3, 64]),
    "fill_fraction": st.sampled_from([0.0, 0.5, 1.0]),
})


def ints(n, lo, hi):
    return arrays(np.int64, n, elements=st.integers(lo, hi))


# per bar, in ticks of 0.25: opening jump, open-to-close move, upper and lower wick
RANGES = ((-6, 6), (-16, 16), (0, 4), (0, 4))
# short streams drawn by hypothesis (they shrink), long ones from a seeded generator (cheap)
drawn_ticks = st.integers(1, 30).flatmap(
    lambda n: st.tuples(*(ints(n, lo, hi) for lo, hi in RANGES)))
seeded_ticks = st.tuples(st.integers(1, 250), st.integers(0, 2**32 - 1)).map(
    lambda a: tuple(np.random.default_rng(a[1]).integers(lo, hi + 1, a[0]) for lo, hi in RANGES))
bar_ticks = st.one_of(drawn_ticks, seeded_ticks)


def grid_bars(ticks):
    jump, move, up, down = (np.asarray(a, dtype=np.float64) * 0.25 for a in ticks)
    close = 4000.0 + np.cumsum(jump + move)
    open_ = close - move
    return open_, np.maximum(open_, close) + up, np.minimum(open_, close) - down, close


# ---------------------------------------------------------------------------------- oracle


def shifted(x, k):
    """``x`` delayed by ``k`` bars (``nan`` where undefined)."""
    return np.concatenate([np.full(min(k, len(x)), np.nan), x[:len(x) - k]])


def detect_oracle(o, h, lo, c, body_multiplier, body_lookback):
    """New gaps, vectorised: bar i against i-1 (the middle) and i-2."""
    body = np.abs(c - o)
    rolling_mean = np.full(len(c), np.nan)  # at j: mean body of bars j-L+1 .. j
    if len(c) >= body_lookback:
        windows = np.lib.stride_tricks.sliding_window_view(body, body_lookback)
        rolling_mean[body_lookback - 1:] = windows.mean(axis=1)
    big_middle = shifted(body, 1) > body_multiplier * shifted(rolling_mean, 2)  # i-1-L .. i-2
    bull = big_middle & (lo > shifted(h, 2))
    bear = big_middle & (h < shifted(lo, 2))
    bottom = np.where(bull, shifted(h, 2), np.where(bear, h, np.nan))
    top = np.where(bull, lo, np.where(bear, shifted(lo, 2), np.nan))
    return bull, bear, bottom, top


def fvg_oracle(o, h, lo, c, *, body_multiplier, body_lookback, max_age, capacity,
               fill_fraction):
    bull, bear, bottom, top = detect_oracle(o, h, lo, c, body_multiplier, body_lookback)
    f = fill_fraction
    active = []  # dicts, in creation order
    rows = []
    for t in range(len(c)):
        row = dict.fromkeys(FVG_COLUMNS, np.nan)
        survivors, hit = [], {"bullish": [], "bearish": []}
        for gap in active:
            age = t - gap["created"]
            if age > max_age:
                continue
            if gap["side"] == "bullish":
                touched = lo[t] <= (1 - f) * gap["top"] + f * gap["bottom"]
            else:
                touched = h[t] >= (1 - f) * gap["bottom"] + f * gap["top"]
            if touched:
                hit[gap["side"]].append(dict(gap, age=age))
            else:
                survivors.append(gap)
        active = survivors
        for side in ("bullish", "bearish"):
            row[f"{side}_mitigated"] = float(bool(hit[side]))
            row[f"{side}_mitigated_count"] = len(hit[side])
            if hit[side]:
                largest = max(hit[side], key=lambda g: (g["top"] - g["bottom"], -g["age"]))
                row[f"{side}_mitigated_size"] = largest["top"] - largest["bottom"]
                row[f"{side}_mitigated_size_pct"] = largest["pct"]
                row[f"{side}_mitigated_age"] = largest["age"]
        row["bullish_new"], row["bearish_new"] = float(bull[t]), float(bear[t])
        if bull[t] or bear[t]:
            side = "bullish" if bull[t] else "bearish"
            same = [g for g in active if g["side"] == side]
            if len(same) == capacity:
                active.remove(min(same, key=lambda g: g["created"]))
            size = top[t] - bottom[t]
            gap = {"side": side, "bottom": bottom[t], "top": top[t], "created": t,
                   "pct": 100.0 * size / abs(c[t]) if c[t] != 0 else np.nan}
            active.append(gap)
            row.update(new_bottom=bottom[t], new_top=top[t], new_size=size,
                       new_size_pct=gap["pct"])
        for side in ("bullish", "bearish"):
            n = sum(g["side"] == side for g in active)
            row[f"{side}_count"], row[f"{side}_active"] = n, float(n > 0)
        row["nearest_side"] = 0.0
        edges = []
        for g in active:
            entry = "top" if g["side"] == "bullish" else "bottom"
            for edge in ("bottom", "top"):
                edges.append((abs(c[t] - g[edge]), t - g["created"], edge != entry, g, edge))
        if edges:
            distance, age, _, g, edge = min(edges, key=lambda e: e[:3])
            row.update(nearest_side=1.0 if g["side"] == "bullish" else -1.0,
                       nearest_level=g[edge], nearest_distance=distance,
                       nearest_bottom=g["bottom"], nearest_top=g["top"], nearest_age=age,
                       nearest_size=g["top"] - g["bottom"], nearest_size_pct=g["pct"])
        rows.append([row[name] for name in FVG_COLUMNS])
    return np.array(rows, dtype=np.float64).reshape(-1, FVG_N_OUT)


def assert_rows_equal(ours, ref):
    if not np.array_equal(ours, ref, equal_nan=True):
        for j, name in enumerate(FVG_COLUMNS):
            np.testing.assert_array_equal(ours[:, j], ref[:, j], err_msg=name)


# ------------------------------------------------------------------------- random bars


@given(ticks=bar_ticks, p=params, cut=st.integers(0, 250), seed=st.integers(0, 2**32 - 1))
def test_fvg_oracle_incremental_snapshot_and_no_look_ahead(ticks, p, cut, seed):
    """One draw, four properties (one draw keeps the file fast under the ``ci`` profile).

    1. Batch == oracle. 2. Bar-by-bar steps == batch. 3. State copied at ``cut`` continues
    exactly. 4. Bars after ``cut`` replaced by another valid stream (shifted by a random
    amount) change no row at or before ``cut``.
    """
    o, h, lo, c = grid_bars(ticks)
    n = c.shape[0]
    out = fvg_batch_nb(fvg_init_state(**p), o, h, lo, c)
    assert_rows_equal(out, fvg_oracle(o, h, lo, c, **p))

    state, steps = fvg_init_state(**p), np.empty_like(out)
    for i in range(n):
        fvg_step_nb(state, o[i], h[i], lo[i], c[i], steps[i])
    np.testing.assert_array_equal(steps, out)

    cut %= n + 1  # 0 .. n: every split point of short streams too
    state = fvg_init_state(**p)
    head = fvg_batch_nb(state, o[:cut], h[:cut], lo[:cut], c[:cut])
    snapshot = state.copy()
    fvg_batch_nb(state, o[cut:] + 0.25, h[cut:] + 0.5, lo[cut:], c[cut:])  # the original moves on
    rest = fvg_batch_nb(snapshot, o[cut:], h[cut:], lo[cut:], c[cut:])
    np.testing.assert_array_equal(np.concatenate([head, rest]), out)

    rng = np.random.default_rng(seed)
    shift = 0.25 * rng.integers(-200, 201)
    other = [x + shift for x in grid_bars([rng.integers(a, b + 1, n) for a, b in RANGES])]
    changed = [np.concatenate([x[:cut + 1], y[cut + 1:]]) for x, y in zip((o, h, lo, c), other,
                                                                         strict=True)]
    np.testing.assert_array_equal(fvg_batch_nb(fvg_init_state(**p), *changed)[:cut + 1],
                                  out[:cut + 1])


def test_fvg_matches_oracle_on_a_long_random_walk():
    """Non-vacuous: gaps of both sides, mitigations, expiries and evictions all happen."""
    rng = np.random.default_rng(7)
    n = 4000
    ticks = (rng.integers(-6, 7, n), rng.integers(-16, 17, n), rng.integers(0, 5, n),
             rng.integers(0, 5, n))
    o, h, lo, c = grid_bars(ticks)
    for p in (DESIGN, dict(DESIGN, max_age=20, capacity=3, fill_fraction=1.0)):
        out = fvg_batch_nb(fvg_init_state(**p), o, h, lo, c)
        assert_rows_equal(out, fvg_oracle(o, h, lo, c, **p))
        col = dict(zip(FVG_COLUMNS, out.T, strict=True))
        for name in ("bullish_new", "bearish_new", "bullish_mitigated", "bearish_mitigated"):
            assert col[name].sum() > 10, name
    assert col["bullish_count"].max() == 3  # capacity reached (and evicting)
    assert (col["nearest_age"] == 20).any()


# --------------------------------------------------------------------------- real bars


def read_bars(name, resample=None):
    df = pd.read_csv(DATA / name, parse_dates=["timestamp"], index_col="timestamp")
    if resample:
        df = df.resample(resample, closed="left", label="left").agg(
            {"open": "first", "high": "max", "low": "min", "close": "last"}).dropna()
    # writeable copies: pandas' read-only views would compile a second specialisation
    return tuple(np.array(df[k], dtype=np.float64) for k in ("open", "high", "low", "close"))


@pytest.mark.parametrize("source", [("es_1min_2013-09.csv", None), ("es_1min_2013-09.csv", "5min"),
                                    ("es_30min_2013-09.csv", None),
                                    ("btcusd_1h_coinbase_2017-2019.csv", None)],
                         ids=["es_1m", "es_5m", "es_30m", "btc_1h"])
@pytest.mark.parametrize("fill_fraction", [0.0, 1.0])
def test_fvg_matches_oracle_on_real_bars(source, fill_fraction):
    o, h, lo, c = (x[:6000] for x in read_bars(*source))
    p = dict(DESIGN, fill_fraction=fill_fraction)
    out = fvg_batch_nb(fvg_init_state(**p), o, h, lo, c)
    assert_rows_equal(out, fvg_oracle(o, h, lo, c, **p))
    col = dict(zip(FVG_COLUMNS, out.T, strict=True))
    assert col["bullish_new"].sum() + col["bearish_new"].sum() > 0
    if c.shape[0] > 1000:
        assert col["bullish_mitigated"].sum() > 0 and col["bearish_mitigated"].sum() > 0
