"""The HTML backtest report: one self-contained page, no scripts (replay layer).

Styles are inline and plots are PNG data URIs, so the file opens anywhere offline. Every piece
of text that comes from the run is escaped with :func:`html.escape`. The trade table shows at
most :data:`MAX_TRADE_ROWS` trades; ``trades.csv`` always holds all of them.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence

from engine.core.events import TradeClosed
from replay.report.data import EquityCurve, ReportData
from replay.report.formatting import (
    INTRABAR_MEANING,
    TARGET_HEADER,
    format_count,
    format_date,
    format_datetime,
    format_money,
    format_number,
    format_price,
    format_ratio,
    key_figures,
    metric_rows,
    target_rows,
)
from replay.report.plots import drawdown_png, equity_png, pnl_histogram_png

__all__ = ["MAX_TRADE_ROWS", "render_html"]

MAX_TRADE_ROWS = 2000

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
         gap: 0.6em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 0.7em; }
.card .label { color: #666; font-size: 0.85em; }
.card .value { font-size: 1.3em; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
.pass { color: #2e7d32; font-weight: bold; }
.fail { color: #c62828; font-weight: bold; }
tr.win td { background: #f3faf3; }
tr.loss td { background: #fdf3f3; }
.trades { font-size: 0.85em; }
img { max-width: 100%; display: block; margin: 0.8em 0; }
.note { color: #555; font-size: 0.9em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]],
           row_classes: Iterable[str] | None = None, css: str = "") -> str:
    head = "".join(f"<th>{_e(cell)}</th>" for cell in header)
    classes = iter(row_classes) if row_classes is not None else None
    body = []
    for row in rows:
        attr = f' class="{_e(next(classes))}"' if classes is not None else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>")
    table_class = f' class="{_e(css)}"' if css else ""
    return (f"<table{table_class}><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _image(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{encoded}">'


def _cards(data: ReportData) -> str:
    cards = "".join(f'<div class="card"><div class="label">{_e(label)}</div>'
                    f'<div class="value">{_e(value)}</div></div>'
                    for label, value in key_figures(data.metrics))
    return f'<div class="cards">{cards}</div>'


def _targets(data: ReportData) -> str:
    rows = target_rows(data.targets)
    body = []
    for row in rows:
        cells = [f"<td>{_e(cell)}</td>" for cell in row]
        cells[4] = f'<td class="{"pass" if row[4] == "PASS" else "fail"}">{_e(row[4])}</td>'
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{_e(cell)}</th>" for cell in TARGET_HEADER)
    note = ('<p class="note">P(true meets): the probability that the strategy\'s true value '
            "meets the target, given this sample (method per row).</p>")
    return (f'<table class="targets"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{note}")


def _bound(data: ReportData) -> str:
    by_order = {data.intrabar: data.metrics, data.bound_intrabar: data.bound}
    pessimistic = key_figures(by_order["pessimistic"])
    optimistic = key_figures(by_order["optimistic"])
    header = [
        "figure",
        "pessimistic" + (" (this run)" if data.intrabar == "pessimistic" else " (bound)"),
        "optimistic" + (" (this run)" if data.intrabar == "optimistic" else " (bound)"),
    ]
    rows = [(label, low, high) for (label, low), (_, high) in
            zip(pessimistic, optimistic, strict=True)]
    meaning = "; ".join(f"{_e(order)}: {_e(text)}" for order, text in INTRABAR_MEANING.items())
    return _table(header, rows) + f'<p class="note">{meaning}.</p>'


def _trade_rows(trades: Sequence[TradeClosed]) -> tuple[list[list[str]], list[str]]:
    rows, classes = [], []
    for trade in trades:
        rows.append([
            str(trade.trade_id), trade.direction, format_count(trade.quantity),
            format_datetime(trade.ts_entry), format_price(trade.entry_price),
            format_datetime(trade.ts_exit), format_price(trade.exit_price), trade.exit_reason,
            format_count(trade.bars_held), format_number(trade.pnl_points, 2),
            format_money(trade.pnl_usd), format_money(trade.commission_usd),
            format_money(trade.slippage_usd), format_ratio(trade.r_multiple),
            format_number(trade.mae_points, 2), format_number(trade.mfe_points, 2), trade.tag,
        ])
        classes.append("win" if trade.pnl_usd > 0 else "loss")
    return rows, classes


_TRADE_HEADER = ("id", "side", "qty", "entry (UTC)", "entry price", "exit (UTC)", "exit price",
                 "reason", "bars", "P&L pts", "P&L", "commission", "slippage", "R",
                 "MAE pts", "MFE pts", "tag")


def _trades(trades: Sequence[TradeClosed]) -> str:
    shown = trades[:MAX_TRADE_ROWS]
    rows, classes = _trade_rows(shown)
    note = ""
    if len(trades) > len(shown):
        note = (f'<p class="note">Showing the first {format_count(len(shown))} of '
                f"{format_count(len(trades))} trades; trades.csv holds them all.</p>")
    if not trades:
        return '<p class="note">No trades.</p>'
    return note + _table(_TRADE_HEADER, rows, classes, css="trades")


def render_html(data: ReportData, equity: EquityCurve) -> str:
    """Render the full report as one self-contained HTML page.

    Parameters
    ----------
    data
        The run's figures, targets, bound, costs, counts, assumptions and trades.
    equity
        The per-bar equity curve, plotted with the trades' entries and exits.

    Returns
    -------
    str
        The page; it needs no network, scripts or other files.
    """
    m = data.metrics
    span = f"{format_date(m.start_ts)} to {format_date(m.end_ts)}"
    meta = (f"strategy {_e(data.strategy)} &middot; instrument {_e(data.instrument)} &middot; "
            f"timeframe {_e(data.timeframe)} &middot; {_e(span)} &middot; "
            f"config {_e(data.config_id)} &middot; intrabar {_e(data.intrabar)}")
    costs = data.costs
    cost_rows = [("commission", format_money(costs.commission_usd)),
                 ("fees", format_money(costs.fees_usd)),
                 ("slippage", format_money(costs.slippage_usd)),
                 ("total", format_money(costs.total_usd))]
    count_rows = [(name.replace("_", " "), format_count(value))
                  for name, value in sorted(data.counts.items())]
    assumptions = "".join(f"<li>{_e(sentence)}</li>" for sentence in data.assumptions)
    sections = [
        f"<h1>{_e(data.title)}</h1>",
        f'<p class="meta">{meta}</p>',
        _cards(data),
        "<h2>Targets</h2>", _targets(data),
        "<h2>Intrabar bound</h2>", _bound(data),
        "<h2>Fill assumptions</h2>", f"<ul>{assumptions}</ul>",
        "<h2>Equity</h2>", _image(equity_png(equity, data.trades), "equity curve with trades"),
        _image(drawdown_png(equity), "drawdown"),
        "<h2>Trade results</h2>", _image(pnl_histogram_png(data.trades), "trade P&L histogram"),
        "<h2>Statistics</h2>", _table(("figure", "value"), metric_rows(m)),
        "<h2>Costs</h2>", _table(("cost", "USD"), cost_rows),
        "<h2>Counts</h2>", _table(("count", "n"), count_rows),
        "<h2>Trades</h2>", _trades(data.trades),
    ]
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(data.title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")
