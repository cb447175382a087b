"""``algospace data resample``: aggregate a data file to one timeframe (wiring layer).

Streams the validated input through the same :class:`~components.bars.BarAggregator` the replay
uses (session-aligned buckets, bars labelled by open and close) and writes CSV or Parquet chunk
by chunk, so memory stays flat for any file size.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from components.bars import AggregatedBars
from engine.core.errors import EngineError
from engine.core.timeframes import parse_timeframe
from engine.wiring.pipeline import build_aggregator, input_timeframe
from engine.wiring.schema import AppConfig
from replay.data import RejectLog, read_market_data

__all__ = ["resample_file"]


def resample_file(
    config: AppConfig,
    data_path: Path,
    timeframe: str,
    output: Path,
    out_dir: Path,
    include_partial: bool = False,
) -> str:
    """Aggregate ``data_path`` to ``timeframe`` and write ``output`` (.csv or .parquet).

    Returns a one-line summary. The last, incomplete bar is written only with
    ``include_partial``, and its ``complete`` column is false.
    """
    input_tf = input_timeframe(config)
    if input_tf is not None and parse_timeframe(timeframe) % parse_timeframe(input_tf):
        raise EngineError(f"--to: expected a multiple of data.bar_interval ({input_tf}), "
                          f"was {timeframe}")
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise EngineError(f"--output: expected a .csv or .parquet file, was {output}")
    aggregator = build_aggregator(config, timeframe)
    output.parent.mkdir(parents=True, exist_ok=True)
    with RejectLog(out_dir / "rejects.csv") as rejects, _BarSink(output) as sink:
        for chunk in read_market_data(data_path, config.data, rejects):
            sink.write(aggregator.on_chunk(chunk))
        if include_partial:
            sink.write(aggregator.flush(), complete=False)
    return (f"wrote {sink.rows} {timeframe} bars to {output} "
            f"({rejects.total_rejected} input rows rejected, see {rejects.path})")


class _BarSink:
    """Append aggregated bars to a CSV or Parquet file, one chunk at a time."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._parquet = path.suffix.lower() == ".parquet"
        self._writer: pq.ParquetWriter | None = None
        self._handle: IO[bytes] | None = None
        self.rows = 0

    def __enter__(self) -> _BarSink:
        if not self._parquet:
            self._handle = self._path.open("wb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._handle is not None:
            self._handle.close()
        if self._parquet and self._writer is None:  # no bars: still leave a valid empty file
            pq.write_table(pa.Table.from_pandas(_frame(None), preserve_index=False), self._path)

    def write(self, bars: AggregatedBars, complete: bool = True) -> None:
        if not bars.rows:
            return
        frame = _frame(bars)
        frame["complete"] = complete
        if self._handle is not None:
            for column in ("ts_open", "ts_close"):
                frame[column] = frame[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            self._handle.write(frame.to_csv(header=self.rows == 0, index=False).encode())
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._path, table.schema)
            self._writer.write_table(table)
        self.rows += len(frame)


def _frame(bars: AggregatedBars | None) -> pd.DataFrame:
    if bars is None:
        empty_ts = pd.to_datetime(pd.Series([], dtype="int64"), utc=True)
        return pd.DataFrame({"ts_open": empty_ts, "ts_close": empty_ts,
                             **{c: pd.Series([], dtype="float64")
                                for c in ("open", "high", "low", "close", "volume")},
                             "complete": pd.Series([], dtype="bool")})
    return pd.DataFrame({
        "ts_open": pd.to_datetime(bars.ts_open, utc=True),
        "ts_close": pd.to_datetime(bars.ts_close, utc=True),
        "open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
        "volume": bars.volume,
    })
