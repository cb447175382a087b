"""The live driver fed the bundled data one event at a time makes exactly the backtest's
decisions (the rule-based synergy strategy on BTC bars; the SMA cross on ES ticks aggregated
to bars), and bad input (duplicates, late bars, NaN, another instrument or interval, a tick
where a bar belongs) is counted by reason while the valid stream still gives the same
decisions."""

from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.chunks import TickChunk
from engine.core.events import Bar, Tick
from engine.live.live_driver import DECISIONS, LiveDriver
from engine.live.live_state import restore_session, session_state
from engine.wiring.backtest import run_backtest
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import load_app_config
from engine.wiring.session import TradingSession

ROOT = Path(__file__).resolve().parents[2]
ROWS = 3000


def events_of(chunk, instrument, timeframe):
    if isinstance(chunk, TickChunk):
        return [Tick(ts_event=int(t), ts_init=int(t), instrument=instrument, price=float(p),
                     size=float(s)) for t, p, s in zip(chunk.ts, chunk.price, chunk.size,
                                                       strict=True)]
    return [Bar(ts_event=int(c), ts_init=int(c), instrument=instrument, timeframe=timeframe,
                ts_open=int(o), open=float(a), high=float(h), low=float(lo), close=float(z),
                volume=float(v))
            for o, c, a, h, lo, z, v in zip(*chunk, strict=True)]


def setup(name, overrides, rows):
    loaded = load_app_config(ROOT / "config" / name, overrides)
    config = loaded.config
    chunks = list(build_replay_pipeline(config, loaded.data_path).chunks())
    chunk = chunks[0]
    head = type(chunk)(*(c[:rows] for c in chunk))
    return config, head


def backtest_decisions(config, chunk):
    seen = []
    run_backtest(config, [chunk], tap=lambda e: seen.append(e) if type(e) in DECISIONS else None)
    return seen


def live_decisions(config, events):
    driver = LiveDriver(TradingSession(config))
    out = [d for e in events for d in driver.on_event(e)]
    return out, driver.stats


@pytest.fixture(scope="module")
def btc():
    config, chunk = setup("btcusd_1h.toml", ["backtest.strategy=synergy"], ROWS)
    return config, chunk, events_of(chunk, "BTCUSD", "1h")


def test_bars_one_by_one_give_the_backtests_decisions(btc):
    config, chunk, events = btc
    expected = backtest_decisions(config, chunk)
    assert sum(1 for e in expected if type(e).__name__ == "OrderIntent") > 5
    got, stats = live_decisions(config, events)
    assert got == expected
    assert (stats.received, stats.accepted, stats.rejected) == (len(events), len(events), {})


def test_ticks_one_by_one_give_the_backtests_decisions():
    config, chunk = setup("es_ticks.toml", ["backtest.strategy=sma_cross",
                                            "strategies.sma_cross.fast=2",
                                            "strategies.sma_cross.slow=3"], 10_000)
    assert isinstance(chunk, TickChunk)
    expected = backtest_decisions(config, chunk)
    assert len(expected) >= 4
    got, _ = live_decisions(config, events_of(chunk, "ES", ""))
    assert got == expected


def test_bad_input_is_counted_by_reason_and_the_valid_stream_decides_the_same(btc):
    config, chunk, events = btc
    expected = backtest_decisions(config, chunk)
    rng = np.random.default_rng(0)
    noisy = []
    bad = {"duplicate": 0, "out_of_order": 0, "invalid": 0, "instrument": 0, "timeframe": 0,
           "type": 0}
    for i, event in enumerate(events):
        noisy.append(event)
        if i < 2 or rng.random() > 0.05:
            continue
        reason = list(bad)[int(rng.integers(len(bad)))]
        bad[reason] += 1
        noisy.append({
            "duplicate": event,
            "out_of_order": events[i - 2],
            "invalid": msgspec.structs.replace(event, high=float("nan")),
            "instrument": msgspec.structs.replace(event, instrument="ETHUSD"),
            "timeframe": msgspec.structs.replace(event, timeframe="4h"),
            "type": Tick(ts_event=event.ts_event, ts_init=event.ts_init, instrument="BTCUSD",
                         price=event.close, size=1.0),
        }[reason])
    got, stats = live_decisions(config, noisy)
    assert got == expected
    assert stats.rejected == {k: v for k, v in bad.items() if v}
    assert stats.accepted == len(events) and stats.received == len(noisy)


def test_a_bar_the_reader_would_refuse_is_invalid_not_fatal(btc):
    config, _, events = btc
    driver = LiveDriver(TradingSession(config))
    first = events[0]
    for broken in (msgspec.structs.replace(first, low=first.high + 1.0),
                   msgspec.structs.replace(first, volume=-1.0),
                   msgspec.structs.replace(first, ts_open=first.ts_event),
                   "not an event", None):
        assert driver.on_event(broken) == ()
    assert driver.stats.rejected == {"invalid": 3, "type": 2} and driver.stats.accepted == 0
    driver.on_event(first)
    assert driver.stats.accepted == 1 and driver.stats.last_ts == first.ts_event


def restarted(config, artifacts, driver, maker=None):
    """A fresh session and driver in ``driver``'s state (what a restart restores)."""
    fresh = LiveDriver(TradingSession(config, artifacts))
    restore_session(fresh.session, session_state(driver.session), "test")
    fresh.stats = msgspec.structs.replace(driver.stats, rejected=dict(driver.stats.rejected))
    assert session_state(fresh.session) == session_state(driver.session)
    return fresh


@settings(max_examples=8, deadline=None)
@given(cut=st.integers(0, ROWS), sizes=st.lists(st.integers(1, 400), min_size=1, max_size=4))
def test_any_batching_and_a_snapshot_restore_anywhere_decide_as_the_backtest(btc, cut, sizes):
    """The events stepped in batches of any size, with the session snapshotted and restored
    into a fresh one at any point, give the backtest's decisions."""
    config, chunk, events = btc
    expected = backtest_decisions(config, chunk)
    driver = LiveDriver(TradingSession(config))
    got, i, k = [], 0, 0
    while i < len(events):
        if i <= cut < i + sizes[k % len(sizes)]:
            got += driver.on_events(events[i:cut])
            driver = restarted(config, None, driver)
            i = cut
        n = sizes[k % len(sizes)]
        got += driver.on_events(events[i:i + n])
        i, k = i + n, k + 1
    assert got == expected


def test_the_learned_marl_stack_live_decides_as_the_backtest():
    """The committed RDE, M-RMS and MARL models behind both gates (gate 1 made lenient so
    that setups reach gate 2): one by one, then restored from a snapshot into a fresh session
    and fed in batches, the live driver makes the backtest's decisions."""
    from engine.wiring.artifacts import load_artifacts

    loaded = load_app_config(ROOT / "config" / "btcusd_1h.toml", [
        "backtest.strategy=marl", "marl.gate.min_agree=1", "marl.gate.threshold=0.0",
        "marl.gate.penalty=0.0"])
    config = loaded.config
    artifacts = load_artifacts(loaded, risk=True, marl=True)
    (chunk,) = build_replay_pipeline(config, loaded.data_path).chunks()
    head = type(chunk)(*(c[:ROWS] for c in chunk))
    seen = []
    run_backtest(config, [head], artifacts=artifacts,
                 tap=lambda e: seen.append(e) if type(e) in DECISIONS else None)
    assert any(type(e).__name__ == "OrderIntent" for e in seen)
    assert any(type(e).__name__ == "ConsensusReached" for e in seen)
    events = events_of(head, "BTCUSD", "1h")
    driver = LiveDriver(TradingSession(config, artifacts))
    got = [d for e in events[:ROWS // 2] for d in driver.on_event(e)]
    driver = restarted(config, artifacts, driver)
    for i in range(ROWS // 2, ROWS, 64):
        got += driver.on_events(events[i:i + 64])
    assert got == seen
