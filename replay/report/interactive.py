"""The interactive backtest report: one self-contained, offline HTML page (replay layer).

Bokeh with its JavaScript inlined (``bokeh.resources.INLINE``: no CDN, the page works with
networking off): price candles of the evaluated period with every trade's entry and exit
(triangles up for longs, down for shorts, a dashed line to the exit, green for a win, red for
a loss; hover for the trade's figures), volume, the equity curve beside buy-and-hold (one
contract held from the first evaluated bar, no costs), the drawdown and the position, all on
one linked time axis (pan, wheel zoom, box zoom, reset, hover), then a sortable, scrolling
table of every trade, the targets, the fill assumptions and the whole console summary (the
intrabar bound, costs, counts, intervals). The page holds no wall-clock time and no absolute
path, and Bokeh's ids are renumbered in order of appearance: the same run writes the same
bytes.

Long runs stay usable: the candles are merged into at most ``max_points`` buckets (each
bucket's first open, highest high, lowest low, last close, summed volume) and the equity,
drawdown and position curves keep each bucket's first, lowest, highest and last point, so
the extremes survive. The trades are drawn and listed whole.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from replay.report.data import EquityCurve, ReportData, drawdown_fraction
from replay.report.formatting import format_money, format_percent, iso_utc

__all__ = ["Band", "Line", "PageExtras", "PriceBars", "Timeline", "Zone", "bucket_candles",
           "bucket_curve", "insert_section", "largest_zones", "learned_section",
           "render_interactive"]

MAX_POINTS = 8_000  # per curve or indicator line
MAX_CANDLES = 25_000  # the bundled 20k hourly bars are drawn one candle per bar
MAX_ZONES = 2_000


class PriceBars(NamedTuple):
    """The bars of the evaluated period (ns close times ascending, OHLCV)."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


class Line(NamedTuple):
    """A series over time: an indicator drawn over the candles, or one line of a timeline
    panel (``ts`` ns ascending; ``nan`` values leave a gap)."""

    name: str
    ts: np.ndarray
    values: np.ndarray
    color: str
    dash: str = "solid"
    labels: list[str] | None = None  # a hover text per point (a timeline's markers)


class Zone(NamedTuple):
    """A price zone over a time span (a fair value gap from its creation to its mitigation
    or the end), drawn as a translucent box over the candles."""

    name: str
    start: int
    end: int
    low: float
    high: float
    color: str


class Band(NamedTuple):
    """A time window shaded on every time panel, with its label (a walk-forward fold's test
    window)."""

    start: int
    end: int
    label: str


class Timeline(NamedTuple):
    """A panel of lines under the equity panels on the same time axis (the regime vector,
    the gate's per-setup figures)."""

    title: str
    y_label: str
    lines: list[Line]
    height: int = 180
    markers: bool = False  # points (one value per setup) instead of lines


@dataclass(frozen=True)
class PageExtras:
    """What a strategy or a research run adds to the page: ``lines`` and ``zones`` over the
    candles, ``bands`` on every time panel, ``timelines`` under the position panel, and
    ``section`` (HTML) under the key figures."""

    lines: list[Line] = field(default_factory=list)
    zones: list[Zone] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    timelines: list[Timeline] = field(default_factory=list)
    section: str = ""


def _edges(n: int, max_points: int) -> np.ndarray:
    buckets = max(1, min(n, max_points))
    return np.linspace(0, n, buckets + 1).astype(np.int64)


def bucket_candles(bars: PriceBars, max_points: int = MAX_POINTS) -> PriceBars:
    """``bars`` merged into at most ``max_points`` candles (module docstring); unchanged when
    they already fit."""
    n = bars.ts.shape[0]
    if n <= max_points:
        return bars
    edges = _edges(n, max_points)
    starts, ends = edges[:-1], edges[1:] - 1
    return PriceBars(ts=bars.ts[ends], open=bars.open[starts],
                     high=np.maximum.reduceat(bars.high, starts),
                     low=np.minimum.reduceat(bars.low, starts), close=bars.close[ends],
                     volume=np.add.reduceat(bars.volume, starts))


def bucket_curve(ts: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A curve thinned to each bucket's first, lowest, highest and last point, in time order
    (module docstring); unchanged when it fits in ``max_points``."""
    n = ts.shape[0]
    if n <= max_points:
        return ts, values
    edges = _edges(n, max(1, max_points // 4))
    keep = set()
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b <= a:
            continue
        part = values[a:b]
        keep.update((int(a), int(b - 1), int(a + np.argmin(part)), int(a + np.argmax(part))))
    index = np.array(sorted(keep), dtype=np.int64)
    return ts[index], values[index]


def _times(ns: list[int]) -> list[str]:
    return iso_utc(np.array(ns, dtype=np.int64))


def number(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, ``n/a`` when not finite."""
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


_num = number


def _ms(ts: np.ndarray) -> np.ndarray:
    return ts.astype(np.float64) / 1e6  # Bokeh's datetime axis: milliseconds since the epoch


def _figure(title: str, height: int, x_range: object | None, y_label: str) -> object:
    from bokeh.plotting import figure

    kwargs = {"x_range": x_range} if x_range is not None else {}
    fig = figure(title=title, height=height, sizing_mode="stretch_width",
                 x_axis_type="datetime", tools="xpan,xwheel_zoom,box_zoom,reset,save",
                 active_scroll="xwheel_zoom", active_drag="xpan", **kwargs)
    fig.yaxis.axis_label = y_label
    fig.toolbar.logo = None
    return fig


_FIT_Y_JS = """
const x0 = x_range.start, x1 = x_range.end;
let lo = Infinity, hi = -Infinity;
for (let k = 0; k < sources.length; k++) {
  const d = sources[k].data, t = d.t, L = d[lows[k]], H = d[highs[k]];
  let i = 0, j = t.length;
  while (i < j) { const m = (i + j) >> 1; if (t[m] < x0) i = m + 1; else j = m; }
  for (; i < t.length && t[i] <= x1; i++) {
    if (L[i] < lo) lo = L[i];
    if (H[i] > hi) hi = H[i];
  }
}
if (zero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
if (isFinite(lo) && isFinite(hi)) {
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.01 || 1;
  y_range.start = lo - pad;
  y_range.end = hi + pad;
}
"""


def _fit_y(fig: object, parts: list[tuple[object, str, str]], zero: bool = False) -> None:
    """The panel's vertical range follows what is in view: on every pan or zoom of the time
    axis it spans the lowest to the highest of ``parts`` (source, low column, high column)
    between the axis' ends, with a 5 % margin (and 0 with ``zero``)."""
    from bokeh.models import CustomJS, Range1d

    lows = [np.asarray(src.data[lo], dtype=np.float64) for src, lo, _ in parts]  # type: ignore[attr-defined]
    highs = [np.asarray(src.data[hi], dtype=np.float64) for src, _, hi in parts]  # type: ignore[attr-defined]
    finite = [v[np.isfinite(v)] for v in lows + highs]
    values = np.concatenate(finite) if finite else np.zeros(0)
    if values.shape[0] == 0:
        return
    lo, hi = float(values.min()), float(values.max())
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.01 or 1.0
    fig.y_range = Range1d(lo - pad, hi + pad)  # type: ignore[attr-defined]
    code = CustomJS(args={"x_range": fig.x_range, "y_range": fig.y_range,  # type: ignore[attr-defined]
                          "sources": [src for src, _, _ in parts],
                          "lows": [lo for _, lo, _ in parts],
                          "highs": [hi for _, _, hi in parts], "zero": zero}, code=_FIT_Y_JS)
    fig.x_range.js_on_change("start", code)  # type: ignore[attr-defined]
    fig.x_range.js_on_change("end", code)  # type: ignore[attr-defined]


def _bar_width(ts: np.ndarray) -> float:
    """A candle's width on the axis (ms): 70 % of the typical spacing."""
    return float(np.median(np.diff(ts))) / 1e6 * 0.7 if ts.shape[0] > 1 else 1.0


def _price_panel(shown: PriceBars, data: ReportData, extras: PageExtras, max_points: int
                 ) -> object:
    """Candles of the (thinned) bars ``shown`` with the strategy's indicator lines and zones,
    and the trades with their stop and target levels."""
    from bokeh.models import ColumnDataSource, HoverTool

    fig = _figure(f"{data.instrument} {data.timeframe}: price, indicators and trades", 460,
                  None, "price")
    width = _bar_width(shown.ts)
    up = shown.close >= shown.open
    candles = ColumnDataSource({
        "t": _ms(shown.ts), "open": shown.open, "high": shown.high, "low": shown.low,
        "close": shown.close, "top": np.maximum(shown.open, shown.close),
        "bottom": np.minimum(shown.open, shown.close),
        "color": np.where(up, "#26a69a", "#ef5350")})
    fig.segment("t", "high", "t", "low", source=candles, color="color")
    bodies = fig.vbar("t", width, "top", "bottom", source=candles, fill_color="color",
                      line_color="color")
    _fit_y(fig, [(candles, "low", "high")])
    _zones(fig, extras.zones)
    for line in extras.lines:
        ts, values = _thin_line(line, max_points)
        fig.line(_ms(ts), values, color=line.color, line_width=1.4, line_dash=line.dash,
                 legend_label=line.name, alpha=0.9)
    if data.trades:
        _trades(fig, data)
    fig.add_tools(HoverTool(renderers=[bodies], tooltips=[
        ("close", "@t{%F %H:%M}"), ("O H L C", "@open{0,0.00} @high{0,0.00} @low{0,0.00} "
                                             "@close{0,0.00}")],
        formatters={"@t": "datetime"}, mode="vline"))
    if fig.legend:
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
        fig.legend.orientation = "horizontal"
        fig.legend.background_fill_alpha = 0.6
    return fig


def largest_zones(zones: list[Zone], max_zones: int = MAX_ZONES) -> list[Zone]:
    """The ``max_zones`` tallest of ``zones`` (ties: the first), in their order."""
    if len(zones) <= max_zones:
        return zones
    keep = sorted(range(len(zones)), key=lambda i: (-(zones[i].high - zones[i].low), i))
    return [zones[i] for i in sorted(keep[:max_zones])]


def _zones(fig: object, zones: list[Zone]) -> None:
    """Zones as translucent boxes, one renderer per name (so the legend can hide them); the
    tallest :data:`MAX_ZONES` of them."""
    from bokeh.models import ColumnDataSource

    zones = largest_zones(zones)
    for name in dict.fromkeys(z.name for z in zones):
        mine = [z for z in zones if z.name == name]
        source = ColumnDataSource({
            "left": [z.start / 1e6 for z in mine], "right": [z.end / 1e6 for z in mine],
            "bottom": [z.low for z in mine], "top": [z.high for z in mine],
            "color": [z.color for z in mine]})
        fig.quad(left="left", right="right", bottom="bottom", top="top",  # type: ignore[attr-defined]
                 source=source, fill_color="color", fill_alpha=0.18, line_alpha=0,
                 legend_label=name)


def _level(value: float | None) -> float:
    return math.nan if value is None else value


def _trades(fig: object, data: ReportData) -> None:
    """Entries (triangles), exits (crosses), a dashed line between them, and each trade's
    stop (red) and target (green) level from entry to exit."""
    from bokeh.models import ColumnDataSource, HoverTool

    trades = data.trades
    win = ["#1b9e3a" if t.pnl_usd > 0 else "#c62828" for t in trades]
    source = ColumnDataSource({
        "entry_t": _ms(np.array([t.ts_entry for t in trades], dtype=np.int64)),
        "exit_t": _ms(np.array([t.ts_exit for t in trades], dtype=np.int64)),
        "entry": [t.entry_price for t in trades], "exit": [t.exit_price for t in trades],
        "stop": [_level(t.stop_price) for t in trades],
        "target": [_level(t.target_price) for t in trades],
        "marker": ["triangle" if t.direction == "long" else "inverted_triangle"
                   for t in trades],
        "color": win, "id": [t.trade_id for t in trades],
        "side": [t.direction for t in trades], "qty": [t.quantity for t in trades],
        "pnl": [round(t.pnl_usd, 2) for t in trades],
        "r": ["" if t.r_multiple is None else f"{t.r_multiple:.2f}" for t in trades],
        "reason": [t.exit_reason for t in trades], "tag": [t.tag for t in trades],
        "entry_time": _times([t.ts_entry for t in trades]),
        "exit_time": _times([t.ts_exit for t in trades])})
    if any(t.stop_price is not None for t in trades):
        fig.segment("entry_t", "stop", "exit_t", "stop", source=source,  # type: ignore[attr-defined]
                    color="#e53935", line_width=2, alpha=0.8, legend_label="stop")
    if any(t.target_price is not None for t in trades):
        fig.segment("entry_t", "target", "exit_t", "target", source=source,  # type: ignore[attr-defined]
                    color="#43a047", line_width=2, alpha=0.8, legend_label="target")
    fig.segment("entry_t", "entry", "exit_t", "exit", source=source,  # type: ignore[attr-defined]
                color="color", line_dash="dashed", line_width=1.5)
    entries = fig.scatter("entry_t", "entry", source=source,  # type: ignore[attr-defined]
                          marker="marker", size=11, fill_color="color", line_color="black")
    fig.scatter("exit_t", "exit", source=source, marker="x", size=9,  # type: ignore[attr-defined]
                color="color", line_width=2)
    fig.add_tools(HoverTool(renderers=[entries], tooltips=[  # type: ignore[attr-defined]
        ("trade", "@id @side @qty"), ("entry", "@entry_time  @entry{0,0.00}"),
        ("exit", "@exit_time  @exit{0,0.00} (@reason)"),
        ("stop / target", "@stop{0,0.00} / @target{0,0.00}"), ("P&L", "$@pnl{0,0.00}"),
        ("R", "@r"), ("setup", "@tag")]))


def _line_panel(title: str, height: int, x_range: object, y_label: str,
                series: list[tuple[str, np.ndarray, np.ndarray, str]], fill: bool = False,
                step: bool = False) -> object:
    from bokeh.models import ColumnDataSource, HoverTool

    fig = _figure(title, height, x_range, y_label)
    sources = []
    for label, ts, values, color in series:
        source = ColumnDataSource({"t": _ms(ts), "v": values})
        sources.append(source)
        if fill:
            fig.varea("t", 0, "v", source=source, fill_color=color, fill_alpha=0.4)
        if step:
            line = fig.step("t", "v", source=source, color=color, mode="after",
                            legend_label=label)
        else:
            line = fig.line("t", "v", source=source, color=color, line_width=1.6,
                            legend_label=label)
        fig.add_tools(HoverTool(renderers=[line], tooltips=[(label, "@v{0,0.00}"),
                                                            ("time", "@t{%F %H:%M}")],
                                formatters={"@t": "datetime"}, mode="vline"))
    _fit_y(fig, [(src, "v", "v") for src in sources], zero=fill or step)
    if y_label == "USD":
        from bokeh.models import NumeralTickFormatter

        fig.yaxis.formatter = NumeralTickFormatter(format="$0,0")
    fig.legend.location = "top_left"
    fig.legend.click_policy = "hide"
    return fig


_FILTER_JS = """
const side = side_select.value, result = result_select.value, reason = reason_select.value;
const tag = tag_input.value.trim().toLowerCase();
const d = source.data, n = d.id.length, keep = new Array(n);
let shown = 0;
for (let i = 0; i < n; i++) {
  keep[i] = (side === "all" || d.side[i] === side)
    && (result === "all" || (result === "win" ? d.pnl[i] > 0 : d.pnl[i] <= 0))
    && (reason === "all" || d.reason[i] === reason)
    && (tag === "" || String(d.tag[i]).toLowerCase().includes(tag));
  if (keep[i]) shown++;
}
filter.booleans = keep;
source.change.emit();
count.text = `showing ${shown.toLocaleString()} of ${n.toLocaleString()} trades`;
"""


def _trade_table(data: ReportData) -> list[object]:
    """Filters (side, win or loss, exit reason, setup text) above a sortable, scrolling
    table of every trade; the table renders only the visible rows, so thousands stay
    quick."""
    from bokeh.layouts import row
    from bokeh.models import (
        BooleanFilter,
        CDSView,
        ColumnDataSource,
        CustomJS,
        DataTable,
        Div,
        NumberFormatter,
        Select,
        TableColumn,
        TextInput,
    )

    trades = data.trades
    source = ColumnDataSource({
        "id": [t.trade_id for t in trades], "side": [t.direction for t in trades],
        "qty": [t.quantity for t in trades],
        "entry_time": _times([t.ts_entry for t in trades]),
        "entry": [t.entry_price for t in trades],
        "exit_time": _times([t.ts_exit for t in trades]),
        "exit": [t.exit_price for t in trades], "reason": [t.exit_reason for t in trades],
        "stop": [_level(t.stop_price) for t in trades],
        "target": [_level(t.target_price) for t in trades],
        "pnl": [t.pnl_usd for t in trades],
        "r": [math.nan if t.r_multiple is None else t.r_multiple for t in trades],
        "bars": [t.bars_held for t in trades], "tag": [t.tag for t in trades]})
    money = NumberFormatter(format="0,0.00")
    columns = [TableColumn(field="id", title="#", width=50),
               TableColumn(field="side", title="side", width=60),
               TableColumn(field="qty", title="qty", width=50),
               TableColumn(field="entry_time", title="entry (UTC)", width=165),
               TableColumn(field="entry", title="entry", formatter=money),
               TableColumn(field="exit_time", title="exit (UTC)", width=165),
               TableColumn(field="exit", title="exit", formatter=money),
               TableColumn(field="reason", title="exit reason"),
               TableColumn(field="stop", title="stop", formatter=money),
               TableColumn(field="target", title="target", formatter=money),
               TableColumn(field="pnl", title="P&L USD", formatter=money),
               TableColumn(field="r", title="R", formatter=NumberFormatter(format="0.00")),
               TableColumn(field="bars", title="bars"),
               TableColumn(field="tag", title="setup")]
    view = CDSView(filter=BooleanFilter([True] * len(trades)))
    table = DataTable(source=source, view=view, columns=columns,
                      height=min(420, 28 + 25 * len(trades)), sizing_mode="stretch_width",
                      sortable=True, index_position=None)
    side = Select(title="side", value="all", options=["all", "long", "short"], width=110)
    result = Select(title="result", value="all", options=["all", "win", "loss"], width=110)
    reasons = sorted({t.exit_reason for t in trades})
    reason = Select(title="exit reason", value="all", options=["all", *reasons], width=130)
    tag = TextInput(title="setup contains", value="", width=160)
    count = Div(text=f"showing {len(trades):,} of {len(trades):,} trades")
    code = CustomJS(args={"source": source, "filter": view.filter, "side_select": side,
                          "result_select": result, "reason_select": reason,
                          "tag_input": tag, "count": count}, code=_FILTER_JS)
    for widget in (side, result, reason):
        widget.js_on_change("value", code)
    tag.js_on_change("value_input", code)
    return [row(side, result, reason, tag, count), table]


def _summary_html(data: ReportData) -> str:
    m = data.metrics
    e = html.escape
    figures = [("total return", format_percent(m.total_return)),
               ("Sharpe (daily)", _num(m.sharpe)), ("Sortino (daily)", _num(m.sortino)),
               ("max drawdown", format_percent(m.max_drawdown)),
               ("trades", f"{m.trades:,}"),
               ("win rate", format_percent(m.win_rate) if math.isfinite(m.win_rate) else "n/a"),
               ("profit factor", _num(m.profit_factor)),
               ("expectancy", format_money(m.expectancy_usd) if math.isfinite(m.expectancy_usd)
                else "n/a"),
               ("PSR", _num(m.probabilistic_sharpe))]
    cells = "".join(f"<div class='fig'><span>{e(k)}</span><b>{e(v)}</b></div>"
                    for k, v in figures)
    targets = "".join(
        f"<tr><td>{e(t.name)}</td><td>{t.value:.4g}</td><td>{e(t.op)} "
        f"{t.threshold:.4g}</td><td>{t.probability:.2f}</td>"
        f"<td class='{'pass' if t.passed else 'fail'}'>{'PASS' if t.passed else 'FAIL'}</td></tr>"
        for t in data.targets)
    assumptions = "".join(f"<li>{e(s)}</li>" for s in data.assumptions)
    from replay.report.console import format_summary

    full = e(format_summary(data))
    span = _times([m.start_ts, m.end_ts])
    return (f"<h1>{e(data.title)}</h1><p class='sub'>config {e(data.config_id)}; "
            f"{e(span[0])} to {e(span[1])}</p>"
            f"<div class='figs'>{cells}</div>{_SLOT}"
            f"<h2>Targets</h2><table class='t'><tr><th>target</th><th>value</th><th>need</th>"
            f"<th>P(true meets)</th><th>result</th></tr>{targets}</table>"
            f"<h2>Fill assumptions</h2><ul>{assumptions}</ul>"
            f"<details><summary>every figure (the console summary: the intrabar bound, "
            f"costs, counts, intervals)</summary><pre>{full}</pre></details>")


_SLOT = "<!--learned-section-->"  # where insert_section puts a learned strategy's figures
# the pages' shared look: fonts, title, subtitle, the key-figure boxes (an open <style>)
STYLE_HEAD = ("<style>body{font-family:system-ui,sans-serif;margin:16px 24px;color:#222}"
              "h1{font-size:1.4em;margin:0}.sub{color:#666;margin:2px 0 12px}"
              ".figs{display:flex;flex-wrap:wrap;gap:8px}.fig{border:1px solid #ddd;"
              "border-radius:6px;padding:6px 10px;min-width:110px}.fig span{display:block;"
              "font-size:.8em;color:#666}")
_STYLE = (STYLE_HEAD + ".t td,.t th{padding:2px 10px;text-align:left}"
          ".pass{color:#1b9e3a;font-weight:600}.fail{color:#c62828;font-weight:600}</style>")


def render_interactive(data: ReportData, curve: EquityCurve, prices: PriceBars | None = None,
                       benchmark: np.ndarray | None = None, max_points: int = MAX_POINTS,
                       extras: PageExtras | None = None) -> str:
    """The page of the module docstring. ``prices``: the evaluated bars (no price panel
    without them); ``benchmark``: buy-and-hold equity at ``prices``' closes; ``extras``:
    overlays, bands, timelines and a section (:class:`PageExtras`)."""
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.models import Div
    from bokeh.resources import INLINE

    extras = extras or PageExtras()
    summary = _summary_html(data).replace(_SLOT, extras.section + _SLOT, 1)
    parts: list[object] = [Div(text=_STYLE + summary, sizing_mode="stretch_width")]
    panels: list[object] = []
    x_range = None
    if prices is not None and prices.ts.shape[0]:
        shown = bucket_candles(prices, max(max_points, MAX_CANDLES))
        price = _price_panel(shown, data, extras, max_points)
        x_range = price.x_range  # type: ignore[attr-defined]
        from bokeh.models import ColumnDataSource

        volume = _figure("volume", 120, x_range, "volume")
        bars = ColumnDataSource({"t": _ms(shown.ts), "v": shown.volume})
        volume.vbar("t", _bar_width(shown.ts), "v", source=bars,  # type: ignore[attr-defined]
                    color="#90a4ae")
        _fit_y(volume, [(bars, "v", "v")], zero=True)
        panels += [price, volume]
    if curve.ts.shape[0]:
        eq_ts, eq = bucket_curve(curve.ts, curve.equity, max_points)
        series = [("strategy", eq_ts, eq, "#1565c0")]
        if benchmark is not None and prices is not None and benchmark.shape[0]:
            b_ts, b = bucket_curve(prices.ts, benchmark, max_points)
            series.append(("buy and hold (1 contract, no costs)", b_ts, b, "#9e9e9e"))
        equity = _line_panel("equity", 260, x_range, "USD", series)
        x_range = x_range or equity.x_range  # type: ignore[attr-defined]
        dd_ts, dd = bucket_curve(curve.ts, -100 * drawdown_fraction(curve.equity), max_points)
        drawdown = _line_panel("drawdown", 150, x_range, "%", [("drawdown", dd_ts, dd,
                                                                 "#c62828")], fill=True)
        pos_ts, pos = bucket_curve(curve.ts, curve.position, max_points)
        position = _line_panel("position", 120, x_range, "contracts",
                               [("position", pos_ts, pos, "#6a1b9a")], step=True)
        panels += [equity, drawdown, position]
    for timeline in extras.timelines:
        panel = _timeline_panel(timeline, x_range, max_points)
        x_range = x_range or panel.x_range  # type: ignore[attr-defined]
        panels.append(panel)
    for panel in panels:
        _shade(panel, extras.bands)
    parts += panels
    parts.append(Div(text=f"<h2>Trades ({len(data.trades):,})</h2>"
                          + ("" if data.trades else "<p>No trades.</p>")))
    if data.trades:
        parts += _trade_table(data)
    from bokeh.document import Document

    document = Document()
    document.add_root(column(*parts, sizing_mode="stretch_width"))
    if x_range is not None:
        _zoom_from_address(document, x_range)
    page: str = file_html(document, resources=INLINE, title=data.title)
    return _deterministic(page)


_ZOOM_JS = """
const day = "[0-9]{4}-[0-9]{2}-[0-9]{2}";
const m = window.location.hash.match(new RegExp("^#(" + day + "[^.]*)[.][.](" + day + ".*)$"));
if (m) {
  const zoned = /([zZ]|[+-][0-9][0-9]:?[0-9][0-9])$/;
  const utc = (s) => Date.parse(zoned.test(s) || s.length <= 10 ? s : s + "Z");
  const start = utc(decodeURIComponent(m[1])), end = utc(decodeURIComponent(m[2]));
  if (isFinite(start) && isFinite(end) && end > start) {
    x_range.start = start;
    x_range.end = end;
  }
}
"""


def _zoom_from_address(document: object, x_range: object) -> None:
    """Open zoomed on the span the page's address names: ``report.html#2019-07-01..2019-07-15``
    (ISO dates or times, UTC unless they say otherwise), so a view can be shared or
    screenshot; without one, the whole run."""
    from bokeh.events import DocumentReady
    from bokeh.models import CustomJS

    document.js_on_event(DocumentReady,  # type: ignore[attr-defined]
                         CustomJS(args={"x_range": x_range}, code=_ZOOM_JS))


_BAND_COLORS = ("#fff3e0", "#e3f2fd")


def _shade(fig: object, bands: list[Band]) -> None:
    """``bands`` as alternating shaded boxes on ``fig``, each labelled at its left edge."""
    from bokeh.models import BoxAnnotation, Label

    for k, band in enumerate(bands):
        fig.add_layout(BoxAnnotation(  # type: ignore[attr-defined]
            left=band.start / 1e6, right=band.end / 1e6, fill_alpha=0.5, level="underlay",
            fill_color=_BAND_COLORS[k % 2], line_color="#bdbdbd", line_alpha=0.8,
            line_dash="dotted"))
        fig.add_layout(Label(  # type: ignore[attr-defined]
            x=band.start / 1e6, y=4, x_units="data", y_units="screen", text=band.label,
            text_font_size="10px", text_color="#616161", x_offset=3))


def _timeline_panel(timeline: Timeline, x_range: object | None, max_points: int) -> object:
    from bokeh.models import ColumnDataSource, HoverTool

    fig = _figure(timeline.title, timeline.height, x_range, timeline.y_label)
    for line in timeline.lines:
        ts, values = (line.ts, line.values) if timeline.markers else _thin_line(line, max_points)
        columns = {"t": _ms(ts), "v": values}
        tips = [(line.name, "@v{0,0.000}"), ("time", "@t{%F %H:%M}")]
        if timeline.markers and line.labels is not None:
            columns["label"] = line.labels  # type: ignore[assignment]
            tips.append(("", "@label"))
        source = ColumnDataSource(columns)
        if timeline.markers:
            drawn = fig.scatter("t", "v", source=source, size=7, color=line.color,  # type: ignore[attr-defined]
                                legend_label=line.name)
        else:
            drawn = fig.line("t", "v", source=source, color=line.color, line_width=1.3,  # type: ignore[attr-defined]
                             line_dash=line.dash, legend_label=line.name)
        fig.add_tools(HoverTool(renderers=[drawn], tooltips=tips,  # type: ignore[attr-defined]
                                formatters={"@t": "datetime"}))
    if timeline.lines:
        fig.legend.location = "top_left"  # type: ignore[attr-defined]
        fig.legend.click_policy = "hide"  # type: ignore[attr-defined]
        fig.legend.orientation = "horizontal"  # type: ignore[attr-defined]
    return fig


def _thin_line(line: Line, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """A line thinned like the equity curve; each run of gaps (``nan``) stays a gap."""
    finite = np.isfinite(line.values)
    if finite.all():
        return bucket_curve(line.ts, line.values, max_points)
    ts, values = bucket_curve(line.ts[finite], line.values[finite], max_points)
    gaps = np.flatnonzero(~finite & ~np.concatenate(([False], ~finite[:-1])))
    order = np.argsort(np.concatenate((ts, line.ts[gaps])), kind="stable")
    return (np.concatenate((ts, line.ts[gaps]))[order],
            np.concatenate((values, np.full(gaps.shape[0], np.nan)))[order])


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Bokeh's own ids, only where the document names one (a text "p12" elsewhere is left alone)
_SIMPLE_ID = re.compile(r'("id":|root-id=|"roots":\{|"root_ids":\[)"p(\d+)"')


def _deterministic(page: str) -> str:
    """The page with Bokeh's ids (a process-wide counter, and random UUIDs for the document
    and its root elements) renumbered in order of appearance, so that the same run writes
    the same bytes. Only the document part after ``<body`` is touched (the inlined library
    is the same every time)."""
    cut = page.index("<body")
    head, body = page[:cut], page[cut:]
    uuids: dict[str, str] = {}
    simple: dict[str, str] = {}
    body = _UUID.sub(lambda m: uuids.setdefault(m.group(0), f"bk-{len(uuids) + 1:04d}"), body)
    body = _SIMPLE_ID.sub(
        lambda m: m.group(1) + simple.setdefault(m.group(2), f'"p{len(simple) + 1}"'), body)
    return head + body


def learned_section(rows: list[dict[str, float | int | str]], verdict: str,
                    gate: dict[str, object] | None) -> str:
    """HTML of a learned strategy's run beside its baselines on the same period (rows of
    ``comparison.json``) with the verdict, and gate 1's out-of-sample funnel and statistics
    (the diagnostics summary), for the top of its report."""
    e = html.escape
    head = ("<tr><th>strategy</th><th>trades</th><th>return</th><th>Sharpe</th>"
            "<th>Sortino</th><th>max DD</th><th>win</th><th>PF</th><th>PSR</th><th>DSR</th></tr>")
    body = "".join(
        f"<tr><td>{e(str(r['strategy']))}</td><td>{r['trades']}</td>"
        f"<td>{format_percent(float(r['total_return']))}</td><td>{_num(float(r['sharpe']))}</td>"
        f"<td>{_num(float(r['sortino']))}</td><td>{format_percent(float(r['max_drawdown']))}</td>"
        f"<td>{format_percent(float(r['win_rate']))}</td><td>{_num(float(r['profit_factor']))}</td>"
        f"<td>{_num(float(r['psr']))}</td><td>{_num(float(r['dsr']))}</td></tr>" for r in rows)
    out = [f"<h2>The learned pipeline beside its baselines</h2><table class='t'>{head}{body}"
           f"</table><p><b>{e(verdict)}</b></p>"]
    if gate:
        funnel = gate.get("funnel", {})
        agree = gate.get("agreement", {})
        reasons = gate.get("gate1_reasons", {})
        assert isinstance(funnel, dict) and isinstance(agree, dict) and isinstance(reasons, dict)
        out.append(
            "<h2>Gate 1 out of sample</h2><p>setups {s} &rarr; gate 1 {g} &rarr; risk {r} "
            "&rarr; traded {t}; agreement 0/1/2/3: {a0}/{a1}/{a2}/{a3}; refused by agreement "
            "only {ao}, confidence only {co}, both {bo} (per-setup figures: "
            "diagnostics/backtest_setups.csv)</p>".format(
                s=funnel.get("setups"), g=funnel.get("passed_gate1"),
                r=funnel.get("passed_risk"), t=funnel.get("traded"), a0=agree.get("0"),
                a1=agree.get("1"), a2=agree.get("2"), a3=agree.get("3"),
                ao=reasons.get("agreement_only"), co=reasons.get("confidence_only"),
                bo=reasons.get("both")))
    return "<section>" + "".join(out) + "</section>"


def _embedded(text: str) -> str:
    """``text`` as it appears in the page: a JSON string's content, HTML-escaped (how Bokeh
    embeds its document: non-ASCII as ``\\uXXXX``)."""
    import json

    return html.escape(json.dumps(text)[1:-1], quote=False)


def insert_section(page: str, section: str) -> str:
    """``page`` with ``section`` (HTML) under its key figures, inside the page's document
    (a section outside it would be covered by the layout)."""
    slot = _embedded(_SLOT)
    if slot not in page:
        raise ValueError("insert_section: the page has no slot for a section")
    return page.replace(slot, _embedded(section), 1)
