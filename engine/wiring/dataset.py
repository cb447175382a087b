"""A data file read once into memory, for many runs over the same data (wiring layer).

Sweeps and walk-forward folds run hundreds of replays of one file. :func:`load_dataset` reads
and validates it once (the reader's rules and policies, its rejects counted); every run then
replays the same validated chunks, in this process or, put once into Ray's object store, on
the workers. :meth:`Dataset.between` cuts a time window out of it (a fold's training window):
a run given a window cannot see a row outside it, whatever it does.

A :class:`Dataset` stands wherever a data file path does in the replay wiring
(:func:`engine.wiring.pipeline.build_replay_pipeline` and the trainers); :func:`data_sha256` is the
file's sha256, and a window's is the hash of the file's and the window's bounds, so a model
fitted on a window records exactly what it was fitted on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.core.chunks import BarChunk, TickChunk
from engine.core.errors import EngineError
from engine.core.manifest import file_sha256
from engine.wiring.schema import AppConfig
from replay.data import RejectLog, read_market_data
from replay.data.timestamps import format_ns

__all__ = ["DataSource", "Dataset", "source_name", "data_sha256", "load_dataset", "row_times"]

Chunk = BarChunk | TickChunk


def row_times(chunk: Chunk) -> np.ndarray:
    """The time of each row: a bar's close (when it is known), a tick's trade time."""
    return chunk.ts_close if isinstance(chunk, BarChunk) else chunk.ts


def _rows(chunk: Chunk, first: int, last: int) -> Chunk:
    if isinstance(chunk, BarChunk):
        return BarChunk(*(column[first:last] for column in chunk))
    return TickChunk(*(column[first:last] for column in chunk))


@dataclass(frozen=True)
class Dataset:
    """Validated chunks of one data file (``start_ns``/``end_ns``: the window cut, if any).

    ``rejected`` and ``repaired`` are the reader's counts over the whole file.
    """

    source: str
    file_sha256: str
    chunks: tuple[Chunk, ...]
    rejected: int = 0
    repaired: int = 0
    start_ns: int | None = None
    end_ns: int | None = None

    @property
    def rows(self) -> int:
        """Rows in the data set (in the window)."""
        return sum(c.rows for c in self.chunks)

    @property
    def first_ns(self) -> int:
        """Time of the first row."""
        self._require_rows()
        return int(row_times(self.chunks[0])[0])

    @property
    def last_ns(self) -> int:
        """Time of the last row."""
        self._require_rows()
        return int(row_times(self.chunks[-1])[-1])

    @property
    def sha256(self) -> str:
        """The file's sha256; for a window, the hash of it and the window's bounds."""
        if self.start_ns is None and self.end_ns is None:
            return self.file_sha256
        text = f"{self.file_sha256}:{self.start_ns}:{self.end_ns}"
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def label(self) -> str:
        """The file, and the window when cut: what a model manifest records as its data."""
        if self.start_ns is None and self.end_ns is None:
            return self.source
        start = "start" if self.start_ns is None else format_ns(self.start_ns)
        end = "end" if self.end_ns is None else format_ns(self.end_ns)
        return f"{self.source} [{start}, {end})"

    def between(self, start_ns: int | None, end_ns: int | None) -> Dataset:
        """The rows with ``start_ns <= time < end_ns`` (``None``: unbounded on that side)."""
        lo = -(2**63) if start_ns is None else start_ns
        hi = 2**63 - 1 if end_ns is None else end_ns
        kept = []
        for chunk in self.chunks:
            t = row_times(chunk)
            if t.shape[0] == 0 or t[-1] < lo or t[0] >= hi:
                continue
            first = int(np.searchsorted(t, lo, side="left"))
            last = int(np.searchsorted(t, hi, side="left"))
            if last > first:
                kept.append(chunk if (first, last) == (0, t.shape[0])
                            else _rows(chunk, first, last))
        new_start = start_ns if self.start_ns is None or start_ns is None else max(
            start_ns, self.start_ns)
        new_end = end_ns if self.end_ns is None or end_ns is None else min(end_ns, self.end_ns)
        return Dataset(self.source, self.file_sha256, tuple(kept), self.rejected, self.repaired,
                       self.start_ns if start_ns is None else new_start,
                       self.end_ns if end_ns is None else new_end)

    def _require_rows(self) -> None:
        if not self.chunks:
            raise EngineError(f"{self.label}: expected rows, the data set is empty")


DataSource = Path | Dataset


def load_dataset(config: AppConfig, path: Path, rejects_path: Path | None = None) -> Dataset:
    """Read and validate ``path`` as ``config.data`` says, into memory (rejects to
    ``rejects_path`` when given)."""
    rejects = RejectLog(rejects_path)
    try:
        chunks = tuple(read_market_data(path, config.data, rejects))
    finally:
        rejects.close()
    if not chunks:
        raise EngineError(f"{path}: expected valid rows, found none ({rejects.total_rejected} "
                        "rejected)")
    return Dataset(str(path), file_sha256(path), chunks, rejects.total_rejected,
                   rejects.rows_repaired)


def data_sha256(data: DataSource) -> str:
    """The sha256 recorded for ``data`` (see :attr:`Dataset.sha256`)."""
    return data.sha256 if isinstance(data, Dataset) else file_sha256(data)


def source_name(data: DataSource) -> str:
    """How messages name ``data``."""
    return data.label if isinstance(data, Dataset) else str(data)
