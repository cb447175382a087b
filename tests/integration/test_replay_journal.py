"""``algospace replay-journal`` on journals written in-process the way the live daemon writes
them (a session, the live driver and the signal maker over the first BTC hours, the rule-based
synergy strategy): a clean journal replays to the same signals through the backtest; a
tampered signal is reported at its seq with the field; duplicate and late bars are dropped by
both sides; a gap the reader fills and a bar only it drops are named as the cause; warm-up
history makes no signal; a changed config is named; a missing or corrupt journal is an error
naming the file."""

from pathlib import Path

import msgspec
import pandas as pd
import pytest

from engine.app.cli import main
from engine.core.config import config_id
from engine.core.errors import JournalError
from engine.live.feed import chunk_events
from engine.live.journal import INPUT, OUTPUT, JournalWriter, read_journal
from engine.live.live import SignalMaker
from engine.live.live_driver import LiveDriver
from engine.live.replay_journal import EXIT_DIVERGED, replay_journal
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import load_app_config
from engine.wiring.session import TradingSession

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
ROWS = 1500
# Gaps of up to 12 bars are filled by the reader, never by the live driver.
SETS = ["backtest.strategy=synergy", "data.validation.gap=repair",
        "data.validation.max_fill=12h"]


@pytest.fixture(scope="module")
def btc(tmp_path_factory):
    base = tmp_path_factory.mktemp("replay_journal")
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv", nrows=ROWS)
    frame.to_csv(base / "head.csv", index=False)
    frame.iloc[:ROWS // 2].to_csv(base / "history.csv", index=False)
    config = load_app_config(BTC, SETS).config
    (chunk,) = build_replay_pipeline(config, base / "head.csv").chunks()
    events = list(chunk_events(chunk, "BTCUSD", "1h"))
    return config, events, base


def write_journal(path, config, events, tamper=None, warm=()):
    """The daemon's journal of ``events`` received one by one (after ``warm`` history)."""
    session = TradingSession(config)
    driver = LiveDriver(session)
    maker = SignalMaker((), config_id(config))
    session.bus.add_tap(maker.on_event)
    maker.active = False
    driver.on_events(list(warm))
    maker.active = True
    writer = JournalWriter(path, fsync="never")
    for event in events:
        writer.append(INPUT, event)
        driver.on_event(event)
        signals = maker.take()
        writer.append_many(OUTPUT, [tamper(s) if tamper else s for s in signals])
    writer.close()
    return driver.stats


def cli(journal, *extra):
    sets = [arg for s in SETS for arg in ("--set", s)]
    return main(["replay-journal", str(journal), "--config", str(BTC), *sets, *extra])


def test_a_clean_journal_replays_to_the_same_signals(btc, tmp_path, capsys):
    config, events, _ = btc
    journal = tmp_path / "journal.bin"
    write_journal(journal, config, events)
    result = replay_journal(config, journal)
    assert result.divergence is None and result.identical
    assert result.live == result.backtest == result.matched >= 5
    assert (result.inputs, result.live_accepted, result.replayed) == (ROWS, ROWS, ROWS)
    assert cli(journal) == 0
    out = capsys.readouterr().out
    assert f"all {result.live} signals match" in out


def test_a_tampered_signal_is_reported_at_its_seq_with_the_field(btc, tmp_path, capsys):
    config, events, _ = btc
    journal = tmp_path / "journal.bin"

    def bump(signal):
        return msgspec.structs.replace(signal, size=signal.size + 1) if signal.seq == 3 else signal

    write_journal(journal, config, events, tamper=bump)
    result = replay_journal(config, journal)
    d = result.divergence
    assert d is not None and result.matched == d.index == 2
    assert d.live.seq == d.backtest.seq == 3 and d.ts_event == d.live.ts_event
    assert d.fields == ("size",) and d.live.size == d.backtest.size + 1
    assert d.cause == "state" and d.input_ts is None  # not the config, not the inputs
    assert cli(journal) == EXIT_DIVERGED
    out = capsys.readouterr().out
    assert "diverged      at signal 3 (seq 3)" in out
    assert f"size            live {d.live.size}, backtest {d.backtest.size}" in out
    assert "cause         state: same inputs, different decisions" in out


def test_duplicate_and_late_bars_are_dropped_by_both_sides(btc, tmp_path):
    config, events, _ = btc
    noisy = list(events)
    noisy.insert(300, events[299])  # the bar just accepted, again
    noisy.insert(601, events[500])  # a bar 100 hours late
    journal = tmp_path / "journal.bin"
    stats = write_journal(journal, config, noisy)
    assert stats.rejected == {"duplicate": 1, "out_of_order": 1}
    result = replay_journal(config, journal)
    assert result.identical and result.live >= 5
    assert (result.inputs, result.live_accepted, result.replayed) == (ROWS + 2, ROWS, ROWS)
    # the reader's default for a late row in a file is "error"; the daemon skips it, and so
    # does the replay of its journal, under the daemon's own config
    default = load_app_config(BTC, ["backtest.strategy=synergy"]).config
    assert default.data.validation.out_of_order == "error"
    noisy_default = tmp_path / "default.bin"
    write_journal(noisy_default, default, noisy)
    assert replay_journal(default, noisy_default).identical


def test_a_gap_the_reader_fills_is_named_as_the_cause(btc, tmp_path, capsys):
    config, events, _ = btc
    cut = 200
    gapped = events[:cut] + events[cut + 4:]  # 4 hours the live feed never delivered
    journal = tmp_path / "journal.bin"
    write_journal(journal, config, gapped)
    result = replay_journal(config, journal)
    assert result.replayed == result.live_accepted + 4 == ROWS
    d = result.divergence
    assert d is not None and d.index == 0  # the first signal already comes after the gap
    assert d.cause == "inputs" and d.input_ts == events[cut].ts_event <= d.ts_event
    assert {"stop", "target", "stop_points", "target_points"} <= set(d.fields)
    after = next(n for n, r in enumerate(read_journal(journal), 1) if r.event == events[cut + 4])
    assert f"filled 4 bars before record {after}" in d.detail
    assert cli(journal) == EXIT_DIVERGED
    assert "cause         inputs: the inputs differ before it: 2017-07-09T" in \
        capsys.readouterr().out


def test_a_bar_both_drop_is_a_hole_only_the_reader_fills(btc, tmp_path):
    """A bar with a negative price: the live driver rejects it (invalid), the reader drops it
    (non_positive) and, with gap repair, fills the hole with a flat bar the daemon never had:
    named as the cause."""
    config, events, _ = btc
    bent = list(events)
    bent[150] = msgspec.structs.replace(events[150], open=-1.0, low=-1.0)
    journal = tmp_path / "journal.bin"
    assert write_journal(journal, config, bent).rejected == {"invalid": 1}
    result = replay_journal(config, journal)
    d = result.divergence
    assert result.live_accepted == ROWS - 1 and result.replayed == ROWS
    assert d is not None and d.cause == "inputs" and d.input_ts == events[150].ts_event
    assert "the reader filled 1 bars before record 152 (data.validation.gap = repair)" in \
        d.detail


def test_warm_up_history_makes_no_signal_and_a_changed_config_is_named(btc, tmp_path):
    config, events, base = btc
    half = ROWS // 2
    journal = tmp_path / "journal.bin"
    # the live feed starts by repeating the last history bar: both sides drop it
    write_journal(journal, config, events[half - 1:], warm=events[:half])
    history = build_replay_pipeline(config, base / "history.csv").chunks()
    result = replay_journal(config, journal, warmup=history)
    assert result.identical and result.live >= 3
    assert (result.inputs, result.live_accepted) == (ROWS - half + 1, ROWS - half)
    assert cli(journal, "--warmup", str(base / "history.csv")) == 0
    # without the history the state before the journal differs
    cold = replay_journal(config, journal)
    assert cold.divergence is not None and cold.divergence.cause == "state"
    # another config: every signal names its config id
    other = load_app_config(BTC, [*SETS, "backtest.costs.commission_bps=11"]).config
    changed = replay_journal(other, journal, warmup=build_replay_pipeline(
        other, base / "history.csv").chunks())
    assert changed.divergence is not None and changed.divergence.index == 0
    assert changed.divergence.cause == "config"
    assert changed.divergence.fields == ("config_id",)


def test_a_missing_or_corrupt_journal_is_an_error_naming_the_file(btc, tmp_path, capsys):
    config, _, _ = btc
    missing = tmp_path / "nope.bin"
    with pytest.raises(JournalError, match=str(missing)):
        replay_journal(config, missing)
    assert cli(missing) == 1
    assert str(missing) in capsys.readouterr().err
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"timestamp,open\n")
    with pytest.raises(JournalError, match=str(foreign)):
        replay_journal(config, foreign)
