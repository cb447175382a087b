"""Walk-forward folds by time (pure).

The data span is ``[first_ns, last_ns]`` (times of its first and last rows: bar closes, or
trade times for ticks). ``N`` test windows of length ``test`` tile the end of the span back to
back, the last one ending at the first multiple of ``step`` after the last row (``step``: the
bar interval, so every window starts and ends on a bar boundary; a second by default); fold
``k`` trains on the window before its test window:

- ``rolling``: the ``train`` long window ending ``gap`` before the test window;
- ``anchored``: from the first row to ``gap`` before the test window (growing each fold).

Every window is half-open, ``[start, end)``: a row at time ``t`` is in it when
``start <= t < end``. A fold's training window ends at or before its test window starts
(``train_end + gap == test_start``, ``gap >= 0``), so no fold is fitted on data at or after its
test window. Without ``test``, the span after the first training window and the gap is split
into ``N`` equal test windows, each a whole number of ``step``.

>>> day = 86_400 * 10**9
>>> [(f.train_start // day, f.train_end // day, f.test_end // day)
...  for f in make_folds(0, 100 * day - 1, 3, train_ns=40 * day)]
[(0, 40, 60), (20, 60, 80), (40, 80, 100)]
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

__all__ = ["SELECT_METRICS", "Fold", "FoldMode", "make_folds", "parse_duration"]

FoldMode = Literal["rolling", "anchored"]
#: the in-sample figures a walk-forward fold's parameters may be chosen by
SELECT_METRICS = ("sharpe", "sortino", "total_return", "calmar", "profit_factor")

_SECOND = 10**9
_UNITS = {"h": 3_600, "d": 86_400, "w": 7 * 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdw])\s*$")


class Fold(msgspec.Struct, frozen=True, kw_only=True):
    """One fold's windows, UTC ns, each ``[start, end)``."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def parse_duration(text: str, where: str) -> int:
    """``90d``, ``12w``, ``36h`` (hours, days, weeks) as nanoseconds.

    >>> parse_duration("2w", "--test") == 14 * 86_400 * 10**9
    True
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{where}: expected a duration such as 90d, 12w or 36h (hours, days, "
                         f"weeks), was {text!r}")
    value = round(float(match.group(1)) * _UNITS[match.group(2)] * 10**9)
    if value <= 0:
        raise ValueError(f"{where}: expected a positive duration, was {text!r}")
    return value


def make_folds(first_ns: int, last_ns: int, folds: int, train_ns: int,
               test_ns: int | None = None, mode: FoldMode = "rolling", gap_ns: int = 0,
               step_ns: int = _SECOND) -> list[Fold]:
    """The folds of the module docstring; ``ValueError`` naming the values when they do not
    fit in the span."""
    if folds < 1:
        raise ValueError(f"--folds: expected at least 1, was {folds}")
    if train_ns <= 0:
        raise ValueError(f"--train: expected a positive duration, was {train_ns} ns")
    if gap_ns < 0:
        raise ValueError(f"--gap: expected a duration >= 0, was {gap_ns} ns")
    if mode not in ("rolling", "anchored"):
        raise ValueError(f"--mode: expected 'rolling' or 'anchored', was {mode!r}")
    if step_ns <= 0:
        raise ValueError(f"step: expected a positive bar interval, was {step_ns} ns")
    end = (last_ns // step_ns + 1) * step_ns  # the first bar boundary after the last row
    span = end - first_ns
    if test_ns is None:
        test_ns = (span - train_ns - gap_ns) // folds // step_ns * step_ns
        if test_ns <= 0:
            raise ValueError(
                f"--train: the data span is {_days(span)}; a training window of "
                f"{_days(train_ns)} and a gap of {_days(gap_ns)} leave no room for {folds} "
                "test windows; shorten --train or use more data")
    elif test_ns <= 0:
        raise ValueError(f"--test: expected a positive duration, was {test_ns} ns")
    need = train_ns + gap_ns + folds * test_ns
    if need > span:
        raise ValueError(
            f"--folds/--train/--test: expected train + gap + folds x test <= the data span "
            f"{_days(span)}, was {_days(train_ns)} + {_days(gap_ns)} + {folds} x "
            f"{_days(test_ns)} = {_days(need)}")
    out = []
    for k in range(folds):
        test_end = end - (folds - 1 - k) * test_ns
        test_start = test_end - test_ns
        train_end = test_start - gap_ns
        train_start = first_ns if mode == "anchored" else train_end - train_ns
        out.append(Fold(index=k, train_start=train_start, train_end=train_end,
                        test_start=test_start, test_end=test_end))
    return out


def _days(ns: int) -> str:
    return f"{ns / 86_400e9:.2f} days"
