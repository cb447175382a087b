"""Run manifests record provenance; logging stamps simulated time."""

import hashlib
import json

import structlog

from engine.core.clock import LiveClock, TestClock
from engine.core.config import config_id
from engine.core.logging import configure_logging, set_log_clock
from engine.core.manifest import build_manifest, code_version, write_manifest
from engine.wiring.schema import AppConfig, DataConfig


def test_manifest_records_code_config_data_seeds_and_libraries(tmp_path):
    data = tmp_path / "bars.csv"
    data.write_text("timestamp,open,high,low,close,volume\n")
    cfg = AppConfig(seed=11, data=DataConfig(path=str(data)))
    manifest = build_manifest("data inspect", cfg, [data], seeds={"seed": 11})
    path = write_manifest(tmp_path / "run", manifest)
    written = json.loads(path.read_text())
    assert written["config_id"] == config_id(cfg)
    assert written["config"]["seed"] == 11
    assert written["data"][0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert written["data"][0]["bytes"] == data.stat().st_size
    assert written["seeds"] == {"seed": 11}
    assert written["code_version"] == code_version() != ""
    assert {"numpy", "numba", "msgspec", "torch"} <= set(written["libraries"])
    assert written["run_id"].startswith("data-inspect-")


def test_log_lines_carry_simulated_time(capsys):
    configure_logging(json=True, level="info")
    clock = TestClock(1_500_000_000 * 10**9)
    set_log_clock(clock)
    try:
        structlog.get_logger("t").info("replay.step", rows=3)
    finally:
        set_log_clock(None)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "replay.step"
    assert line["rows"] == 3
    assert line["sim_time"] == "2017-07-14T02:40:00+00:00"
    assert line["level"] == "info"


def test_log_level_filters_debug(capsys):
    configure_logging(json=True, level="warning")
    structlog.get_logger("t").info("hidden.event")
    assert "hidden.event" not in capsys.readouterr().err


def test_clocks_share_the_interface():
    clock = TestClock(5)
    clock.advance_to(9)
    assert clock.timestamp_ns() == 9
    assert LiveClock().timestamp_ns() > 1_600_000_000 * 10**9
