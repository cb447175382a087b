"""Timestamp columns to int64 UTC nanoseconds (data layer).

Accepted forms, decided once per file from the first non-empty value and then kept:

- text: ISO 8601 with or without a zone (``Z``, ``+02:00``), or the ``timestamp_format``
  strptime pattern (or a layout's patterns, tried in order per row); without a configured
  pattern the first value picks one of a few common families (ISO 8601, also with ``/``
  between date parts; ``MM/DD/YYYY``; ``YYYYMMDD HHMMSS``; ``DD.MM.YYYY``);
- epoch numbers in ``s``/``ms``/``us``/``ns`` (``timestamp_unit``; ``auto`` reads a plain
  number as epoch and picks the unit by magnitude: < 1e11 s, < 1e14 ms, < 1e17 us, else ns);
- Parquet timestamp and date columns (tz-aware ones are already UTC).

Naive values are wall-clock times in ``timezone`` (IANA) and are converted with its DST rules.
A wall time that does not exist (skipped by a spring-forward change) is unreadable. A wall time
that occurs twice (fall-back) takes the earlier (daylight) instant unless that would move
backwards from the previous row, in which case it takes the later (standard) one, so a
monotonic local series stays monotonic in UTC.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.core.data_config import DataConfig
from engine.core.errors import ConfigError

__all__ = ["TimestampParser", "format_ns"]

NAT = np.iinfo(np.int64).min
_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_MISSING_TOKENS = pa.array(["", "nan", "NaN", "NAN", "NaT", "NA", "N/A", "null", "NULL", "None"])
_EPOCH_RE = r"^(?P<i>\d{1,18}|[1-8]\d{18})(?:\.(?P<f>\d*))?$"
_EPOCH_FIRST = re.compile(r"^\d+(\.\d*)?$")
# a zone designator (Z, +HH, +HHMM, +HH:MM) after a time of day, not the day of a bare date
_ZONED_RE = r"[T\s:].*\d\s*(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"
_ISO = "ISO8601"
_FAMILIES: tuple[tuple[str, ...], ...] = (
    (_ISO,),
    ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y"),
    ("%Y%m%d %H%M%S", "%Y%m%d %H%M%S %f", "%Y%m%d %H:%M:%S", "%Y%m%d"),
    ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y"),
)


def format_ns(ns: int) -> str:
    """Return a UTC ns timestamp as ISO 8601 with ``Z``.

    >>> format_ns(1_378_072_800_000_000_000)
    '2013-09-01T22:00:00Z'
    """
    text: str = pd.Timestamp(ns, unit="ns", tz="UTC").isoformat()
    return text.replace("+00:00", "Z")


class TimestampParser:
    """Convert one file's timestamp column, chunk by chunk, to UTC nanoseconds.

    Parameters
    ----------
    config
        Supplies ``timestamp_unit`` and ``timezone``.
    formats
        strptime patterns to try in order (``"ISO8601"`` allowed), or ``None`` to detect.
    """

    def __init__(self, config: DataConfig, formats: tuple[str, ...] | None) -> None:
        try:
            zoneinfo.ZoneInfo(config.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"timezone: expected an IANA zone such as 'America/Chicago', "
                f"was {config.timezone!r}"
            ) from exc
        self._tz = config.timezone
        self._utc = config.timezone in ("UTC", "Etc/UTC", "Z")
        self._unit = config.timestamp_unit
        self._formats = formats
        self._mode: Literal["text", "epoch"] | None = None
        self._epoch_unit: str | None = None
        self._last = NAT

    def expected(self) -> str:
        """Describe the accepted form, for error messages ("expected <this>")."""
        if self._mode == "epoch":
            return f"an epoch number in {self._epoch_unit}"
        formats = self._formats or (_ISO,)
        if formats[0] == _ISO:
            return "an ISO 8601 timestamp"
        return f"a timestamp like {' or '.join(formats)}"

    def explain(self, raw: str) -> str:
        """Return "expected X, was Y" for an unreadable value ``raw``."""
        if self._mode == "text" and self._formats and not self._utc:
            wall, ok, aware = _parse_formats(pd.Series([raw.strip()], dtype=object), self._formats)
            if ok[0] and not aware[0]:
                _, good = self._localize(wall, ok)
                if not good[0]:
                    return (
                        f"expected a wall time that exists in {self._tz}, "
                        f"was {raw!r} (skipped by a daylight-saving change)"
                    )
        return f"expected {self.expected()}, was {raw!r}"

    def parse(
        self, column: pa.Array, missing: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(ns, missing, bad)`` for one chunk of a timestamp column.

        ``missing`` marks empty or NaN values (extra ones may be passed in); ``bad`` marks
        values that are present but unreadable. ``ns`` is undefined where either is set.
        """
        kind = column.type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            return self._parse_native(column, missing)
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            return self._parse_numbers(column, missing)
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            column = pc.cast(column, pa.string())
        column = pc.utf8_trim_whitespace(column)
        absent = pc.fill_null(pc.is_in(column, value_set=_MISSING_TOKENS), True)
        absent = absent.to_numpy(zero_copy_only=False)
        if missing is not None:
            absent = absent | missing
        if self._mode is None:
            present = np.flatnonzero(~absent)
            if present.size == 0:
                return np.full(len(column), NAT), absent, np.zeros(len(column), bool)
            self._decide(column[int(present[0])].as_py())
        if self._mode == "epoch":
            ns, ok = self._epoch_strings(column, absent)
        else:
            ns, ok = self._text(column, absent)
        return self._finish(ns, ok, absent)

    # -- modes -------------------------------------------------------------------------------

    def _decide(self, first: str) -> None:
        if self._unit in _UNIT_NS:
            self._mode, self._epoch_unit = "epoch", self._unit
        elif self._unit == "auto" and _EPOCH_FIRST.match(first):
            self._mode, self._epoch_unit = "epoch", _unit_by_magnitude(float(first))
        else:
            self._mode = "text"
            if self._formats is None:
                self._formats = _detect_formats(first)

    def _epoch_strings(self, column: pa.Array, absent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = pc.extract_regex(column, _EPOCH_RE)
        ok = parts.is_valid().to_numpy(zero_copy_only=False) & ~absent
        mask = pa.array(ok)
        integral = pc.if_else(mask, pc.struct_field(parts, "i"), "0")
        fraction = pc.if_else(mask, pc.struct_field(parts, "f"), "0")
        fraction = pc.utf8_slice_codeunits(pc.utf8_rpad(fraction, 9, "0"), 0, 9)
        whole = pc.cast(integral, pa.int64()).to_numpy()
        nano = pc.cast(fraction, pa.int64()).to_numpy()
        return self._scale(whole, nano, ok)

    def _parse_numbers(
        self, column: pa.Array, missing: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        absent = column.is_null().to_numpy(zero_copy_only=False)
        if pa.types.is_floating(column.type):
            values = pc.fill_null(column, np.nan).to_numpy()
            absent = absent | np.isnan(values)
        if missing is not None:
            absent = absent | missing
        if self._mode is None:
            present = np.flatnonzero(~absent)
            if present.size == 0:
                return np.full(len(column), NAT), absent, np.zeros(len(column), bool)
            unit = self._unit if self._unit in _UNIT_NS else None
            first = float(column[int(present[0])].as_py())
            self._mode, self._epoch_unit = "epoch", unit or _unit_by_magnitude(first)
        if pa.types.is_integer(column.type):
            whole = pc.fill_null(pc.cast(column, pa.int64()), 0).to_numpy()
            ns, ok = self._scale(whole, np.zeros_like(whole), ~absent)
        else:
            values = pc.fill_null(column, 0.0).to_numpy().astype(np.float64)
            scaled = values * _UNIT_NS[self._epoch_unit or "s"]
            ok = ~absent & np.isfinite(scaled) & (np.abs(scaled) < 9.2e18)
            ns = np.where(ok, np.round(np.where(ok, scaled, 0.0)), 0).astype(np.int64)
        return self._finish(ns, ok, absent)

    def _scale(
        self, whole: np.ndarray, nano: np.ndarray, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        factor = _UNIT_NS[self._epoch_unit or "s"]
        ok = ok & (np.abs(whole) <= np.iinfo(np.int64).max // factor - 1)
        whole = np.where(ok, whole, 0)
        ns = whole * factor + (nano * factor) // 1_000_000_000
        return ns, ok

    def _text(self, column: pa.Array, absent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        strings = column.to_pandas()
        formats = self._formats or (_ISO,)
        ns, ok, aware = _parse_formats(strings, formats, skip=absent, zones=not self._utc)
        if self._utc:
            return ns, ok
        naive = ok & ~aware
        if naive.any():
            local, good = self._localize(ns[naive], np.ones(int(naive.sum()), bool))
            ns[naive] = local
            ok[np.flatnonzero(naive)[~good]] = False
        return ns, ok

    def _parse_native(
        self, column: pa.Array, missing: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        kind = column.type
        zone = getattr(kind, "tz", None)
        cast = pc.cast(column, pa.timestamp("ns", tz=zone))
        absent = cast.is_null().to_numpy(zero_copy_only=False)
        if missing is not None:
            absent = absent | missing
        ns = pc.fill_null(pc.cast(cast, pa.int64()), 0).to_numpy().copy()
        ok = ~absent
        if zone is None and not self._utc and ok.any():
            ns[ok], good = self._localize(ns[ok], np.ones(int(ok.sum()), bool))
            ok[np.flatnonzero(ok)[~good]] = False
        return self._finish(ns, ok, absent)

    def _finish(
        self, ns: np.ndarray, ok: np.ndarray, absent: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        good = np.flatnonzero(ok)
        if good.size:
            self._last = int(ns[good[-1]])
        return np.where(ok, ns, NAT), absent, ~ok & ~absent

    def _localize(self, wall: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Convert wall-clock ns in the configured zone to UTC ns; resolve DST folds."""
        index = pd.DatetimeIndex(wall.astype("datetime64[ns]"))
        utc = index.tz_localize(self._tz, ambiguous="NaT", nonexistent="NaT").asi8.copy()
        unresolved = np.flatnonzero(utc == NAT)
        good = ok.copy()
        if unresolved.size:
            subset = index[unresolved]
            flags = np.ones(unresolved.size, bool)
            early = subset.tz_localize(self._tz, ambiguous=flags, nonexistent="NaT").asi8
            late = subset.tz_localize(self._tz, ambiguous=~flags, nonexistent="NaT").asi8
            good[unresolved[early == NAT]] = False
            # the last readable row before each row; rows are resolved in order, so that row's
            # value is final by the time it is read
            readable = np.where(good, np.arange(good.size), -1)
            before = np.concatenate(([-1], np.maximum.accumulate(readable)[:-1]))
            for position, first, second in zip(unresolved, early, late, strict=True):
                if first == NAT:
                    continue
                j = before[position]
                previous = self._last if j < 0 else utc[j]
                utc[position] = first if first >= previous else second
        return utc, good


def _unit_by_magnitude(value: float) -> str:
    magnitude = abs(value)
    if magnitude < 1e11:
        return "s"
    if magnitude < 1e14:
        return "ms"
    if magnitude < 1e17:
        return "us"
    return "ns"


def _detect_formats(first: str) -> tuple[str, ...]:
    sample = pd.Series([first], dtype=object)
    for family in _FAMILIES:
        for fmt in family:
            if _parse_formats(sample, (fmt,))[1][0]:
                return (fmt, *(other for other in family if other != fmt))
    return (_ISO,)


def _parse_formats(
    strings: pd.Series,
    formats: tuple[str, ...],
    skip: np.ndarray | None = None,
    zones: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse with each format in turn on the rows still unread; return (ns, ok, aware).

    ``aware`` (whether a value carried its own zone) is only worked out when ``zones``.
    """
    n = len(strings)
    ns = np.full(n, NAT, dtype=np.int64)
    ok = np.zeros(n, bool)
    aware = np.zeros(n, bool)
    todo = np.ones(n, bool) if skip is None else ~skip
    for fmt in formats:
        rows = np.flatnonzero(todo)
        if rows.size == 0:
            break
        subset = strings.iloc[rows] if rows.size < n else strings
        zoned = fmt == _ISO or "%z" in fmt or "%Z" in fmt
        parsed = pd.to_datetime(subset, format=fmt, errors="coerce", utc=zoned)
        values, good = _datetime_ns(parsed)
        ns[rows[good]] = values[good]
        ok[rows[good]] = True
        todo[rows[good]] = False
        if fmt == _ISO and zones:
            has_zone = subset.str.contains(_ZONED_RE, regex=True, na=False).to_numpy(bool)
            aware[rows[good]] = has_zone[good]
        elif zoned:
            aware[rows[good]] = True
    return ns, ok, aware


def _datetime_ns(parsed: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return int64 ns (UTC for aware values) and a validity mask, without overflowing."""
    index = pd.DatetimeIndex(parsed)
    raw = index.asi8
    factor = _UNIT_NS[index.unit]
    good = raw != NAT
    if factor > 1:
        good &= np.abs(raw) < np.iinfo(np.int64).max // factor
    return np.where(good, raw, 0) * factor, good
