"""A parameter sweep's interactive page: one self-contained, offline HTML file (replay layer).

Bokeh with its JavaScript inlined (``bokeh.resources.INLINE``: no CDN, the page works with
networking off). At the top: the counts (trials, run, failed, invalid), the best trial with
its parameters, Sharpe ratio, PSR and deflated Sharpe ratio (DSR) against the number of
trials run, the variance of the trials' daily Sharpe ratios, the expected maximum daily
Sharpe ratio of as many unskilled trials, and whether the best trial is significant (DSR at
least 0.95). Then, by the number of parameters swept:

- two: a heatmap of the Sharpe ratio and one of the DSR over the grid, the first parameter
  on the vertical axis, the second on the horizontal one (numeric values sorted, others in
  the order first drawn), a colour bar, every cell's figures on hover, the value printed in
  each cell of a grid up to 15 x 15, light grey where a cell was not run, failed or is
  undefined, the best trial's cell outlined;
- one: the Sharpe ratio and the DSR against the parameter (a line over numeric values);
- three or more: the Sharpe ratio and the DSR against the trial number, every parameter on
  hover;

and always a sortable table of every trial (its parameters, status, figures and error).
The page holds no wall-clock time and no path, and Bokeh's ids are renumbered in order of
appearance: the same sweep writes the same bytes.

The rows and the summary are anything with the attributes of :class:`TrialRow` and
:class:`SweepFacts` (``engine.research.sweep``'s ``SweepRow`` and ``SweepSummary``).
"""

from __future__ import annotations

import html
import math
import tomllib
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from replay.report.formatting import format_percent
from replay.report.interactive import STYLE_HEAD, _deterministic
from replay.report.interactive import number as _num

__all__ = ["Grid", "SweepFacts", "TrialRow", "axis_values", "heatmap_grid", "render_sweep",
           "typed_values"]

MAX_LABELLED = 15  # a grid up to this many cells a side shows every value in its cell
SIGNIFICANT_DSR = 0.95
_BLANK = "#e0e0e0"


class TrialRow(Protocol):
    """What the page reads of a trial (``nan``: undefined or not run)."""

    @property
    def trial(self) -> int: ...
    @property
    def params(self) -> dict[str, str]: ...
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def error(self) -> str: ...
    @property
    def trades(self) -> int: ...
    @property
    def total_return(self) -> float: ...
    @property
    def annual_return(self) -> float: ...
    @property
    def sharpe(self) -> float: ...
    @property
    def sortino(self) -> float: ...
    @property
    def max_drawdown(self) -> float: ...
    @property
    def calmar(self) -> float: ...
    @property
    def win_rate(self) -> float: ...
    @property
    def profit_factor(self) -> float: ...
    @property
    def psr(self) -> float: ...
    @property
    def dsr(self) -> float: ...


class SweepFacts(Protocol):
    """What the page reads of the sweep's summary."""

    @property
    def trials(self) -> int: ...
    @property
    def run(self) -> int: ...
    @property
    def ok(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def invalid(self) -> int: ...
    @property
    def sharpe_variance_daily(self) -> float: ...
    @property
    def expected_max_sharpe_daily(self) -> float: ...
    @property
    def best_trial(self) -> int | None: ...
    @property
    def best_params(self) -> dict[str, str]: ...
    @property
    def best_sharpe(self) -> float: ...
    @property
    def best_psr(self) -> float: ...
    @property
    def best_dsr(self) -> float: ...


def typed_values(texts: list[str]) -> list[Any]:
    """Parameter values as written (TOML literals) typed together: all integers, all numbers
    (floats), all booleans, or else every one as its text."""
    values = []
    for text in texts:
        try:
            values.append(tomllib.loads(f"v = {text}")["v"])
        except tomllib.TOMLDecodeError:
            values.append(text)
    kinds = {type(v) for v in values}
    if kinds <= {int}:
        return values
    if kinds <= {int, float}:
        return [float(v) for v in values]
    if kinds == {bool}:
        return values
    return [v if isinstance(v, str) else text for v, text in zip(values, texts, strict=True)]


def _numeric(typed: list[Any]) -> bool:
    return bool(typed) and all(isinstance(v, int | float) and not isinstance(v, bool)
                               for v in typed)


def axis_values(rows: Sequence[TrialRow], key: str) -> list[str]:
    """The distinct values of parameter ``key`` (texts): sorted when they are all numbers,
    else in the order first drawn."""
    texts = list(dict.fromkeys(r.params.get(key, "") for r in rows))
    typed = typed_values(texts)
    if _numeric(typed):
        order = sorted(range(len(texts)), key=lambda i: typed[i])
        return [texts[i] for i in order]
    return texts


class Grid(NamedTuple):
    """Two parameters' grid: ``cells[(y, x)]`` is the trial shown in row ``y`` (a value of
    ``y_key``) and column ``x`` (of ``x_key``): the last trial drawn there, a finished one
    first (a random draw may repeat a cell); ``best`` is the best trial's cell."""

    y_key: str
    y_values: list[str]
    x_key: str
    x_values: list[str]
    cells: dict[tuple[int, int], TrialRow]
    best: tuple[int, int] | None


def heatmap_grid(rows: Sequence[TrialRow], y_key: str, x_key: str,
                 best_trial: int | None) -> Grid:
    """The cells of the heatmaps of :class:`Grid`."""
    y_values = axis_values(rows, y_key)
    x_values = axis_values(rows, x_key)
    cells: dict[tuple[int, int], TrialRow] = {}
    best = None
    for r in rows:
        cell = (y_values.index(r.params.get(y_key, "")), x_values.index(r.params.get(x_key, "")))
        if r.status == "ok" or cells.get(cell, r).status != "ok":
            cells[cell] = r
        if r.trial == best_trial:
            best = cell
    return Grid(y_key, y_values, x_key, x_values, cells, best)


def _significant(facts: SweepFacts) -> bool:
    return math.isfinite(facts.best_dsr) and facts.best_dsr >= SIGNIFICANT_DSR


_STYLE = (STYLE_HEAD + ".yes{color:#1b9e3a;font-weight:600}"
          ".no{color:#c62828;font-weight:600}code{font-size:.95em}</style>")


def _header(title: str, facts: SweepFacts) -> str:
    e = html.escape
    s = facts
    counts = (f"{s.trials:,} trials: {s.run:,} run ({s.ok:,} ok, {s.failed:,} failed), "
              f"{s.invalid:,} invalid (refused by the config, never run)")
    if s.best_trial is None:
        return (f"{_STYLE}<h1>{e(title)}</h1><p class='sub'>{e(counts)}</p>"
                "<p>No trial finished with a defined Sharpe ratio: no best trial.</p>")
    params = " ".join(f"{k}={v}" for k, v in s.best_params.items())
    figures = [("best trial", f"#{s.best_trial}"),
               ("Sharpe (daily, annualised)", _num(s.best_sharpe)),
               ("PSR", _num(s.best_psr)), (f"DSR against {s.run:,} trials", _num(s.best_dsr)),
               ("daily Sharpe variance", "n/a" if not math.isfinite(s.sharpe_variance_daily)
                else f"{s.sharpe_variance_daily:.3g}"),
               ("expected max Sharpe of unskilled trials (per day)",
                _num(s.expected_max_sharpe_daily, 3))]
    cells = "".join(f"<div class='fig'><span>{e(k)}</span><b>{e(v)}</b></div>"
                    for k, v in figures)
    yes = _significant(s)
    return (f"{_STYLE}<h1>{e(title)}</h1><p class='sub'>{e(counts)}</p>"
            f"<p>best <code>{e(params)}</code></p><div class='figs'>{cells}</div>"
            f"<p>significant: <span class='{'yes' if yes else 'no'}'>{'yes' if yes else 'no'}"
            f"</span> (DSR &gt;= {SIGNIFICANT_DSR} needed). The DSR is the probability that "
            f"the best trial's true Sharpe ratio exceeds the expected maximum of {s.run:,} "
            "unskilled trials with the measured dispersion.</p>")


def _hover_columns(r: TrialRow | None) -> dict[str, Any]:
    """A trial's figures as hover texts (``not run`` for an empty cell)."""
    if r is None:
        return {"trial": "", "status": "not run", "trades": "", "ret": "", "sharpe_t": "",
                "psr": "", "dsr_t": "", "mdd": "", "pf": ""}
    return {"trial": f"#{r.trial}", "status": r.status, "trades": f"{r.trades:,}",
            "ret": format_percent(r.total_return), "sharpe_t": _num(r.sharpe),
            "psr": _num(r.psr), "dsr_t": _num(r.dsr), "mdd": format_percent(r.max_drawdown),
            "pf": _num(r.profit_factor)}


_HOVER = [("trial", "@trial (@status)"), ("trades", "@trades"), ("total return", "@ret"),
          ("Sharpe", "@sharpe_t"), ("PSR", "@psr"), ("DSR", "@dsr_t"),
          ("max drawdown", "@mdd"), ("profit factor", "@pf")]


def _mapper(metric: str, values: list[float]) -> Any:
    from bokeh.models import LinearColorMapper
    from bokeh.palettes import RdYlGn11

    palette = tuple(reversed(RdYlGn11))  # red low, green high
    if metric == "dsr":  # a probability: 0.5 in the middle
        return LinearColorMapper(palette=palette, low=0.0, high=1.0, nan_color=_BLANK)
    finite = [abs(v) for v in values if math.isfinite(v)]
    limit = max(finite, default=0.0) or 1.0
    return LinearColorMapper(palette=palette, low=-limit, high=limit, nan_color=_BLANK)


def _heatmap(grid: Grid, metric: str, title: str) -> Any:
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    nx, ny = len(grid.x_values), len(grid.y_values)
    cell_px = max(12, min(56, 520 // max(nx, ny, 1)))  # two maps side by side up to 30 x 30
    data: dict[str, list[Any]] = {"x": [], "y": [], "value": [], "label": [], "px": [],
                                  "py": []}
    for y, y_text in enumerate(grid.y_values):
        for x, x_text in enumerate(grid.x_values):
            r = grid.cells.get((y, x))
            value = math.nan if r is None or r.status != "ok" else float(getattr(r, metric))
            data["x"].append(x_text)
            data["y"].append(y_text)
            data["px"].append(x_text)
            data["py"].append(y_text)
            data["value"].append(value if math.isfinite(value) else math.nan)
            data["label"].append("" if r is None else _num(value) if r.status == "ok"
                                 else r.status)
            for name, text in _hover_columns(r).items():
                data.setdefault(name, []).append(text)
    fig = figure(title=title, x_range=list(grid.x_values), y_range=list(grid.y_values),
                 width=cell_px * nx + 190, height=cell_px * ny + 120,
                 tools="pan,wheel_zoom,box_zoom,reset,save", toolbar_location="above",
                 x_axis_label=grid.x_key, y_axis_label=grid.y_key)
    fig.toolbar.logo = None
    fig.grid.grid_line_color = None
    fig.axis.axis_line_color = None
    fig.axis.major_tick_line_color = None
    if nx > 8:
        fig.xaxis.major_label_orientation = math.pi / 4
    mapper = _mapper(metric, data["value"])
    middle, half = (mapper.high + mapper.low) / 2, (mapper.high - mapper.low) / 2
    data["ink"] = ["#ffffff" if math.isfinite(v) and abs(v - middle) > 0.6 * half
                   else "#111111" for v in data["value"]]  # legible on the darkest colours
    source = ColumnDataSource(data)
    cells = fig.rect("x", "y", width=1, height=1, source=source, line_color="white",
                     fill_color={"field": "value", "transform": mapper})
    if nx <= MAX_LABELLED and ny <= MAX_LABELLED:
        fig.text("x", "y", text="label", source=source, text_align="center",
                 text_baseline="middle", text_font_size="10px", text_color="ink")
    if grid.best is not None:
        y, x = grid.best
        fig.rect([grid.x_values[x]], [grid.y_values[y]], width=1, height=1, fill_alpha=0,
                 line_color="black", line_width=3)
    fig.add_layout(ColorBar(color_mapper=mapper, width=12), "right")
    fig.add_tools(HoverTool(renderers=[cells], tooltips=[
        (grid.y_key, "@py"), (grid.x_key, "@px"), *_HOVER]))
    return fig


def _against(rows: Sequence[TrialRow], keys: list[str], facts: SweepFacts) -> list[Any]:
    """The Sharpe ratio and the DSR against the one parameter, or against the trial number
    for three or more parameters (every parameter on hover); the best trial ringed."""
    from bokeh.models import ColumnDataSource, HoverTool, Span
    from bokeh.plotting import figure

    one = len(keys) == 1
    typed = typed_values([r.params.get(keys[0], "") for r in rows]) if one else []
    numeric = one and _numeric(typed)
    order = (sorted(range(len(rows)), key=lambda i: (typed[i], rows[i].trial)) if numeric
             else list(range(len(rows))))
    shown = [rows[i] for i in order]
    data: dict[str, list[Any]] = {f"p{k}": [r.params.get(key, "") for r in shown]
                                  for k, key in enumerate(keys)}
    data["x"] = ([typed[i] for i in order] if numeric else data["p0"] if one
                 else [r.trial for r in shown])
    for name in ("sharpe", "dsr"):
        data[name] = [float(getattr(r, name)) if r.status == "ok" else math.nan for r in shown]
    for r in shown:
        for name, text in _hover_columns(r).items():
            data.setdefault(name, []).append(text)
    source = ColumnDataSource(data)
    x_label = keys[0] if one else "trial"
    best = [i for i, r in enumerate(shown) if r.trial == facts.best_trial]
    panels: list[Any] = []
    titles = {"sharpe": f"Sharpe ratio (daily, annualised) against {x_label}",
              "dsr": f"Deflated Sharpe ratio ({facts.run:,} trials) against {x_label}"
                     f" (dashed: {SIGNIFICANT_DSR})"}
    for name, colour in (("sharpe", "#1565c0"), ("dsr", "#6a1b9a")):
        if panels:
            x_range: Any = panels[0].x_range
        else:
            x_range = axis_values(rows, keys[0]) if one and not numeric else None
        kwargs: dict[str, Any] = {} if x_range is None else {"x_range": x_range}
        if name == "dsr":  # a probability: the whole of [0, 1], the 0.95 line in sight
            kwargs["y_range"] = (-0.03, 1.03)
        fig = figure(title=titles[name], height=300, sizing_mode="stretch_width",
                     tools="pan,wheel_zoom,box_zoom,reset,save", x_axis_label=x_label,
                     y_axis_label="DSR" if name == "dsr" else "Sharpe", **kwargs)
        fig.toolbar.logo = None
        if numeric:
            fig.line("x", name, source=source, color=colour, line_width=1.5)
        dots = fig.scatter("x", name, source=source, size=8, color=colour)
        if name == "dsr":
            fig.add_layout(Span(location=SIGNIFICANT_DSR, dimension="width",
                                line_color="#9e9e9e", line_dash="dashed"))
        if best:
            fig.scatter([data["x"][i] for i in best], [data[name][i] for i in best], size=16,
                        fill_alpha=0, line_color="black", line_width=2)
        fig.add_tools(HoverTool(renderers=[dots], tooltips=[
            *((key, f"@p{k}") for k, key in enumerate(keys)), *_HOVER]))
        panels.append(fig)
    return panels


_TABLE = [("trades", "trades", "0,0"), ("total_return", "return", "0.00%"),
          ("annual_return", "annual", "0.00%"), ("sharpe", "Sharpe", "0.00"),
          ("sortino", "Sortino", "0.00"), ("max_drawdown", "max DD", "0.00%"),
          ("calmar", "Calmar", "0.00"), ("win_rate", "win rate", "0.0%"),
          ("profit_factor", "PF", "0.00"), ("psr", "PSR", "0.000"), ("dsr", "DSR", "0.000")]


def _table(rows: Sequence[TrialRow], keys: list[str]) -> Any:
    from bokeh.models import (
        ColumnDataSource,
        DataTable,
        NumberFormatter,
        StringFormatter,
        TableColumn,
    )

    data: dict[str, list[Any]] = {"trial": [r.trial for r in rows]}
    columns = [TableColumn(field="trial", title="trial", width=50)]
    for k, key in enumerate(keys):
        data[f"p{k}"] = typed_values([r.params.get(key, "") for r in rows])
        columns.append(TableColumn(field=f"p{k}", title=key.rsplit(".", 1)[-1]))
    data["status"] = [r.status for r in rows]
    data["attempts"] = [r.attempts for r in rows]
    columns += [TableColumn(field="status", title="status", width=60),
                TableColumn(field="attempts", title="tries", width=50)]
    for name, title, fmt in _TABLE:
        data[name] = [getattr(r, name) if r.status == "ok" else math.nan for r in rows]
        columns.append(TableColumn(field=name, title=title, formatter=NumberFormatter(
            format=fmt, nan_format="n/a")))
    data["error"] = [r.error for r in rows]
    columns.append(TableColumn(field="error", title="error", width=400,
                               formatter=StringFormatter()))
    return DataTable(source=ColumnDataSource(data), columns=columns, sortable=True,
                     index_position=None, height=min(560, 30 + 25 * max(len(rows), 1)),
                     sizing_mode="stretch_width")


def render_sweep(title: str, rows: Sequence[TrialRow], facts: SweepFacts,
                 keys: list[str]) -> str:
    """The page of the module docstring for the sweep's ``rows`` (in trial order) over the
    parameters ``keys`` (in the order swept)."""
    from bokeh.embed import file_html
    from bokeh.layouts import column, row
    from bokeh.models import Div
    from bokeh.resources import INLINE

    parts: list[Any] = [Div(text=_header(title, facts), sizing_mode="stretch_width")]
    if rows and len(keys) == 2:
        grid = heatmap_grid(rows, keys[0], keys[1], facts.best_trial)
        maps = [_heatmap(grid, "sharpe", "Sharpe ratio (daily, annualised)"),
                _heatmap(grid, "dsr", f"Deflated Sharpe ratio ({facts.run:,} trials)")]
        wide = sum(m.width for m in maps) > 1400
        parts.append(column(*maps) if wide else row(*maps))
    elif rows and keys:
        parts += _against(rows, keys, facts)
    parts.append(Div(text=f"<h2>Trials ({len(rows):,})</h2>"))
    parts.append(_table(rows, keys))
    page: str = file_html(column(*parts, sizing_mode="stretch_width"), resources=INLINE,
                          title=title)
    return _deterministic(page)
