"""The bundled real data files read exactly as data/README.md describes them."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize(
    ("name", "interval", "rows", "first", "last", "gaps"),
    [
        # 36 short overnight gaps plus the Labor Day halt (10:29 -> 17:00 CT)
        ("es_1min_2013-09.csv", "1m", 2264, "2013-09-01T22:00:00Z", "2013-09-03T18:51:00Z", 37),
        (
            "btcusd_1h_coinbase_2017-2019.csv",
            "1h",
            20111,
            "2017-07-01T11:00:00Z",
            "2019-10-17T09:00:00Z",
            0,
        ),
    ],
)
def test_bundled_file_reads_cleanly(name, interval, rows, first, last, gaps, read, bundled_dir):
    result = read(bundled_dir / name, bar_interval=interval)
    columns = result.columns
    assert len(columns["ts_open"]) == rows
    assert result.log.total_rejected == 0 and result.rejects == []
    assert result.log.repaired == {}
    assert (result.times[0], result.times[-1]) == (first, last)
    assert result.log.gap_count == gaps
    assert np.all(np.diff(columns["ts_open"]) > 0)
    assert np.all(columns["low"] <= np.minimum(columns["open"], columns["close"]))
    assert np.all(columns["high"] >= np.maximum(columns["open"], columns["close"]))


def test_es_gaps_include_the_labor_day_halt(read, bundled_dir):
    log = read(bundled_dir / "es_1min_2013-09.csv").log
    assert log.gap_count > 0
    assert log.largest_gap_bars == 390  # 15:30Z .. 21:59Z missing
    assert log.largest_gap_ns == (6 * 60 + 31) * 60 * 10**9
    assert all(gap.missing_bars in (1, 2, 390) for gap in log.gaps)


def test_es_first_bar_values(read, bundled_dir):
    chunk = read(bundled_dir / "es_1min_2013-09.csv").chunks[0]
    assert (chunk.open[0], chunk.high[0], chunk.low[0], chunk.close[0], chunk.volume[0]) == (
        1640.25,
        1641,
        1639,
        1639.75,
        3940,
    )
    assert chunk.ts_close[0] - chunk.ts_open[0] == 60 * 10**9
