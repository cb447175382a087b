"""Streaming market-data reader: file in, validated column chunks out (data layer).

:func:`read_market_data` is the one entry point. It picks the format, resolves the layout and
columns, then converts and validates the file one chunk at a time. Memory is bounded by a
chunk whatever the file size; nothing is read before the first chunk is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec

from engine.core.chunks import BarChunk, TickChunk
from engine.core.data_config import DataConfig
from engine.core.errors import ConfigError
from replay.data.csv_reader import CsvSource
from replay.data.fields import to_fields
from replay.data.parquet_reader import ParquetSource
from replay.data.rejects import RejectLog
from replay.data.timestamps import TimestampParser
from replay.data.validate import ChunkValidator

__all__ = ["read_market_data", "resolve_format"]

_SUFFIXES = {".csv": "csv", ".txt": "csv", ".gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


def resolve_format(path: Path, configured: str = "auto") -> str:
    """Return ``"csv"`` or ``"parquet"``: the configured format, or the one the suffix implies.

    >>> resolve_format(Path("es.csv")), resolve_format(Path("es.pq"))
    ('csv', 'parquet')
    """
    if configured != "auto":
        return configured
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ConfigError(
            f"{path}: format: expected a file ending in {', '.join(_SUFFIXES)} "
            f"(or set data.format), was {path.suffix or 'no suffix'!r}"
        )
    return found


def read_market_data(
    path: Path, config: DataConfig, rejects: RejectLog
) -> Iterator[BarChunk | TickChunk]:
    """Stream validated chunks of a bar or tick file.

    Parameters
    ----------
    path
        The CSV/TXT (optionally ``.gz``) or Parquet file; messages name it as given.
    config
        How to read it: kind, format, layout, columns, time zone, chunk size and policies.
    rejects
        Receives the counts (and rows, with a sink) of rejected and repaired rows and gaps.

    Yields
    ------
    BarChunk or TickChunk
        At most ``config.chunk_rows`` rows each, never empty, in time order across chunks.

    Raises
    ------
    DataError
        At the first row that breaks a rule whose policy is ``error``, or when a required
        column is missing (rule ``columns``).
    ConfigError
        For an unknown suffix or time zone, or a bad delimiter.

    Examples
    --------
    >>> from engine.core.data_config import DataConfig
    >>> config = DataConfig(path="data/es_1min_2013-09.csv")
    >>> with RejectLog() as log:
    ...     rows = sum(c.rows for c in read_market_data(Path(config.path), config, log))
    >>> rows, log.total_rejected
    (2264, 0)
    """
    config = _checked(config)
    fmt = resolve_format(path, config.format)
    source = CsvSource(path, config) if fmt == "csv" else ParquetSource(path, config)
    try:
        plan = source.plan
        if plan is None:
            return
        parser = TimestampParser(config, plan.formats)
        validator = ChunkValidator(config, plan.label, parser, str(path), rejects)
        for block in source.blocks():
            yield from validator.validate(to_fields(block, parser))
    finally:
        source.close()


def _checked(config: DataConfig) -> DataConfig:
    """Re-validate a config built in Python (constructors do not check Literal values)."""
    try:
        return msgspec.convert(msgspec.to_builtins(config), DataConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"data config: {exc}") from exc
