"""Chunk size changes nothing but chunk boundaries; the reader streams lazily."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.errors import DataError
from engine.wiring.schema import DataConfig, ValidationConfig
from replay.data import BarChunk, RejectLog, read_market_data

LENIENT = ValidationConfig(out_of_order="skip")
REPAIRING = ValidationConfig(
    out_of_order="skip", nan="repair", negative_volume="repair", ohlc="repair", gap="repair"
)
POLICIES = {"lenient": LENIENT, "repairing": REPAIRING}
START = datetime(2013, 9, 1, 22, tzinfo=UTC)


def outcome(read_into, path: Path, chunk_rows: int, validation: ValidationConfig):
    with tempfile.TemporaryDirectory() as folder:
        result = read_into(
            path, Path(folder) / "rejects.csv", chunk_rows=chunk_rows, validation=validation
        )
    assert all(0 < chunk.rows <= chunk_rows for chunk in result.chunks)
    log = result.log
    counts = (
        log.rejected,
        log.repaired,
        log.rows_repaired,
        log.gap_count,
        log.missing_bars,
        log.gaps,
    )
    return result.columns, counts, result.rejects


def assert_same(left, right):
    (columns_a, counts_a, rejects_a), (columns_b, counts_b, rejects_b) = left, right
    assert columns_a.keys() == columns_b.keys()
    for name in columns_a:
        np.testing.assert_array_equal(columns_a[name], columns_b[name], err_msg=name)
    assert counts_a == counts_b
    assert rejects_a == rejects_b


@pytest.mark.parametrize("policy", list(POLICIES))
def test_chunk_sizes_1_7_and_100000_agree(policy, read_into, malformed_dir):
    path = malformed_dir / "mixed.csv"
    whole = outcome(read_into, path, 100_000, POLICIES[policy])
    assert_same(outcome(read_into, path, 1, POLICIES[policy]), whole)
    assert_same(outcome(read_into, path, 7, POLICIES[policy]), whole)
    _, (rejected, repaired, *_), rejects = whole
    if policy == "lenient":
        assert rejected == {
            "unparsable": 2,
            "nan": 2,
            "non_positive": 1,
            "negative_volume": 1,
            "ohlc": 1,
            "duplicate": 1,
            "out_of_order": 1,
        }
        assert [int(r["line"]) for r in rejects] == [4, 6, 8, 10, 12, 15, 21, 26, 29]
    else:
        assert repaired == {"nan": 2, "negative_volume": 1, "ohlc": 1, "gap": 5}


@given(chunk_rows=st.integers(1, 33), policy=st.sampled_from(sorted(POLICIES)))
def test_any_chunk_size_gives_the_same_result(chunk_rows, policy, read_into, malformed_dir):
    path = malformed_dir / "mixed.csv"
    assert_same(
        outcome(read_into, path, chunk_rows, POLICIES[policy]),
        outcome(read_into, path, 100_000, POLICIES[policy]),
    )


@given(chunk_rows=st.integers(1, 33))
def test_error_line_does_not_depend_on_chunk_size(chunk_rows, malformed_dir):
    path = malformed_dir / "mixed.csv"
    config = DataConfig(
        path=str(path), chunk_rows=chunk_rows, validation=ValidationConfig(unparsable="error")
    )
    with RejectLog() as log, pytest.raises(DataError) as caught:
        list(read_market_data(path, config, log))
    assert (caught.value.line, caught.value.value) == (6, "x1640")
    assert log.rejected == {"nan": 1}


def test_gap_repair_output_is_split_to_chunk_rows(read, malformed_dir):
    result = read(
        malformed_dir / "gap.csv",
        chunk_rows=3,
        validation=ValidationConfig(gap="repair", max_fill="30m"),
    )
    # file rows 22:00 22:01 | 22:04 (+2 filled) | 22:05 | 22:30 (+24 filled), 3 lines a chunk
    assert [chunk.rows for chunk in result.chunks] == [3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 2]
    assert np.all(np.diff(result.columns["ts_open"]) == 60 * 10**9)


def _row(i: int) -> str:
    stamp = (START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp},1640.25,1641,1639,1639.75,{i}\n"


@pytest.mark.skipif(sys.platform == "win32", reason="needs a named pipe")
def test_reader_streams_and_never_reads_far_ahead(tmp_path):
    rows, chunk_rows = 50_000, 1_000
    pipe = tmp_path / "stream.csv"
    os.mkfifo(pipe)
    written = 0

    def produce() -> None:
        nonlocal written
        with pipe.open("w") as sink:
            sink.write("timestamp,open,high,low,close,volume\n")
            for i in range(rows):
                sink.write(_row(i))
                written += 1

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    config = DataConfig(path=str(pipe), chunk_rows=chunk_rows)
    with RejectLog() as log:
        chunks = read_market_data(pipe, config, log)
        first = next(chunks)
        # the writer blocks on the full pipe: only about a chunk plus buffers has been written
        seen_at_first = written
        rest = list(chunks)
    producer.join(timeout=10)
    assert isinstance(first, BarChunk) and first.rows == chunk_rows
    assert seen_at_first < 10 * chunk_rows
    assert all(chunk.rows <= chunk_rows for chunk in rest)
    assert first.rows + sum(chunk.rows for chunk in rest) == rows
    assert first.volume[0] == 0 and rest[-1].volume[-1] == rows - 1
    assert log.total_rejected == 0 and log.gap_count == 0
