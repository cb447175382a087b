"""The standalone subscriber ``examples/live_client.py`` against the live daemon as real
processes on loopback (``algospace live`` + ``algospace feed`` on the first BTC hours, the
rule-based synergy strategy): it prints exactly the signals the daemon published, which are the
backtest's orders, numbered 1..n, with UTC times; it imports nothing but the standard library,
pyzmq and msgspec; its Structs are byte-compatible with ``engine.core.events``; gaps, duplicates and
malformed messages are reported, never fatal; Ctrl-C is one line; ``status`` is strict JSON with
UTC times beside the nanosecond ones."""

import ast
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pandas as pd
import pytest
import zmq

from engine.core.events import Bar, Heartbeat, OrderIntent, Signal
from engine.live.live import LiveDaemon, LiveSettings
from engine.live.wire import decode_message, encode_message
from engine.wiring.backtest import run_backtest
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import load_app_config
from engine.wiring.session import TradingSession

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "live_client.py"
BTC = ROOT / "config" / "btcusd_1h.toml"
ROWS = 2500
FORBIDDEN = {"engine", "components", "strategies", "replay", "torch", "numpy", "pandas",
             "numba", "structlog"}
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def load_example():
    spec = importlib.util.spec_from_file_location("live_client_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


client = load_example()


def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def iso(ns):
    """UTC ISO-8601 of whole-second nanoseconds, independently of the example's helper."""
    assert ns % 1_000_000_000 == 0
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).isoformat().replace("+00:00", "Z")


def strict_json(text):
    def refuse(constant):
        raise AssertionError(f"not valid JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def default_sigint() -> None:
    """In the child: Ctrl-C as a terminal delivers it, even when this test runs with SIGINT
    ignored (a background job of a shell without job control inherits SIG_IGN, and Python
    then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_client(tmp_path, name, *args, python=()):
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen([sys.executable, *python, str(EXAMPLE), *args], cwd=ROOT,
                                   env=ENV, stdout=stdout, stderr=stderr,
                                   preexec_fn=default_sigint)
    return process, out, err


def wait_for_output(path, process, timeout_s=60.0):
    """The first line the client wrote to ``path``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = path.read_text()
        if "\n" in text:
            return text.split("\n", 1)[0]
        assert process.poll() is None, path.with_suffix(".err").read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path.name}: nothing written in {timeout_s} s")


def stderr_lines(path):
    return [line for line in path.read_text().splitlines()
            if not line.startswith("import time:")]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("live_client")
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:ROWS]
    frame.to_csv(base / "all.csv", index=False)
    loaded = load_app_config(BTC, ["backtest.strategy=synergy"])
    (chunk,) = build_replay_pipeline(loaded.config, base / "all.csv").chunks()
    intents = []
    run_backtest(loaded.config, [chunk],
                 tap=lambda e: intents.append(e) if type(e) is OrderIntent else None)
    assert len(intents) > 5
    return base / "all.csv", intents, int(chunk.ts_close[-1])


class Daemon:
    def __init__(self, journal):
        self.feed, self.publish, self.control = port(), port(), port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.app.cli", "live", "--config", str(BTC), "--strategy",
             "synergy", "--feed", self.feed, "--publish", self.publish, "--control",
             self.control, "--journal", str(journal), "--heartbeat", "0.2"],
            cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def ask(self, request, timeout_s=60.0):
        sock = zmq.Context.instance().socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.control)
        sock.send(request.encode())
        try:
            assert sock.poll(int(timeout_s * 1000)), f"no answer to {request!r}"
            return strict_json(sock.recv())
        finally:
            sock.close()

    def wait_accepted(self, n, timeout_s=120.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.ask("status")
            if status["accepted"] >= n:
                return status
            time.sleep(0.2)
        raise AssertionError(f"the daemon accepted {status['accepted']} of {n}")


def test_the_client_prints_the_signals_the_daemon_publishes(data, tmp_path):
    csv, intents, last_bar = data
    n = len(intents)
    daemon = Daemon(tmp_path / "journal.bin")
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"signal.")
    sub.connect(daemon.publish)
    common = ("--signals", daemon.publish, "--control", daemon.control, "--count", str(n),
              "--timeout", "60")
    text, text_out, text_err = start_client(tmp_path, "text", *common,
                                            python=("-X", "importtime"))
    js, js_out, js_err = start_client(tmp_path, "json", *common, "--json")
    try:
        first_text = wait_for_output(text_out, text)
        first_json = wait_for_output(js_out, js)
        time.sleep(0.3)  # the subscriptions reach the daemon
        fed = subprocess.run(
            [sys.executable, "-m", "engine.app.cli", "feed", "--config", str(BTC), "--data",
             str(csv), "--publish", daemon.feed, "--wait", "60"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert fed.returncode == 0, fed.stderr
        assert text.wait(timeout=60) == 0, text_err.read_text()
        assert js.wait(timeout=60) == 0, js_err.read_text()
        status = daemon.wait_accepted(ROWS)
        published = []
        while sub.poll(200):
            published.append(decode_message(sub.recv_multipart()))
    finally:
        for process in (text, js):
            if process.poll() is None:
                process.kill()
        reply = daemon.ask("stop")
        assert daemon.process.wait(timeout=60) == 0, daemon.process.stderr.read()
        sub.close(linger=0)
    assert reply == {"stopping": True}
    # the daemon published the backtest's orders, numbered 1..n
    assert [(s.seq, s.ts_event, s.action, s.size, s.stop_points, s.target_points, s.tag)
            for s in published] == [
        (k, i.ts_event, i.action, i.quantity, i.stop_points, i.target_points, i.tag)
        for k, i in enumerate(intents, 1)]
    # the status the clients printed first: strict JSON, before any bar
    assert first_text.startswith("status  ")
    assert strict_json(first_text.removeprefix("status  "))["accepted"] == 0
    before = strict_json(first_json)["status"]
    assert before["last_ts"] is None and before["last_ts_utc"] is None
    assert before["equity"] is None  # NaN before the first bar: null, not invalid JSON
    assert status["last_ts"] == last_bar and status["last_ts_utc"] == iso(last_bar)
    # --json: every field of every signal, plus the UTC times
    lines = js_out.read_text().splitlines()[1:]
    assert [strict_json(line) for line in lines] == [
        {**strict_json(msgspec.json.encode(s)), "ts_event_utc": iso(s.ts_event),
         "ts_init_utc": iso(s.ts_init)} for s in published]
    # readable: one line per signal with its seq, UTC time, side and size
    rows = text_out.read_text().splitlines()[1:]
    pattern = re.compile(r"#(\d+)  (\S+)  BTCUSD  synergy  (buy|sell|close)  (\d+)  @ (\S+)")
    parsed = [pattern.match(row) for row in rows]
    assert all(parsed), rows
    assert [(int(m[1]), m[2], m[3], int(m[4]), float(m[5])) for m in parsed if m] == [
        (s.seq, iso(s.ts_event), s.action, s.size, s.entry) for s in published]
    done = f"done: {n} signals, "
    for err in (text_err, js_err):
        (summary,) = stderr_lines(err)
        assert summary.startswith(done) and summary.endswith(
            "; 0 gaps (0 missed), 0 duplicates; malformed: none"), summary
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in text_err.read_text().splitlines()
                if line.startswith("import time:")}
    assert "zmq" in imported and "msgspec" in imported
    assert not imported & FORBIDDEN


def test_the_example_imports_only_the_standard_library_zmq_and_msgspec():
    tree = ast.parse(EXAMPLE.read_text())
    names = {alias.name.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    assert names - set(sys.stdlib_module_names) == {"zmq", "msgspec"}
    probe = f"""
import contextlib, importlib.util, io, json, sys
import msgspec, msgspec.json, msgspec.msgpack, zmq  # with what they import themselves
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("live_client", {str(EXAMPLE)!r})
module = importlib.util.module_from_spec(spec)
sys.modules["live_client"] = module
spec.loader.exec_module(module)
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    module.main(["--help"])
new = {{m.split(".")[0] for m in set(sys.modules) - before}} - {{"live_client"}}
print(json.dumps([sorted(new), sorted({{m.split(".")[0] for m in sys.modules}})]))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    new, loaded = json.loads(done.stdout.splitlines()[-1])
    assert set(new) <= set(sys.stdlib_module_names), new
    assert not set(loaded) & FORBIDDEN


SIGNALS = [
    Signal(ts_event=1_500_000_000_000_000_000, ts_init=1_500_000_000_000_000_123, seq=1,
           instrument="BTCUSD", strategy="synergy", action="buy", size=1, entry=2500.5),
    Signal(ts_event=1_500_003_600_000_000_000, ts_init=1_500_003_600_000_000_001, seq=2,
           instrument="ES", strategy="marl", action="sell", size=3, entry=4321.25,
           stop=4331.25, target=4301.25, stop_points=10.0, target_points=20.0,
           tag="MLMI>NWRQK>FVG", gate1_confidence=0.81, gate1_uncertainty=0.04,
           risk_usd=1500.0, models=("rde/a/1", "mrms/b/2", "marl/c/3"),
           config_id="b6ee59c89a2f5bd4"),
    Signal(ts_event=3, ts_init=4, seq=3, instrument="BTCUSD", strategy="s", action="close",
           size=0, entry=float("nan")),
    Heartbeat(1_500_000_000_500_000_000, 1_500_000_000_500_000_000, "live", 7),
]


def fields(cls):
    return [(f.name, f.encode_name, f.type, f.default, f.required)
            for f in msgspec.structs.fields(cls)]


def test_the_example_structs_are_the_engines_on_the_wire():
    for ours, theirs in ((client.Signal, Signal), (client.Heartbeat, Heartbeat)):
        assert fields(ours) == fields(theirs)
        assert (ours.__struct_config__.tag, ours.__struct_config__.tag_field) == (
            theirs.__struct_config__.tag, theirs.__struct_config__.tag_field)
    for event in SIGNALS:
        frames = encode_message(event)
        decoded = client.decode_frames(frames)
        assert type(decoded).__name__ == type(event).__name__
        assert msgspec.structs.asdict(decoded).keys() == msgspec.structs.asdict(event).keys()
        assert msgspec.msgpack.encode(decoded) == frames[2]  # byte for byte
        assert client.topic_of(decoded) == frames[0]
        back = decode_message([client.topic_of(decoded), b"1", msgspec.msgpack.encode(decoded)])
        assert msgspec.msgpack.encode(back) == frames[2]
    assert client.utc(1_500_000_000_000_000_000) == "2017-07-14T02:40:00Z"
    assert client.utc(1_500_000_000_000_000_120) == "2017-07-14T02:40:00.00000012Z"


def test_status_is_strict_json_with_utc_times(tmp_path):
    config = load_app_config(BTC, ["backtest.strategy=synergy"]).config
    daemon = LiveDaemon(TradingSession(config), LiveSettings(
        feed="tcp://127.0.0.1:1", publish="tcp://127.0.0.1:2", control="tcp://127.0.0.1:3",
        journal=tmp_path / "journal.bin"))
    empty = daemon.status()
    assert empty["last_ts"] is None and empty["last_ts_utc"] is None
    assert empty["equity"] is None  # no bar yet: NaN, reported as null
    json.dumps(empty, allow_nan=False)
    hour = 3_600_000_000_000
    t0 = 1_500_000_000 * 1_000_000_000 // hour * hour
    bar = Bar(ts_event=t0 + hour, ts_init=t0 + hour, instrument="BTCUSD", timeframe="1h",
              ts_open=t0, open=100.0, high=101.0, low=99.0, close=100.5, volume=10.0)
    daemon.driver.on_events([bar])
    status = daemon.status()
    assert status["last_ts"] == bar.ts_event and status["last_ts_utc"] == iso(bar.ts_event)
    assert status["last_ts_utc"] == client.utc(bar.ts_event)
    json.dumps(status, allow_nan=False)


def xpub():
    sock = zmq.Context.instance().socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, 0)
    address = port()
    sock.bind(address)
    return sock, address


def test_gaps_duplicates_and_malformed_messages_are_reported_not_fatal(tmp_path):
    pub, address = xpub()
    process, out, err = start_client(tmp_path, "faults", "--signals", address, "--count", "3",
                                     "--timeout", "30")
    try:
        assert pub.poll(30_000), err.read_text()
        pub.recv()  # the client's subscription
        first, second = SIGNALS[0], SIGNALS[1]
        good = encode_message(first)
        replace = msgspec.structs.replace
        for frames in (
            encode_message(SIGNALS[3]),  # a heartbeat: not a signal
            good,
            [good[0], good[1], b"\xc1garbage"],  # payload
            good[:2],  # frames
            [good[0], b"7", good[2]],  # version
            [b"signal.ETH", good[1], good[2]],  # topic
            encode_message(replace(first, schema=2)),  # schema
            encode_message(replace(first, seq=3)),  # gap: 2 is missing
            encode_message(replace(first, seq=3)),  # duplicate, not printed again
            encode_message(replace(second, seq=4)),
        ):
            pub.send_multipart(frames)
        assert process.wait(timeout=30) == 0, err.read_text()
    finally:
        if process.poll() is None:
            process.kill()
        pub.close(linger=0)
    assert [line.split("  ")[0] for line in out.read_text().splitlines()] == ["#1", "#3", "#4"]
    lines = err.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "malformed payload", "malformed frames", "malformed version", "malformed topic",
        "malformed schema", "gap", "duplicate", "done"]
    assert lines[5] == "gap: signal #3 after #1 (1 missed)"
    assert lines[6] == "duplicate: signal #3 after #3"
    assert lines[7] == ("done: 3 signals, 1 heartbeats; 1 gaps (1 missed), 1 duplicates; "
                        "malformed: frames 1, payload 1, schema 1, topic 1, version 1")


def test_ctrl_c_is_one_line_and_silence_or_no_status_reply_exit_1(tmp_path):
    pub, address = xpub()
    process, out, err = start_client(tmp_path, "interrupted", "--signals", address)
    try:
        assert pub.poll(30_000), err.read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        if process.poll() is None:
            process.kill()
        pub.close(linger=0)
    assert err.read_text().splitlines() == [
        "interrupted: 0 signals, 0 heartbeats; 0 gaps (0 missed), 0 duplicates; "
        "malformed: none"]
    assert out.read_text() == ""
    silent = subprocess.run([sys.executable, str(EXAMPLE), "--signals", port(), "--timeout",
                             "0.3"], capture_output=True, text=True, timeout=30)
    assert silent.returncode == 1
    assert silent.stderr.startswith("timeout: no message for 0.3 s; 0 signals")
    unanswered = subprocess.run([sys.executable, str(EXAMPLE), "--signals", port(), "--control",
                                 port(), "--timeout", "0.3"],
                                capture_output=True, text=True, timeout=30)
    assert unanswered.returncode == 1 and "Traceback" not in unanswered.stderr
    assert unanswered.stderr.startswith("error: no answer to status from tcp://127.0.0.1:")
