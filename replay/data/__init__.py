"""Market data: streaming readers with validation, reject logging and inspection (data layer).

``read_market_data`` turns a CSV/TXT or Parquet file of bars or ticks into validated
:class:`BarChunk`/:class:`TickChunk` column chunks; ``inspect_data`` summarises a file.
"""

from engine.core.chunks import BarChunk, TickChunk
from replay.data.inspect import ChunkObserver, DataReport, format_report, inspect_data
from replay.data.reader import read_market_data, resolve_format
from replay.data.rejects import REJECTS_HEADER, RULES, GapRecord, RejectLog, RejectRow

__all__ = [
    "REJECTS_HEADER",
    "RULES",
    "BarChunk",
    "ChunkObserver",
    "DataReport",
    "GapRecord",
    "RejectLog",
    "RejectRow",
    "TickChunk",
    "format_report",
    "inspect_data",
    "read_market_data",
    "resolve_format",
]
