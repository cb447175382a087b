"""Strategy plugins (issue 22): a user strategy in a file outside the repository, reading the
regime vector and the synergy setups (``examples/regime_filter.py``), runs through
``algospace backtest``, the in-process backtest and ``algospace live`` with identical
decisions; the built-ins resolve through the same plugin path; a bad plugin or table is a
precise error; the upstream graph is built from the declared needs."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pandas as pd
import pytest
import zmq

from engine.core.errors import ConfigError
from engine.core.events import Bar, OrderIntent, RegimeVector, SynergyDetected
from engine.live.wire import decode_message
from engine.wiring.artifacts import load_artifacts
from engine.wiring.backtest import run_backtest
from engine.wiring.backtest_report import backtest_file
from engine.wiring.build import build_strategy, learned, plan, uses_models
from engine.wiring.graph import plan_upstream
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.plugins import resolve_strategy, selected
from engine.wiring.schema import load_app_config
from strategies import BUILTIN_STRATEGIES

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
EXAMPLE = ROOT / "examples" / "regime_filter.py"
ROWS = 5000  # the last BTC hours: the models' warm-up and their out-of-sample period


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """The example plugin copied to a directory outside the repository, and a data cut."""
    base = tmp_path_factory.mktemp("user_project")
    shutil.copy(EXAMPLE, base / "my_strategy.py")
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv")
    frame.iloc[-ROWS:].to_csv(base / "cut.csv", index=False)
    return base


def spec(base):
    return f"{base / 'my_strategy.py'}:RegimeFilter"


def test_the_builtins_are_plugins_resolved_like_any_other():
    for name, path in BUILTIN_STRATEGIES.items():
        by_name, by_path = resolve_strategy(name), resolve_strategy(path)
        assert by_name.cls is by_path.cls and by_name.key == name
        config = load_app_config(BTC, [f"backtest.strategy={name}"]).config
        strategy = build_strategy(config)
        assert type(strategy) is by_name.cls and strategy.name == name
    # the graphs today's wiring had, now derived from the declared needs
    configs = {name: load_app_config(BTC, [f"backtest.strategy={name}"]).config
               for name in BUILTIN_STRATEGIES}
    graphs = {name: [p.name for p in plan(c).producers] for name, c in configs.items()}
    assert graphs == {"sma_cross": [], "buy_hold": [], "synergy": ["indicators", "synergy"],
                      "marl": ["indicators", "synergy", "decider", "risk"]}
    mrms = load_app_config(BTC, ["backtest.strategy=synergy",
                                 'strategies.synergy.sizing="mrms"']).config
    assert [p.name for p in plan(mrms).producers] == ["indicators", "synergy", "risk"]
    assert uses_models(mrms) and not learned(mrms)


def test_a_need_nothing_produces_is_refused_naming_it():
    class Orphan(msgspec.Struct, frozen=True, tag=True):
        ts_event: int

    with pytest.raises(ConfigError, match="'mine' needs Orphan events and no component "
                                          "produces them"):
        plan_upstream("mine", (Orphan,))
    graph = plan_upstream("mine", (SynergyDetected, RegimeVector))
    assert [p.name for p in graph.producers] == ["indicators", "synergy"]
    assert graph.regime and graph.uses_models
    assert plan_upstream("mine", (Bar,)).producers == ()


def test_bad_plugins_and_tables_are_precise_errors(outside, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("class NoConfig:\n    inputs = ()\n    def on_event(self, e): return ()\n")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    cases = {
        "backtest.strategy=synergi": "no built-in strategy named 'synergi'; did you mean "
                                     "'synergy'",
        f'backtest.strategy="{tmp_path}/none.py:X"': "file not found",
        f'backtest.strategy="{bad}:Missing"': "has no class 'Missing'",
        f'backtest.strategy="{bad}:NoConfig"': "it needs a class attribute config_type",
        f'backtest.strategy="{broken}:X"': "failed to import: RuntimeError: boom",
        "backtest.strategy=no_such_pkg.mod:X": "cannot import module 'no_such_pkg.mod'",
        "strategies.synergy.stop_atrr=1": r"strategies.synergy.stop_atrr: unknown key; did "
                                          r"you mean 'stop_atr'",
        "strategies.regime_filtr.max_norm=1": "strategies.regime_filtr: no strategy plugin "
                                              "owns this table",
    }
    for override, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            load_app_config(BTC, [override])
    # the selected plugin's table is validated against its own Struct
    with pytest.raises(ConfigError, match=r"strategies.regime_filter.max_norm: Expected "
                                          r"`float` > 0.0"):
        load_app_config(BTC, [f'backtest.strategy="{spec(outside)}"',
                              "strategies.regime_filter.max_norm=-1"])
    # listed in [plugins], its table is validated and its key selects it
    listed = load_app_config(BTC, [f'plugins.strategies=["{spec(outside)}"]',
                                   "backtest.strategy=regime_filter",
                                   "strategies.regime_filter.max_norm=1.5"]).config
    assert selected(listed).key == "regime_filter"
    assert build_strategy(listed).config.max_norm == 1.5


def test_a_relative_plugin_path_in_a_config_file_is_the_files(outside):
    text = BTC.read_text().replace("../data/", f"{ROOT}/data/").replace(
        "../models/", f"{ROOT}/models/")
    config = outside / "project.toml"
    assert "[backtest]" not in text
    config.write_text(text + '\n[backtest]\nstrategy = "my_strategy.py:RegimeFilter"\n')
    loaded = load_app_config(config)
    assert selected(loaded.config).cls.__name__ == "RegimeFilter"
    assert loaded.config.backtest.strategy == spec(outside)


def test_a_user_plugin_decides_the_same_from_the_cli_the_api_and_live(outside, tmp_path):
    data = outside / "cut.csv"
    # 1. the command line, run from the user's directory (outside the repository)
    cli = subprocess.run(
        [sys.executable, "-m", "engine.app.cli", "backtest", "--config", str(BTC), "--strategy",
         "my_strategy.py:RegimeFilter", "--data", str(data), "--out", str(tmp_path / "cli")],
        cwd=outside, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert "regime_filter on BTCUSD 1h" in cli.stdout
    # 2. in process, the function the command calls
    loaded = load_app_config(BTC, [f'backtest.strategy="{spec(outside)}"'])
    cfg = loaded.config
    assert uses_models(cfg) and not learned(cfg)
    artifacts = load_artifacts(loaded, risk=True, marl=False)
    backtest_file(cfg, data, tmp_path / "api", progress=False, artifacts=artifacts)
    cli_trades = (tmp_path / "cli" / "trades.csv").read_bytes()
    assert cli_trades == (tmp_path / "api" / "trades.csv").read_bytes()
    assert len(cli_trades.splitlines()) > 5  # trades out of sample, some setups skipped
    # 3. live: the daemon's signals are the backtest's orders over the same bars
    (chunk,) = build_replay_pipeline(cfg, data).chunks()
    intents = []
    run = run_backtest(cfg, [chunk], artifacts=artifacts,
                       tap=lambda e: intents.append(e) if type(e) is OrderIntent else None)
    assert run.strategy._skipped > 0 and len(intents) > 5
    published = _live_signals(outside, data, len(chunk.ts_close), tmp_path)
    assert [(s.seq, s.ts_event, s.action, s.size, s.stop_points, s.target_points, s.tag)
            for s in published] == [
        (k, i.ts_event, i.action, i.quantity, i.stop_points, i.target_points, i.tag)
        for k, i in enumerate(intents, 1)]


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _ask(address, request, timeout_s=60.0):
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    sock.send(request.encode())
    try:
        assert sock.poll(int(timeout_s * 1000)), f"no answer to {request!r}"
        return msgspec.json.decode(sock.recv())
    finally:
        sock.close()


def _live_signals(outside, data, rows, tmp_path):
    feed, publish, control = _port(), _port(), _port()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "engine.app.cli", "live", "--config", str(BTC), "--strategy",
         "my_strategy.py:RegimeFilter", "--feed", feed, "--publish", publish, "--control",
         control, "--journal", str(tmp_path / "journal.bin")],
        cwd=outside, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"signal.")
    sub.connect(publish)
    published = []
    try:
        _ask(control, "status", 120.0)  # up, models loaded
        time.sleep(0.3)  # the subscription reaches the daemon
        fed = subprocess.run(
            [sys.executable, "-m", "engine.app.cli", "feed", "--config", str(BTC), "--data",
             str(data), "--publish", feed, "--wait", "60"],
            cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert fed.returncode == 0, fed.stderr
        deadline = time.monotonic() + 240
        while _ask(control, "status")["accepted"] < rows:
            assert time.monotonic() < deadline, "the daemon did not accept every bar"
            while sub.poll(50):
                published.append(decode_message(sub.recv_multipart()))
        while sub.poll(500):
            published.append(decode_message(sub.recv_multipart()))
    finally:
        _ask(control, "stop")
        assert daemon.wait(timeout=60) == 0, daemon.stderr.read() if daemon.stderr else ""
        sub.close(linger=0)
    return [m for m in published if type(m).__name__ == "Signal"]
