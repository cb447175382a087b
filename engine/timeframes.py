"""Timeframe labels and nanosecond arithmetic (foundation layer).

A timeframe label is a positive integer followed by a unit: ``s`` (seconds), ``m`` (minutes),
``h`` (hours) or ``d`` (days), for example ``"1m"``, ``"5m"``, ``"30m"``, ``"1h"``.
"""

from __future__ import annotations

import re

__all__ = ["NS_PER_SECOND", "NS_PER_MINUTE", "format_timeframe", "parse_timeframe"]

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
