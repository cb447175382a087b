"""Counts of rejected and repaired input rows, gap statistics and the rejects file (data layer).

The readers report every row they drop or fix here, rule by rule. Counting is a dictionary
update per rule and chunk, so a clean file costs nothing measurable; rows are written to the
optional rejects CSV only when a sink was given.

Invariants: counts only grow; ``gaps`` keeps the first ``max_gap_records`` gaps in file order;
the rejects file has the header ``source,line,rule,action,value,raw`` and one row per rejected
or repaired input row (one per filled gap for ``gap``), in file-line order within a chunk.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, NamedTuple

import msgspec
import numpy as np

__all__ = ["REJECTS_HEADER", "RULES", "GapRecord", "RejectLog", "RejectRow"]

REJECTS_HEADER = ("source", "line", "rule", "action", "value", "raw")
RULES = (
    "unparsable",
    "nan",
    "non_positive",
    "negative_volume",
    "ohlc",
    "duplicate",
    "out_of_order",
    "gap",
)
"""The validation rules, in the order they are applied to a row."""
_ORDER = {rule: i for i, rule in enumerate(RULES)}

Action = Literal["skip", "repair"]


class RejectRow(NamedTuple):
    """One row of the rejects file."""

    source: str
    line: int
    rule: str
    action: str
    value: str
    raw: str


class GapRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One gap between consecutive accepted bars.

    ``line`` is the file line of the bar after the gap; ``ts_before`` and ``ts_after`` are the
    file timestamps (UTC ns) of the bars on either side; ``missing_bars`` is how many bars of
    the configured interval fit in between.
    """

    line: int
    ts_before: int
    ts_after: int
    missing_bars: int


class RejectLog:
    """Count rejected and repaired rows per rule and optionally stream them to a CSV file.

    Parameters
    ----------
    sink
        Path of the rejects CSV to create (overwritten), or ``None`` to count only.
    max_gap_records
        How many gap locations to keep (the first ones in file order).

    Examples
    --------
    >>> log = RejectLog()
    >>> log.record("data.csv", "nan", "skip", np.array([3, 9]))
    >>> log.rejected, log.total_rejected
    ({'nan': 2}, 2)
    """

    def __init__(self, sink: Path | None = None, *, max_gap_records: int = 20) -> None:
        self._rejected: dict[str, int] = {}
        self._repaired: dict[str, int] = {}
        self._rows_repaired = 0
        self._gap_count = 0
        self._missing_bars = 0
        self._largest_gap_bars = 0
        self._largest_gap_ns = 0
        self._gaps: list[GapRecord] = []
        self._max_gap_records = max_gap_records
        self._path = sink
        self._file = None
        self._writer = None
        if sink is not None:
            sink.parent.mkdir(parents=True, exist_ok=True)
            self._file = sink.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._file)
            self._writer.writerow(REJECTS_HEADER)

    # -- recording -------------------------------------------------------------------------

    @property
    def writes_rows(self) -> bool:
        """True when rows go to a rejects file (callers then pass values and raw text)."""
        return self._writer is not None

    def record(
        self,
        source: str,
        rule: str,
        action: Action,
        lines: np.ndarray | Sequence[int],
        values: Sequence[str] = (),
        raws: Sequence[str] = (),
        *,
        count: int | None = None,
    ) -> None:
        """Count rows dropped (``skip``) or fixed (``repair``) by ``rule``.

        Parameters
        ----------
        source
            The input file as given to the reader.
        rule
            The validation rule, e.g. ``"nan"``.
        action
            ``"skip"`` for a rejected row, ``"repair"`` for a fixed one.
        lines
            1-based file lines of the rows.
        values, raws
            The offending value and the raw row text for each line; written to the rejects
            file when there is one (pass them only when :attr:`writes_rows` is true).
        count
            How many to add to the counter when it differs from ``len(lines)`` (a filled gap
            is one rejects-file row but several inserted bars).
        """
        self.count(rule, action, len(lines) if count is None else count)
        if self._writer is not None and len(values):
            self.write(
                RejectRow(source, int(line), rule, action, value, raw)
                for line, value, raw in zip(lines, values, raws, strict=True)
            )

    def count(self, rule: str, action: Action, n: int) -> None:
        """Add ``n`` rows to the ``skip`` (rejected) or ``repair`` counter of ``rule``."""
        if n:
            counts = self._rejected if action == "skip" else self._repaired
            counts[rule] = counts.get(rule, 0) + n

    def write(self, rows: Iterable[RejectRow]) -> None:
        """Append rows to the rejects file (a no-op without one); counters are not touched."""
        if self._writer is not None:
            self._writer.writerows(rows)

    def add_repaired_rows(self, n: int) -> None:
        """Count ``n`` distinct input rows that at least one repair changed."""
        self._rows_repaired += n

    def record_gaps(
        self,
        lines: np.ndarray,
        ts_before: np.ndarray,
        ts_after: np.ndarray,
        missing_bars: np.ndarray,
    ) -> None:
        """Add gaps between accepted bars (arrays of equal length, in file order)."""
        n = len(lines)
        if n == 0:
            return
        self._gap_count += n
        self._missing_bars += int(missing_bars.sum())
        widest = int(np.argmax(ts_after - ts_before))
        width = int(ts_after[widest] - ts_before[widest])
        if width > self._largest_gap_ns:
            self._largest_gap_ns = width
            self._largest_gap_bars = int(missing_bars[widest])
        room = self._max_gap_records - len(self._gaps)
        for i in range(min(room, n)):
            self._gaps.append(
                GapRecord(
                    line=int(lines[i]),
                    ts_before=int(ts_before[i]),
                    ts_after=int(ts_after[i]),
                    missing_bars=int(missing_bars[i]),
                )
            )

    def close(self) -> None:
        """Flush and close the rejects file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None

    def __enter__(self) -> RejectLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- results ---------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The rejects file, if any."""
        return self._path

    @property
    def rejected(self) -> dict[str, int]:
        """Rows dropped per rule, in rule order (a copy)."""
        return _ordered(self._rejected)

    @property
    def repaired(self) -> dict[str, int]:
        """Rows fixed per rule, in rule order; for ``gap`` the bars inserted (a copy)."""
        return _ordered(self._repaired)

    @property
    def total_rejected(self) -> int:
        """Rows dropped by any rule."""
        return sum(self._rejected.values())

    @property
    def rows_repaired(self) -> int:
        """Distinct input rows changed by at least one repair (inserted bars not included)."""
        return self._rows_repaired

    @property
    def gap_count(self) -> int:
        """Gaps seen between consecutive accepted bars."""
        return self._gap_count

    @property
    def missing_bars(self) -> int:
        """Bars missing over all gaps."""
        return self._missing_bars

    @property
    def largest_gap_bars(self) -> int:
        """Missing bars in the widest gap."""
        return self._largest_gap_bars

    @property
    def largest_gap_ns(self) -> int:
        """Time between the bars on either side of the widest gap (ns)."""
        return self._largest_gap_ns

    @property
    def gaps(self) -> tuple[GapRecord, ...]:
        """The first ``max_gap_records`` gaps in file order."""
        return tuple(self._gaps)


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: _ORDER.get(item[0], len(_ORDER))))
