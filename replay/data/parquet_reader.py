"""Stream a Parquet file as raw blocks of at most ``chunk_rows`` rows (data layer).

Batches come from :meth:`pyarrow.parquet.ParquetFile.iter_batches`, so only one batch of the
needed columns is in memory at a time. Columns keep their Parquet types (native timestamps,
integers, floats or text). A Parquet file has no header line: the "line" of a row in messages
and in the rejects file is its 1-based row number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.core.data_config import DataConfig
from replay.data.fields import Block
from replay.data.layouts import ColumnPlan, plan_columns

__all__ = ["ParquetSource"]


class ParquetSource:
    """A Parquet market-data file opened for streaming.

    Parameters
    ----------
    path
        The file.
    config
        Layout, columns and ``chunk_rows``.
    """

    def __init__(self, path: Path, config: DataConfig) -> None:
        self.source = str(path)
        self._chunk_rows = config.chunk_rows
        self._file = pq.ParquetFile(path)
        names = list(self._file.schema_arrow.names)
        self.plan: ColumnPlan | None = plan_columns(names, len(names), config, self.source)
        self._wanted = {field: names[i] for field, i in self.plan.fields.items()}
        self._width = len(names)

    def blocks(self) -> Iterator[Block]:
        """Yield the rows, ``chunk_rows`` at a time."""
        columns = list(dict.fromkeys(self._wanted.values()))
        done = 0
        for batch in self._file.iter_batches(batch_size=self._chunk_rows, columns=columns):
            n = batch.num_rows
            if n == 0:
                continue
            data = {field: batch.column(name) for field, name in self._wanted.items()}
            lines = np.arange(done + 1, done + n + 1, dtype=np.int64)
            yield Block(lines, data, _row_text(batch), (), self._width)
            done += n

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def _row_text(batch: pa.RecordBatch) -> Callable[[np.ndarray], list[str]]:
    def raw_rows(positions: np.ndarray) -> list[str]:
        return [
            ",".join(_text(column[int(p)].as_py()) for column in batch.columns) for p in positions
        ]

    return raw_rows


def _text(value: object) -> str:
    return "" if value is None else str(value)
