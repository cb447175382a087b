"""A walk-forward's files and console table (research layer).

In the run directory: the combined out-of-sample report (``summary.json``, trades, equity,
and report.html, as ``algospace backtest`` writes them, from the stitched curve); ``folds.csv``
and ``folds.json`` (one row per fold: the parameters chosen on its training window with their
in-sample figure when the walk-forward selects them, its windows, rows, when its models'
fitting data ended, their names, and the test window's figures with the probabilistic Sharpe
ratio, or the error of a fold that failed every attempt); ``folds/<k>/`` with each fold's own
report and, for learned strategies, the models fitted for it (``folds/<k>/models/``, a
registry folder).

The combined ``report.html`` shades each fold's test window on every time panel (labelled
``fold k``), shows the price panel over the test windows and the folds' table under its key
figures (:func:`folds_section`: the rows of ``folds.csv`` with the stitched run's figures in
an ``all`` row) and each fold's Sharpe ratio over its test window as a timeline; each fold's
own page shows its prices and its row of the table.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np

from engine.research.executor import TaskFailure
from engine.research.folds import Fold
from engine.research.walk_forward import FoldOutcome, WalkForward
from engine.wiring.schema import AppConfig
from replay.data.timestamps import format_ns
from replay.metrics import Metrics
from replay.report import write_report
from replay.report.formatting import (
    NA,
    exact_float,
    format_count,
    format_number,
    format_percent,
    format_probability,
    format_ratio,
)
from replay.report.interactive import Band, Line, PageExtras, PriceBars, Timeline

__all__ = ["FoldRow", "fold_rows", "folds_section", "format_folds", "write_walk_forward"]


class FoldRow(msgspec.Struct, frozen=True, kw_only=True):
    """One fold in ``folds.csv``."""

    fold: int
    status: str
    params: str = ""
    in_sample: float = math.nan
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    train_rows: int = 0
    test_rows: int = 0
    fitted_until: str = ""
    models: str = ""
    trades: int = 0
    total_return: float = math.nan
    sharpe: float = math.nan
    sortino: float = math.nan
    max_drawdown: float = math.nan
    calmar: float = math.nan
    win_rate: float = math.nan
    profit_factor: float = math.nan
    psr: float = math.nan
    synergy_trades: int = 0
    synergy_return: float = math.nan
    synergy_sharpe: float = math.nan
    buy_hold_return: float = math.nan
    buy_hold_sharpe: float = math.nan
    rde_train_active_units: float = math.nan
    rde_test_active_units: float = math.nan
    rde_test_latent_gain: float = math.nan
    rde_collapsed: float = math.nan
    attempts: int = 1
    error: str = ""


def fold_rows(folds: list[Fold], results: list[FoldOutcome | TaskFailure],
              chosen: dict[int, tuple[str, float]] | None = None) -> list[FoldRow]:
    """One row per fold (windows as ISO UTC, each ``[start, end)``; ``chosen``: a fold's
    parameters chosen on its training window and their in-sample figure)."""
    rows = []
    for fold, result in zip(folds, results, strict=True):
        windows = _windows(fold)
        if chosen is not None and fold.index in chosen:
            params, value = chosen[fold.index]
            windows = msgspec.structs.replace(windows, params=params, in_sample=value)
        if isinstance(result, TaskFailure):
            rows.append(msgspec.structs.replace(windows, status="failed",
                                                attempts=result.attempts, error=result.error))
            continue
        m = result.data.metrics
        rows.append(msgspec.structs.replace(
            windows, train_rows=result.train_rows,
            test_rows=result.test_rows,
            fitted_until="" if result.fitted_until is None else format_ns(result.fitted_until),
            models=" ".join(f"{r.name}/{r.version}" for r in result.model_refs),
            trades=m.trades, total_return=m.total_return, sharpe=m.sharpe, sortino=m.sortino,
            max_drawdown=m.max_drawdown, calmar=m.calmar, win_rate=m.win_rate,
            profit_factor=m.profit_factor, psr=m.probabilistic_sharpe,
            **_yardsticks(result)))
    return rows


def _yardsticks(result: FoldOutcome) -> dict[str, float | int]:
    """The fold's baselines (learned strategies) and its RDE's latent statistics."""
    out: dict[str, float | int] = {}
    synergy, buy_hold = result.baselines.get("synergy"), result.baselines.get("buy_hold")
    if synergy is not None:
        out.update(synergy_trades=synergy.trades, synergy_return=synergy.total_return,
                   synergy_sharpe=synergy.sharpe)
    if buy_hold is not None:
        out.update(buy_hold_return=buy_hold.total_return, buy_hold_sharpe=buy_hold.sharpe)
    for key in ("train_active_units", "test_active_units", "test_latent_gain", "collapsed"):
        if key in result.rde:
            out[f"rde_{key}"] = float(result.rde[key])
    return out


def _windows(fold: Fold) -> FoldRow:
    return FoldRow(fold=fold.index, status="ok", train_start=format_ns(fold.train_start),
                   train_end=format_ns(fold.train_end), test_start=format_ns(fold.test_start),
                   test_end=format_ns(fold.test_end))


def write_walk_forward(out_dir: Path, config: AppConfig, folds: list[Fold], wf: WalkForward,
                       chosen: dict[int, tuple[str, float]] | None = None) -> dict[str, str]:
    """Write the files of the module docstring; return them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = fold_rows(folds, wf.folds, chosen)
    files: dict[str, str] = {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [f.name for f in msgspec.structs.fields(FoldRow)]
    writer.writerow(names)
    for row in rows:
        writer.writerow([exact_float(v) if isinstance(v, float) else v
                         for v in (getattr(row, n) for n in names)])
    (out_dir / "folds.csv").write_text(buffer.getvalue())
    (out_dir / "folds.json").write_bytes(msgspec.json.format(msgspec.json.encode(
        [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
          for k, v in msgspec.to_builtins(r).items()} for r in rows]), indent=2) + b"\n")
    files.update(folds_csv=str(out_dir / "folds.csv"), folds_json=str(out_dir / "folds.json"))
    by_fold = {r.fold: r for r in rows}
    for result in wf.folds:
        if isinstance(result, TaskFailure):
            continue
        fold_dir = out_dir / "folds" / str(result.fold.index)
        section = folds_section([by_fold[result.fold.index]],
                                title=f"Fold {result.fold.index} of the walk-forward")
        chart = result.chart or PageExtras()
        write_report(fold_dir, result.data, result.curve, config.backtest.report,
                     result.prices, _buy_and_hold(result.prices, config),
                     PageExtras(lines=chart.lines, zones=chart.zones,
                                timelines=chart.timelines, section=section))
        for folder, payloads in (("models", result.models),
                                 ("diagnostics", result.diagnostics)):
            for relative, payload in payloads.items():
                path = fold_dir / folder / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(payload)
    if wf.combined is not None:
        outcomes = [r for r in wf.folds if isinstance(r, FoldOutcome)]
        prices = _joined_prices(outcomes)
        chart = _joined_charts([o.chart for o in outcomes if o.chart is not None])
        extras = PageExtras(
            lines=chart.lines, zones=chart.zones,
            bands=[Band(f.test_start, f.test_end, f"fold {f.index}") for f in folds],
            section=folds_section(rows, wf.combined.metrics),
            timelines=[*chart.timelines, *_fold_timelines(folds, rows)])
        written = write_report(out_dir, wf.combined, wf.curve, config.backtest.report, prices,
                               _buy_and_hold(prices, config), extras)
        files.update({k: str(v) for k, v in written.items()})
    return files


def _joined_lines(parts: list[Line]) -> Line:
    """One line from the folds' pieces of it, a gap between folds (each fold's indicators
    start over from its own training window)."""
    drawn = [p for p in parts if p.ts.shape[0]]
    if not drawn:
        return parts[0]
    parts = drawn
    ts = np.concatenate([np.append(p.ts, p.ts[-1]) for p in parts])
    values = np.concatenate([np.append(p.values, np.nan) for p in parts])
    first = parts[0]
    return Line(first.name, ts, values, first.color, first.dash, None)


def _joined_charts(charts: list[PageExtras]) -> PageExtras:
    """The folds' indicator lines, zones and timelines over their test windows end to end."""
    lines: dict[str, list[Line]] = {}
    panels: dict[str, list[Timeline]] = {}
    for chart in charts:
        for line in chart.lines:
            lines.setdefault(line.name, []).append(line)
        for panel in chart.timelines:
            panels.setdefault(panel.title, []).append(panel)
    timelines = []
    for parts in panels.values():
        names = list(dict.fromkeys(line.name for p in parts for line in p.lines))
        timelines.append(parts[0]._replace(lines=[
            _joined_lines([line for p in parts for line in p.lines if line.name == name])
            for name in names]))
    return PageExtras(lines=[_joined_lines(parts) for parts in lines.values()],
                      zones=[z for chart in charts for z in chart.zones], timelines=timelines)


def _joined_prices(outcomes: list[FoldOutcome]) -> PriceBars | None:
    """The folds' test-window bars end to end (``None`` unless every fold has them)."""
    parts = [o.prices for o in outcomes]
    if not parts or any(p is None for p in parts):
        return None
    return PriceBars(*(np.concatenate([getattr(p, name) for p in parts if p is not None])
                       for name in PriceBars._fields))


def _buy_and_hold(prices: PriceBars | None, config: AppConfig) -> np.ndarray | None:
    """Buy-and-hold's equity at the closes of ``prices``: one contract from the first close,
    no costs (as a backtest's page draws it)."""
    if prices is None or not prices.close.shape[0]:
        return None
    hold: np.ndarray = (config.backtest.broker.initial_cash
                        + (prices.close - prices.close[0]) * config.instrument_spec.point_value)
    return hold


def _fold_timelines(folds: list[Fold], rows: list[FoldRow]) -> list[Timeline]:
    """Each fold's Sharpe ratio held over its test window (and its baselines' when the
    strategy is learned), as one timeline."""
    windows = {f.index: f for f in folds}
    ok = [r for r in rows if r.status == "ok"]
    series = [("strategy", "sharpe", "#1565c0"), ("synergy", "synergy_sharpe", "#ef6c00"),
              ("buy and hold", "buy_hold_sharpe", "#757575")]
    lines = []
    for name, key, color in series:
        if not any(math.isfinite(getattr(r, key)) for r in ok):
            continue
        ts = np.array([t for r in ok for t in (windows[r.fold].test_start,
                                               windows[r.fold].test_end)], dtype=np.int64)
        values = np.array([getattr(r, key) for r in ok for _ in range(2)], dtype=np.float64)
        lines.append(Line(name, ts, values, color))
    if not lines:
        return []
    return [Timeline("each fold's Sharpe (daily) on its test window", "Sharpe", lines)]


def _window(start: str, end: str) -> str:
    """A window's ISO bounds to the minute; the exact bounds in the tooltip."""
    shown = f"{start[:16]} – {end[:16]}".replace("T", " ")
    return f"<td title='[{html.escape(start)}, {html.escape(end)})'>{html.escape(shown)}</td>"


def _collapsed(x: float) -> str:
    return NA if not math.isfinite(x) else ("yes" if x == 1.0 else "no")


_Column = tuple[str, Callable[[FoldRow], str]]


def _figure_columns(rows: list[FoldRow]) -> list[_Column]:
    """The test window's columns after the windows and parameters (models only when some
    fold has them)."""
    columns: list[_Column] = []
    if any(r.models for r in rows if r.status == "ok"):
        columns += [("models", lambda r: r.models or "-"),
                    ("fitted until", lambda r: r.fitted_until[:16].replace("T", " ") or "-")]
    return columns + [("trades", lambda r: format_count(r.trades)),
                      ("return", lambda r: format_percent(r.total_return)),
                      ("Sharpe", lambda r: format_ratio(r.sharpe)),
                      ("Sortino", lambda r: format_ratio(r.sortino)),
                      ("max DD", lambda r: format_percent(r.max_drawdown)),
                      ("PF", lambda r: format_ratio(r.profit_factor)),
                      ("PSR", lambda r: format_probability(r.psr))]


def _learned_columns(rows: list[FoldRow]) -> list[_Column]:
    """A learned strategy's return and Sharpe beside its baselines' and its RDE's latent
    statistics, each only when some fold has it (none for a rule-based strategy)."""
    ok = [r for r in rows if r.status == "ok"]

    def some(key: str) -> bool:
        return any(math.isfinite(getattr(r, key)) for r in ok)

    columns: list[_Column] = []
    if some("synergy_return"):
        columns += [("synergy return", lambda r: format_percent(r.synergy_return)),
                    ("synergy Sharpe", lambda r: format_ratio(r.synergy_sharpe)),
                    ("synergy trades", lambda r: format_count(r.synergy_trades))]
    if some("buy_hold_return"):
        columns += [("buy-hold return", lambda r: format_percent(r.buy_hold_return)),
                    ("buy-hold Sharpe", lambda r: format_ratio(r.buy_hold_sharpe))]
    if any(some(k) for k in ("rde_train_active_units", "rde_test_active_units",
                             "rde_test_latent_gain", "rde_collapsed")):
        columns += [("RDE active units train/test",
                     lambda r: f"{format_number(r.rde_train_active_units, 0)}/"
                               f"{format_number(r.rde_test_active_units, 0)}"),
                    ("RDE latent gain (test)", lambda r: format_ratio(r.rde_test_latent_gain)),
                    ("RDE collapsed", lambda r: _collapsed(r.rde_collapsed))]
    if not columns:
        return []
    return [("learned return", lambda r: format_percent(r.total_return)),
            ("learned Sharpe", lambda r: format_ratio(r.sharpe)), *columns]


def _footer(rows: list[FoldRow], combined: Metrics | None, columns: list[_Column]
            ) -> dict[str, str]:
    """The ``all`` row's figures by column header: the stitched run's (``combined``), the
    folds' trades and returns summed where it is missing, the baselines' returns summed."""
    ok = [r for r in rows if r.status == "ok"]
    total = {k: sum(getattr(r, k) for r in ok)
             for k in ("total_return", "synergy_return", "buy_hold_return")}
    cells = {"trades": format_count(sum(r.trades for r in ok)),
             "return": format_percent(total["total_return"]),
             "learned return": format_percent(total["total_return"]),
             "synergy return": format_percent(total["synergy_return"]),
             "synergy trades": format_count(sum(r.synergy_trades for r in ok)),
             "buy-hold return": format_percent(total["buy_hold_return"])}
    if combined is not None:
        cells.update({"trades": format_count(combined.trades),
                      "return": format_percent(combined.total_return),
                      "learned return": format_percent(combined.total_return),
                      "Sharpe": format_ratio(combined.sharpe),
                      "learned Sharpe": format_ratio(combined.sharpe),
                      "Sortino": format_ratio(combined.sortino),
                      "max DD": format_percent(combined.max_drawdown),
                      "PF": format_ratio(combined.profit_factor),
                      "PSR": format_probability(combined.probabilistic_sharpe)})
    return {name: cells.get(name, "") for name, _ in columns}


# cells on one line (the table scrolls sideways when wide), but for parameters and errors
_TABLE_STYLE = ("<style>.wf td{white-space:nowrap;vertical-align:top}.wf td.wrap"
                "{white-space:normal;min-width:14em}.wf .list{font-size:.85em}</style>")


def _cell(column: str, text: str) -> str:
    """A figure's cell; the models one per line."""
    if column == "models":
        return ("<td class='list'>" + "<br>".join(html.escape(m) for m in text.split())
                + "</td>")
    return f"<td>{html.escape(text)}</td>"


def _table(head: list[str], body: list[str]) -> str:
    return (f"{_TABLE_STYLE}<div style='overflow-x:auto'>"
            "<table class='t wf' style='border-collapse:collapse'><tr>"
            + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + "".join(body)
            + "</table></div>")


_FOOTER_ROW = "<tr style='border-top:1px solid #999;font-weight:600'>"


def folds_section(rows: list[FoldRow], combined: Metrics | None = None,
                  title: str = "Folds") -> str:
    """The folds' table as HTML for a report page: each fold's status, windows (to the
    minute; the exact bounds in a tooltip), the parameters chosen on its training window with
    their in-sample figure, its models and the test window's figures, or its error; with
    ``combined`` (the stitched run's metrics) an ``all`` row under them. For a learned
    strategy a second table sets each fold's figures beside its baselines' and its RDE's
    latent statistics."""
    e = html.escape
    chosen = any(r.params for r in rows)
    columns = _figure_columns(rows)
    head = ["fold", "status", "train window", "test window",
            *(["chosen parameters", "in-sample"] if chosen else []), *(n for n, _ in columns)]
    body = []
    for r in rows:
        status = "pass" if r.status == "ok" else "fail"
        cells = [f"<td>{r.fold}</td><td class='{status}'>{e(r.status)}</td>",
                 _window(r.train_start, r.train_end), _window(r.test_start, r.test_end)]
        if chosen:
            cells.append(f"<td class='wrap'>{e(r.params) or '-'}</td>"
                         f"<td>{e(format_ratio(r.in_sample))}</td>")
        if r.status == "ok":
            cells += [_cell(name, cell(r)) for name, cell in columns]
        else:
            why = (f"not run: {r.error}" if r.attempts == 0
                   else f"failed after {r.attempts} attempts: {r.error}")
            cells.append(f"<td class='fail wrap' colspan='{len(columns)}'>{e(why)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    learned = _learned_columns(rows)
    learned_body = ["<tr>" + f"<td>{r.fold}</td>" + _window(r.test_start, r.test_end)
                    + "".join(_cell(name, cell(r)) for name, cell in learned) + "</tr>"
                    for r in rows if r.status == "ok"] if learned else []
    note = ""
    if combined is not None and rows:
        footer = _footer(rows, combined, columns + learned)
        span = _window(rows[0].test_start, rows[-1].test_end)
        cells = ["<td>all</td><td></td><td></td>", span, "<td></td><td></td>" if chosen else "",
                 *(f"<td>{e(footer[n])}</td>" for n, _ in columns)]
        body.append(_FOOTER_ROW + "".join(cells) + "</tr>")
        if learned:
            learned_body.append(_FOOTER_ROW + "<td>all</td>" + span + "".join(
                f"<td>{e(footer[n])}</td>" for n, _ in learned) + "</tr>")
        note = ("<p class='sub'>all: the stitched out-of-sample run; its return is the sum of "
                "the folds' returns (each fold starts flat with the same cash)"
                + (", and so are the baselines' returns" if learned else "") + ".</p>")
    out = [f"<h2>{e(title)}</h2>", _table(head, body), note]
    if learned:
        out += ["<h3>The learned stack beside its baselines on each test window</h3>",
                _table(["fold", "test window", *(n for n, _ in learned)], learned_body)]
    return "<section>" + "".join(out) + "</section>"


def _fmt(value: float, spec: str) -> str:
    return "n/a" if not math.isfinite(value) else spec.format(value)


def format_folds(rows: list[FoldRow]) -> str:
    """The per-fold table for the terminal."""
    width = 35
    lines = [f"{'fold':>4}  {'test window':<{width}} {'trades':>6} {'return':>8} {'sharpe':>7} "
             f"{'sortino':>8} {'max DD':>7} {'PF':>5} {'PSR':>5}  models fitted until"]
    for r in rows:
        window = f"{r.test_start[:16]} .. {r.test_end[:16]}".replace("T", " ")
        if r.status != "ok":
            lines.append(f"{r.fold:>4}  {window:<{width}} failed after {r.attempts} attempts: "
                         f"{r.error}")
            continue
        lines.append(
            f"{r.fold:>4}  {window:<{width}} {r.trades:>6} "
            f"{_fmt(100 * r.total_return, '{:.2f}%'):>8} {_fmt(r.sharpe, '{:.2f}'):>7} "
            f"{_fmt(r.sortino, '{:.2f}'):>8} "
            f"{_fmt(100 * r.max_drawdown, '{:.2f}%'):>7} {_fmt(r.profit_factor, '{:.2f}'):>5} "
            f"{_fmt(r.psr, '{:.2f}'):>5}  {r.fitted_until[:16] or '-'}")
    learned = [r for r in rows if r.status == "ok" and math.isfinite(r.synergy_return)]
    if learned:
        lines += ["", "the learned stack beside its baselines on each test window (RDE latent: "
                  "active units train/test, latent gain on test)",
                  f"{'fold':>4}  {'learned':>8} {'sharpe':>7}  {'synergy':>8} {'sharpe':>7} "
                  f"{'trades':>6}  {'buy-hold':>8} {'sharpe':>7}  {'RDE latent':<22}"]
        for r in learned:
            latent = (f"{_fmt(r.rde_train_active_units, '{:.0f}')}/"
                      f"{_fmt(r.rde_test_active_units, '{:.0f}')} units, gain "
                      f"{_fmt(r.rde_test_latent_gain, '{:.2f}')}"
                      + (" COLLAPSED" if r.rde_collapsed == 1.0 else ""))
            lines.append(
                f"{r.fold:>4}  {_fmt(100 * r.total_return, '{:.2f}%'):>8} "
                f"{_fmt(r.sharpe, '{:.2f}'):>7}  {_fmt(100 * r.synergy_return, '{:.2f}%'):>8} "
                f"{_fmt(r.synergy_sharpe, '{:.2f}'):>7} {r.synergy_trades:>6}  "
                f"{_fmt(100 * r.buy_hold_return, '{:.2f}%'):>8} "
                f"{_fmt(r.buy_hold_sharpe, '{:.2f}'):>7}  {latent}")
        total = {k: sum(getattr(r, k) for r in learned)
                 for k in ("total_return", "synergy_return", "buy_hold_return")}
        lines.append(f" all  {_fmt(100 * total['total_return'], '{:.2f}%'):>8} {'':>7}  "
                     f"{_fmt(100 * total['synergy_return'], '{:.2f}%'):>8} {'':>7} "
                     f"{sum(r.synergy_trades for r in learned):>6}  "
                     f"{_fmt(100 * total['buy_hold_return'], '{:.2f}%'):>8}   (sum of the "
                     "folds' returns: each fold starts with the same cash)")
    for r in rows:
        if r.params:
            lines.append(f"{r.fold:>4}  chosen on its training window: {r.params} "
                         f"(in-sample {_fmt(r.in_sample, '{:.2f}')})")
    return "\n".join(lines)
