"""User components and user event types (issue 22): a custom indicator in a file outside the
repository, listed in ``plugins.components``, produces a user event type that a user strategy
needs; the session builds it upstream (after the built-in producers), the backtest from the
command line equals the in-process run, snapshot/restore continues exactly, and the user event
travels on the bus, into the live journal and over the wire like a built-in one. Bad
component plugins and tables are precise errors."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.core.errors import ConfigError
from engine.core.events import OrderIntent, decode, encode
from engine.live.journal import INPUT, JournalWriter, read_journal
from engine.live.wire import decode_message, encode_message
from engine.wiring.backtest import run_backtest
from engine.wiring.build import plan
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.plugins import resolve_component
from engine.wiring.schema import load_app_config

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"

PLUGIN = '''
from collections import deque
from typing import ClassVar

import msgspec

from engine.core.config import Config, PositiveFloat, PositiveInt
from engine.core.events import Bar, Event, OrderIntent, OrderRejected, TradeClosed


class RangeRatio(Event, frozen=True, tag=True):
    """The mean of (high - low) / close over the last ``window`` bars."""

    instrument: str
    timeframe: str
    value: float


class RangeConfig(Config, frozen=True):
    window: PositiveInt = 24
    timeframe: str = "1h"


class RangeIndicator:
    key: ClassVar[str] = "range_ratio"
    config_type: ClassVar[type] = RangeConfig
    inputs: ClassVar[tuple] = (Bar,)
    produces: ClassVar[tuple] = (RangeRatio,)

    def __init__(self, config):
        self.config = config
        self.name = "range_ratio"
        self.reset()

    @property
    def ready(self):
        return len(self._window) == self.config.window

    def on_event(self, event):
        if type(event) is not Bar or event.timeframe != self.config.timeframe:
            return ()
        self._window.append((event.high - event.low) / event.close)
        if not self.ready:
            return ()
        value = sum(self._window) / len(self._window)
        return (RangeRatio(event.ts_event, event.ts_init, event.instrument, event.timeframe,
                           value),)

    def reset(self):
        self._window = deque(maxlen=self.config.window)

    def snapshot(self):
        return msgspec.msgpack.encode(list(self._window))

    def restore(self, state):
        self._window = deque(msgspec.msgpack.decode(state), maxlen=self.config.window)


class QuietConfig(Config, frozen=True):
    below: PositiveFloat = 0.012
    hold: PositiveInt = 12
    name: str = "quiet_long"


class QuietLong:
    """Long when the range ratio falls below ``below`` after being above it; out after
    ``hold`` bars (the broker's time stop)."""

    key: ClassVar[str] = "quiet_long"
    config_type: ClassVar[type] = QuietConfig
    inputs: ClassVar[tuple] = (RangeRatio, TradeClosed, OrderRejected)
    needs: ClassVar[tuple] = (RangeRatio,)

    def __init__(self, config):
        self.config = config
        self.name = config.name
        self.reset()

    def on_event(self, event):
        if type(event) is RangeRatio:
            quiet, self._was = event.value < self.config.below, event.value < self.config.below
            if quiet and not self._prev_quiet and not self._open:
                self._prev_quiet = True
                self._next += 1
                self._open = self._next
                return (OrderIntent(ts_event=event.ts_event, ts_init=event.ts_init,
                                    instrument=event.instrument, strategy=self.name,
                                    order_id=self._next, action="buy", quantity=1,
                                    time_stop_bars=self.config.hold),)
            self._prev_quiet = quiet
        elif type(event) in (TradeClosed, OrderRejected) and event.order_id == self._open:
            self._open = 0
        return ()

    def reset(self):
        self._prev_quiet, self._was, self._next, self._open = True, True, 0, 0

    def snapshot(self):
        return msgspec.msgpack.encode([self._prev_quiet, self._was, self._next, self._open])

    def restore(self, state):
        self._prev_quiet, self._was, self._next, self._open = msgspec.msgpack.decode(state)
'''


@pytest.fixture(scope="module")
def plugin_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("user_components") / "my_parts.py"
    path.write_text(PLUGIN)
    return path


def overrides(path, *more):
    return [f'plugins.components=["{path}:RangeIndicator"]',
            f'backtest.strategy="{path}:QuietLong"', *more]


def test_the_user_component_runs_upstream_and_the_cli_equals_the_in_process_run(plugin_file,
                                                                              tmp_path):
    loaded = load_app_config(BTC, overrides(plugin_file))
    cfg = loaded.config
    graph = plan(cfg)
    assert [p.name for p in graph.producers] == ["range_ratio"]
    assert not graph.uses_models
    (chunk,) = build_replay_pipeline(cfg, loaded.data_path).chunks()
    intents = []
    run = run_backtest(cfg, [chunk],
                       tap=lambda e: intents.append(e) if type(e) is OrderIntent else None)
    assert len(run.trades) > 20 and len(intents) == len(run.trades)
    done = subprocess.run(
        [sys.executable, "-m", "engine.app.cli", "backtest", "--config", str(BTC), "--out",
         str(tmp_path / "cli"), "--set", overrides(plugin_file)[0], "--strategy",
         f"{plugin_file}:QuietLong"], cwd=tmp_path, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr
    assert "quiet_long on BTCUSD 1h" in done.stdout
    rows = (tmp_path / "cli" / "trades.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[6]) for r in rows] == [t.ts_entry for t in run.trades
                                                   if t.ts_entry >= int(
                                                       rows[0].split(",")[6])]


def test_a_restored_session_continues_exactly(plugin_file):
    from engine.core.chunks import BarChunk
    from engine.live.live_state import restore_session, session_state
    from engine.wiring.session import TradingSession

    loaded = load_app_config(BTC, overrides(plugin_file))
    cfg = loaded.config
    (chunk,) = build_replay_pipeline(cfg, loaded.data_path).chunks()
    half = chunk.rows // 2
    first, second = (BarChunk(*(col[a:b] for col in chunk)) for a, b in ((0, half),
                                                                        (half, chunk.rows)))

    def session(intents):
        s = TradingSession(cfg)
        s.bus.add_tap(lambda e: intents.append(e) if type(e) is OrderIntent else None)
        return s

    whole: list[OrderIntent] = []
    uninterrupted = session(whole)
    uninterrupted.step(first)
    uninterrupted.step(second)
    parts: list[OrderIntent] = []
    before = session(parts)
    before.step(first)
    state = session_state(before)
    after = session(parts)
    restore_session(after, state, "test")
    after.step(second)
    assert len(whole) > 20 and parts == whole


def test_the_user_event_travels_on_the_journal_and_the_wire(plugin_file, tmp_path):
    plugin = resolve_component(f"{plugin_file}:RangeIndicator", "plugins.components[0]")
    (kind,) = plugin.produces
    event = kind(10, 11, "BTCUSD", "1h", 0.0125)
    assert decode(encode(event)) == event
    frames = encode_message(event)
    assert frames[0] == b"range_ratio.BTCUSD.1h" and decode_message(frames) == event
    writer = JournalWriter(tmp_path / "journal.bin", fsync="never")
    writer.append(INPUT, event)
    writer.close()
    (record,) = list(read_journal(tmp_path / "journal.bin"))
    assert record.event == event


def test_bad_component_plugins_and_tables_are_precise_errors(plugin_file, tmp_path):
    no_produces = tmp_path / "bad.py"
    no_produces.write_text(textwrap.dedent('''
        from engine.core.config import Config
        from engine.core.events import Bar
        class C(Config, frozen=True):
            pass
        class Half:
            config_type = C
            inputs = (Bar,)
            def on_event(self, e): return ()
            def reset(self): pass
            def snapshot(self): return b""
            def restore(self, s): pass
    '''))
    clash = tmp_path / "clash.py"
    clash.write_text(textwrap.dedent('''
        from engine.core.events import Event
        class Bar(Event, frozen=True, tag=True):
            x: int
    '''))
    cases = {
        f'plugins.components=["{no_produces}:Half"]': "lacks produces",
        f'plugins.events=["{clash}:Bar"]': "tag 'Bar' is already engine.core.events.Bar's",
        "components.range_ratio.window=3": "no component in plugins.components owns",
    }
    for override, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            load_app_config(BTC, [override])
    with pytest.raises(ConfigError, match=r"components.range_ratio.windw: unknown key; did "
                                          r"you mean 'window'"):
        load_app_config(BTC, overrides(plugin_file, "components.range_ratio.windw=3"))
    # without the component, nothing produces what the strategy needs
    with pytest.raises(ConfigError, match="'quiet_long' needs RangeRatio events and no "
                                          "component produces them"):
        plan(load_app_config(BTC, [f'backtest.strategy="{plugin_file}:QuietLong"']).config)
