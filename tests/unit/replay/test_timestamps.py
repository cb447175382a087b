"""Timestamp forms, time zones and vendor layouts all land on the same UTC bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.core.errors import DataError
from engine.wiring.schema import ValidationConfig

MINUTE = 60 * 10**9
FIRST_OPEN = 1_378_072_800 * 10**9  # 2013-09-01T22:00:00Z, the first ES bar


@pytest.fixture
def reference(read, formats_dir):
    """The first five ES bars, read from the ISO-with-Z file."""
    return read(formats_dir / "iso_utc_es_1m.csv").columns


def assert_same_bars(columns, reference):
    assert set(columns) == set(reference)
    for name, expected in reference.items():
        np.testing.assert_array_equal(columns[name], expected, err_msg=name)


def test_iso_with_z_is_utc(reference):
    assert reference["ts_open"].dtype == np.int64
    assert reference["ts_open"].tolist() == [FIRST_OPEN + i * MINUTE for i in range(5)]
    assert (reference["ts_close"] - reference["ts_open"] == MINUTE).all()
    assert reference["close"].tolist() == [1639.75, 1640, 1640.5, 1640.25, 1640.75]


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        ("ninjatrader_es_1m.txt", "ninjatrader"),  # bar close, yyyyMMdd HHmmss, ';', CRLF
        ("tradestation_es_1m.csv", "tradestation"),  # bar close, MM/dd/yyyy + HH:mm, Up+Down
        ("sierrachart_es_1m.csv", "sierrachart"),  # bar open, YYYY/MM/DD + HH:MM:SS, Last
        ("date_time_chicago_es_1m.csv", "generic"),  # separate date and time columns
    ],
)
def test_vendor_layouts_in_local_time_match_utc_reference(
    name, layout, read, formats_dir, reference
):
    result = read(formats_dir / name, layout=layout, timezone="America/Chicago")
    assert result.log.total_rejected == 0
    assert_same_bars(result.columns, reference)


def test_tradestation_volume_column_is_used_when_present(read, formats_dir, tmp_path, reference):
    lines = (formats_dir / "tradestation_es_1m.csv").read_text().splitlines()
    volumes = reference["volume"].astype(int).tolist()
    rows = [
        ",".join([*line.split(",")[:6], str(v)]) for line, v in zip(lines[1:], volumes, strict=True)
    ]
    path = tmp_path / "ts_vol.csv"
    path.write_text('"Date","Time","Open","High","Low","Close","Vol"\n' + "\n".join(rows))
    result = read(path, layout="tradestation", timezone="America/Chicago")
    assert_same_bars(result.columns, reference)


def test_label_close_shifts_bars_back_one_interval(read, formats_dir, reference):
    result = read(formats_dir / "iso_utc_es_1m.csv", timestamp_label="close")
    np.testing.assert_array_equal(result.columns["ts_close"], reference["ts_open"])
    np.testing.assert_array_equal(result.columns["ts_open"], reference["ts_open"] - MINUTE)


@pytest.mark.parametrize("chunk_rows", [1, 2, 100_000])
def test_naive_chicago_across_fall_back_stays_monotonic(chunk_rows, read, formats_dir):
    result = read(
        formats_dir / "chicago_fall_back_30m.csv",
        timezone="America/Chicago",
        bar_interval="30m",
        chunk_rows=chunk_rows,
    )
    # 00:30 CDT, 01:00 CDT, 01:30 CDT, 01:00 CST, 01:30 CST, 02:00 CST
    assert result.times == [
        "2013-11-03T05:30:00Z",
        "2013-11-03T06:00:00Z",
        "2013-11-03T06:30:00Z",
        "2013-11-03T07:00:00Z",
        "2013-11-03T07:30:00Z",
        "2013-11-03T08:00:00Z",
    ]
    assert result.log.total_rejected == 0 and result.log.gap_count == 0


def test_naive_chicago_across_spring_forward_rejects_nonexistent_time(read, formats_dir):
    path = formats_dir / "chicago_spring_forward_30m.csv"
    result = read(path, timezone="America/Chicago", bar_interval="30m")
    assert result.times == [
        "2013-03-10T07:00:00Z",  # 01:00 CST
        "2013-03-10T07:30:00Z",  # 01:30 CST
        "2013-03-10T08:00:00Z",  # 03:00 CDT
        "2013-03-10T08:30:00Z",
    ]
    assert result.log.gap_count == 0
    assert result.reject_lines("unparsable") == [4]
    with pytest.raises(DataError, match="expected a wall time that exists in America/Chicago"):
        read(
            path,
            timezone="America/Chicago",
            bar_interval="30m",
            validation=ValidationConfig(unparsable="error"),
        )


def test_same_file_in_utc_and_chicago_differs_by_the_offset(read, formats_dir):
    path = formats_dir / "date_time_chicago_es_1m.csv"
    utc = read(path).columns["ts_open"]
    chicago = read(path, timezone="America/Chicago").columns["ts_open"]
    assert (chicago - utc == 5 * 3600 * 10**9).all()  # CDT is UTC-5


@pytest.mark.parametrize(
    ("unit", "divisor"), [("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)]
)
@pytest.mark.parametrize("configured", [False, True])
def test_epoch_numbers_by_magnitude_or_unit(
    unit, divisor, configured, read, formats_dir, tmp_path, reference
):
    frame = pd.read_csv(formats_dir / "iso_utc_es_1m.csv")
    frame["timestamp"] = reference["ts_open"] // divisor
    path = tmp_path / f"epoch_{unit}.csv"
    frame.to_csv(path, index=False)
    result = read(path, timestamp_unit=unit if configured else "auto")
    assert_same_bars(result.columns, reference)


def test_epoch_seconds_with_fraction(read, tmp_path):
    path = tmp_path / "fraction.csv"
    path.write_text("ts,price,size\n1378072800.25,1640.25,1\n1378072800.5,1640.5,2\n")
    result = read(path, kind="ticks")
    assert result.columns["ts"].tolist() == [FIRST_OPEN + 250_000_000, FIRST_OPEN + 500_000_000]


def test_timestamp_format_pattern(read, formats_dir, tmp_path, reference):
    frame = pd.read_csv(formats_dir / "iso_utc_es_1m.csv")
    stamps = pd.to_datetime(frame["timestamp"]).dt.strftime("%d.%m.%Y %H-%M")
    frame["timestamp"] = stamps
    path = tmp_path / "custom.csv"
    frame.to_csv(path, index=False, sep="|")
    result = read(path, timestamp_format="%d.%m.%Y %H-%M")
    assert_same_bars(result.columns, reference)


def test_iso_with_offsets_and_mixed_naive_rows(read, tmp_path):
    path = tmp_path / "offsets.csv"
    path.write_text(
        "time,open,high,low,close,volume\n"
        "2013-09-01T17:00:00-05:00,1,1,1,1,1\n"  # explicit offset wins over the zone
        "2013-09-01 17:01:00,1,1,1,1,1\n"  # naive: America/Chicago
        "2013-09-01T22:02:00+00:00,1,1,1,1,1\n"
    )
    result = read(path, timezone="America/Chicago")
    assert result.columns["ts_open"].tolist() == [FIRST_OPEN + i * MINUTE for i in range(3)]


def test_ninjatrader_ticks_have_100ns_fractions(read, tmp_path):
    path = tmp_path / "nt_ticks.txt"
    path.write_text(
        "20130901 170000 0830000;1640.25;1640;1640.25;5\n"
        "20130901 170000 1000001;1640.5;1640.25;1640.5;1\n"
    )
    result = read(path, kind="ticks", layout="ninjatrader", timezone="America/Chicago")
    assert result.columns["ts"].tolist() == [FIRST_OPEN + 83_000_000, FIRST_OPEN + 100_000_100]
    assert result.columns["price"].tolist() == [1640.25, 1640.5]
    assert result.columns["size"].tolist() == [5, 1]
