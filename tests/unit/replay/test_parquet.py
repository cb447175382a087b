"""Parquet input gives the same chunks as the CSV it was written from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.wiring.schema import ValidationConfig


def assert_same_chunks(left, right):
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert type(a) is type(b)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("timestamps", ["native_utc", "epoch_ms", "text", "naive_local"])
def test_parquet_round_trip_matches_csv(timestamps, read, bundled_dir, tmp_path):
    source = bundled_dir / "es_1min_2013-09.csv"
    frame = pd.read_csv(source)
    instants = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns")
    if timestamps == "native_utc":
        column = pa.array(instants)
    elif timestamps == "epoch_ms":
        column = pa.array(instants.astype("int64") // 10**6)
    elif timestamps == "text":
        column = pa.array(frame["timestamp"].astype(str).tolist())
    else:
        local = instants.dt.tz_convert("America/Chicago").dt.tz_localize(None)
        column = pa.array(local.dt.as_unit("us"))
    table = pa.table(
        {
            "timestamp": column,
            **{
                name: pa.array(frame[name].to_numpy())
                for name in ("open", "high", "low", "close", "volume")
            },
        }
    )
    path = tmp_path / "es.parquet"
    pq.write_table(table, path, row_group_size=700)
    zone = "America/Chicago" if timestamps == "naive_local" else "UTC"
    from_csv = read(source, chunk_rows=500)
    from_parquet = read(path, chunk_rows=500, timezone=zone)
    assert_same_chunks(from_parquet.chunks, from_csv.chunks)
    assert from_parquet.log.gap_count == from_csv.log.gap_count == 37


def test_parquet_lines_are_row_numbers_and_nulls_are_nan(read, tmp_path):
    table = pa.table(
        {
            "ts": pa.array([1, 2, 3, 4], pa.int64()),  # epoch seconds (tiny, but valid)
            "price": pa.array([10.0, None, 11.0, -1.0]),
            "size": pa.array([1, 2, 3, 4], pa.int32()),
        }
    )
    path = tmp_path / "ticks.pq"
    pq.write_table(table, path)
    result = read(path, kind="ticks", validation=ValidationConfig(nan="skip"))
    assert result.columns["ts"].tolist() == [10**9, 3 * 10**9]
    assert result.reject_lines("nan") == [2]
    assert result.reject_lines("non_positive") == [4]
    assert [row["raw"] for row in result.rejects] == ["2,,2", "4,-1.0,4"]
