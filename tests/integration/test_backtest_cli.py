"""``algospace backtest`` and ``algospace report`` on bundled real data."""

import json
from html import escape, unescape
from pathlib import Path

import pandas as pd

from engine.app.cli import EXIT_TARGETS_FAILED, main

ROOT = Path(__file__).resolve().parents[2]
ES = str(ROOT / "config" / "es_5m_30m.toml")
FILES = ("summary.json", "trades.csv", "trades.parquet", "equity.csv", "equity.parquet",
         "report.html", "manifest.json", "rejects.csv")


def test_backtest_writes_the_report_and_prints_targets(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["backtest", "--config", ES, "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    for name in ("sharpe", "max_drawdown", "win_rate", "profit_factor"):
        assert name in text
    assert "PASS" in text or "FAIL" in text
    for name in FILES:
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["config_id"] == manifest["config_id"]
    assert [t["name"] for t in summary["targets"]] == ["sharpe", "max_drawdown", "win_rate",
                                                       "profit_factor"]
    assert summary["counts"]["input_rows"] == 2264
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == summary["metrics"]["trades"] == summary["counts"]["trades"]
    equity = pd.read_csv(out / "equity.csv")
    assert len(equity) == summary["metrics"]["bars"] == 460
    # the interactive page's text travels HTML-escaped in its document's JSON
    html = unescape((out / "report.html").read_text())
    assert all(escape(sentence) in html for sentence in summary["assumptions"])


def test_two_runs_give_byte_identical_summaries_and_trade_files(tmp_path):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert main(["backtest", "--config", ES, "--out", str(out), "--no-progress"]) == 0
    for name in ("summary.json", "trades.csv", "equity.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_batch_path_gives_the_same_summary_as_the_bus_path(tmp_path):
    over = ["--set", "timeframes.fast=1m", "--set", "timeframes.slow=5m", "--no-progress"]
    assert main(["backtest", "--config", ES, "--out", str(tmp_path / "bus"), *over]) == 0
    assert main(["backtest", "--config", ES, "--out", str(tmp_path / "batch"), "--path",
                 "batch", *over]) == 0
    for name in ("summary.json", "trades.csv", "equity.csv"):
        assert (tmp_path / "bus" / name).read_bytes() == (tmp_path / "batch" / name).read_bytes()


def test_strict_exits_non_zero_when_a_target_fails(tmp_path, capsys):
    args = ["backtest", "--config", ES, "--no-progress", "--set", "backtest.targets.sharpe=99"]
    assert main([*args, "--out", str(tmp_path / "a"), "--strict"]) == EXIT_TARGETS_FAILED
    assert "targets failed: sharpe" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "b")]) == 0


def test_report_prints_a_finished_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["backtest", "--config", ES, "--out", str(out), "--no-progress"]) == 0
    first = capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    again = capsys.readouterr().out
    assert again.splitlines()[0] == first.splitlines()[0]
    assert "profit_factor" in again


def test_unknown_strategy_and_missing_run_dir_are_clear_errors(tmp_path, capsys):
    assert main(["backtest", "--config", ES, "--strategy", "nope", "--out", str(tmp_path)]) == 1
    assert "backtest.strategy" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 1
    assert "summary.json" in capsys.readouterr().err


def test_batch_path_refuses_a_strategy_on_other_bars_than_the_broker(tmp_path, capsys):
    args = ["backtest", "--config", ES, "--path", "batch", "--out", str(tmp_path), "--set",
            "strategies.sma_cross.timeframe=30m", "--no-progress"]
    assert main(args) == 1
    assert "bus path" in capsys.readouterr().err
