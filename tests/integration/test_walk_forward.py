"""``algospace walk-forward`` on the bundled BTC data.

The learned stack (MMD reference, RDE, M-RMS, MARL; tiny models) refitted on each fold's
training window: Ray (a real local instance, 2 CPUs) writes the same files as the serial run;
every model a fold used was fitted on data ending before its test window, and records the
window it was fitted on. A rule-based strategy: anchored folds, the stitched curve is the
folds' curves joined, each fold adding its P&L to where the previous ones ended.
"""

import csv
import importlib.util
import json
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest

from engine.app.cli import main
from engine.research.folds import make_folds
from replay.data.timestamps import format_ns

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("train_all_tests",
                                               ROOT / "tests/integration/test_train_all.py")
_train_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_train_all)
# the tiny models and the lenient gate 1 of the train-all tests
TINY = [*_train_all.TINY, *_train_all.LENIENT, "backtest.strategy=marl"]
LEARNED = ["walk-forward", "--folds", "2", "--train", "150d", "--test", "30d",
           *[a for pair in TINY for a in ("--set", pair)]]


def _rows(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    out = tmp_path_factory.mktemp("wf") / "serial"
    assert main([*LEARNED, "--backend", "serial", "--out", str(out)]) == 0
    return out


def test_ray_writes_the_serial_files(learned, local_ray, tmp_path):
    out = tmp_path / "ray"
    assert main([*LEARNED, "--backend", "ray", "--out", str(out)]) == 0
    names = sorted(str(p.relative_to(learned)) for p in learned.rglob("*")
                   if p.is_file() and p.name not in ("manifest.json", "report.html"))
    assert "folds/1/models" in " ".join(names)
    assert "folds/1/diagnostics/test_summary.json" in names  # the fold's gate statistics
    for name in names:
        assert (out / name).read_bytes() == (learned / name).read_bytes(), name


def test_every_model_was_fitted_before_its_test_window(learned):
    for row in _rows(learned / "folds.csv"):
        assert row["status"] == "ok"
        assert row["fitted_until"] < row["test_start"]
        assert row["train_end"] <= row["test_start"]
        assert len(row["models"].split()) == 4  # mmd_reference, rde, mrms, marl
        models = learned / "folds" / row["fold"] / "models"
        for manifest in models.glob("*/*/*/manifest.json"):
            m = json.loads(manifest.read_text())
            data = m.get("data") or {}
            source = data.get("path") if isinstance(data, dict) else None
            source = source or m.get("source") or json.dumps(m)
            # each records the training window it was fitted on, which ends before the test
            assert f"[{row['train_start']}, {row['train_end']})" in source, manifest
        trades = _rows(learned / "folds" / row["fold"] / "trades.csv")
        for t in trades:
            assert row["test_start"] <= t["entry_time"] < row["test_end"]


def test_the_learned_folds_decide_and_are_stitched(learned):
    summary = json.loads((learned / "summary.json").read_text())
    folds = _rows(learned / "folds.csv")
    assert summary["counts"]["folds"] == 2
    assert summary["metrics"]["trades"] == sum(int(r["trades"]) for r in folds)
    assert summary["metrics"]["trades"] > 0


def test_each_learned_fold_reports_its_baselines_and_its_rde_latent(learned, tmp_path):
    """The synergy and buy-and-hold figures of a fold are those of a backtest of that
    strategy over the fold's window; the RDE's latent statistics come from its manifest."""
    folds = _rows(learned / "folds.csv")
    for row in folds:
        manifest = next((learned / "folds" / row["fold"] / "models" / "rde").glob(
            "*/*/manifest.json"))
        metrics = json.loads(manifest.read_text())["metrics"]
        assert float(row["rde_train_active_units"]) == metrics["train_active_units"]
        assert float(row["rde_test_latent_gain"]) == metrics["test_latent_gain"]
        assert float(row["rde_collapsed"]) == metrics["collapsed"]
        assert int(row["synergy_trades"]) > 0 and row["buy_hold_return"] != ""
    # the last test window ends with the data: a backtest of the rows from its fold's
    # training start (the same warm-up) trading from its test start is the same run
    last = folds[-1]
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv")
    opened = pd.to_datetime(frame.iloc[:, 0], utc=True)
    data = tmp_path / "window.csv"
    frame[opened >= pd.Timestamp(last["train_start"]) - pd.Timedelta("1h")].to_csv(
        data, index=False)
    out = tmp_path / "synergy"
    assert main(["backtest", "--data", str(data), "--set", "backtest.strategy=synergy",
                 "--set", "strategies.synergy.sizing=fixed", "--set",
                 f"backtest.start={last['test_start']}", "--out", str(out)]) == 0
    alone = json.loads((out / "summary.json").read_text())["metrics"]
    assert int(last["synergy_trades"]) == alone["trades"]
    assert float(last["synergy_return"]) == pytest.approx(alone["total_return"], abs=1e-12)


def test_anchored_folds_stitch_the_out_of_sample_curves(tmp_path, capsys):
    out = tmp_path / "sma"
    assert main(["walk-forward", "--set", "backtest.strategy=sma_cross", "--folds", "3",
                 "--train", "300d", "--mode", "anchored", "--gap", "1d", "--backend",
                 "serial", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "models none to fit" in printed.replace(";", "")
    folds = _rows(out / "folds.csv")
    assert len({r["train_start"] for r in folds}) == 1  # anchored at the first row
    cash = 100_000.0
    offset = 0.0
    stitched = _rows(out / "equity.csv")
    at = 0
    for row in folds:
        part = _rows(out / "folds" / row["fold"] / "equity.csv")
        assert part[0]["time"] >= row["test_start"] and part[-1]["time"] < row["test_end"]
        got = np.array([float(r["equity"]) for r in stitched[at:at + len(part)]])
        want = np.array([float(r["equity"]) for r in part]) + offset
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        offset += float(part[-1]["equity"]) - cash
        at += len(part)
    assert at == len(stitched)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["final_equity"] == pytest.approx(cash + offset)
    trades = _rows(out / "trades.csv")
    assert len(trades) == sum(len(_rows(out / "folds" / r["fold"] / "trades.csv"))
                              for r in folds)
    assert "probabilistic_sharpe" in summary["metrics"]


def test_folds_that_do_not_fit_the_data_are_refused(tmp_path, capsys):
    code = main(["walk-forward", "--set", "backtest.strategy=sma_cross", "--folds", "10",
                 "--train", "700d", "--test", "30d", "--backend", "serial", "--out",
                 str(tmp_path / "x")])
    assert code == 1
    err = capsys.readouterr().err
    assert "btcusd_1h_coinbase_2017-2019.csv" in err and "train + gap + folds x test" in err


def test_the_folds_of_the_cli_are_the_pure_ones(learned):
    rows = _rows(learned / "folds.csv")
    first = msgspec.json.decode((learned / "folds.json").read_bytes())
    assert [r["fold"] for r in first] == [0, 1]
    folds = make_folds(1_498_910_400_000_000_001, 1_571_306_400_000_000_000, 2,
                       150 * 86_400 * 10**9, 30 * 86_400 * 10**9,
                       step_ns=3_600 * 10**9)  # the CLI's step: the hourly fast bars
    assert [format_ns(f.test_start) for f in folds] == [r["test_start"] for r in rows]


WFO = ["walk-forward", "--set", "backtest.strategy=sma_cross", "--folds", "3", "--train",
       "240d", "--grid", "strategies.sma_cross.fast=5,10,40", "--grid",
       "strategies.sma_cross.slow=30,50"]


def test_each_fold_trades_the_trial_best_on_its_training_window(local_ray, tmp_path, capsys):
    serial, ray = tmp_path / "serial", tmp_path / "ray"
    assert main([*WFO, "--backend", "serial", "--out", str(serial)]) == 0
    printed = capsys.readouterr().out
    assert "among 5 trials" in printed and "invalid       #4" in printed  # fast 40 >= slow 30
    assert main([*WFO, "--backend", "ray", "--out", str(ray)]) == 0
    for name in ("selection.csv", "folds.csv", "summary.json", "trades.csv", "equity.csv"):
        assert (ray / name).read_bytes() == (serial / name).read_bytes(), name
    selection = _rows(serial / "selection.csv")
    folds = _rows(serial / "folds.csv")
    assert len(selection) == 3 * 5
    for row in folds:
        mine = [r for r in selection if r["fold"] == row["fold"]]
        [best] = [r for r in mine if r["chosen"] == "true"]
        assert float(best["sharpe"]) == max(float(r["sharpe"]) for r in mine)
        assert row["params"] == best["params"]
        assert float(row["in_sample"]) == float(best["sharpe"])
    # the fold traded the chosen parameters: its test equals that trial's own walk-forward
    chosen = folds[1]["params"].split()
    one = tmp_path / "one"
    assert main(["walk-forward", "--set", "backtest.strategy=sma_cross", "--folds", "3",
                 "--train", "240d", *[a for c in chosen for a in ("--set", c)], "--backend",
                 "serial", "--out", str(one)]) == 0
    assert (one / "folds" / "1" / "trades.csv").read_bytes() == (
        serial / "folds" / "1" / "trades.csv").read_bytes()


def test_a_learned_strategy_is_not_optimised_per_fold(tmp_path, capsys):
    code = main(["walk-forward", "--set", "backtest.strategy=marl", "--folds", "2", "--train",
                 "150d", "--grid", "marl.gate.threshold=0.5,0.7", "--backend", "serial",
                 "--out", str(tmp_path / "x")])
    assert code == 1
    assert "refits its models on each training window" in capsys.readouterr().err
