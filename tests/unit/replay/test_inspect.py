"""inspect_data summarises a whole file; format_report renders it."""

from __future__ import annotations

import msgspec
import pytest

from engine.wiring.schema import DataConfig, ValidationConfig
from replay.data import DataReport, format_report, inspect_data


def test_report_on_bundled_es(bundled_dir):
    path = bundled_dir / "es_1min_2013-09.csv"
    report = inspect_data(path, DataConfig(path=str(path)))
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (2264, 2264, 0)
    assert report.first_time == "2013-09-01T22:00:00Z"
    assert report.last_time == "2013-09-03T18:51:00Z"
    assert report.span_ns == report.last_ts - report.first_ts
    assert report.median_interval_ns == 60 * 10**9
    assert (report.gap_count, report.largest_gap_bars) == (37, 390)
    assert report.rejected == {} and report.rejects_path is None
    text = format_report(report)
    assert "2264 read, 2264 accepted, 0 rejected" in text
    assert "interval      1m (median)" in text
    assert "gaps          37 (428 missing bars, largest 6h 31m = 390 bars)" in text


def test_report_counts_rejects_and_repairs(malformed_dir, tmp_path):
    path = malformed_dir / "mixed.csv"
    sink = tmp_path / "rejects.csv"
    validation = ValidationConfig(out_of_order="skip", nan="repair", ohlc="repair", gap="repair")
    report = inspect_data(path, DataConfig(path=str(path), validation=validation), sink)
    assert report.rows_read == 30  # 32 lines less the header and a blank line
    assert report.rows_read == report.rows_accepted + report.rows_rejected
    assert report.rejected == {
        "unparsable": 2,
        "non_positive": 1,
        "negative_volume": 1,
        "duplicate": 1,
        "out_of_order": 1,
    }
    # dropped rows at 22:04, 22:06, 22:08 leave 1-bar gaps; 22:20..22:22 are missing
    assert report.repaired == {"nan": 2, "ohlc": 1, "gap": 6}
    assert (report.rows_repaired, report.rows_filled) == (3, 6)
    assert report.rejects_path == str(sink)
    # header, 6 dropped rows, 3 repaired rows, 4 filled gaps
    assert len(sink.read_text().splitlines()) == 1 + 6 + 3 + 4
    text = format_report(report)
    assert "6 bars filled" in text and f"rejects file  {sink}" in text
    assert "repaired      nan=2, ohlc=1, gap=6" in text


def test_report_round_trips_through_json(bundled_dir):
    path = bundled_dir / "btcusd_1h_coinbase_2017-2019.csv"
    report = inspect_data(path, DataConfig(path=str(path), bar_interval="1h"))
    assert msgspec.json.decode(msgspec.json.encode(report), type=DataReport) == report
    assert report.median_interval_ns == 3600 * 10**9 and report.gap_count == 0


def test_report_on_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("timestamp,open,high,low,close,volume\n")
    report = inspect_data(path, DataConfig(path=str(path)))
    assert report.rows_read == 0 and report.first_ts is None
    assert "range" not in format_report(report)


def test_report_is_frozen(bundled_dir):
    path = bundled_dir / "es_30min_2013-09.csv"
    report = inspect_data(path, DataConfig(path=str(path), bar_interval="30m"))
    with pytest.raises(AttributeError):
        report.rows_read = 0  # type: ignore[misc]
