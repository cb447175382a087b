"""A sweep's files and console table (research layer).

``results.parquet`` and ``results.csv``: one row per trial, in trial order: ``trial``, one
column per parameter (its values typed when they all are numbers or booleans, else text),
``status`` (``ok``, ``failed``, ``invalid``), ``attempts``, ``error``, then the figures.
``summary.json``: the counts and the best trial's significance. ``report.html``: one
self-contained, offline, interactive page (:mod:`replay.report.sweep_page`): the counts, the
best trial with its PSR and deflated Sharpe ratio against the trials run and whether it is
significant; for a sweep over exactly two parameters, heatmaps of the annualised daily Sharpe
ratio and of the DSR of every cell (blank where not run or undefined, the best trial
outlined, every figure on hover); for one parameter, both against it; for more, both against
the trial number; then a sortable table of every trial. The files hold no wall-clock time or
path: the same sweep writes the same bytes.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from engine.research.search import Param
from engine.research.sweep import SweepRow, SweepSummary
from replay.report.formatting import exact_float
from replay.report.sweep_page import render_sweep, typed_values

__all__ = ["format_sweep", "write_sweep"]

_FIGURES = [f for f in msgspec.structs.fields(SweepRow) if f.name not in ("trial", "params")]


def _columns(rows: list[SweepRow], keys: list[str]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {"trial": [r.trial for r in rows]}
    for key in keys:
        columns[key] = typed_values([r.params.get(key, "") for r in rows])
    for field in _FIGURES:
        columns[field.name] = [getattr(r, field.name) for r in rows]
    return columns


def write_sweep(out_dir: Path, rows: list[SweepRow], summary: SweepSummary,
                space: list[Param], title: str | None = None) -> dict[str, Path]:
    """Write the files of the module docstring; return them by name. ``title``: the page's
    (default: the parameters swept and the number of trials)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [p.key for p in space]
    columns = _columns(rows, keys)
    files = {"parquet": out_dir / "results.parquet", "csv": out_dir / "results.csv",
             "summary": out_dir / "summary.json", "report": out_dir / "report.html"}
    pq.write_table(pa.table(columns), files["parquet"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    for i in range(len(rows)):
        writer.writerow([_cell(columns[name][i]) for name in columns])
    files["csv"].write_text(buffer.getvalue())
    encoded = msgspec.json.encode(_finite(msgspec.to_builtins(summary)))
    files["summary"].write_bytes(msgspec.json.format(encoded, indent=2) + b"\n")
    if title is None:
        title = f"Sweep of {' x '.join(keys)} ({summary.trials:,} trials)"
    files["report"].write_text(render_sweep(title, rows, summary, keys), encoding="utf-8")
    return files


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else exact_float(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _fmt(value: float, spec: str) -> str:
    return "n/a" if not math.isfinite(value) else spec.format(value)


def format_sweep(rows: list[SweepRow], summary: SweepSummary, top: int = 10) -> str:
    """The best ``top`` trials by Sharpe ratio, the failures and the best trial's DSR."""
    keys = list(rows[0].params) if rows else []
    widths = [max(len(k.rsplit(".", 1)[-1]), 6) for k in keys]
    head = ("trial " + " ".join(f"{k.rsplit('.', 1)[-1]:>{w}}" for k, w in zip(keys, widths,
                                                                                strict=True))
            + f" {'trades':>6} {'return':>8} {'sharpe':>7} {'max DD':>7} {'PF':>5} "
              f"{'PSR':>5} {'DSR':>5}")
    ok = sorted((r for r in rows if r.status == "ok"),
                key=lambda r: (-r.sharpe if math.isfinite(r.sharpe) else math.inf, r.trial))
    lines = [head]
    for r in ok[:top]:
        lines.append(
            f"{r.trial:>5} " + " ".join(f"{r.params[k]:>{w}}" for k, w in zip(keys, widths,
                                                                                 strict=True))
            + f" {r.trades:>6} {_fmt(100 * r.total_return, '{:.2f}%'):>8} "
              f"{_fmt(r.sharpe, '{:.2f}'):>7} {_fmt(100 * r.max_drawdown, '{:.2f}%'):>7} "
              f"{_fmt(r.profit_factor, '{:.2f}'):>5} {_fmt(r.psr, '{:.2f}'):>5} "
              f"{_fmt(r.dsr, '{:.2f}'):>5}")
    for r in rows:
        if r.status != "ok":
            params = " ".join(f"{k}={v}" for k, v in r.params.items())
            attempts = f" after {r.attempts} attempts" if r.status == "failed" else ""
            lines.append(f"{r.status:<7} #{r.trial} {params}{attempts}: {r.error}")
    s = summary
    if s.best_trial is not None:
        params = " ".join(f"{k}={v}" for k, v in s.best_params.items())
        lines.append(
            f"best          #{s.best_trial} {params}: Sharpe {_fmt(s.best_sharpe, '{:.2f}')}, "
            f"PSR {_fmt(s.best_psr, '{:.2f}')}, DSR {_fmt(s.best_dsr, '{:.2f}')} against "
            f"{s.run} trials (daily Sharpe variance {_fmt(s.sharpe_variance_daily, '{:.3g}')}, "
            f"expected max of unskilled trials {_fmt(s.expected_max_sharpe_daily, '{:.3f}')} "
            "per day)")
        lines.append("significant   " + ("yes" if math.isfinite(s.best_dsr) and s.best_dsr >= 0.95
                                         else "no") + " (DSR >= 0.95 needed)")
    return "\n".join(lines)
