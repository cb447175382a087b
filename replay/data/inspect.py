"""Read a market-data file to the end and summarise it (data layer).

:func:`inspect_data` runs the streaming reader with the configured validation policies and
returns a :class:`DataReport`: what was read, what was accepted, repaired or rejected per rule,
the time range, the usual bar spacing and the gaps. :func:`format_report` renders it for the
command line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import numpy as np

from engine.core.chunks import BarChunk, TickChunk
from engine.core.data_config import DataConfig
from engine.core.timeframes import format_timeframe
from replay.data.reader import read_market_data
from replay.data.rejects import GapRecord, RejectLog
from replay.data.timestamps import format_ns

__all__ = ["ChunkObserver", "DataReport", "format_duration", "format_report", "inspect_data"]


class DataReport(msgspec.Struct, frozen=True, kw_only=True):
    """Summary of one pass over a market-data file.

    Times are UTC ns (bar open times for bars); ``*_time`` are the same as ISO 8601 strings.
    ``rows_read`` counts data rows in the file (blank lines excluded) and equals
    ``rows_accepted + rows_rejected``; ``rows_filled`` are flat bars inserted into gaps.
    """

    source: str
    kind: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rows_repaired: int
    rows_filled: int
    first_ts: int | None
    last_ts: int | None
    first_time: str | None
    last_time: str | None
    span_ns: int
    median_interval_ns: int | None
    gap_count: int
    missing_bars: int
    largest_gap_ns: int
    largest_gap_bars: int
    gaps: tuple[GapRecord, ...]
    rejected: dict[str, int]
    repaired: dict[str, int]
    rejects_path: str | None


def inspect_data(path: Path, config: DataConfig, rejects_path: Path | None = None) -> DataReport:
    """Read ``path`` to the end with ``config`` and summarise it.

    Parameters
    ----------
    path
        The data file.
    config
        How to read and validate it.
    rejects_path
        Where to write the rejects CSV, or ``None`` for counts only.

    Raises
    ------
    DataError
        As :func:`~replay.data.reader.read_market_data` does.

    Examples
    --------
    >>> from engine.core.data_config import DataConfig
    >>> report = inspect_data(Path("data/btcusd_1h_coinbase_2017-2019.csv"),
    ...                       DataConfig(path="", bar_interval="1h"))
    >>> report.rows_accepted, report.gap_count, report.first_time
    (20111, 0, '2017-07-01T11:00:00Z')
    """
    observer = ChunkObserver()
    with RejectLog(rejects_path) as rejects:
        for chunk in read_market_data(path, config, rejects):
            observer.observe(chunk)
    return observer.report(path, config, rejects)


class ChunkObserver:
    """Accumulate row count, time range and bar spacing over streamed chunks.

    Lets a caller that consumes the chunks anyway (the replay driver) build the same
    :class:`DataReport` as :func:`inspect_data` without a second pass over the file.
    """

    def __init__(self) -> None:
        self.spacing: Counter[int] = Counter()
        self.rows = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def observe(self, chunk: BarChunk | TickChunk) -> None:
        """Account for one chunk."""
        ts = chunk.ts_open if isinstance(chunk, BarChunk) else chunk.ts
        if not ts.shape[0]:
            return
        self.rows += chunk.rows
        if self.first_ts is None:
            self.first_ts = int(ts[0])
        diffs = np.diff(ts) if self.last_ts is None else np.diff(ts, prepend=self.last_ts)
        values, counts = np.unique(diffs, return_counts=True)
        self.spacing.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))
        self.last_ts = int(ts[-1])

    def wrap(self, chunks: Iterable[BarChunk | TickChunk]) -> Iterator[BarChunk | TickChunk]:
        """Yield ``chunks`` unchanged, observing each."""
        for chunk in chunks:
            self.observe(chunk)
            yield chunk

    def report(self, path: Path, config: DataConfig, rejects: RejectLog) -> DataReport:
        """Build the report once the reader is exhausted."""
        first_ts, last_ts = self.first_ts, self.last_ts
        filled = rejects.repaired.get("gap", 0)
        accepted = self.rows - filled
        rejects_path = rejects.path
        return DataReport(
            source=str(path),
            kind=config.kind,
            rows_read=accepted + rejects.total_rejected,
            rows_accepted=accepted,
            rows_rejected=rejects.total_rejected,
            rows_repaired=rejects.rows_repaired,
            rows_filled=filled,
            first_ts=first_ts,
            last_ts=last_ts,
            first_time=None if first_ts is None else format_ns(first_ts),
            last_time=None if last_ts is None else format_ns(last_ts),
            span_ns=0 if first_ts is None or last_ts is None else last_ts - first_ts,
            median_interval_ns=_median(self.spacing),
            gap_count=rejects.gap_count,
            missing_bars=rejects.missing_bars,
            largest_gap_ns=rejects.largest_gap_ns,
            largest_gap_bars=rejects.largest_gap_bars,
            gaps=rejects.gaps,
            rejected=rejects.rejected,
            repaired=rejects.repaired,
            rejects_path=None if rejects_path is None else str(rejects_path),
        )


def _median(counts: Counter[int]) -> int | None:
    """The lower median of a multiset given as value -> count."""
    total = sum(counts.values())
    if total == 0:
        return None
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if 2 * seen >= total:
            return value
    return None  # unreachable


def format_duration(ns: int) -> str:
    """Render a duration as e.g. ``2d 20h 51m`` or ``1m`` or ``250ms``.

    >>> format_duration(245_460_000_000_000)
    '2d 20h 11m'
    """
    if ns <= 0:
        return "0s"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:g}ms"
    seconds = ns // 1_000_000_000
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts)


def format_report(report: DataReport) -> str:
    """Render a report as readable lines for the command line."""
    lines = [
        f"source        {report.source} ({report.kind})",
        f"rows          {report.rows_read} read, {report.rows_accepted} accepted, "
        f"{report.rows_rejected} rejected, {report.rows_repaired} repaired"
        + (f", {report.rows_filled} bars filled" if report.rows_filled else ""),
    ]
    if report.first_time is not None:
        lines.append(
            f"range         {report.first_time} .. {report.last_time} "
            f"({format_duration(report.span_ns)})"
        )
    if report.median_interval_ns:
        median = report.median_interval_ns
        label = format_timeframe(median) if median % 1_000_000_000 == 0 else format_duration(median)
        lines.append(f"interval      {label} (median)")
    if report.kind == "bars":
        lines.append(
            f"gaps          {report.gap_count} ({report.missing_bars} missing bars"
            + (
                f", largest {format_duration(report.largest_gap_ns)}"
                f" = {report.largest_gap_bars} bars"
                if report.gap_count
                else ""
            )
            + ")"
        )
        for gap in report.gaps[:5]:
            lines.append(
                f"  line {gap.line}: {format_ns(gap.ts_before)} -> {format_ns(gap.ts_after)} "
                f"({gap.missing_bars} missing)"
            )
        if report.gap_count > 5:
            lines.append(f"  ... {report.gap_count - 5} more")
    for title, counts in (("rejected", report.rejected), ("repaired", report.repaired)):
        if counts:
            text = ", ".join(f"{rule}={n}" for rule, n in counts.items())
            lines.append(f"{title:<14}{text}")
    if report.rejects_path is not None:
        lines.append(f"rejects file  {report.rejects_path}")
    return "\n".join(lines)
