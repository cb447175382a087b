"""Backtest reports: console summary, JSON summary, trade and equity files, HTML (replay layer).

``write_report`` writes ``summary.json`` (byte-identical for identical inputs), ``trades.csv``
and, as :class:`~engine.core.backtest_config.ReportConfig` asks, ``trades.parquet``,
``equity.csv``/``equity.parquet`` and a self-contained, interactive ``report.html``
(:mod:`replay.report.interactive`). ``format_summary``
returns the plain-text summary for the console.
"""

from replay.report.console import format_summary
from replay.report.data import CostTotals, EquityCurve, ReportData, drawdown_fraction
from replay.report.files import (
    EQUITY_COLUMNS,
    TRADE_COLUMNS,
    encode_summary,
    read_summary,
    write_report,
)
from replay.report.interactive import render_interactive

__all__ = [
    "EQUITY_COLUMNS",
    "TRADE_COLUMNS",
    "CostTotals",
    "EquityCurve",
    "ReportData",
    "drawdown_fraction",
    "encode_summary",
    "format_summary",
    "read_summary",
    "render_interactive",
    "write_report",
]
