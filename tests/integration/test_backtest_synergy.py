"""The synergy strategy end to end on real BTC/USD hourly bars (fast 1h, slow 4h): every trade
comes from a setup with the configured ATR bracket, one position at a time, nothing before a
cut depends on the bars after it, and a real slice's trades are pinned in tests/data/golden."""

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.indicators.shared_kernels import atr_batch_nb, atr_init_state
from engine.core.chunks import BarChunk
from engine.core.errors import ConfigError
from engine.core.events import SynergyDetected
from engine.wiring.backtest import run_backtest
from engine.wiring.build import build_strategy
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import load_app_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "btcusd_1h.toml"
GOLDEN = ROOT / "tests" / "data" / "golden" / "synergy_btc_1h_first_6000.csv"
ROWS = 6000
COLUMNS = ["tag", "direction", "ts_entry", "entry_price", "ts_exit", "exit_price",
           "exit_reason", "pnl_usd"]


def setup(overrides=()):
    loaded = load_app_config(CONFIG, ["backtest.strategy=synergy", *overrides])
    (chunk,) = build_replay_pipeline(loaded.config, loaded.data_path).chunks()
    return loaded.config, chunk


CONFIG_, CHUNK = setup()


def head(chunk: BarChunk, n: int) -> BarChunk:
    return BarChunk(*(c[:n] for c in chunk))


def trades_frame(run):
    return pd.DataFrame([{c: getattr(t, c) for c in COLUMNS} for t in run.trades],
                        columns=COLUMNS)


def test_every_trade_is_a_setup_with_its_atr_bracket_one_at_a_time():
    config, chunk = CONFIG_, head(CHUNK, ROWS)
    run = run_backtest(config, [chunk])
    trades = run.trades
    assert len(trades) >= 20  # it fires on real data
    assert sum(run.setups.values()) >= len(trades)
    for before, after in zip(trades, trades[1:], strict=False):
        assert before.ts_exit <= after.ts_entry  # one position at a time
    for t in trades:
        assert t.tag in {"TYPE_1", "TYPE_2", "TYPE_3", "TYPE_4"} and t.quantity == 1
        assert t.exit_reason in {"stop", "target", "time_stop"}
    # the bracket: stop 2 ATR(14) of the setup's bar (the bar closing at the entry's open),
    # target 2 x the stop; targets fill at their level, stops at theirs or worse (slippage, gaps)
    atr = atr_batch_nb(atr_init_state(14), chunk.high, chunk.low, chunk.close)
    at_close = dict(zip(chunk.ts_close.tolist(), atr.tolist(), strict=True))
    outcomes = {"stop": 0, "target": 0}
    for t in trades:
        stop = 2.0 * at_close[t.ts_entry]
        moved = abs(t.exit_price - t.entry_price)
        if t.exit_reason == "target":
            assert moved == pytest.approx(2.0 * stop, abs=0.01)  # levels on the tick grid
        elif t.exit_reason == "stop":
            assert moved >= stop - 0.01
        outcomes[t.exit_reason] = outcomes.get(t.exit_reason, 0) + 1
    assert outcomes["stop"] and outcomes["target"]


def test_stop_and_target_distances_are_k_atr_and_rr_times_it():
    config, _ = setup(["strategies.synergy.stop_atr=1.5", "strategies.synergy.reward_risk=3"])
    strategy = build_strategy(config)
    s = SynergyDetected(1, 1, "BTCUSD", "1h", 3, -1, (), 4, 100.0, 8.0, 0.01, 1.0,
                        None, None, None, None, None, None)
    (intent,) = strategy.on_event(s)
    assert (intent.action, intent.stop_points, intent.target_points, intent.tag) == (
        "sell", 12.0, 36.0, "TYPE_3")


def test_a_missing_atr_indicator_is_a_config_error():
    config, chunk = setup(["synergy.atr_indicator=atr99"])
    with pytest.raises(ConfigError, match="synergy.atr_indicator: 'atr99' on 1h is not a "
                                          "configured indicator"):
        run_backtest(config, [head(chunk, 10)])


@settings(max_examples=6, deadline=None)
@given(st.integers(1500, ROWS - 1))
def test_trades_and_setups_before_a_cut_do_not_depend_on_later_bars(cut):
    whole = run_backtest(CONFIG_, [head(CHUNK, ROWS)])
    part = run_backtest(CONFIG_, [head(CHUNK, cut)])
    cut_ts = int(CHUNK.ts_close[cut - 1])
    closed = [t for t in whole.trades if t.ts_exit <= cut_ts]
    assert part.trades[: len(closed)] == closed
    entered = [f for f in whole.fills if f.ts_event <= cut_ts]
    assert part.fills == entered


def test_golden_trades_on_a_real_slice_are_reproduced_exactly():
    run = run_backtest(CONFIG_, [head(CHUNK, ROWS)])
    got = trades_frame(run)
    want = pd.read_csv(GOLDEN)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_the_command_prints_targets_and_setups_and_trades_by_pattern(tmp_path, capsys):
    from engine.app.cli import main

    data = tmp_path / "btc.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:ROWS].to_csv(
        data, index=False)
    out = tmp_path / "run"
    assert main(["backtest", "--config", str(CONFIG), "--strategy", "synergy", "--data",
                 str(data), "--out", str(out), "--no-progress"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    for key in ("setups_TYPE_1_long 10", "trades_TYPE_1_long 10", "setups_TYPE_3_short 3",
                "trades 25", "profit_factor"):
        assert key in printed
    assert (out / "report.html").is_file() and (out / "trades.csv").is_file()
    assert set(pd.read_csv(out / "trades.csv")["tag"]) <= {"TYPE_1", "TYPE_2", "TYPE_3",
                                                           "TYPE_4"}
