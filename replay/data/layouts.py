"""Export layouts and column detection: which field of a file is what (data layer).

A *layout* preset describes a vendor's export. It fills in only what the user's
:class:`~engine.wiring.schema.DataConfig` leaves unset (``delimiter``, ``timestamp_format``,
``columns``), except ``timestamp_label``, which the preset always sets:

- ``generic``: delimiter sniffed, header detected; one timestamp column or ``date`` + ``time``
  columns; label from the config (default ``open``).
- ``ninjatrader``: ``;``, no header, ``yyyyMMdd HHmmss`` (ticks ``yyyyMMdd HHmmss fffffff``);
  label ``close`` (NinjaTrader stamps a bar with its end time).
- ``tradestation``: ``,``, header ``"Date","Time",...``, ``MM/dd/yyyy`` and ``HH:mm``;
  label ``close``.
- ``sierrachart``: ``,``, header ``Date, Time, ...``, ``YYYY/MM/DD`` and ``HH:MM:SS(.fff)``;
  label ``open``.

NinjaTrader 8 bar exports are ``timestamp;open;high;low;close;volume`` and tick exports
``timestamp;last;bid;ask;volume``. TradeStation exports have ``Up``/``Down`` instead of a volume
column when volume is split by tick direction; volume is then ``Up + Down``. Sierra Chart names
the close ``Last``. All three write local exchange time: set ``timezone`` accordingly.

Column names match case-insensitively after trimming spaces and quotes; ``date`` + ``time``
columns are used when there is no ``timestamp``/``datetime``/``date_time``/``ts`` column. A
generic file has a header when a field of its first line starts with a letter; otherwise it is
read by position as ``timestamp, open, high, low, close, volume`` (ticks: ``timestamp, price,
size``).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import Literal, NamedTuple

from engine.core.data_config import DataConfig
from engine.core.errors import DataError

__all__ = [
    "LAYOUTS",
    "ColumnPlan",
    "Layout",
    "detect_header",
    "plan_columns",
    "sniff_delimiter",
    "split_line",
]

DELIMITERS = (",", ";", "\t", "|")

TIMESTAMP_NAMES = ("timestamp", "datetime", "date_time", "ts", "time", "date")
BAR_NAMES: dict[str, tuple[str, ...]] = {
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "last", "c"),
    "volume": ("volume", "vol", "v", "totalvolume", "total volume"),
}
TICK_NAMES: dict[str, tuple[str, ...]] = {
    "price": ("price", "last", "p"),
    "volume": ("volume", "size", "qty", "quantity", "v"),
}


class Layout(NamedTuple):
    """A vendor export preset (``None`` = leave to the config or detection)."""

    delimiter: str | None
    header: bool | None
    label: Literal["open", "close"] | None
    formats: tuple[str, ...] | None
    tick_formats: tuple[str, ...] | None
    bar_positions: tuple[str, ...]
    tick_positions: tuple[str, ...]


_GENERIC_BARS = ("timestamp", "open", "high", "low", "close", "volume")
_GENERIC_TICKS = ("timestamp", "price", "volume")

LAYOUTS: dict[str, Layout] = {
    "generic": Layout(None, None, None, None, None, _GENERIC_BARS, _GENERIC_TICKS),
    "ninjatrader": Layout(
        ";",
        False,
        "close",
        ("%Y%m%d %H%M%S",),
        ("%Y%m%d %H%M%S %f", "%Y%m%d %H%M%S"),
        _GENERIC_BARS,
        ("timestamp", "price", "", "", "volume"),
    ),
    "tradestation": Layout(
        ",",
        True,
        "close",
        ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H%M", "%m/%d/%Y"),
        ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M"),
        _GENERIC_BARS,
        _GENERIC_TICKS,
    ),
    "sierrachart": Layout(
        ",",
        True,
        "open",
        ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M", "%Y/%m/%d"),
        ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S"),
        _GENERIC_BARS,
        _GENERIC_TICKS,
    ),
}


class ColumnPlan(NamedTuple):
    """Where each logical field is: ``fields`` maps a field to a column index.

    Fields are ``timestamp`` or ``date`` + ``time``; ``open``, ``high``, ``low``, ``close``
    and ``volume`` (or ``up`` + ``down``) for bars; ``price`` and ``volume`` for ticks.
    """

    fields: dict[str, int]
    label: Literal["open", "close"]
    formats: tuple[str, ...] | None


def sniff_delimiter(first_line: str) -> str:
    """Return the most frequent of ``, ; TAB |`` in ``first_line`` (``,`` if none occurs)."""
    counts = [(first_line.count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] > 0 else ","


def split_line(line: str, delimiter: str) -> list[str]:
    """Split one CSV line (quotes honoured) into trimmed fields."""
    row = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
    return [field.strip() for field in row]


def detect_header(fields: Sequence[str]) -> bool:
    """Return True when a first line looks like a header (some field starts with a letter).

    Data rows start every field with a digit, sign or dot, or are empty.
    """
    return any(field.strip().strip('"')[:1].isalpha() for field in fields)


def _normalise(name: str) -> str:
    return name.strip().strip('"').strip().lower()


def plan_columns(
    names: Sequence[str] | None,
    n_fields: int,
    config: DataConfig,
    source: str,
) -> ColumnPlan:
    """Map logical fields to column indices.

    Parameters
    ----------
    names
        Header names, or ``None`` for a headerless file (fields are then taken by position).
    n_fields
        Number of fields per row.
    config
        The data config (layout, columns, kind).
    source
        The file, for error messages.

    Raises
    ------
    DataError
        When a required column is missing (rule ``columns``, line 1); the message lists the
        columns found.
    """
    layout = LAYOUTS[config.layout]
    label = layout.label or config.timestamp_label
    preset = layout.tick_formats if config.kind == "ticks" else layout.formats
    formats = (config.timestamp_format,) if config.timestamp_format else preset
    if names is None:
        positions = layout.tick_positions if config.kind == "ticks" else layout.bar_positions
        if n_fields < len(positions):
            raise DataError(
                source,
                1,
                "columns",
                f"{n_fields} fields",
                f"expected {len(positions)} fields ({', '.join(p for p in positions if p)}) "
                f"in a file without a header, was {n_fields}",
            )
        by_position = {name: i for i, name in enumerate(positions) if name}
        return ColumnPlan(by_position, label, formats)

    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(_normalise(name), i)
    found = list(names)

    def missing(what: str, candidates: Sequence[str]) -> DataError:
        return DataError(
            source,
            1,
            "columns",
            ",".join(found),
            f"expected a {what} column (one of {', '.join(candidates)}), "
            f"was not among the columns found: {found}",
        )

    def locate(field: str, configured: str | None, candidates: Sequence[str]) -> int:
        tried = (configured,) if configured is not None else tuple(candidates)
        for name in tried:
            position = index.get(_normalise(name))
            if position is not None:
                return position
        raise missing(field, tried)

    columns = config.columns
    fields: dict[str, int] = {}
    if columns.timestamp is not None:
        fields["timestamp"] = locate("timestamp", columns.timestamp, ())
    elif columns.date is not None or columns.time is not None or _has_pair(index):
        fields["date"] = locate("date", columns.date, ("date",))
        fields["time"] = locate("time", columns.time, ("time",))
    else:
        fields["timestamp"] = locate("timestamp", None, TIMESTAMP_NAMES)

    if config.kind == "ticks":
        wanted = {
            "price": (columns.price, TICK_NAMES["price"]),
            "volume": (columns.volume, TICK_NAMES["volume"]),
        }
    else:
        wanted = {field: (getattr(columns, field), names) for field, names in BAR_NAMES.items()}
    for field, (configured, candidates) in wanted.items():
        split_volume = (
            field == "volume"
            and config.kind == "bars"
            and configured is None
            and config.layout == "tradestation"
            and not any(name in index for name in candidates)
            and "up" in index
            and "down" in index
        )
        if split_volume:
            fields["up"], fields["down"] = index["up"], index["down"]
        else:
            fields[field] = locate(field, configured, candidates)
    return ColumnPlan(fields, label, formats)


def _has_pair(index: dict[str, int]) -> bool:
    single = any(name in index for name in TIMESTAMP_NAMES[:4])
    return "date" in index and "time" in index and not single
