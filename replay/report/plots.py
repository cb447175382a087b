"""PNG plots of a backtest report: equity with trades, drawdown, trade P&L (replay layer).

Figures are built with :class:`matplotlib.figure.Figure` directly, never through pyplot: no
GUI backend is selected, no global figure registry holds them (nothing to close, safe in any
process), and ``savefig`` renders PNG with Agg. PNGs carry no ``Software`` tag, so identical
inputs give identical bytes with the same matplotlib version.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from engine.core.events import TradeClosed
from replay.report.data import EquityCurve, drawdown_fraction

__all__ = ["drawdown_png", "equity_png", "heatmap_png", "pnl_histogram_png"]

_DPI = 100
_LINE = "#1f4e79"
_WIN = "#2e7d32"
_LOSS = "#c62828"
_NEUTRAL = "#555555"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _times(ts: np.ndarray) -> np.ndarray:
    return np.asarray(ts, dtype=np.int64).astype("datetime64[ns]")


def _date_axis(axes: Axes) -> None:
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _empty(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes,
              color=_NEUTRAL)
    axes.set_xticks([])
    axes.set_yticks([])


def _equity_at(equity: EquityCurve, ts: np.ndarray) -> np.ndarray:
    # The equity at the last close at or before each time (the first close before the curve).
    index = np.searchsorted(equity.ts, ts, side="right") - 1
    return equity.equity[np.clip(index, 0, equity.ts.size - 1)]


def _trade_markers(axes: Axes, equity: EquityCurve, trades: Sequence[TradeClosed]) -> None:
    size = 36.0 if len(trades) <= 200 else 12.0
    winner = np.array([trade.pnl_usd > 0 for trade in trades], dtype=bool)
    long = np.array([trade.direction == "long" for trade in trades], dtype=bool)
    entries = np.array([trade.ts_entry for trade in trades], dtype=np.int64)
    exits = np.array([trade.ts_exit for trade in trades], dtype=np.int64)
    for is_winner, colour in ((True, _WIN), (False, _LOSS)):
        for is_long, marker in ((True, "^"), (False, "v")):
            chosen = (winner == is_winner) & (long == is_long)
            if chosen.any():
                axes.scatter(_times(entries[chosen]), _equity_at(equity, entries[chosen]),
                             marker=marker, s=size, color=colour, zorder=3, linewidths=0)
        chosen = winner == is_winner
        if chosen.any():
            axes.scatter(_times(exits[chosen]), _equity_at(equity, exits[chosen]),
                         marker="x", s=size * 0.8, color=colour, zorder=3, linewidths=1.2)
    legend = [
        Line2D([], [], color=_LINE, label="equity"),
        Line2D([], [], ls="", marker="^", color=_NEUTRAL, label="long entry"),
        Line2D([], [], ls="", marker="v", color=_NEUTRAL, label="short entry"),
        Line2D([], [], ls="", marker="x", color=_NEUTRAL, label="exit"),
        Line2D([], [], ls="", marker="s", color=_WIN, label="winner"),
        Line2D([], [], ls="", marker="s", color=_LOSS, label="loser"),
    ]
    # Above the plot, right of the title: the curve never hides under it.
    axes.legend(handles=legend, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                ncols=len(legend), frameon=False, borderaxespad=0.2)


def equity_png(equity: EquityCurve, trades: Sequence[TradeClosed]) -> bytes:
    """Plot equity with trade entries and exits above the position held; return PNG bytes.

    Entries are triangles (up: long, down: short) and exits crosses, green for winners
    (``pnl_usd > 0``) and red otherwise, placed on the equity at the last close at or before
    the fill.
    """
    figure = Figure(figsize=(10, 5.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    if equity.ts.size == 0:
        _empty(top, "no bars")
        _empty(bottom, "")
        return _png(figure)
    times = _times(equity.ts)
    top.plot(times, equity.equity, color=_LINE, lw=1.0)
    if trades:
        _trade_markers(top, equity, trades)
    top.set_ylabel("equity (USD)")
    top.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    top.set_title("Equity and trades", loc="left", fontsize=11)
    top.grid(alpha=0.3)
    bottom.step(times, equity.position, where="post", color=_NEUTRAL, lw=0.8)
    bottom.axhline(0.0, color="black", lw=0.5)
    bottom.set_ylabel("position")
    bottom.grid(alpha=0.3)
    _date_axis(bottom)
    return _png(figure)


def drawdown_png(equity: EquityCurve) -> bytes:
    """Plot the drawdown below the running equity peak, in percent; return PNG bytes."""
    figure = Figure(figsize=(10, 3), layout="constrained")
    axes = figure.subplots()
    if equity.ts.size == 0:
        _empty(axes, "no bars")
        return _png(figure)
    times = _times(equity.ts)
    drawdown = -100.0 * drawdown_fraction(equity.equity)
    axes.fill_between(times, drawdown, 0.0, color=_LOSS, alpha=0.35, lw=0)
    axes.plot(times, drawdown, color=_LOSS, lw=0.8)
    axes.set_ylabel("drawdown (%)")
    axes.set_title("Drawdown from peak", loc="left", fontsize=11)
    axes.grid(alpha=0.3)
    _date_axis(axes)
    return _png(figure)


def _histogram(axes: Axes, values: np.ndarray, winner: np.ndarray, label: str) -> None:
    finite = np.isfinite(values)
    values, winner = values[finite], winner[finite]
    if values.size == 0:
        _empty(axes, f"no {label}")
        return
    bins = min(50, max(10, int(np.sqrt(values.size))))
    edges = np.histogram_bin_edges(values, bins=bins)
    axes.hist([values[~winner], values[winner]], bins=edges.tolist(), stacked=True,
              color=[_LOSS, _WIN], label=["losers", "winners"])
    axes.axvline(0.0, color="black", lw=0.6)
    axes.axvline(float(values.mean()), color=_LINE, lw=1.0, ls="--", label="mean")
    axes.set_xlabel(label)
    axes.set_ylabel("trades")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8, frameon=False)
    axes.grid(alpha=0.3)


def pnl_histogram_png(trades: Sequence[TradeClosed]) -> bytes:
    """Plot histograms of trade P&L in USD and, when any trade has one, of R; return PNG bytes."""
    pnl = np.array([trade.pnl_usd for trade in trades], dtype=np.float64)
    r_multiple = np.array(
        [np.nan if trade.r_multiple is None else trade.r_multiple for trade in trades],
        dtype=np.float64,
    )
    winner = pnl > 0
    with_r = bool(np.isfinite(r_multiple).any())
    figure = Figure(figsize=(10, 3.5), layout="constrained")
    panels = figure.subplots(1, 2 if with_r else 1, squeeze=False)[0]
    figure.suptitle("Trade results", x=0.01, ha="left", fontsize=11)
    if pnl.size == 0:
        _empty(panels[0], "no trades")
        return _png(figure)
    _histogram(panels[0], pnl, winner, "P&L per trade (USD)")
    if with_r:
        _histogram(panels[1], r_multiple, winner, "R multiple")
    return _png(figure)


def heatmap_png(values: np.ndarray, x_label: str, x_ticks: Sequence[str], y_label: str,
                y_ticks: Sequence[str], title: str, best: tuple[int, int] | None = None
                ) -> bytes:
    """A two-parameter grid of one figure, ``values[y, x]`` (``nan``: not run, failed or
    undefined, drawn blank), each cell annotated; ``best`` (y, x) is outlined. Diverging
    colours centred on zero."""
    figure = Figure(figsize=(max(5.0, 0.9 * len(x_ticks) + 2.5),
                             max(3.5, 0.5 * len(y_ticks) + 2.0)), layout="constrained")
    axes = figure.subplots()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        _empty(axes, "no finished trial")
        return _png(figure)
    limit = float(np.abs(finite).max()) or 1.0
    image = axes.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=-limit, vmax=limit,
                        aspect="auto", origin="lower")
    figure.colorbar(image, ax=axes, shrink=0.9)
    axes.set_xticks(range(len(x_ticks)), list(x_ticks), rotation=45 if len(x_ticks) > 8 else 0)
    axes.set_yticks(range(len(y_ticks)), list(y_ticks))
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.set_title(title, loc="left", fontsize=11)
    if values.size <= 400:
        for (y, x), value in np.ndenumerate(values):
            text = "n/a" if not np.isfinite(value) else f"{value:.2f}"
            axes.text(x, y, text, ha="center", va="center", fontsize=8, color="black")
    if best is not None:
        y, x = best
        axes.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, lw=2.0,
                                 edgecolor="black"))
    return _png(figure)
