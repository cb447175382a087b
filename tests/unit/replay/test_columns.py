"""Column detection, delimiters, headers, formats and config errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from engine.core.errors import ConfigError, DataError
from engine.wiring.schema import ColumnsConfig, DataConfig, ValidationConfig
from replay.data import RejectLog, read_market_data, resolve_format
from replay.data.layouts import detect_header, sniff_delimiter

ROWS = (
    "2013-09-01T22:00:00Z,1640.25,1641,1639,1639.75,3940\n"
    "2013-09-01T22:01:00Z,1640,1640.5,1639.5,1640,1105\n"
)


def write(tmp_path: Path, header: str, rows: str = ROWS, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + rows if header else rows)
    return path


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,open,high,low,close,volume",
        " Datetime , Open , High , Low , Last , Vol ",
        "TS,O,H,L,C,V",
        "date_time,open,high,low,close,TotalVolume",
        '"Time","Open","High","Low","Close","Total Volume"',
    ],
)
def test_common_header_spellings_are_detected(header, read, tmp_path):
    result = read(write(tmp_path, header))
    assert result.columns["close"].tolist() == [1639.75, 1640]
    assert result.columns["volume"].tolist() == [3940, 1105]


def test_extra_columns_and_any_order(read, tmp_path):
    path = tmp_path / "reordered.csv"
    path.write_text(
        "symbol,volume,close,low,high,open,timestamp\n"
        "ES,3940,1639.75,1639,1641,1640.25,2013-09-01T22:00:00Z\n"
    )
    result = read(path)
    assert result.columns["open"].tolist() == [1640.25]
    assert result.columns["volume"].tolist() == [3940]


def test_configured_column_names(read, tmp_path):
    path = write(tmp_path, "when,first,top,bottom,final,qty")
    columns = ColumnsConfig(
        timestamp="When", open="first", high="top", low="bottom", close="final", volume="qty"
    )
    assert read(path, columns=columns).columns["high"].tolist() == [1641, 1640.5]


def test_missing_column_names_the_file_and_lists_columns(read, tmp_path):
    path = write(tmp_path, "timestamp,open,high,low,volume", rows="2013-09-01T22:00:00Z,1,1,1,1\n")
    with pytest.raises(DataError) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:1: columns: expected a close column")
    assert "['timestamp', 'open', 'high', 'low', 'volume']" in message


def test_missing_configured_column(read, tmp_path):
    with pytest.raises(DataError, match="expected a close column .*Last"):
        read(
            write(tmp_path, "timestamp,open,high,low,close,volume"),
            columns=ColumnsConfig(close="Last"),
        )


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter, read, tmp_path):
    header = delimiter.join(["timestamp", "open", "high", "low", "close", "volume"])
    path = write(tmp_path, header, rows=ROWS.replace(",", delimiter))
    assert read(path).columns["low"].tolist() == [1639, 1639.5]
    assert read(path, delimiter=delimiter).columns["low"].tolist() == [1639, 1639.5]


def test_sniff_and_header_helpers():
    assert sniff_delimiter("a;b;c") == ";"
    assert sniff_delimiter("a,b;c,d") == ","
    assert sniff_delimiter("single") == ","
    assert detect_header(["Date", " Time"])
    assert not detect_header(["2013-09-01T22:00:00Z", "1640.25"])


def test_headerless_generic_file_is_read_by_position(read, tmp_path):
    assert read(write(tmp_path, "")).columns["open"].tolist() == [1640.25, 1640]


def test_blank_lines_are_ignored_but_counted_in_line_numbers(read, tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(
        "\ntimestamp,open,high,low,close,volume\n\n"
        + ROWS.replace("\n", "\n\n")
        + "2013-09-01T22:01:00Z,1,1,1,1,1\n"
    )
    result = read(path, validation=ValidationConfig(duplicate="skip"))
    assert len(result.times) == 2
    assert result.reject_lines("duplicate") == [8]


def test_gzip_and_parquet_suffixes(read, tmp_path, formats_dir):
    source = formats_dir / "iso_utc_es_1m.csv"
    packed = tmp_path / "bars.csv.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    assert read(packed).columns["close"].tolist() == read(source).columns["close"].tolist()
    assert resolve_format(Path("x.TXT")) == "csv"
    assert resolve_format(Path("x.parquet")) == "parquet"
    assert resolve_format(Path("x.data"), "csv") == "csv"
    with pytest.raises(ConfigError, match=r"x.json: format: expected a file ending in"):
        resolve_format(Path("x.json"))


def test_empty_and_header_only_files_yield_nothing(read, tmp_path):
    assert read(write(tmp_path, "", rows="", name="empty.csv")).chunks == []
    header_only = write(tmp_path, "timestamp,open,high,low,close,volume", rows="")
    assert read(header_only).chunks == []


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone: expected an IANA zone"),
        ({"delimiter": "::"}, "delimiter: expected one character"),
        (
            {"validation": ValidationConfig(unparsable="repair")},  # type: ignore[arg-type]
            "unparsable",
        ),
    ],
)
def test_bad_config_is_a_config_error(fields, match, tmp_path):
    path = write(tmp_path, "timestamp,open,high,low,close,volume")
    config = DataConfig(path=str(path), **fields)
    with RejectLog() as log, pytest.raises(ConfigError, match=match):
        list(read_market_data(path, config, log))


def test_reader_is_lazy_until_iterated(tmp_path):
    missing = tmp_path / "does_not_exist.csv"
    chunks = read_market_data(missing, DataConfig(path=str(missing)), RejectLog())
    with pytest.raises(FileNotFoundError):
        next(chunks)
