"""The Python API (``engine.app.api``, issue 22): a backtest from a path or a DataFrame, with a
strategy named, given as a class or as an instance, writes what ``algospace backtest --out``
writes, byte for byte in the trade list; the result has the summary, trades and equity as
DataFrames, an HTML repr and the report; the runnable example in ``examples/`` runs."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.app import api
from engine.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
DATA = ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv"
ROWS = 3000


def cli(tmp_path, *args):
    done = subprocess.run([sys.executable, "-m", "engine.app.cli", "backtest", "--config",
                           str(BTC), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "cut.csv"
    pd.read_csv(DATA).iloc[:ROWS].to_csv(path, index=False)
    return path


def test_a_backtest_from_a_dataframe_equals_the_command_line_on_its_file(cut, tmp_path):
    frame = pd.read_csv(cut, parse_dates=["timestamp"], index_col="timestamp")
    result = api.backtest(frame, "sma_cross", config=BTC, out=tmp_path / "api",
                          overrides={"strategies.sma_cross": {"fast": 5, "slow": 20}})
    cli(tmp_path, "--strategy", "sma_cross", "--data", str(cut), "--out",
        str(tmp_path / "cli"), "--set", "strategies.sma_cross.fast=5", "--set",
        "strategies.sma_cross.slow=20")
    mine, theirs = tmp_path / "api", tmp_path / "cli"
    assert (mine / "trades.csv").read_bytes() == (theirs / "trades.csv").read_bytes()
    assert (mine / "equity.csv").read_bytes() == (theirs / "equity.csv").read_bytes()
    # the result as DataFrames
    assert len(result.trades) == result.summary["trades"] > 10
    assert list(result.trades["direction"].unique()) == ["long"]
    assert len(result.equity) == ROWS
    assert result.summary["total_return"] == pytest.approx(
        result.equity["equity"].iloc[-1] / result.equity["equity"].iloc[0] - 1, abs=1e-3)
    assert result.report().is_file() and "<table>" in result._repr_html_()
    assert repr(result).startswith(f"BacktestResult(sma_cross: {len(result.trades)} trades")
    assert result.manifest.run_id.startswith("backtest-sma_cross")


def test_a_plugin_class_or_instance_runs_as_its_file_path_does(tmp_path):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from regime_filter import RegimeFilter, RegimeFilterConfig
    finally:
        sys.path.remove(str(ROOT / "examples"))
    # the last 4,000 hours: the fitted models' test period (where backtest.start = "auto"
    # trades) and its warm-up, not the 16,000 hours before that only warm the pipeline up
    data = tmp_path / "tail.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[-4000:].to_csv(
        data, index=False)
    by_instance = api.backtest(data, RegimeFilter(RegimeFilterConfig(max_norm=1.5)),
                               config=BTC, out=tmp_path / "instance")
    by_class = api.backtest(data, RegimeFilter, config=BTC, out=tmp_path / "class",
                            overrides={"strategies.regime_filter.max_norm": 1.5})
    cli(tmp_path, "--strategy", f"{ROOT / 'examples' / 'regime_filter.py'}:RegimeFilter",
        "--set", "strategies.regime_filter.max_norm=1.5", "--data", str(data),
        "--out", str(tmp_path / "cli"))
    trades = [(tmp_path / d / "trades.csv").read_bytes() for d in ("instance", "class", "cli")]
    assert trades[0] == trades[1] == trades[2]
    assert len(by_instance.trades) == len(by_class.trades) > 3


def test_a_loaded_config_takes_overrides_like_a_file():
    loaded = api.load_config(BTC)
    again = api.load_config(loaded, {"seed": 3}, "synergy")
    assert again.path == loaded.path and again.config.seed == 3
    assert again.config.backtest.strategy == "synergy"


def test_bad_api_inputs_are_precise_errors(tmp_path):
    with pytest.raises(ConfigError, match="data: file not found"):
        api.backtest(tmp_path / "none.csv", "synergy", config=BTC, out=tmp_path / "x")
    with pytest.raises(ConfigError, match="no built-in strategy named 'synergi'"):
        api.backtest(strategy="synergi", config=BTC)
    with pytest.raises(ConfigError, match="strategies.sma_cross.fastt: unknown key"):
        api.backtest(strategy="sma_cross", config=BTC, overrides={"strategies.sma_cross.fastt": 3})


def test_the_api_example_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "api_backtest.py"),
                           str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("BacktestResult(") == 3
    assert "report: " in done.stdout
