"""EquityAccumulator: any chunking equals one chunk equals a straightforward array oracle.

Oracle (written independently of the accumulator): bar returns from the whole equity array,
two-pass moments, drawdowns from ``np.maximum.accumulate`` over ``[initial, *equity]``,
drawdown spells as maximal runs of bars below the running peak (the bar before a run is its
peak; a run ends at the first bar back at the peak, or at the last bar), and end-of-day equity
from ``pandas.groupby(day).last()``. Equity is drawn both as whole numbers, so that the curve
returns *exactly* to old peaks, and as compounded float returns.
"""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from replay.metrics import EquityAccumulator

NS = 10**9
FIELDS_EXACT = ("bars", "first_ts", "last_ts", "days", "max_drawdown_bars", "max_drawdown_ns",
                "exposure_bars")
FIELDS_CLOSE = ("final_equity", "bar_return_mean", "bar_return_m2", "bar_downside_sum_squares",
                "max_drawdown", "max_drawdown_usd")


@st.composite
def curves(draw, max_bars=80):
    """Hypothesis draws the structure (length, kind, chunk cuts, seed); the values come from a
    seeded generator, which keeps examples cheap while every one stays reproducible."""
    n = draw(st.integers(1, max_bars))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    initial = draw(st.sampled_from([100.0, 1000.0, 1e6]))
    if draw(st.booleans()):
        equity = rng.integers(50, 151, n) * initial / 100.0
    else:
        r = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(-0.05, 0.05, n))
        equity = initial * np.cumprod(1.0 + r)
    gaps = rng.choice(np.array([0, 60, 300, 3600, 70_000]) * NS, n - 1)
    ts = 1_700_000_000 * NS + np.concatenate(([0], np.cumsum(gaps, dtype=np.int64)))
    day = 19_000 + np.concatenate(([0], np.cumsum(rng.choice([0, 0, 0, 1, 3], n - 1))))
    position = rng.choice([0.0, 0.0, 1.0, -2.0], n)
    cuts = st.lists(st.integers(0, n), max_size=8).map(sorted)
    if n <= 40:  # one-bar chunks too (kept short: each update costs ~50 us of numpy overhead)
        cuts = st.one_of(cuts, st.just(list(range(1, n))))
    cuts = draw(cuts)
    return initial, ts.astype(np.int64), equity, position, day.astype(np.int64), cuts


def oracle(initial, ts, equity, position, day):
    n = equity.size
    r = equity / np.r_[initial, equity[:-1]] - 1
    curve = np.r_[initial, equity]
    peak = np.maximum.accumulate(curve)
    under = (curve < np.r_[initial, peak[:-1]])[1:]  # bar i below the peak before it
    longest_bars = longest_ns = 0
    i = 0
    while i < n:
        if not under[i]:
            i += 1
            continue
        start = i
        while i < n and under[i]:
            i += 1
        end = min(i, n - 1)  # recovery bar, or the last bar
        peak_bar = start - 1
        longest_bars = max(longest_bars, end - peak_bar)
        longest_ns = max(longest_ns, int(ts[end] - ts[max(peak_bar, 0)]))
    daily = pd.Series(equity).groupby(day).last()
    return {
        "bars": n, "first_ts": int(ts[0]), "last_ts": int(ts[-1]), "days": daily.size,
        "max_drawdown_bars": longest_bars, "max_drawdown_ns": longest_ns,
        "exposure_bars": int(np.count_nonzero(position)),
        "final_equity": equity[-1], "bar_return_mean": r.mean(),
        "bar_return_m2": np.sum((r - r.mean()) ** 2),
        "bar_downside_sum_squares": np.sum(np.minimum(r, 0) ** 2),
        "max_drawdown": np.max((peak - curve) / peak),
        "max_drawdown_usd": np.max(peak - curve),
        "day_ids": daily.index.to_numpy(),
        "daily_equity": daily.to_numpy(),
        "daily_returns": daily.to_numpy() / np.r_[initial, daily.to_numpy()[:-1]] - 1,
    }


def accumulate(initial, ts, equity, position, day, cuts):
    acc = EquityAccumulator(initial)
    bounds = [0, *cuts, equity.size]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        acc.update(ts[a:b], equity[a:b], position[a:b], day[a:b])
    return acc


def summary(acc):
    values = {name: getattr(acc, name) for name in FIELDS_EXACT + FIELDS_CLOSE}
    values.update(day_ids=acc.day_ids(), daily_equity=acc.daily_equity(),
                  daily_returns=acc.daily_returns())
    return values


def assert_same(got, expected):
    for name in FIELDS_EXACT:
        assert got[name] == expected[name], name
    for name in FIELDS_CLOSE:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    np.testing.assert_array_equal(got["day_ids"], expected["day_ids"])
    np.testing.assert_array_equal(got["daily_equity"], expected["daily_equity"])
    np.testing.assert_allclose(got["daily_returns"], expected["daily_returns"], rtol=1e-12)


@given(curves())
def test_any_chunking_equals_one_chunk_and_the_array_oracle(case):
    initial, ts, equity, position, day, cuts = case
    chunked = summary(accumulate(*case))
    whole = summary(accumulate(initial, ts, equity, position, day, []))
    assert_same(chunked, whole)
    assert_same(whole, oracle(initial, ts, equity, position, day))
