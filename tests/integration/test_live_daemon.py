"""The live daemon as real processes on loopback: ``algospace feed`` publishes the first BTC
hours, ``algospace live`` runs the rule-based synergy strategy on them, and every signal it
publishes is the backtest's order on the same bars, numbered 1..n; garbage and bad messages
on the feed are counted and skipped; a daemon killed with kill -9 and restarted on its journal
restores its snapshot, replays the journal after it and continues the signal stream with no
gap and no duplicate; a daemon warmed up on history signals exactly the backtest's orders after
it; ``stop`` on the control socket and
SIGTERM end it with status 0."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import zmq

from engine.core.events import OrderIntent, Signal
from engine.live.journal import INPUT, OUTPUT, read_journal
from engine.live.live_state import read_snapshot
from engine.live.wire import decode_message
from engine.wiring.backtest import run_backtest
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import load_app_config

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
ROWS = 2500
PARTS = {"history": slice(0, 1000), "b": slice(1000, 1500), "c": slice(1500, 1750),
         "d": slice(1750, ROWS)}


def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("live")
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:ROWS]
    frame.to_csv(base / "all.csv", index=False)
    for name, rows in PARTS.items():
        frame.iloc[rows].to_csv(base / f"{name}.csv", index=False)
    loaded = load_app_config(BTC, ["backtest.strategy=synergy"])
    (chunk,) = build_replay_pipeline(loaded.config, base / "all.csv").chunks()
    seen = []
    run_backtest(loaded.config, [chunk],
                 tap=lambda e: seen.append(e) if type(e) is OrderIntent else None)
    assert len(seen) > 5
    return base, seen


class Daemon:
    def __init__(self, journal, extra=()):
        self.feed, self.publish, self.control = port(), port(), port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.app.cli", "live", "--config", str(BTC), "--strategy",
             "synergy", "--feed", self.feed, "--publish", self.publish, "--control",
             self.control, "--journal", str(journal), "--heartbeat", "0.2", *extra],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ctx = zmq.Context.instance()

    def ask(self, request, timeout_s=60.0):
        sock = self.ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.control)
        sock.send(request.encode())
        if not sock.poll(int(timeout_s * 1000)):
            sock.close()
            raise AssertionError(f"no answer to {request!r}")
        reply = json.loads(sock.recv())
        sock.close()
        return reply

    def wait_accepted(self, n, timeout_s=120.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.ask("status")
            if status["accepted"] >= n:
                return status
            time.sleep(0.2)
        raise AssertionError(f"the daemon accepted {status['accepted']} of {n}")


def subscriber(address):
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(address)
    return sock


def drain(sock, seconds=1.0):
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if sock.poll(100):
            out.append(decode_message(sock.recv_multipart()))
    return out


def feed(csv, address, extra=()):
    return subprocess.run(
        [sys.executable, "-m", "engine.app.cli", "feed", "--config", str(BTC), "--data", str(csv),
         "--publish", address, "--wait", "60", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def as_orders(signals):
    return [(s.ts_event, s.action, s.size, s.stop_points, s.target_points, s.tag)
            for s in signals]


def expected_orders(intents):
    return [(i.ts_event, i.action, i.quantity, i.stop_points, i.target_points, i.tag)
            for i in intents]


def test_signals_equal_the_backtest_and_bad_messages_are_counted(data, tmp_path):
    base, intents = data
    daemon = Daemon(tmp_path / "journal.bin")
    sub = subscriber(daemon.publish)
    try:
        time.sleep(0.5)
        sent = feed(base / "all.csv", daemon.feed)
        assert sent.returncode == 0, sent.stderr
        daemon.wait_accepted(ROWS)
        received = drain(sub)
    finally:
        reply = daemon.ask("stop")
        assert reply == {"stopping": True}
        assert daemon.process.wait(timeout=60) == 0
    signals = [e for e in received if type(e) is Signal]
    assert as_orders(signals) == expected_orders(intents)
    assert [s.seq for s in signals] == list(range(1, len(intents) + 1))
    assert any(type(e).__name__ == "Heartbeat" for e in received)
    records = list(read_journal(tmp_path / "journal.bin"))
    assert sum(r.kind == INPUT for r in records) == ROWS
    assert [r.event for r in records if r.kind == OUTPUT] == signals
    snap = read_snapshot(tmp_path / "journal.snapshot")  # written by the graceful stop
    assert (snap.journal_records, snap.seq, snap.accepted) == (len(records), len(signals), ROWS)


def test_warm_up_snapshot_kill_and_restart_continue_without_gap_or_duplicate(data, tmp_path):
    """Warm up on 1000 hours of history, go live on the next 500, snapshot, 250 more, kill -9:
    the restarted daemon restores the snapshot, replays only the 250 journal records after
    it, and the signal stream of both runs is the backtest's orders after the history,
    numbered 1..n."""
    base, intents = data
    journal = tmp_path / "journal.bin"
    warm = ("--warmup", str(base / "history.csv"))
    first = Daemon(journal, warm)
    sub = subscriber(first.publish)
    time.sleep(0.5)
    status = first.ask("status")
    assert status["warmed_up"] == 1000 and status["restored_from"] is None
    assert status["ready"] and all(status["ready"].values())
    assert feed(base / "b.csv", first.feed).returncode == 0
    first.wait_accepted(1500)
    taken = first.ask("snapshot")
    assert taken["journal_records"] >= 500 and taken["seq"] >= 0
    assert feed(base / "c.csv", first.feed).returncode == 0
    first.wait_accepted(1750)
    before = [e for e in drain(sub) if type(e) is Signal]
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=30)
    sub.close(linger=0)
    second = Daemon(journal, warm)
    sub = subscriber(second.publish)
    try:
        time.sleep(0.5)
        status = second.ask("status")
        assert status["restored_from"] is not None and status["warmed_up"] == 0
        assert status["replayed"] == 250 and status["accepted"] == 1750
        assert status["signals"] == len(before)
        assert feed(base / "d.csv", second.feed).returncode == 0
        second.wait_accepted(ROWS)
        after = [e for e in drain(sub) if type(e) is Signal]
    finally:
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=60) == 0
    signals = before + after
    assert [s.seq for s in signals] == list(range(1, len(signals) + 1))
    live_start = intents_start(base)
    assert as_orders(signals) == expected_orders([i for i in intents
                                                  if i.ts_event >= live_start])
    assert len(before) > 0 and len(after) > 0
    # SIGTERM wrote a final snapshot at the journal's end: a restart replays nothing
    snap = read_snapshot(journal.with_suffix(".snapshot"))
    assert snap.accepted == ROWS and snap.seq == len(signals)
    assert snap.journal_records == sum(1 for _ in read_journal(journal))


def intents_start(base):
    """The close time of the first bar after the history."""
    loaded = load_app_config(BTC, ["backtest.strategy=synergy"])
    (chunk,) = build_replay_pipeline(loaded.config, base / "b.csv").chunks()
    return int(chunk.ts_close[0])


def test_faults_on_the_feed_are_counted_and_the_valid_stream_decides_the_same(data, tmp_path):
    """A hand-made feed mixes garbage bytes, truncated and extra frames, a wrong schema
    version, duplicate and late bars into the valid stream."""
    import msgspec

    from engine.live.feed import chunk_events
    from engine.live.wire import encode_message

    base, intents = data
    loaded = load_app_config(BTC, ["backtest.strategy=synergy"])
    (chunk,) = build_replay_pipeline(loaded.config, base / "all.csv").chunks()
    events = list(chunk_events(chunk, "BTCUSD", "1h"))
    daemon = Daemon(tmp_path / "journal.bin")
    sub = subscriber(daemon.publish)
    pub = zmq.Context.instance().socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.bind(daemon.feed)
    try:
        assert pub.poll(30_000)
        pub.recv()  # the daemon's subscription
        time.sleep(0.3)
        faults = {"payload": 0, "frames": 0, "version": 0, "duplicate": 0, "out_of_order": 0,
                  "invalid": 0}
        for i, event in enumerate(events):
            frames = encode_message(event)
            pub.send_multipart(frames)
            if i % 97 == 5:
                pub.send_multipart([frames[0], frames[1], b"\xc1garbage"])
                pub.send_multipart(frames[:2])
                pub.send_multipart([frames[0], b"7", frames[2]])
                pub.send_multipart(frames)  # the same bar again
                pub.send_multipart(encode_message(events[i - 3]))  # a late bar
                pub.send_multipart(encode_message(msgspec.structs.replace(
                    event, ts_event=event.ts_event + 1, close=float("nan"))))
                for key in faults:
                    faults[key] += 1
        status = daemon.wait_accepted(ROWS)
        received = drain(sub)
    finally:
        daemon.ask("stop")
        assert daemon.process.wait(timeout=60) == 0
        pub.close(linger=0)
    assert status["wire_rejected"] == {k: faults[k] for k in ("payload", "frames", "version")}
    assert status["rejected"] == {k: faults[k] for k in ("duplicate", "out_of_order",
                                                         "invalid")}
    signals = [e for e in received if type(e) is Signal]
    assert as_orders(signals) == expected_orders(intents)


def test_a_subscriber_that_never_reads_does_not_hold_the_daemon_back(data, tmp_path):
    """Signals and heartbeats go to a subscriber that connected and never reads (its receive
    queue holds one message): the daemon takes the whole feed at full speed and stops
    cleanly; sends never wait on a subscriber."""
    base, _ = data
    daemon = Daemon(tmp_path / "journal.bin")
    stuck = zmq.Context.instance().socket(zmq.SUB)
    stuck.setsockopt(zmq.RCVHWM, 1)
    stuck.setsockopt(zmq.SUBSCRIBE, b"")
    stuck.connect(daemon.publish)
    try:
        time.sleep(0.5)
        assert feed(base / "b.csv", daemon.feed).returncode == 0
        status = daemon.wait_accepted(500)
        assert status["signals"] > 0 and status["heartbeats"] > 0
    finally:
        assert daemon.ask("stop") == {"stopping": True}
        assert daemon.process.wait(timeout=60) == 0
        stuck.close(linger=0)
