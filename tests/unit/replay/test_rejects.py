"""RejectLog counts per rule, writes the rejects file and keeps gap statistics."""

from __future__ import annotations

import csv

import numpy as np

from replay.data import REJECTS_HEADER, RejectLog


def test_counts_per_rule_and_action():
    log = RejectLog()
    log.record("f.csv", "nan", "skip", np.array([3, 5]))
    log.record("f.csv", "nan", "repair", np.array([7]))
    log.count("ohlc", "skip", 4)
    log.count("ohlc", "skip", 0)
    assert log.rejected == {"nan": 2, "ohlc": 4}
    assert log.repaired == {"nan": 1}
    assert log.total_rejected == 6
    assert not log.writes_rows and log.path is None
    log.close()
    log.close()


def test_sink_gets_header_and_rows(tmp_path):
    sink = tmp_path / "out" / "rejects.csv"
    with RejectLog(sink) as log:
        assert log.writes_rows
        log.record("f.csv", "unparsable", "skip", [4], ["a,b"], ['2013,"a,b"'])
    with sink.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == REJECTS_HEADER
    assert rows[1] == ["f.csv", "4", "unparsable", "skip", "a,b", '2013,"a,b"']


def test_clean_run_leaves_a_header_only_file(tmp_path):
    sink = tmp_path / "rejects.csv"
    RejectLog(sink).close()
    assert sink.read_text().splitlines() == [",".join(REJECTS_HEADER)]


def test_gap_statistics_keep_the_first_locations():
    log = RejectLog(max_gap_records=3)
    minute = 60 * 10**9
    for start in (0, 100):
        lines = np.arange(start, start + 3)
        before = lines * 10 * minute
        missing = np.array([1, 5, 2])
        log.record_gaps(lines, before, before + (missing + 1) * minute, missing)
    assert (log.gap_count, log.missing_bars) == (6, 16)
    assert (log.largest_gap_bars, log.largest_gap_ns) == (5, 6 * minute)
    assert [gap.line for gap in log.gaps] == [0, 1, 2]
