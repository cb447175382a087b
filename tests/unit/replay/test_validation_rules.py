"""One malformed fixture per validation rule: error names the line and value, skip drops
exactly the bad rows (and logs them), repair fixes them as documented."""

from __future__ import annotations

import pytest

from engine.core.errors import DataError
from engine.wiring.schema import DataConfig, ValidationConfig
from replay.data import RejectLog, read_market_data


def t(hhmm: str) -> str:
    """A 2013-09-01 UTC bar time of the fixtures."""
    return f"2013-09-01T{hhmm}:00Z"


# rule -> (first offending line, its value, bar times that survive "skip", lines rejected)
SKIP_CASES = {
    "unparsable": (4, "abc", ["22:00", "22:01", "22:05"], [4, 5, 6]),
    "nan": (2, "", ["22:01", "22:04"], [2, 4, 5]),
    "non_positive": (4, "0", ["22:00", "22:01", "22:03", "22:05"], [4, 6]),
    "negative_volume": (3, "-1105", ["22:00", "22:02", "22:03"], [3]),
    "ohlc": (3, "1639.75", ["22:00", "22:02", "22:04"], [3, 5]),
    "duplicate": (4, t("22:01"), ["22:00", "22:01", "22:02"], [4]),
    "out_of_order": (5, t("21:59"), ["22:00", "22:01", "22:02", "22:03", "22:04"], [5]),
}


def policies(rule: str, policy: str) -> ValidationConfig:
    return ValidationConfig(**{rule: policy})  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", [*SKIP_CASES, "gap"])
def test_error_policy_names_file_line_and_value(rule, read, malformed_dir):
    path = malformed_dir / f"{rule}.csv"
    line, value = SKIP_CASES[rule][:2] if rule != "gap" else (4, t("22:04"))
    with pytest.raises(DataError) as caught:
        read(path, validation=policies(rule, "error"))
    error = caught.value
    assert (error.source, error.line, error.rule, error.value) == (str(path), line, rule, value)
    message = str(error)
    assert message.startswith(f"{path}:{line}: {rule}: ")
    assert "expected" in message and ", was " in message
    assert f"(value: {value})" in message


@pytest.mark.parametrize("rule", list(SKIP_CASES))
def test_skip_policy_drops_only_bad_rows_and_logs_them(rule, read, malformed_dir):
    _, _, kept, lines = SKIP_CASES[rule]
    result = read(malformed_dir / f"{rule}.csv", validation=policies(rule, "skip"))
    assert result.times == [t(hhmm) for hhmm in kept]
    assert result.log.rejected == {rule: len(lines)}
    assert result.log.total_rejected == len(lines)
    assert result.reject_lines(rule) == lines
    assert {row["action"] for row in result.rejects} == {"skip"}
    assert all(row["source"] == str(malformed_dir / f"{rule}.csv") for row in result.rejects)


def test_skip_keeps_the_first_of_duplicates(read, malformed_dir):
    result = read(malformed_dir / "duplicate.csv", validation=policies("duplicate", "skip"))
    assert result.columns["volume"].tolist() == [3940, 1105, 467]


def test_rejects_file_holds_value_and_raw_line(read, malformed_dir):
    result = read(malformed_dir / "unparsable.csv", validation=policies("unparsable", "skip"))
    rows = {int(row["line"]): row for row in result.rejects}
    assert rows[4]["value"] == "abc"
    assert rows[4]["raw"] == "2013-09-01T22:02:00Z,1639.75,abc,1639.5,1640.5,467"
    short = "2013-09-01T22:03:00Z,1640.5,1640.5,1640.25,1640.25"
    assert rows[5]["value"] == rows[5]["raw"] == short
    assert rows[6]["value"] == "not-a-time"


def test_unparsable_kinds_of_error(read, malformed_dir, tmp_path):
    lines = (malformed_dir / "unparsable.csv").read_text().splitlines()
    short = tmp_path / "short.csv"
    short.write_text("\n".join([lines[0], lines[1], lines[4]]) + "\n")
    with pytest.raises(DataError, match=r"short.csv:3: unparsable: expected 6 fields, was 5"):
        read(short, validation=policies("unparsable", "error"))
    bad_time = tmp_path / "bad_time.csv"
    bad_time.write_text("\n".join([lines[0], lines[1], lines[5]]) + "\n")
    with pytest.raises(DataError, match=r"bad_time.csv:3: unparsable: expected an ISO 8601"):
        read(bad_time, validation=policies("unparsable", "error"))


def test_nan_repair_takes_previous_close_and_zero_volume(read, malformed_dir):
    result = read(malformed_dir / "nan.csv", validation=policies("nan", "repair"))
    # line 2 has nothing before it to take a close from: rejected, not repaired
    assert result.times == [t("22:01"), t("22:02"), t("22:03"), t("22:04")]
    assert result.log.rejected == {"nan": 1}
    assert result.log.repaired == {"nan": 2}
    assert result.log.rows_repaired == 2
    assert result.columns["close"].tolist() == [1640, 1640, 1640.25, 1640.75]
    assert result.columns["volume"].tolist() == [1105, 467, 0, 359]
    assert [(int(r["line"]), r["action"]) for r in result.rejects] == [
        (2, "skip"),
        (4, "repair"),
        (5, "repair"),
    ]


def test_nan_repair_then_ohlc_check_uses_filled_prices(read, tmp_path):
    path = tmp_path / "gap_open.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2013-09-01T22:00:00Z,1640.25,1641,1639,1639.75,3940\n"
        "2013-09-01T22:01:00Z,,1642,1641,1641.5,10\n"  # open <- 1639.75 is below the low
        "2013-09-01T22:02:00Z,1641.5,1642,1641,,10\n"  # close <- 1639.75 (row above dropped)
    )
    skipped = read(path, validation=ValidationConfig(nan="repair", ohlc="skip"))
    # line 3 fails once its open is filled; line 4 then takes its close from line 2 and fails too
    assert skipped.times == [t("22:00")]
    assert skipped.log.rejected == {"ohlc": 2}
    assert skipped.log.repaired == {}
    repaired = read(path, validation=ValidationConfig(nan="repair", ohlc="repair"))
    assert repaired.columns["open"].tolist() == [1640.25, 1639.75, 1641.5]
    assert repaired.columns["low"].tolist() == [1639, 1639.75, 1641]
    assert repaired.columns["close"].tolist() == [1639.75, 1641.5, 1641.5]
    assert repaired.log.repaired == {"nan": 2, "ohlc": 1}
    assert repaired.log.rows_repaired == 2


def test_negative_volume_repair_sets_zero(read, malformed_dir):
    result = read(
        malformed_dir / "negative_volume.csv", validation=policies("negative_volume", "repair")
    )
    assert result.columns["volume"].tolist() == [3940, 0, 467, 301]
    assert result.log.repaired == {"negative_volume": 1}
    assert result.rejects[0]["value"] == "-1105"


def test_ohlc_repair_widens_high_and_low(read, malformed_dir):
    result = read(malformed_dir / "ohlc.csv", validation=policies("ohlc", "repair"))
    assert len(result.times) == 5
    assert result.columns["high"].tolist() == [1641, 1640, 1640.75, 1640.5, 1640.75]
    assert result.columns["low"].tolist() == [1639, 1639.5, 1639.5, 1640.25, 1640]
    assert result.log.repaired == {"ohlc": 2}
    assert [r["value"] for r in result.rejects] == ["1639.75", "1640.4"]


def test_gap_skip_keeps_data_and_counts_gaps(read, malformed_dir):
    result = read(malformed_dir / "gap.csv", validation=policies("gap", "skip"))
    assert result.times == [t(x) for x in ("22:00", "22:01", "22:04", "22:05", "22:30")]
    log = result.log
    assert (log.gap_count, log.missing_bars, log.largest_gap_bars) == (2, 26, 24)
    assert log.largest_gap_ns == 25 * 60 * 10**9
    assert [(g.line, g.missing_bars) for g in log.gaps] == [(4, 2), (6, 24)]
    assert log.rejected == {} and log.repaired == {} and result.rejects == []


def test_gap_repair_fills_short_gaps_with_flat_bars(read, malformed_dir):
    result = read(malformed_dir / "gap.csv", validation=policies("gap", "repair"))
    assert result.times == [
        t(x) for x in ("22:00", "22:01", "22:02", "22:03", "22:04", "22:05", "22:30")
    ]
    columns = result.columns
    for name in ("open", "high", "low", "close"):
        assert columns[name][2:4].tolist() == [1640, 1640]  # the 22:01 close
    assert columns["volume"].tolist() == [3940, 1105, 0, 0, 359, 288, 22]
    assert (columns["ts_close"] - columns["ts_open"] == 60 * 10**9).all()
    # the 24-bar gap is longer than max_fill (15m): counted, not filled
    assert result.log.repaired == {"gap": 2}
    assert result.log.gap_count == 2
    assert [(r["line"], r["value"]) for r in result.rejects] == [("4", "filled 2 bars")]


def test_gap_repair_honours_max_fill(read, malformed_dir):
    config = ValidationConfig(gap="repair", max_fill="30m")
    result = read(malformed_dir / "gap.csv", validation=config)
    assert len(result.times) == 5 + 2 + 24
    assert result.log.repaired == {"gap": 26}


def test_first_error_in_file_order_wins(read, malformed_dir):
    strict = ValidationConfig(
        unparsable="error",
        nan="error",
        non_positive="error",
        negative_volume="error",
        ohlc="error",
        duplicate="error",
        out_of_order="error",
        gap="error",
    )
    with pytest.raises(DataError) as caught:
        read(malformed_dir / "mixed.csv", validation=strict)
    assert (caught.value.line, caught.value.rule) == (4, "nan")


def test_rows_before_an_error_are_counted_and_logged(read, malformed_dir, tmp_path):
    path = malformed_dir / "mixed.csv"
    sink = tmp_path / "rejects.csv"
    config = DataConfig(path=str(path), validation=ValidationConfig(unparsable="error"))
    with RejectLog(sink) as log, pytest.raises(DataError) as caught:
        for _ in read_market_data(path, config, log):
            pass
    assert (caught.value.line, caught.value.value) == (6, "x1640")
    assert log.rejected == {"nan": 1}
    assert "mixed.csv,4,nan,skip" in sink.read_text()


def test_ticks_allow_equal_times_but_not_earlier_ones(read, tmp_path):
    path = tmp_path / "ticks.csv"
    path.write_text(
        "DateTime,Price,Volume\n"
        "2013-09-01 17:00:00.083,1640.25,5\n"
        "2013-09-01 17:00:00.083,1640.25,2\n"
        "2013-09-01 17:00:00.100,1640.5,1\n"
        "2013-09-01 17:00:00.090,1640.5,1\n"
        "2013-09-01 17:00:01,,3\n"
    )
    config = ValidationConfig(out_of_order="skip", nan="repair", duplicate="error", gap="error")
    result = read(path, kind="ticks", timezone="America/Chicago", validation=config)
    assert result.times == [
        "2013-09-01T22:00:00.083000Z",
        "2013-09-01T22:00:00.083000Z",
        "2013-09-01T22:00:00.100000Z",
        "2013-09-01T22:00:01Z",
    ]
    assert result.columns["price"].tolist() == [1640.25, 1640.25, 1640.5, 1640.5]
    assert result.columns["size"].tolist() == [5, 2, 1, 3]
    assert result.log.rejected == {"out_of_order": 1}
    with pytest.raises(DataError, match=r"ticks.csv:5: out_of_order"):
        read(path, kind="ticks", timezone="America/Chicago")
