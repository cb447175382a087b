"""``algospace sweep`` on the bundled BTC data: the same files from Ray (a real local instance,
2 CPUs) as serially; each trial's figures are those ``algospace backtest`` reports for the same
settings; invalid and failing trials are listed, not dropped; the DSR of the best trial is the
Bailey & Lopez de Prado worked example when the trials have its dispersion."""

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.app.cli import main
from engine.research.sweep import SweepRow, significance
from replay.metrics import deflated_sharpe_ratio

ROOT = Path(__file__).resolve().parents[2]
SMA = ["--set", "backtest.strategy=sma_cross"]
GRID = ["--grid", "strategies.sma_cross.fast=5,10", "--grid", "strategies.sma_cross.slow=30,50"]
FILES = ("results.csv", "results.parquet", "summary.json", "report.html")


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "serial"
    assert main(["sweep", *SMA, *GRID, "--backend", "serial", "--out", str(out)]) == 0
    return out


def test_ray_writes_the_serial_files(serial, local_ray, tmp_path):
    out = tmp_path / "ray"
    assert main(["sweep", *SMA, *GRID, "--backend", "ray", "--out", str(out)]) == 0
    for name in FILES:
        assert (out / name).read_bytes() == (serial / name).read_bytes(), name


def test_the_batch_path_gives_the_bus_paths_results(serial, tmp_path):
    out = tmp_path / "batch"
    assert main(["sweep", *SMA, *GRID, "--backend", "serial", "--path", "batch", "--out",
                 str(out)]) == 0
    assert (out / "results.csv").read_bytes() == (serial / "results.csv").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == ("sweep --grid strategies.sma_cross.fast=5,10 --grid "
                                   "strategies.sma_cross.slow=30,50 --path batch")
    assert manifest["run_id"].startswith("sweep-")


def test_the_table_has_a_row_per_trial_with_typed_parameters(serial):
    table = pq.read_table(serial / "results.parquet").to_pydict()
    assert table["trial"] == [0, 1, 2, 3]
    assert table["strategies.sma_cross.fast"] == [5, 5, 10, 10]
    assert table["strategies.sma_cross.slow"] == [30, 50, 30, 50]
    assert table["status"] == ["ok"] * 4
    assert all(t > 0 for t in table["trades"])
    summary = json.loads((serial / "summary.json").read_text())
    assert summary["run"] == 4 and summary["ok"] == 4
    best = int(np.nanargmax(table["sharpe"]))
    assert summary["best_trial"] == best
    assert summary["best_dsr"] == pytest.approx(table["dsr"][best])
    # every trial deflated against the 4 trials run and their Sharpe dispersion
    daily = np.array(table["sharpe_daily"])
    variance = float(daily.var(ddof=1))
    assert summary["sharpe_variance_daily"] == pytest.approx(variance, rel=1e-12)
    for i in range(4):
        assert table["dsr"][i] == pytest.approx(deflated_sharpe_ratio(
            daily[i], table["days"][i], table["daily_skew"][i], table["daily_kurtosis"][i], 4,
            variance), rel=1e-12)
        assert table["dsr"][i] <= table["psr"][i]


def test_a_trial_reports_what_backtest_reports(serial, tmp_path):
    out = tmp_path / "backtest"
    assert main(["backtest", *SMA, "--set", "strategies.sma_cross.fast=10", "--set",
                 "strategies.sma_cross.slow=50", "--out", str(out)]) == 0
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    table = pq.read_table(serial / "results.parquet").to_pydict()
    for key, column in (("trades", "trades"), ("total_return", "total_return"),
                        ("sharpe", "sharpe"), ("max_drawdown", "max_drawdown"),
                        ("probabilistic_sharpe", "psr"), ("profit_factor", "profit_factor")):
        assert table[column][3] == metrics[key], key


def test_invalid_and_failing_trials_are_listed(tmp_path, capsys):
    out = tmp_path / "bad"
    code = main(["sweep", "--set", "backtest.strategy=synergy", "--grid",
                 'synergy.atr_indicator="atr14","nope"', "--grid",
                 "synergy.mlmi_min_value=0.0,-1.0", "--backend", "serial", "--out", str(out)])
    assert code == 4  # a trial failed
    table = pq.read_table(out / "results.parquet").to_pydict()
    assert table["status"] == ["ok", "invalid", "failed", "invalid"]
    assert "synergy.atr_indicator: 'nope' on 1h is not a configured indicator" in table["error"][2]
    assert "mlmi_min_value" in table["error"][1]
    printed = capsys.readouterr().out
    assert 'failed  #2 synergy.atr_indicator="nope"' in printed
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["run"], summary["ok"], summary["failed"], summary["invalid"]) == (2, 1, 1, 2)


def test_the_data_set_cannot_be_swept(tmp_path, capsys):
    code = main(["sweep", *SMA, "--grid", "data.bar_interval=1h,4h", "--backend", "serial",
                 "--out", str(tmp_path / "x")])
    assert code == 1
    assert "the data set is read once for every trial" in capsys.readouterr().err


def test_dsr_reproduces_the_papers_worked_example():
    """Bailey & Lopez de Prado (2014): the best of N = 100 trials, annualised SR 2.5 over
    1,250 days, skew -3, kurtosis 10, trials' annualised Sharpe variance 0.5 -> SR0 0.1132
    per day and DSR 0.9004. Built as 100 trials whose daily Sharpe ratios have exactly that
    sample variance."""
    best = 2.5 / math.sqrt(250)
    target = 0.5 / 250
    d = math.sqrt((target * 99 - best**2 * 0.99) / 98)
    others = [d, -d] * 49 + [0.0]
    rows = [SweepRow(trial=i, params={"x": str(i)}, status="ok", sharpe=sr * math.sqrt(250),
                     sharpe_daily=sr, days=1250, daily_skew=-3.0, daily_kurtosis=10.0,
                     psr=0.0)
            for i, sr in enumerate([best, *others])]
    rows, summary = significance(rows)
    assert summary.run == 100 and summary.best_trial == 0
    assert summary.sharpe_variance_daily == pytest.approx(target, rel=1e-12)
    assert summary.expected_max_sharpe_daily == pytest.approx(0.1132, abs=1e-4)
    assert summary.best_dsr == pytest.approx(0.9004, abs=5e-5)


def test_a_learned_sweep_loads_its_models_once(monkeypatch):
    """Trials that differ in the gate's threshold share the registered models: loaded and
    checked once, shipped once, named in every trial's task."""
    import engine.research.sweep as sweep
    from engine.research.search import grid_trials, parse_space
    from engine.wiring.dataset import Dataset
    from engine.wiring.schema import load_app_config

    loads = []
    real = sweep.load_artifacts
    monkeypatch.setattr(sweep, "load_artifacts",
                        lambda *a, **k: loads.append(1) or real(*a, **k))
    loaded = load_app_config(ROOT / "config" / "btcusd_1h.toml", ["backtest.strategy=marl"])
    trials = grid_trials(parse_space(["marl.gate.threshold=0.5,0.6,0.7"]))
    plan = sweep.plan_sweep(loaded, ["backtest.strategy=marl"], trials,
                            Dataset("x", "0" * 64, ()))
    assert len(loads) == 1 and len(plan.tasks) == 3 and not plan.invalid
    [(key, artifacts)] = plan.shared.artifacts.items()
    assert {t.artifacts for t in plan.tasks} == {key}
    assert [r.name for r in artifacts.model_refs()] == [
        "mmd_reference/btcusd_1h", "rde/btcusd_1h", "mrms/btcusd_1h", "marl/btcusd_1h"]
    assert len({t.start_ns for t in plan.tasks}) == 1  # after every fitted period
    assert plan.tasks[0].start_ns == artifacts.fitted_until() + 1
