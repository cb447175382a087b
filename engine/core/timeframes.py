"""Timeframe labels, instants and nanosecond arithmetic (core layer).

A timeframe label is a positive integer followed by a unit: ``s`` (seconds), ``m`` (minutes),
``h`` (hours) or ``d`` (days), for example ``"1m"``, ``"5m"``, ``"30m"``, ``"1h"``. An instant
in a config or on a command line is ISO 8601 (:func:`parse_instant`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["NS_PER_SECOND", "NS_PER_MINUTE", "format_timeframe", "parse_instant",
           "parse_timeframe"]

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND

_UNITS = {
    "s": NS_PER_SECOND,
    "m": NS_PER_MINUTE,
    "h": 60 * NS_PER_MINUTE,
    "d": 1440 * NS_PER_MINUTE,
}
_PATTERN = re.compile(r"^([1-9][0-9]*)([smhd])$")


def parse_timeframe(label: str) -> int:
    """Return the length of ``label`` in nanoseconds.

    Examples
    --------
    >>> parse_timeframe("5m")
    300000000000
    >>> parse_timeframe("1h") == 60 * parse_timeframe("1m")
    True
    """
    match = _PATTERN.match(label)
    if match is None:
        raise ValueError(f"timeframe: expected <int><s|m|h|d> such as '5m', was {label!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_timeframe(ns: int) -> str:
    """Return the shortest label for a length in nanoseconds (inverse of parse_timeframe).

    >>> format_timeframe(1_800_000_000_000)
    '30m'
    """
    if ns <= 0:
        raise ValueError(f"timeframe: expected a positive length, was {ns} ns")
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if ns % size == 0:
            return f"{ns // size}{unit}"
    raise ValueError(f"timeframe: expected a whole number of seconds, was {ns} ns")


def parse_instant(text: str, where: str) -> int:
    """An ISO 8601 date or timestamp as UTC nanoseconds (no zone means UTC); ``ValueError``
    naming ``where`` and the text otherwise.

    Examples
    --------
    >>> parse_instant("2019-01-01T00:00:00Z", "x") == parse_instant("2019-01-01", "x")
    True
    >>> parse_instant("2019-01-01", "x") == 1_546_300_800 * NS_PER_SECOND
    True
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{where}: expected an ISO 8601 date or timestamp, was {text!r}"
                         ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000
