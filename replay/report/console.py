"""The plain-text backtest summary printed by ``algospace backtest`` (replay layer).

Fixed-width, no colour codes, undefined figures as ``n/a``; the same labels and number formats
as the HTML report (both come from :mod:`replay.report.formatting`).
"""

from __future__ import annotations

from collections.abc import Sequence

from replay.report.data import ReportData
from replay.report.formatting import (
    INTRABAR_MEANING,
    TARGET_HEADER,
    format_count,
    format_date,
    format_days,
    format_interval,
    format_money,
    format_number,
    format_percent,
    format_probability,
    format_ratio,
    key_figures,
    target_rows,
)

__all__ = ["format_summary"]

_WIDTH = 100
_LABEL_WIDTH = 18
# Column widths of the target table; the last column is not padded.
_TARGET_WIDTHS = (18, 9, 11, 15, 8)
# Headline figures repeated on the bound line (labels of ``key_figures``).
_BOUND_FIGURES = ("total return", "sharpe (daily)", "max drawdown", "win rate",
                  "profit factor", "expectancy", "trades")


def _start(label: str) -> str:
    return f"{label:<{_LABEL_WIDTH}}" if len(label) < _LABEL_WIDTH else label + " "


def _line(label: str, value: str) -> str:
    return (_start(label) + value).rstrip()


def _count_table(counts: dict[str, int]) -> list[str]:
    """The counts as a table: name and value in aligned columns, as many as fit the width,
    filled down the columns (sorted by name)."""
    cells = [(name, format_count(value)) for name, value in sorted(counts.items())]
    for per_row in range(4, 0, -1):
        rows = -(-len(cells) // per_row)
        columns = [cells[c * rows:(c + 1) * rows] for c in range(per_row)]
        columns = [col for col in columns if col]
        widths = [(max(len(n) for n, _ in col), max(len(v) for _, v in col)) for col in columns]
        if per_row == 1 or _LABEL_WIDTH + sum(n + 1 + v for n, v in widths) \
                + 3 * (len(widths) - 1) <= _WIDTH:
            break
    lines = []
    for r in range(rows):
        text = "   ".join(f"{col[r][0]:<{nw}} {col[r][1]:>{vw}}"
                          for col, (nw, vw) in zip(columns, widths, strict=True) if r < len(col))
        lines.append(((_start("counts") if r == 0 else " " * _LABEL_WIDTH) + text).rstrip())
    return lines


def _items(label: str, items: Sequence[str]) -> str:
    # Wrap between items, never inside one ("win rate 58.33%" stays whole).
    lines: list[str] = []
    current = _start(label)
    on_line = 0
    for index, item in enumerate(items):
        text = item + ("," if index < len(items) - 1 else "")
        if on_line and len(current) + len(text) > _WIDTH:
            lines.append(current.rstrip())
            current, on_line = " " * _LABEL_WIDTH, 0
        current += text + " "
        on_line += 1
    lines.append(current.rstrip())
    return "\n".join(lines)


def _columns(cells: Sequence[str]) -> str:
    padded = [f"{cell:<{width}}" for cell, width in zip(cells, _TARGET_WIDTHS, strict=False)]
    return ("".join(padded) + "".join(cells[len(_TARGET_WIDTHS):])).rstrip()


def format_summary(data: ReportData) -> str:
    """Return the console summary of a backtest as plain fixed-width text.

    It covers the span, returns, risk-adjusted ratios, drawdown, trade statistics, PSR/DSR,
    bootstrap intervals, costs and counts, the intrabar bound, the target table (value,
    threshold, probability that the true value meets it, PASS/FAIL) and the fill assumptions.
    """
    m = data.metrics
    costs = data.costs
    title = data.title
    lines = [title, "=" * len(title)]
    lines += [
        _line("strategy", data.strategy),
        _line("instrument", f"{data.instrument} ({data.timeframe})"),
        _line("config", data.config_id),
        _line("span", f"{format_date(m.start_ts)} to {format_date(m.end_ts)} "
                      f"({format_count(m.days)} days, {format_count(m.bars)} bars)"),
        _line("equity", f"{format_money(m.initial_equity)} -> {format_money(m.final_equity)}"),
        _line("total return", format_percent(m.total_return)),
        _line("annual return", f"{format_percent(m.annual_return)} "
                               f"(volatility {format_percent(m.annual_volatility)})"),
        _line("sharpe", f"{format_ratio(m.sharpe)} daily, {format_ratio(m.sharpe_bar)} bar"),
        _line("sortino", f"{format_ratio(m.sortino)} daily, {format_ratio(m.sortino_bar)} bar"),
        _line("daily skew/kurt", f"{format_ratio(m.daily_skew)} / "
                                 f"{format_ratio(m.daily_kurtosis)}"),
        _line("max drawdown", f"{format_percent(m.max_drawdown)} "
                              f"({format_money(m.max_drawdown_usd)}), longest "
                              f"{format_days(m.max_drawdown_days)} "
                              f"({format_count(m.max_drawdown_bars)} bars)"),
        _line("calmar", format_ratio(m.calmar)),
        _line("trades", f"{format_count(m.trades)} "
                        f"(avg {format_number(m.avg_bars_held)} bars held)"),
        _line("win rate", format_percent(m.win_rate)),
        _line("profit factor", format_ratio(m.profit_factor)),
        _line("expectancy", f"{format_money(m.expectancy_usd)} per trade "
                            f"(avg win {format_money(m.avg_win_usd)}, "
                            f"avg loss {format_money(m.avg_loss_usd)})"),
        _line("largest", f"win {format_money(m.largest_win_usd)}, "
                         f"loss {format_money(m.largest_loss_usd)}"),
        _line("avg R", format_ratio(m.avg_r)),
        _line("exposure", format_percent(m.exposure)),
        _line("PSR / DSR", f"{format_probability(m.probabilistic_sharpe)} / "
                           f"{format_probability(m.deflated_sharpe)} "
                           f"({format_count(m.trials)} trial{'' if m.trials == 1 else 's'})"),
        _line("sharpe CI", format_interval(m.sharpe_ci)),
        _line("max drawdown CI", format_interval(m.max_drawdown_ci, percent=True)),
        _items("costs", [f"commission {format_money(costs.commission_usd)}",
                         f"fees {format_money(costs.fees_usd)}",
                         f"slippage {format_money(costs.slippage_usd)}",
                         f"total {format_money(costs.total_usd)}"]),
    ]
    if data.counts:
        lines += _count_table(data.counts)
    lines.append(_line("intrabar", f"{data.intrabar} ({INTRABAR_MEANING[data.intrabar]})"))
    bound = dict(key_figures(data.bound))
    lines.append(_items(f"intrabar bound ({data.bound_intrabar}):",
                        [f"{name} {bound[name]}" for name in _BOUND_FIGURES]))
    lines += ["", _columns(TARGET_HEADER)]
    lines += [_columns(row) for row in target_rows(data.targets)]
    if data.assumptions:
        lines += ["", "fill assumptions"]
        lines += [f"- {sentence}" for sentence in data.assumptions]
    return "\n".join(lines) + "\n"
