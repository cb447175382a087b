"""Benchmark input: the bundled real ES 1-minute bars tiled in time (benchmarks only).

The 2,264 real bars are repeated with timestamps shifted by whole weeks, so sessions, gaps and
price paths are real and only the calendar is extended. This is load for measuring the engine,
never market data for a result.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from engine.core.chunks import BarChunk

ROOT = Path(__file__).resolve().parents[1]
ES_1M = ROOT / "data" / "es_1min_2013-09.csv"
WEEK_NS = 7 * 24 * 3600 * 10**9
MINUTE_NS = 60 * 10**9


def load_base() -> BarChunk:
    frame = pd.read_csv(ES_1M)
    stamps = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns")
    ts_open = stamps.astype("int64").to_numpy(np.int64)
    return BarChunk(ts_open, ts_open + MINUTE_NS,
                    *(frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close",
                                                              "volume")))


def tiled_chunks(n_bars: int, chunk_rows: int = 100_000) -> Iterator[BarChunk]:
    """Yield ``n_bars`` tiled bars in chunks; memory holds one chunk at a time."""
    base = load_base()
    n_base = base.rows
    produced = 0
    while produced < n_bars:
        rows = min(chunk_rows, n_bars - produced)
        index = np.arange(produced, produced + rows)
        copy, pos = np.divmod(index, n_base)
        shift = copy * WEEK_NS
        yield BarChunk(base.ts_open[pos] + shift, base.ts_close[pos] + shift,
                       base.open[pos], base.high[pos], base.low[pos], base.close[pos],
                       base.volume[pos])
        produced += rows


def write_tiled_csv(path: Path, n_bars: int) -> Path:
    """Write ``n_bars`` tiled bars as a CSV in the bundled format (for reader benchmarks)."""
    with path.open("w") as handle:
        handle.write("timestamp,open,high,low,close,volume\n")
        for chunk in tiled_chunks(n_bars):
            stamps = pd.to_datetime(chunk.ts_open, utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")
            frame = pd.DataFrame({"timestamp": stamps, "open": chunk.open, "high": chunk.high,
                                  "low": chunk.low, "close": chunk.close,
                                  "volume": chunk.volume})
            frame.to_csv(handle, header=False, index=False)
    return path
