"""Report files of a backtest: JSON summary, trade list, equity curve, HTML (replay layer).

Invariants: identical inputs give byte-identical ``summary.json``, ``trades.csv`` and
``equity.csv`` (no wall-clock time, no absolute paths, floats written with ``repr`` so they
parse back exactly). JSON cannot hold ``nan`` or ``inf``; both are written as ``null`` and
:func:`read_summary` reads ``null`` back as ``nan``.
"""

from __future__ import annotations

import csv
import io
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.core.backtest_config import ReportConfig
from engine.core.events import TradeClosed
from replay.report.data import EquityCurve, ReportData, drawdown_fraction
from replay.report.formatting import exact_float, iso_utc
from replay.report.interactive import PageExtras, PriceBars, render_interactive

__all__ = [
    "EQUITY_COLUMNS",
    "TRADE_COLUMNS",
    "encode_summary",
    "read_summary",
    "write_report",
]

# The event's own stamps say when the broker processed the close, not when the trade ran.
_DROPPED_FIELDS = ("ts_event", "ts_init")
_TRADE_FIELDS = tuple(
    field for field in msgspec.structs.fields(TradeClosed) if field.name not in _DROPPED_FIELDS
)
# ISO time columns sit right after the ns stamp they spell out.
_TIME_COLUMNS = {"ts_entry": "entry_time", "ts_exit": "exit_time"}
_STAMP_OF = {iso: stamp for stamp, iso in _TIME_COLUMNS.items()}


def _trade_columns() -> tuple[str, ...]:
    names: list[str] = []
    for field in _TRADE_FIELDS:
        names.append(field.name)
        if field.name in _TIME_COLUMNS:
            names.append(_TIME_COLUMNS[field.name])
    return tuple(names)


TRADE_COLUMNS: tuple[str, ...] = _trade_columns()
"""Columns of ``trades.csv``/``trades.parquet``: TradeClosed's fields in declaration order
without ``ts_event``/``ts_init``, with ``entry_time``/``exit_time`` (ISO UTC) beside the ns."""

EQUITY_COLUMNS: tuple[str, ...] = ("ts", "time", "equity", "drawdown", "position")
"""Columns of ``equity.csv``/``equity.parquet``; ``drawdown`` is a positive fraction."""

_TIMESTAMP = pa.timestamp("ns", tz="UTC")


def _arrow_type(annotation: Any) -> pa.DataType:
    if annotation is int:
        return pa.int64()
    if annotation is float or annotation == (float | None):
        return pa.float64()
    if annotation is str or typing.get_origin(annotation) is typing.Literal:
        return pa.string()
    raise TypeError(f"expected an int, float, optional float or str field, was {annotation!r}")


def _trade_schema() -> pa.Schema:
    fields = []
    for field in _TRADE_FIELDS:
        fields.append(pa.field(field.name, _arrow_type(field.type)))
        if field.name in _TIME_COLUMNS:
            fields.append(pa.field(_TIME_COLUMNS[field.name], _TIMESTAMP))
    return pa.schema(fields)


_TRADE_SCHEMA = _trade_schema()
_EQUITY_SCHEMA = pa.schema([
    ("ts", pa.int64()), ("time", _TIMESTAMP), ("equity", pa.float64()),
    ("drawdown", pa.float64()), ("position", pa.float64()),
])


# ---------------------------------------------------------------------------------------------
# summary.json


def encode_summary(data: ReportData) -> bytes:
    """Return the JSON summary: ``data`` without its trade list, keys sorted, indented.

    ``nan`` and ``inf`` become ``null``. The bytes depend on ``data`` only.
    """
    fields = msgspec.structs.asdict(data)
    del fields["trades"]
    body = msgspec.json.encode(fields, order="sorted")
    return msgspec.json.format(body, indent=2) + b"\n"


def _nulls_to_nan(node: Any) -> Any:
    # Every number of the summary is a required float or int, so a null can only be a nan/inf.
    if node is None:
        return float("nan")
    if isinstance(node, dict):
        return {key: _nulls_to_nan(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_nulls_to_nan(value) for value in node]
    return node


def read_summary(path: Path) -> ReportData:
    """Read a ``summary.json`` back into :class:`ReportData` (``null`` as ``nan``, no trades).

    Raises
    ------
    msgspec.ValidationError
        When the file does not hold a summary of this version.
    """
    raw = msgspec.json.decode(Path(path).read_bytes())
    if not isinstance(raw, dict):
        raise msgspec.ValidationError(f"expected a JSON object, was {type(raw).__name__}")
    raw = _nulls_to_nan(raw)
    raw["trades"] = []
    return msgspec.convert(raw, ReportData)


# ---------------------------------------------------------------------------------------------
# trades and equity tables


def _trade_table(trades: Sequence[TradeClosed]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in TRADE_COLUMNS}
    for field in _TRADE_FIELDS:
        columns[field.name] = [getattr(trade, field.name) for trade in trades]
    for stamp, iso in _TIME_COLUMNS.items():
        columns[iso] = iso_utc(np.array(columns[stamp], dtype=np.int64))
    return columns


def _csv_cell(annotation: Any) -> Callable[[Any], str]:
    if annotation is float or annotation == (float | None):
        return exact_float
    return str


_TRADE_CELLS: dict[str, Callable[[Any], str]] = {
    name: _csv_cell(next((f.type for f in _TRADE_FIELDS if f.name == name), str))
    for name in TRADE_COLUMNS
}


def _write_csv(path: Path, header: Sequence[str], rows: typing.Iterable[Sequence[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def _write_trades_csv(path: Path, table: dict[str, list[Any]]) -> None:
    cells = [[_TRADE_CELLS[name](value) for value in table[name]] for name in TRADE_COLUMNS]
    _write_csv(path, TRADE_COLUMNS, zip(*cells, strict=True))


def _write_trades_parquet(path: Path, table: dict[str, list[Any]]) -> None:
    arrays = {}
    for field in _TRADE_SCHEMA:
        # Parquet keeps the times as real timestamps, built from the exact ns stamps.
        source = table[_STAMP_OF.get(field.name, field.name)]
        arrays[field.name] = pa.array(source, type=field.type)
    pq.write_table(pa.table(arrays, schema=_TRADE_SCHEMA), path)


def _equity_arrays(equity: EquityCurve) -> EquityCurve:
    ts = np.asarray(equity.ts, dtype=np.int64)
    values = np.asarray(equity.equity, dtype=np.float64)
    position = np.asarray(equity.position, dtype=np.float64)
    if not ts.ndim == values.ndim == position.ndim == 1:
        raise ValueError("expected one-dimensional equity curve arrays")
    if not ts.size == values.size == position.size:
        raise ValueError(
            "expected equal lengths of equity curve arrays, was "
            f"ts={ts.size}, equity={values.size}, position={position.size}"
        )
    return EquityCurve(ts, values, position)


def _write_equity_csv(path: Path, equity: EquityCurve) -> None:
    drawdown = drawdown_fraction(equity.equity)
    rows = zip(
        (str(ns) for ns in equity.ts.tolist()),
        iso_utc(equity.ts),
        (repr(x) for x in equity.equity.tolist()),
        (repr(x) for x in drawdown.tolist()),
        (repr(x) for x in equity.position.tolist()),
        strict=True,
    )
    _write_csv(path, EQUITY_COLUMNS, rows)


def _write_equity_parquet(path: Path, equity: EquityCurve) -> None:
    table = pa.table({
        "ts": pa.array(equity.ts, type=pa.int64()),
        "time": pa.array(equity.ts, type=pa.int64()).cast(_TIMESTAMP),
        "equity": pa.array(equity.equity, type=pa.float64()),
        "drawdown": pa.array(drawdown_fraction(equity.equity), type=pa.float64()),
        "position": pa.array(equity.position, type=pa.float64()),
    }, schema=_EQUITY_SCHEMA)
    pq.write_table(table, path)


# ---------------------------------------------------------------------------------------------
# the report


def write_report(
    out_dir: Path, data: ReportData, equity: EquityCurve, config: ReportConfig,
    prices: PriceBars | None = None, benchmark: np.ndarray | None = None,
    extras: PageExtras | None = None,
) -> dict[str, Path]:
    """Write a backtest's report files into ``out_dir`` (created if missing).

    Parameters
    ----------
    out_dir
        Folder for the files; existing files of the same names are replaced.
    data
        The run's figures, targets, costs, counts, assumptions and trade list.
    equity
        The per-bar equity curve (equal-length one-dimensional arrays).
    config
        Which optional files to write: ``html``, ``parquet``, ``equity_csv``.
    prices, benchmark
        The evaluated bars and buy-and-hold's equity at their closes, for the interactive
        ``report.html`` (:mod:`replay.report.interactive`); without them it has no price panel.
    extras
        What the strategy or a research run adds to ``report.html``: indicator lines and
        zones over the candles, shaded windows, timeline panels, an HTML section.

    Returns
    -------
    dict[str, Path]
        What was written, by name: ``summary`` (summary.json) and ``trades_csv`` always, then
        ``trades_parquet``, ``equity_csv``, ``equity_parquet`` and ``html`` (report.html) as
        configured. ``equity_parquet`` is written with ``parquet``, even without ``equity_csv``.

    Raises
    ------
    ValueError
        When the equity curve's arrays differ in length or are not one-dimensional.
    """
    curve = _equity_arrays(equity)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    written["summary"] = out_dir / "summary.json"
    written["summary"].write_bytes(encode_summary(data))

    table = _trade_table(data.trades)
    written["trades_csv"] = out_dir / "trades.csv"
    _write_trades_csv(written["trades_csv"], table)
    if config.parquet:
        written["trades_parquet"] = out_dir / "trades.parquet"
        _write_trades_parquet(written["trades_parquet"], table)

    if config.equity_csv:
        written["equity_csv"] = out_dir / "equity.csv"
        _write_equity_csv(written["equity_csv"], curve)
    if config.parquet:
        written["equity_parquet"] = out_dir / "equity.parquet"
        _write_equity_parquet(written["equity_parquet"], curve)

    if config.html:
        written["html"] = out_dir / "report.html"
        written["html"].write_bytes(
            render_interactive(data, curve, prices, benchmark,
                               extras=extras).encode("utf-8"))
    return written
