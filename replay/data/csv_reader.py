"""Stream a delimited text file as raw blocks of at most ``chunk_rows`` lines (data layer).

The file is read line by line in binary mode, ``chunk_rows`` lines at a time, so memory is
bounded by one chunk whatever the file size; each chunk is split into fields by Arrow's CSV
parser with every column kept as text. Line numbers are physical 1-based file lines (the header,
when there is one, is line 1). A line with the wrong number of fields becomes a
:class:`~replay.data.fields.Malformed` entry; blank lines (or lines of empty fields) are
skipped without being counted as rows. ``.gz`` files are decompressed on the fly.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from pyarrow.csv import InvalidRow

from engine.core.data_config import DataConfig
from engine.core.errors import ConfigError
from replay.data.fields import Block, Malformed
from replay.data.layouts import (
    LAYOUTS,
    ColumnPlan,
    detect_header,
    plan_columns,
    sniff_delimiter,
    split_line,
)

__all__ = ["CsvSource"]


class CsvSource:
    """A CSV/TXT market-data file opened for streaming.

    Parameters
    ----------
    path
        The file (``.gz`` is decompressed).
    config
        Delimiter, layout, columns and ``chunk_rows``.

    Attributes
    ----------
    plan
        Where each logical field is, or ``None`` for an empty file.
    """

    def __init__(self, path: Path, config: DataConfig) -> None:
        self.source = str(path)
        self._chunk_rows = config.chunk_rows
        opener = gzip.open if path.suffix == ".gz" else open
        self._file: BinaryIO = opener(path, "rb")  # type: ignore[assignment]
        self.plan: ColumnPlan | None = None
        try:
            self._start(config)
        except BaseException:
            self._file.close()
            raise

    def _start(self, config: DataConfig) -> None:
        """Read the first line: delimiter, header and where each field is."""
        self._before = 0  # blank lines before the first line with content
        first = self._file.readline().removeprefix(b"\xef\xbb\xbf")
        while first and not first.strip():
            self._before += 1
            first = self._file.readline()
        self._first = first
        if not first:
            return
        text = first.decode("utf-8", errors="replace").rstrip("\r\n")
        layout = LAYOUTS[config.layout]
        delimiter = config.delimiter or layout.delimiter or sniff_delimiter(text)
        if len(delimiter) != 1:
            raise ConfigError(f"delimiter: expected one character, was {delimiter!r}")
        self._delimiter = delimiter
        fields = split_line(text, delimiter)
        header = layout.header if layout.header is not None else detect_header(fields)
        self._header = header
        self._width = len(fields)
        self.plan = plan_columns(fields if header else None, len(fields), config, self.source)
        self._names = [f"c{i}" for i in range(self._width)]
        self._wanted = {field: self._names[i] for field, i in self.plan.fields.items()}

    def blocks(self) -> Iterator[Block]:
        """Yield the data rows, ``chunk_rows`` file lines at a time."""
        if self.plan is None:
            return
        lines: Iterator[bytes] = self._file
        consumed = self._before + 1
        if not self._header:
            lines = itertools.chain([self._first], self._file)
            consumed = self._before
        while True:
            chunk = list(itertools.islice(lines, self._chunk_rows))
            if not chunk:
                return
            yield self._parse(chunk, consumed + 1)
            consumed += len(chunk)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def _parse(self, chunk: list[bytes], first_line: int) -> Block:
        buffer = pa.py_buffer(b"".join(chunk))
        table, invalid = self._read(buffer, threads=True)
        if any(row.number is None for row in invalid):
            # multithreaded parsing does not know line numbers; redo this chunk serially
            table, invalid = self._read(buffer, threads=False)
        relative = np.arange(len(chunk), dtype=np.int64)
        malformed: list[Malformed] = []
        if invalid:
            numbers = np.array([row.number for row in invalid], dtype=np.int64) - 1
            relative = np.delete(relative, numbers)
            malformed = [
                Malformed(first_line + row.number - 1, row.actual_columns, row.text)
                for row in invalid
                if row.text.strip()
            ]
        columns = {
            field: table.column(name).combine_chunks() for field, name in self._wanted.items()
        }
        blank = _blank_rows(columns.values())
        if blank is not None:
            keep = ~blank
            relative = relative[keep]
            mask = pa.array(keep)
            columns = {field: column.filter(mask) for field, column in columns.items()}

        def raw_rows(positions: np.ndarray) -> list[str]:
            return [
                chunk[int(relative[p])].decode("utf-8", errors="replace").rstrip("\r\n")
                for p in positions
            ]

        return Block(relative + first_line, columns, raw_rows, tuple(malformed), self._width)

    def _read(self, buffer: pa.Buffer, threads: bool) -> tuple[pa.Table, list[InvalidRow]]:
        invalid: list[InvalidRow] = []

        def handle(row: InvalidRow) -> str:
            invalid.append(row)
            return "skip"

        wanted = list(dict.fromkeys(self._wanted.values()))
        table = pcsv.read_csv(
            buffer,
            read_options=pcsv.ReadOptions(column_names=self._names, use_threads=threads),
            parse_options=pcsv.ParseOptions(
                delimiter=self._delimiter,
                invalid_row_handler=handle,
                ignore_empty_lines=False,
            ),
            convert_options=pcsv.ConvertOptions(
                include_columns=wanted,
                column_types=dict.fromkeys(wanted, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        invalid.sort(key=lambda row: row.number or 0)
        return table, invalid


def _blank_rows(columns: Iterable[pa.Array]) -> np.ndarray | None:
    """Rows whose every kept field is empty, or None when there are none (the usual case)."""
    blank = None
    for column in columns:
        empty = pc.equal(pc.binary_length(column), 0)
        blank = empty if blank is None else pc.and_(blank, empty)
    if blank is None or not pc.any(blank).as_py():
        return None
    return np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)
