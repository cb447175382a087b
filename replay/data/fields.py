"""Raw column blocks and their conversion to numbers with per-field masks (data layer).

A :class:`Block` is one chunk of rows as a file gave them: Arrow columns (text for CSV, typed
for Parquet) keyed by logical field, the 1-based file line of each row, and the lines that
could not be split into the expected number of fields. :func:`to_fields` turns a block into
float64 arrays plus ``missing`` (empty or NaN) and ``bad`` (present but unreadable) masks; no
row is dropped here, the validator decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from replay.data.timestamps import TimestampParser

__all__ = ["Block", "Fields", "Malformed", "to_fields", "to_float"]

_NUMBER_RE = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_MISSING_TOKENS = pa.array(["", "nan", "NaN", "NAN", "NA", "N/A", "null", "NULL", "None"])


class Malformed(NamedTuple):
    """A line with the wrong number of fields."""

    line: int
    fields: int
    text: str


class Block(NamedTuple):
    """One chunk of raw rows.

    ``raw_rows(positions)`` returns the source text of rows (for the rejects file).
    """

    lines: np.ndarray
    columns: dict[str, pa.Array]
    raw_rows: Callable[[np.ndarray], list[str]]
    malformed: tuple[Malformed, ...]
    expected_fields: int


class Fields(NamedTuple):
    """A block converted to numbers; ``values[f]`` is NaN where ``missing[f] | bad[f]``."""

    block: Block
    ts: np.ndarray
    ts_missing: np.ndarray
    ts_bad: np.ndarray
    values: dict[str, np.ndarray]
    missing: dict[str, np.ndarray]
    bad: dict[str, np.ndarray]

    @property
    def lines(self) -> np.ndarray:
        """1-based file line of each row."""
        return self.block.lines

    def raw_value(self, field: str, position: int) -> str:
        """The source text of one field of one row (``timestamp`` joins date and time)."""
        columns = self.block.columns
        if field == "timestamp" and "timestamp" not in columns:
            return f"{_text(columns['date'], position)} {_text(columns['time'], position)}"
        if field == "volume" and "volume" not in columns:
            return f"{_text(columns['up'], position)}+{_text(columns['down'], position)}"
        return _text(columns[field], position)


def _text(column: pa.Array, position: int) -> str:
    value = column[position].as_py()
    return "" if value is None else str(value).strip()


def to_float(column: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(values, missing, bad)`` for a text or numeric column.

    Text is trimmed; empty, ``nan``, ``NA``, ``null`` and the like are missing; anything else
    that is not a finite decimal number is bad.

    Examples
    --------
    >>> values, missing, bad = to_float(pa.array(["1.5", "", "x", "-2e1"]))
    >>> values.tolist()[0], values.tolist()[3], missing.tolist(), bad.tolist()
    (1.5, -20.0, [False, True, False, False], [False, False, True, False])
    """
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        column = pc.utf8_trim_whitespace(column)
        missing = _np(pc.fill_null(pc.is_in(column, value_set=_MISSING_TOKENS), True))
        number = _np(pc.fill_null(pc.match_substring_regex(column, _NUMBER_RE), False))
        if not number.all():
            column = pc.if_else(pa.array(number), column, "nan")
        values = pc.fill_null(pc.cast(column, pa.float64()), np.nan).to_numpy()
        bad = ~number & ~missing
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = pc.fill_null(pc.cast(column, pa.float64()), np.nan).to_numpy()
        missing = np.isnan(values)
        bad = np.zeros(len(values), bool)
    else:
        values = np.full(len(column), np.nan)
        missing = _np(column.is_null())
        bad = ~missing
    infinite = np.isinf(values)
    if infinite.any():
        bad = bad | infinite
        values = np.where(infinite, np.nan, values)
    return values, missing, bad


def to_fields(block: Block, parser: TimestampParser) -> Fields:
    """Convert a block: timestamps through ``parser``, every other field to float64."""
    columns = block.columns
    if "timestamp" in columns:
        ts, ts_missing, ts_bad = parser.parse(columns["timestamp"])
    else:
        date, time = (pc.utf8_trim_whitespace(_as_text(columns[f])) for f in ("date", "time"))
        absent = _np(pc.fill_null(pc.is_in(date, value_set=_MISSING_TOKENS), True)) | _np(
            pc.fill_null(pc.is_in(time, value_set=_MISSING_TOKENS), True)
        )
        joined = pc.binary_join_element_wise(date, time, " ")
        ts, ts_missing, ts_bad = parser.parse(joined, missing=absent)
    values: dict[str, np.ndarray] = {}
    missing: dict[str, np.ndarray] = {}
    bad: dict[str, np.ndarray] = {}
    for field in ("open", "high", "low", "close", "price", "volume"):
        if field in columns:
            values[field], missing[field], bad[field] = to_float(columns[field])
    if "up" in columns:
        up, up_missing, up_bad = to_float(columns["up"])
        down, down_missing, down_bad = to_float(columns["down"])
        values["volume"] = up + down
        missing["volume"] = up_missing | down_missing
        bad["volume"] = up_bad | down_bad
    return Fields(block, ts, ts_missing, ts_bad, values, missing, bad)


def _as_text(column: pa.Array) -> pa.Array:
    kind = column.type
    return column if pa.types.is_string(kind) else pc.cast(column, pa.string())


def _np(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)
