"""What a strategy or a research run adds to the interactive report (PageExtras in
replay/report/interactive.py): indicator lines with gaps, zones, shaded bands, timeline
panels (a markers one with hover labels) and an HTML section, on a deterministic page; the
trade table's filter widgets; the thinning of long lines, which keeps every gap and the
extremes."""

from __future__ import annotations

import html
import json
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.report.interactive import (
    Band,
    Line,
    PageExtras,
    PriceBars,
    Timeline,
    Zone,
    _thin_line,
    largest_zones,
    render_interactive,
)

SECTION = ("<section><h2>Folds &amp; windows</h2><p class=\"note\">fold 'A' \u2014 "
           "x < y & z > w; <b>bold</b> </script><script>alert(1)</script></p></section>")


def embedded(text: str) -> str:
    """``text`` as Bokeh embeds a document string: JSON string content (non-ASCII as
    ``\\u`` escapes), HTML-escaped."""
    return html.escape(json.dumps(text)[1:-1], quote=False)


def strings(node: object) -> list[str]:
    """Every string inside a decoded JSON document."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def prices_of(ts: np.ndarray) -> PriceBars:
    close = 4_500 + np.cumsum(np.sin(np.arange(ts.shape[0]) / 7.0))
    return PriceBars(ts, close, close + 1, close - 1, close, np.ones(ts.shape[0]))


def extras_for(ts: np.ndarray) -> PageExtras:
    n = ts.shape[0]
    values = 4_500 + np.arange(n, dtype=np.float64)
    gappy = values.copy()
    gappy[10:20] = np.nan
    gappy[50] = np.nan
    markers = [0, 40, 120]
    return PageExtras(
        lines=[Line("SMA 10 5m", ts, values, "#1f77b4"),
               Line("LVN support 30m", ts, gappy, "#ff7f0e", "dotted")],
        zones=[Zone("FVG 5m bullish", int(ts[5]), int(ts[30]), 4_490.0, 4_495.0, "#26a69a"),
               Zone("FVG 5m bearish", int(ts[60]), int(ts[90]), 4_520.0, 4_522.5, "#ef5350")],
        bands=[Band(int(ts[0]), int(ts[n // 2]), "fold 1 test"),
               Band(int(ts[n // 2]), int(ts[-1]), "fold 2 test")],
        timelines=[
            Timeline("regime vector (test)", "mu",
                     [Line("mu0", ts, np.cos(np.arange(n) / 9.0), "#2ca02c")]),
            Timeline("gate 1 per setup (test)", "score / std",
                     [Line("score, passed gate 1", ts[markers], np.array([0.7, 0.8, 0.9]),
                           "#1b9e3a", labels=[f"setup at bar {i}" for i in markers])],
                     markers=True)],
        section=SECTION)


def test_the_extras_appear_on_a_deterministic_page(data, equity):
    ts = equity.ts
    source = render_interactive(data, equity, prices_of(ts), extras=extras_for(ts))
    assert render_interactive(data, equity, prices_of(ts), extras=extras_for(ts)) == source
    page = html.unescape(source)
    for name in ("SMA 10 5m", "LVN support 30m", "FVG 5m bullish", "FVG 5m bearish",
                 "fold 1 test", "fold 2 test", "regime vector (test)", "mu0",
                 "gate 1 per setup (test)", "score, passed gate 1", "setup at bar 40"):
        assert name in page, name
    # the section travels inside the document's JSON, HTML-escaped: no raw tag of it in the
    # page, so its </script> cannot end the document's script early
    assert embedded(SECTION) in source
    assert "<script>alert(1)</script>" not in source
    [doc] = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', source,
                       re.DOTALL)
    assert any(SECTION in text for text in strings(json.loads(html.unescape(doc))))
    # the section sits under the key figures, before the targets
    text = page.index("<h2>Folds &amp; windows</h2>")
    assert page.index("PSR") < text < page.index("Targets")


def test_without_prices_the_timelines_bands_and_trade_table_remain(data, equity):
    page = html.unescape(render_interactive(data, equity, None, extras=extras_for(equity.ts)))
    assert "regime vector (test)" in page and "fold 1 test" in page
    assert "price, indicators and trades" not in page
    n = len(data.trades)
    for widget in ("setup contains", "exit reason", "result", "side"):
        assert f'"title":"{widget}"' in page, widget
    assert f"showing {n:,} of {n:,} trades" in page
    reasons = sorted({t.exit_reason for t in data.trades})
    assert f'"options":{json.dumps(["all", *reasons], separators=(",", ":"))}' in page
    assert "toLocaleString" in page  # the filter script recounts what it shows


def test_no_trades_gives_no_table(data_factory, equity):
    page = html.unescape(render_interactive(data_factory(trades=[]), equity))
    assert "No trades." in page and "setup contains" not in page


def test_largest_zones_keeps_the_tallest_in_their_order():
    zones = [Zone("z", i, i + 1, 0.0, h, "#000") for i, h in
             enumerate([1.0, 5.0, 2.0, 4.0, 3.0, 5.0, 0.5])]
    kept = largest_zones(zones, 3)
    assert [(z.start, z.high) for z in kept] == [(1, 5.0), (3, 4.0), (5, 5.0)]
    assert largest_zones(zones, 7) == zones
    tie = largest_zones([Zone("z", i, i, 0.0, 1.0, "#000") for i in range(4)], 2)
    assert [z.start for z in tie] == [0, 1]  # ties: the first


# -- thinning a line keeps its gaps and extremes --------------------------------------------


_value = st.one_of(st.floats(-1e6, 1e6), st.just(np.nan))


@settings(max_examples=80)
@given(st.lists(_value, min_size=1, max_size=600), st.integers(4, 60))
def test_thinning_keeps_every_gap_and_the_extremes(values, max_points):
    v = np.array(values, dtype=np.float64)
    ts = np.arange(v.shape[0], dtype=np.int64) * 60 + 1_000
    t2, v2 = _thin_line(Line("x", ts, v, "#000"), max_points)
    assert np.all(np.diff(t2) > 0)  # time order, no point twice
    index = (t2 - 1_000) // 60
    assert np.array_equal(v2, v[index], equal_nan=True)  # real points
    finite = np.isfinite(v)
    # every run of gaps stays exactly one gap point, at its first bar
    starts = np.flatnonzero(~finite & np.concatenate(([True], finite[:-1])))
    assert np.array_equal(index[np.isnan(v2)], starts)
    # no drawn segment bridges a gap: between two kept finite points, no gap was dropped
    kept = np.isfinite(v2)
    for a, b, fa, fb in zip(index[:-1], index[1:], kept[:-1], kept[1:], strict=True):
        if fa and fb:
            assert finite[a:b + 1].all()
    if finite.any():
        assert v2[kept].max() == v[finite].max() and v2[kept].min() == v[finite].min()
        assert index[kept][0] == np.flatnonzero(finite)[0]
        assert index[kept][-1] == np.flatnonzero(finite)[-1]
        assert kept.sum() <= max(max_points, 0) or kept.sum() == finite.sum()
    else:
        assert kept.sum() == 0


def test_a_line_that_fits_is_left_alone():
    v = np.array([1.0, np.nan, np.nan, 2.0, 3.0])
    ts = np.arange(5, dtype=np.int64)
    t2, v2 = _thin_line(Line("x", ts, v, "#000"), 100)
    assert t2.tolist() == [0, 1, 3, 4]
    assert np.array_equal(v2, [1.0, np.nan, 2.0, 3.0], equal_nan=True)
    t3, v3 = _thin_line(Line("x", ts, np.array([1.0, 2.0, 3.0, 4.0, 5.0]), "#000"), 100)
    assert t3.tolist() == ts.tolist() and v3.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_renumbering_bokeh_ids_leaves_a_text_shaped_like_one_alone(data_factory, trade_factory,
                                                                    equity):
    # Bokeh's ids look like "p123"; a setup tag (or a parameter) spelled the same must survive
    data = data_factory(trades=[trade_factory(1, tag="p12"), trade_factory(2, tag="p7")])
    page = render_interactive(data, equity)
    assert '["p12","p7"]' in page  # the tag column, as it was
    assert render_interactive(data, equity) == page


def test_a_section_with_non_ascii_text_goes_into_its_slot(data, equity):
    from replay.report.interactive import insert_section

    page = insert_section(render_interactive(data, equity), "<p>Σ P&L – 5 €</p>")
    assert html.escape(json.dumps("<p>Σ P&L – 5 €</p>")[1:-1], quote=False) in page


def test_the_page_opens_on_the_span_its_address_names_and_fits_the_price_to_it(data, equity):
    close = 4_500 + np.cumsum(np.ones(equity.ts.shape[0]))
    prices = PriceBars(equity.ts, close, close + 1, close - 1, close,
                       np.ones(equity.ts.shape[0]))
    page = render_interactive(data, equity, prices)
    assert "window.location.hash" in page  # report.html#2019-03-01..2019-03-20
    assert "y_range.start = lo - pad" in page  # every panel refits what is in view
    assert "document_ready" in page or "DocumentReady" in page
