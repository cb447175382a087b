"""Report files: what is written, byte-for-byte determinism and exact round-trips."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.core.backtest_config import ReportConfig
from replay.report import (
    EQUITY_COLUMNS,
    TRADE_COLUMNS,
    EquityCurve,
    drawdown_fraction,
    encode_summary,
    read_summary,
    write_report,
)

ALL_FILES = {
    "summary": "summary.json", "trades_csv": "trades.csv", "trades_parquet": "trades.parquet",
    "equity_csv": "equity.csv", "equity_parquet": "equity.parquet", "html": "report.html",
}
FLOAT_COLUMNS = ("entry_price", "exit_price", "pnl_points", "gross_pnl_usd", "commission_usd",
                 "slippage_usd", "pnl_usd", "mae_points", "mfe_points")
INT_COLUMNS = ("trade_id", "order_id", "quantity", "ts_entry", "ts_exit", "bars_held")
# pandas 3 parses floats exactly by default and deprecates the option that pandas 2 needs.
EXACT = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def read_csv(path, **kwargs) -> pd.DataFrame:
    """Read a report CSV with exact float parsing."""
    return pd.read_csv(path, **EXACT, **kwargs)


def ns(times: pd.Series) -> list[int]:
    """Return ISO strings or datetimes as int ns since the epoch."""
    if times.dtype == object or pd.api.types.is_string_dtype(times):
        times = pd.to_datetime(times, utc=True, format="ISO8601")
    return times.dt.as_unit("ns").astype("int64").tolist()


def test_write_report_writes_every_configured_file(written):
    assert {name: path.name for name, path in written.items()} == ALL_FILES
    for path in written.values():
        assert path.is_file() and path.stat().st_size > 0


@pytest.mark.parametrize("flags", [
    dict(html=False, parquet=False, equity_csv=False),
    dict(html=False, parquet=True, equity_csv=False),
    dict(html=False, parquet=False, equity_csv=True),
])
def test_write_report_writes_only_what_the_config_asks(tmp_path, data, equity, flags):
    written = write_report(tmp_path, data, equity, ReportConfig(**flags))

    expected = {"summary", "trades_csv"}
    expected |= {"trades_parquet", "equity_parquet"} if flags["parquet"] else set()
    expected |= {"equity_csv"} if flags["equity_csv"] else set()
    assert set(written) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(ALL_FILES[n] for n in expected)


def test_report_files_are_byte_identical_across_writes(tmp_path, data_factory, equity):
    first = write_report(tmp_path / "a", data_factory(), equity, ReportConfig())
    second = write_report(tmp_path / "b", data_factory(), equity, ReportConfig())

    for name in ("summary", "trades_csv", "equity_csv", "html"):
        assert first[name].read_bytes() == second[name].read_bytes(), name
    assert str(tmp_path).encode() not in first["summary"].read_bytes()


def test_summary_json_is_sorted_indented_and_has_no_trades(written, data):
    text = written["summary"].read_bytes()

    assert text == encode_summary(data)
    assert text.startswith(b'{\n  "assumptions": [')
    assert b'"trades": [' not in text  # metrics.trades (a count) stays
    assert b"NaN" not in text and b"Infinity" not in text
    assert b'"daily_kurtosis": null' in text


def test_summary_json_decodes_back_to_the_same_data(written, data):
    decoded = read_summary(written["summary"])

    assert decoded.trades == []
    assert encode_summary(decoded) == written["summary"].read_bytes()
    assert decoded.targets[0] == data.targets[0]
    assert decoded.metrics.sharpe == data.metrics.sharpe
    assert math.isnan(decoded.metrics.daily_kurtosis)
    assert math.isnan(decoded.bound.profit_factor)  # inf is written as null, read as nan
    assert decoded.counts == data.counts and decoded.assumptions == data.assumptions


def test_read_summary_rejects_a_file_that_is_not_a_summary(tmp_path):
    path = tmp_path / "summary.json"
    path.write_bytes(b'{"title": "x"}')
    with pytest.raises(msgspec.ValidationError):
        read_summary(path)


def test_trades_csv_round_trips_exact_floats(written, data):
    frame = read_csv(written["trades_csv"], keep_default_na=False, na_values=[""])

    assert tuple(frame.columns) == TRADE_COLUMNS
    assert "ts_event" not in frame.columns and "ts_init" not in frame.columns
    for name in FLOAT_COLUMNS:
        assert frame[name].tolist() == [getattr(t, name) for t in data.trades], name
    for name in INT_COLUMNS:
        assert frame[name].tolist() == [getattr(t, name) for t in data.trades], name
    r_multiple = [None if math.isnan(x) else x for x in frame["r_multiple"]]
    assert r_multiple == [t.r_multiple for t in data.trades]
    assert frame["tag"].fillna("").tolist() == [t.tag for t in data.trades]
    assert frame["direction"].tolist() == [t.direction for t in data.trades]


def test_trades_csv_times_spell_out_the_ns_stamps(written):
    frame = read_csv(written["trades_csv"])

    for stamp, iso in (("ts_entry", "entry_time"), ("ts_exit", "exit_time")):
        assert ns(frame[iso]) == frame[stamp].tolist()
        assert frame[iso].str.endswith("Z").all()


def test_trades_parquet_has_the_csv_columns_and_values(written):
    table = pq.read_table(written["trades_parquet"]).to_pandas()
    frame = read_csv(written["trades_csv"])

    assert tuple(table.columns) == TRADE_COLUMNS
    for name in FLOAT_COLUMNS + INT_COLUMNS:
        assert table[name].tolist() == frame[name].tolist(), name
    assert table["r_multiple"].isna().tolist() == frame["r_multiple"].isna().tolist()
    assert ns(table["entry_time"]) == frame["ts_entry"].tolist()
    assert str(table["exit_time"].dt.tz) == "UTC"


def test_equity_files_hold_the_curve_and_its_drawdown(written, equity):
    frame = read_csv(written["equity_csv"])
    table = pq.read_table(written["equity_parquet"]).to_pandas()

    assert tuple(frame.columns) == EQUITY_COLUMNS == tuple(table.columns)
    assert frame["ts"].tolist() == equity.ts.tolist() == table["ts"].tolist()
    assert frame["equity"].tolist() == equity.equity.tolist() == table["equity"].tolist()
    assert frame["position"].tolist() == equity.position.tolist()
    drawdown = drawdown_fraction(equity.equity)
    assert frame["drawdown"].tolist() == drawdown.tolist() == table["drawdown"].tolist()
    assert (drawdown >= 0).all() and drawdown.max() > 0
    assert ns(frame["time"]) == equity.ts.tolist() == ns(table["time"])


def test_empty_trade_list_writes_headers_and_a_report(tmp_path, data_factory, equity):
    written = write_report(tmp_path, data_factory(trades=[]), equity, ReportConfig())

    assert written["trades_csv"].read_text() == ",".join(TRADE_COLUMNS) + "\n"
    table = pq.read_table(written["trades_parquet"])
    assert table.num_rows == 0 and tuple(table.column_names) == TRADE_COLUMNS
    assert "No trades." in written["html"].read_text()


def test_empty_equity_curve_still_writes_every_file(tmp_path, data_factory):
    empty = EquityCurve(np.array([], dtype=np.int64), np.array([]), np.array([]))

    written = write_report(tmp_path, data_factory(trades=[]), empty, ReportConfig())

    assert set(written) == set(ALL_FILES)
    assert written["equity_csv"].read_text() == ",".join(EQUITY_COLUMNS) + "\n"


def test_write_report_rejects_arrays_of_different_lengths(tmp_path, data, equity):
    short = equity._replace(position=equity.position[:-1])
    with pytest.raises(ValueError, match="equal lengths"):
        write_report(tmp_path, data, short, ReportConfig())
