"""Live snapshots: written atomically and read back equal; a damaged or foreign file is a
SnapshotError naming it; a snapshot of other components is refused naming both lists; a
damaged snapshot makes the daemon rebuild from the whole journal instead (nothing lost)."""

from pathlib import Path

import msgspec
import pytest

from engine.core.errors import SnapshotError
from engine.core.events import Bar
from engine.live.journal import INPUT, JournalWriter
from engine.live.live import LiveDaemon, LiveSettings
from engine.live.live_state import read_snapshot, restore_session, session_state, write_snapshot
from engine.wiring.replay_driver import ReplayStats
from engine.wiring.schema import load_app_config
from engine.wiring.session import TradingSession

ROOT = Path(__file__).resolve().parents[3]


def bars(n):
    hour = 3_600_000_000_000
    t0 = 1_500_000_000 * 1_000_000_000 // hour * hour
    out = []
    for i in range(n):
        close = 100.0 + (i % 7) - (i % 3)
        out.append(Bar(ts_event=t0 + (i + 1) * hour, ts_init=t0 + (i + 1) * hour,
                       instrument="BTCUSD", timeframe="1h", ts_open=t0 + i * hour,
                       open=close - 0.5, high=close + 1.0, low=close - 1.0, close=close,
                       volume=10.0))
    return out


@pytest.fixture(scope="module")
def config():
    return load_app_config(ROOT / "config" / "btcusd_1h.toml",
                           ["backtest.strategy=synergy"]).config


def daemon(config, tmp_path):
    settings = LiveSettings(feed="tcp://127.0.0.1:1", publish="tcp://127.0.0.1:2",
                            control="tcp://127.0.0.1:3", journal=tmp_path / "journal.bin")
    return LiveDaemon(TradingSession(config), settings)


def test_a_snapshot_reads_back_equal_and_restores_the_same_state(config, tmp_path):
    first = daemon(config, tmp_path)
    first.driver.on_events(bars(300))
    written = first.snapshot()
    assert written["bytes"] == (tmp_path / "journal.snapshot").stat().st_size
    assert not (tmp_path / "journal.snapshot.tmp").exists()
    snap = read_snapshot(tmp_path / "journal.snapshot")
    assert snap.accepted == 300 and snap.session == session_state(first.session)
    second = daemon(config, tmp_path)
    start, sent = second._restore_snapshot()
    assert (start, sent) == (0, 0) and second.restored_from is not None
    assert session_state(second.session) == session_state(first.session)
    assert second.driver.stats == first.driver.stats


def test_damaged_and_foreign_snapshots_are_errors_naming_the_file(config, tmp_path):
    first = daemon(config, tmp_path)
    first.driver.on_events(bars(50))
    first.snapshot()
    path = tmp_path / "journal.snapshot"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="journal.snapshot: checksum"):
        read_snapshot(path)
    path.write_bytes(b"not a snapshot at all")
    with pytest.raises(SnapshotError, match="expected a snapshot starting with"):
        read_snapshot(path)
    other = load_app_config(ROOT / "config" / "btcusd_1h.toml",
                            ["backtest.strategy=sma_cross"]).config
    with pytest.raises(SnapshotError, match="this session has"):
        restore_session(TradingSession(other), session_state(first.session), "there")


def test_a_damaged_snapshot_falls_back_to_the_whole_journal(config, tmp_path):
    events = bars(200)
    writer = JournalWriter(tmp_path / "journal.bin", fsync="never")
    writer.append_many(INPUT, events)
    writer.close()
    (tmp_path / "journal.snapshot").write_bytes(b"ASSNAP01garbage")
    restarted = daemon(config, tmp_path)
    assert restarted.recover() == []
    assert restarted.restored_from is None and restarted.replayed == 200
    straight = daemon(config, tmp_path / "other")
    straight.driver.on_events(events)  # one chunk; the replay stepped 200: only counters differ
    assert (msgspec.structs.replace(session_state(restarted.session), replay=ReplayStats())
            == msgspec.structs.replace(session_state(straight.session), replay=ReplayStats()))


def test_a_snapshot_of_another_config_is_refused(config, tmp_path):
    first = daemon(config, tmp_path)
    first.driver.on_events(bars(20))
    first.snapshot()
    other = load_app_config(ROOT / "config" / "btcusd_1h.toml",
                            ["backtest.strategy=synergy", "backtest.costs.commission_bps=9.0"])
    with pytest.raises(SnapshotError, match="taken with config"):
        daemon(other.config, tmp_path).recover()
    write_snapshot(tmp_path / "x.snapshot", read_snapshot(tmp_path / "journal.snapshot"))
