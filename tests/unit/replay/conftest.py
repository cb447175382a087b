"""Fixtures for the market-data reader tests: fixture paths and a read-everything helper."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.wiring.schema import DataConfig
from replay.data import BarChunk, RejectLog, TickChunk, read_market_data

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class ReadResult:
    """Everything one read produced: chunks, their concatenation, counts and rejects rows."""

    chunks: list[BarChunk | TickChunk]
    columns: dict[str, np.ndarray]
    log: RejectLog
    rejects: list[dict[str, str]]

    @property
    def times(self) -> list[str]:
        """Bar open (tick) times as ISO strings."""
        from replay.data.timestamps import format_ns

        key = "ts_open" if "ts_open" in self.columns else "ts"
        return [format_ns(int(ns)) for ns in self.columns[key]]

    def reject_lines(self, rule: str) -> list[int]:
        """File lines of the rejects-file rows for ``rule``."""
        return [int(row["line"]) for row in self.rejects if row["rule"] == rule]


def concat(chunks: list[BarChunk | TickChunk]) -> dict[str, np.ndarray]:
    """Concatenate chunks column by column (empty arrays for no chunks)."""
    if not chunks:
        return {}
    names = chunks[0]._fields
    return {name: np.concatenate([getattr(c, name) for c in chunks]) for name in names}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def malformed_dir() -> Path:
    return ROOT / "tests" / "data" / "malformed"


@pytest.fixture(scope="session")
def formats_dir() -> Path:
    return ROOT / "tests" / "data" / "formats"


@pytest.fixture(scope="session")
def bundled_dir() -> Path:
    return ROOT / "data"


@pytest.fixture
def read(tmp_path: Path) -> Callable[..., ReadResult]:
    """Return ``read(path, **DataConfig fields)``: read a file to the end with a rejects file."""
    counter = itertools.count()

    def _read(path: Path, **fields: object) -> ReadResult:
        return read_all(path, tmp_path / f"rejects-{next(counter)}.csv", **fields)

    return _read


@pytest.fixture(scope="session")
def read_into() -> Callable[..., ReadResult]:
    """Return :func:`read_all` (session scope, usable from hypothesis tests)."""
    return read_all


def read_all(path: Path, sink: Path, **fields: object) -> ReadResult:
    """Read ``path`` completely with ``DataConfig(**fields)``, logging rejects to ``sink``."""
    config = DataConfig(path=str(path), **fields)  # type: ignore[arg-type]
    with RejectLog(sink) as log:
        chunks = list(read_market_data(path, config, log))
    with sink.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return ReadResult(chunks, concat(chunks), log, rows)
