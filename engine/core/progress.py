"""A one-line progress bar for long replays (core layer).

Shown only when the stream is a terminal, so logs and CI output stay clean. The total is an
estimate from the file (Parquet metadata, or the file size over the mean length of the first
lines of a CSV); without one (compressed input) the line shows rows and speed only. Wall-clock
time is used for display only and never reaches a component.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

__all__ = ["EpochProgress", "Progress", "TaskProgress", "clear_line", "estimate_rows"]

_SAMPLE_BYTES = 1 << 18
_DRAWN: list[Progress | EpochProgress] = []  # bars whose line is on the terminal now


def clear_line() -> None:
    """Erase every drawn bar's line, so that what is written next (a log line) starts at the
    left margin instead of after the bar; each bar redraws itself at its next update."""
    for bar in _DRAWN:
        bar._stream.write("\r\033[K")
        bar._stream.flush()
        bar._drawn = False
    _DRAWN.clear()


def _shown(bar: Progress | EpochProgress) -> None:
    bar._drawn = True
    if bar not in _DRAWN:
        _DRAWN.append(bar)


def estimate_rows(path: Path) -> int | None:
    """Approximate number of data rows in ``path`` (``None`` when it cannot be told cheaply)."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if name.endswith((".gz", ".bz2", ".xz", ".zip", ".zst")):
        return None
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    lines = sample.count(b"\n")
    if lines < 2:
        return None
    return max(1, round(size / (len(sample) / lines)) - 1)


class Progress:
    """Redraw ``label [####----] 42%  1,234 rows  2019-03-04  512k rows/s`` at most 10x/s."""

    def __init__(self, total_rows: int | None, label: str = "replay",
                 stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._total = total_rows
        self._label = label
        self._rows = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False
        self._ts: int | None = None

    def update(self, rows: int, ts_ns: int | None = None) -> None:
        """Add ``rows`` processed rows; ``ts_ns`` is the simulated time reached."""
        self._rows += rows
        self._ts = ts_ns if ts_ns is not None else self._ts
        if not self._enabled:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._draw(now, ts_ns)

    def close(self) -> None:
        """Draw the finished bar (every cell filled: the total is then the rows read, whatever
        the estimate was) and end its line, so it stays above what follows."""
        if not self._enabled or self._rows == 0:
            return
        self._total = self._rows
        self._draw(time.perf_counter(), self._ts)
        self._stream.write("\n")
        self._stream.flush()
        if self in _DRAWN:
            _DRAWN.remove(self)
        self._drawn = False

    def _draw(self, now: float, ts_ns: int | None) -> None:
        elapsed = max(now - self._start, 1e-9)
        parts = [self._label]
        if self._total:
            done = min(self._rows / self._total, 1.0)
            filled = int(done * 24)
            parts.append(f"[{'#' * filled}{'-' * (24 - filled)}] {done:4.0%}")
        parts.append(f"{self._rows:,} rows")
        if ts_ns is not None:
            parts.append(time.strftime("%Y-%m-%d", time.gmtime(ts_ns // 1_000_000_000)))
        parts.append(f"{self._rows / elapsed / 1000:,.0f}k rows/s")
        self._stream.write("\r\033[K" + "  ".join(parts))
        self._stream.flush()
        _shown(self)


class EpochProgress:
    """Redraw ``label [####----] 12/40 epochs  <values>  2.1 s/epoch  ETA 1m02s`` after each
    epoch (on a terminal only, like :class:`Progress`)."""

    def __init__(self, epochs: int, label: str = "train", stream: TextIO | None = None,
                 enabled: bool | None = None, done: int = 0) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._epochs = epochs
        self._label = label
        self._done = self._start_done = done
        self._start = time.perf_counter()
        self._drawn = False
        self._unit = "epochs"

    def update(self, epoch: int, values: str) -> None:
        """Epoch ``epoch`` (1-based) finished; ``values`` is shown beside the bar."""
        self._done = epoch
        self._draw(epoch, values)

    def _draw(self, done: int, values: str) -> None:
        if not self._enabled:
            return
        elapsed = time.perf_counter() - self._start
        per = elapsed / max(done - self._start_done, 1)
        left = per * max(self._epochs - done, 0)
        filled = int(24 * min(done / max(self._epochs, 1), 1.0))
        line = (f"{self._label} [{'#' * filled}{'-' * (24 - filled)}] {done}/{self._epochs} "
                f"{self._unit}  {values}  {per:.1f} s/{self._unit[:-1]}  "
                f"ETA {int(left // 60)}m{int(left % 60):02d}s")
        self._stream.write("\r\033[K" + line)
        self._stream.flush()
        _shown(self)

    def close(self) -> None:
        """End the line (the last state stays visible)."""
        if self._enabled and self._drawn:
            self._stream.write("\n")
            self._stream.flush()
        if self in _DRAWN:
            _DRAWN.remove(self)
        self._drawn = False


class TaskProgress(EpochProgress):
    """Redraw ``label [####----] 12/40 trials  1 failed  3.1 s/trial  ETA 1m02s`` as tasks
    finish (on a terminal only, like :class:`Progress`; the time per task is the wall time
    over the tasks done, so with several workers it is the throughput, not one task's time)."""

    def __init__(self, total: int, label: str = "sweep", unit: str = "trials",
                 stream: TextIO | None = None, enabled: bool | None = None) -> None:
        super().__init__(total, label, stream, enabled)
        self._unit = unit
        self.done = 0
        self.failed = 0

    def update(self, failed: bool = False) -> None:  # type: ignore[override]
        """One more task finished (``failed``: after its last attempt)."""
        self.done += 1
        self.failed += int(failed)
        self._draw(self.done, f"{self.failed} failed")
