"""The command line on bundled real data: outputs, manifests, rejects, determinism."""

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.app.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"


def test_inspect_writes_manifest_report_and_rejects(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["data", "inspect", "--config", str(CONFIG / "es_5m_30m.toml"),
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2264 read, 2264 accepted, 0 rejected" in text
    assert "5m=460, 30m=76" in text
    report = json.loads((out / "inspect.json").read_text())
    assert report["replay"]["bars_by_timeframe"] == {"1m": 2264, "5m": 460, "30m": 76}
    assert report["data"]["gap_count"] == 37
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config_id"] == report["config_id"]
    assert manifest["data"][0]["path"].endswith("es_1min_2013-09.csv")
    assert (out / "rejects.csv").is_file()


def test_inspect_counts_rejects_of_a_malformed_file_and_keeps_valid_rows(tmp_path, capsys):
    data = tmp_path / "bars.csv"
    data.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2013-09-03T14:00:00Z,1640.25,1641,1639,1639.75,10\n"
        "2013-09-03T14:01:00Z,1640,1640.5,1639.5,1640,5\n"
        "2013-09-03T14:02:00Z,abc,1640.5,1639.5,1640,5\n"       # unparsable
        "2013-09-03T14:03:00Z,1640,1640.5,1639.5,,5\n"           # nan
        "2013-09-03T14:04:00Z,1640,1639,1639.5,1640,5\n"         # high < max(open, close)
        "2013-09-03T14:05:00Z,1640,1640.5,1639.5,1640,5\n"
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'instrument = "ES"\n[data]\npath = "{data}"\n')
    out = tmp_path / "run"
    assert main(["data", "inspect", "--config", str(cfg), "--out", str(out)]) == 0
    report = json.loads((out / "inspect.json").read_text())["data"]
    assert report["rows_read"] == 6
    assert report["rows_accepted"] == 3
    assert report["rejected"] == {"unparsable": 1, "nan": 1, "ohlc": 1}
    rejects = pd.read_csv(out / "rejects.csv")
    assert sorted(rejects["line"].tolist()) == [4, 5, 6]


def test_error_policy_stops_with_file_line_and_value(tmp_path, capsys):
    data = tmp_path / "bars.csv"
    data.write_text("timestamp,open,high,low,close,volume\n"
                    "2013-09-03T14:00:00Z,1640.25,1641,1639,1639.75,10\n"
                    "2013-09-03T14:01:00Z,-5,1640.5,1639.5,1640,5\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[data]\npath = "{data}"\n[data.validation]\nnon_positive = "error"\n')
    assert main(["data", "inspect", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert f"{data}:3" in err and "non_positive" in err and "-5" in err


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_resample_is_deterministic_and_matches_the_bundled_30m_file(tmp_path, suffix):
    outputs = []
    for k in range(2):
        target = tmp_path / f"es30_{k}{suffix}"
        assert main(["data", "resample", "--config", str(CONFIG / "es_5m_30m.toml"),
                     "--to", "30m", "--output", str(target), "--out", str(tmp_path / f"r{k}")]) == 0
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    frame = (pd.read_csv(tmp_path / "es30_0.csv") if suffix == ".csv"
             else pd.read_parquet(tmp_path / "es30_0.parquet"))
    ref = pd.read_csv(ROOT / "data" / "es_30min_2013-09.csv").iloc[:-1]
    assert len(frame) == len(ref) == 76
    for col in ("open", "high", "low", "close", "volume"):
        assert frame[col].astype(float).tolist() == ref[col].astype(float).tolist()


def test_real_es_ticks_aggregate_to_the_same_bars_as_the_real_1_minute_file(tmp_path):
    """Two real inputs, one truth: 500,000 CME trades and the 1-minute bars built from them
    give identical 5-minute bars (same session clock, same buckets)."""
    from_ticks, from_minutes = tmp_path / "t.csv", tmp_path / "m.csv"
    assert main(["data", "resample", "--config", str(CONFIG / "es_ticks.toml"), "--to", "5m",
                 "--output", str(from_ticks), "--out", str(tmp_path / "a")]) == 0
    assert main(["data", "resample", "--config", str(CONFIG / "es_5m_30m.toml"), "--to", "5m",
                 "--output", str(from_minutes), "--out", str(tmp_path / "b")]) == 0
    ticks, minutes = pd.read_csv(from_ticks), pd.read_csv(from_minutes)
    assert len(ticks) == len(minutes) == 460
    pd.testing.assert_frame_equal(ticks, minutes)
