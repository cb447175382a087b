"""The interactive report (issue 23): one offline page (Bokeh's JavaScript inlined, nothing
fetched), candles thinned without losing an extreme, curves thinned to their first, lowest,
highest and last points, every trade in the table, the text escaped, every assumption."""

from __future__ import annotations

import html
import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from replay.report.interactive import (
    PriceBars,
    bucket_candles,
    bucket_curve,
    render_interactive,
)


def bars_of(close: np.ndarray) -> PriceBars:
    n = close.shape[0]
    ts = (np.arange(n, dtype=np.int64) + 1) * 3_600 * 10**9
    return PriceBars(ts, close, close * 1.01, close * 0.99, close, np.ones(n))


@given(st.lists(st.floats(1.0, 1e5), min_size=1, max_size=3_000), st.integers(1, 500))
def test_candles_keep_the_extremes_and_the_ends(closes, max_points):
    bars = bars_of(np.array(closes))
    shown = bucket_candles(bars, max_points)
    assert shown.ts.shape[0] <= max(max_points, 1)
    assert shown.high.max() == bars.high.max() and shown.low.min() == bars.low.min()
    assert shown.open[0] == bars.open[0] and shown.close[-1] == bars.close[-1]
    assert shown.ts[-1] == bars.ts[-1] and np.all(np.diff(shown.ts) > 0)
    assert shown.volume.sum() == bars.volume.sum()


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=3_000), st.integers(8, 400))
def test_curves_keep_the_extremes_and_the_ends(values, max_points):
    v = np.array(values)
    ts = np.arange(v.shape[0], dtype=np.int64)
    t2, v2 = bucket_curve(ts, v, max_points)
    assert t2.shape[0] <= max(max_points, v.shape[0] if v.shape[0] <= max_points else 0) \
        or t2.shape[0] <= max_points
    assert v2.max() == v.max() and v2.min() == v.min()
    assert t2[0] == 0 and t2[-1] == ts[-1] and np.all(np.diff(t2) > 0)
    assert np.array_equal(v2, v[t2])  # real points, in time order


def test_the_page_is_offline_complete_and_escaped(data_factory, equity):
    data = data_factory(title="<script>alert('x')</script>")
    close = 4_500 + np.cumsum(np.ones(equity.ts.shape[0]))
    prices = PriceBars(equity.ts, close, close + 1, close - 1, close,
                       np.ones(equity.ts.shape[0]))
    source = render_interactive(data, equity, prices, 100_000 + (close - close[0]) * 50)
    # the page's text travels as the document's JSON, HTML-escaped inside its script tag
    page = html.unescape(source)
    assert source.lstrip().lower().startswith("<!doctype html>")
    assert not re.search(r"<script[^>]*\bsrc=", source)  # the JavaScript is inline
    assert not re.search(r"<link[^>]*\bhref=\"https?:", source)
    assert render_interactive(data, equity, prices) == render_interactive(data, equity, prices)
    assert "<script>alert('x')</script>" not in source
    assert html.escape("<script>alert('x')</script>") in page
    assert all(html.escape(sentence) in page for sentence in data.assumptions)
    assert f"Trades ({len(data.trades):,})" in page
    for name in ("price, indicators and trades", "volume", "equity", "drawdown", "position",
                 "buy and hold (1 contract, no costs)"):
        assert name in page
