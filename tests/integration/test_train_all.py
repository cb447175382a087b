"""The whole learned pipeline on the bundled BTC data with tiny models: ``algospace train all``
(mmd-reference -> rde -> mrms -> marl, each reading what the previous step registered), then
``algospace backtest --strategy marl`` on the test period. The backtest's trades are exactly
the MARL trainer's evaluation of the same models on the test split; no decision anywhere in
the stack depends on bars after it (a cut-point test); a second ``train all`` with the same
``--out`` reuses the finished steps."""

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest

from engine.app.cli import main
from engine.core.chunks import BarChunk
from engine.core.events import ConsensusReached, OrderIntent, RiskProposal, TradeRejected
from engine.wiring.artifacts import evaluation_start, load_artifacts
from engine.wiring.backtest import run_backtest
from engine.wiring.backtest_report import backtest_file
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.registry import load_model
from engine.wiring.schema import load_app_config
from replay.train.marl_run import matrix_configs, resolve_marl_config, training_account
from replay.train.mrms_data import collect_setups, split_setups
from replay.train.train_marl import evaluate_gate

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
TINY = ["train.rde.model.window=24", "train.rde.model.d_model=16", "train.rde.model.heads=2",
        "train.rde.model.layers=1", "train.rde.model.feedforward=32", "train.rde.epochs=2",
        "train.rde.min_updates=1",
        "train.mrms.model.hidden=16", "train.mrms.iterations=2", "train.mrms.episodes=1",
        "train.mrms.update_epochs=1", "train.mrms.eval_every=1",
        "train.marl.model.hidden=8", "train.marl.model.conv_channels=4",
        "train.marl.model.lstm=4", "train.marl.iterations=2", "train.marl.episodes=1",
        "train.marl.update_epochs=1", "train.marl.eval_every=1", "train.marl.gate.samples=8",
        "train.marl.cv.folds=2", "train.marl.cv.candidates=[[5, 1.0]]"]
# a lenient gate 1, so that setups reach the M-RMS and trades happen to compare
LENIENT = ["marl.gate.samples=8", "marl.gate.min_agree=1", "marl.gate.threshold=0.0",
           "marl.gate.penalty=0.0"]
FIELDS = ("direction", "quantity", "ts_entry", "entry_price", "ts_exit", "exit_price",
          "exit_reason", "pnl_usd", "tag")


def _sets(pairs):
    return [a for pair in pairs for a in ("--set", pair)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("train_all")
    args = ["train", "all", "--config", str(BTC), "--out", str(base / "run"), "--models-dir",
            str(base / "models"), "--no-progress", *_sets(TINY)]
    assert main(args) == 0
    models = msgspec.toml.decode((base / "run" / "models.toml").read_bytes())
    overrides = [f"indicators.mmd.reference={models['indicators']['mmd']['reference']}",
                 f"regime.model={models['regime']['model']}",
                 f"risk.model={models['risk']['model']}", f"marl.model={models['marl']['model']}"]
    return base, args, overrides


def test_every_step_registers_a_model_reading_the_previous_ones(trained, capsys):
    base, args, overrides = trained
    paths = {o.split("=")[0]: Path(o.split("=", 1)[1]) for o in overrides}
    rde = load_model(paths["regime.model"], kind="rde")
    mrms = load_model(paths["risk.model"], kind="mrms")
    marl = load_model(paths["marl.model"], kind="marl")
    reference = paths["indicators.mmd.reference"]
    assert rde.manifest.inputs["mmd_reference"] == f"btcusd_1h/{reference.name}"
    assert mrms.manifest.inputs["rde"] == rde.label
    assert marl.manifest.inputs["rde"] == rde.label and marl.manifest.inputs["mrms"] == mrms.label
    assert marl.manifest.training["gate"]["samples"] == 8
    capsys.readouterr()
    assert main(["models", "verify", "--models-dir", str(base / "models")]) == 0
    assert "4 of 4 verified" in capsys.readouterr().out
    assert main(args) == 0  # the same --out again: every step is reused
    assert capsys.readouterr().out.count("done earlier") == 4


def test_the_marl_backtest_counts_each_stage_beside_synergy_and_buy_and_hold(trained, tmp_path,
                                                                           capsys):
    _, _, overrides = trained
    out = tmp_path / "bt"
    assert main(["backtest", "--config", str(BTC), "--strategy", "marl", "--no-progress",
                 "--out", str(out), *_sets(overrides)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    counts = summary["counts"]
    def n(key):
        return counts.get(f"setups_{key}", 0)

    setups = sum(v for k, v in counts.items() if k.startswith("setups_TYPE_"))
    assert setups == 25  # the test period's setups
    assert n("passed_gate1") + n("rejected_gate1") == setups  # every setup meets gate 1
    assert n("passed_risk") + n("rejected_risk") == n("passed_gate1")
    assert counts["orders"] + n("rejected_gate2") == n("passed_risk")
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["name"].split("/")[0] for r in manifest["models"]] == [
        "mmd_reference", "rde", "mrms", "marl"]
    rows = json.loads((out / "comparison.json").read_text())
    assert [r["strategy"] for r in rows] == ["marl", "synergy", "buy_hold"]
    by = {r["strategy"]: r for r in rows}
    assert by["synergy"]["trades"] == 25 and by["buy_hold"]["trades"] == 0  # held to the end
    for name in ("synergy", "buy_hold"):  # the same period as the learned run
        baseline = json.loads((out / "baselines" / name / "summary.json").read_text())
        assert baseline["metrics"]["start_ts"] == summary["metrics"]["start_ts"]
    assert "learned layers add value over synergy:" in capsys.readouterr().out


def test_the_backtest_trades_exactly_what_the_trainer_scores_on_the_test_split(trained,
                                                                            tmp_path):
    _, _, overrides = trained
    loaded = load_app_config(BTC, ["backtest.strategy=marl", *overrides, *LENIENT])
    artifacts = load_artifacts(loaded, risk=True, marl=True)
    outcome = backtest_file(loaded.config, loaded.data_path, tmp_path, progress=False,
                            artifacts=artifacts)
    train_config = resolve_marl_config(loaded.config)
    train_config = msgspec.structs.replace(train_config, model=artifacts.marl.config)
    data = collect_setups(loaded.config, loaded.data_path, artifacts,
                          matrices=matrix_configs(loaded.config, train_config))
    test = split_setups(data.samples, artifacts.rde.manifest.splits)["test"]
    episode, decided = evaluate_gate(artifacts.marl.model, artifacts.mrms.model, data, test,
                                     training_account(artifacts.mrms), loaded.config.marl.gate,
                                     artifacts.marl.manifest.seed)
    assert episode.trades, "the lenient gate should let trades through"
    assert ([tuple(getattr(t, f) for f in FIELDS) for t in outcome.data.trades]
            == [tuple(getattr(t, f) for f in FIELDS) for t in episode.trades])
    assert outcome.data.counts["setups_passed_gate1"] == sum(decided.taken)


def test_no_decision_of_the_stack_depends_on_later_bars(trained):
    _, _, overrides = trained
    loaded = load_app_config(BTC, ["backtest.strategy=marl", *overrides, *LENIENT])
    config = loaded.config
    artifacts = load_artifacts(loaded, risk=True, marl=True)
    start = evaluation_start(config, artifacts, models=True)
    (chunk,) = build_replay_pipeline(config, loaded.data_path).chunks()
    kinds = (ConsensusReached, TradeRejected, RiskProposal, OrderIntent)

    def decisions(rows):
        seen = []
        run_backtest(config, [BarChunk(*(c[:rows] for c in chunk))], artifacts=artifacts,
                     start_ns=start, tap=lambda e: seen.append(e) if type(e) in kinds else None)
        return seen

    full = decisions(chunk.rows)
    assert any(type(e) is OrderIntent for e in full)
    cut_ts = full[len(full) // 2].ts_event
    rows = int(np.searchsorted(chunk.ts_close, cut_ts, side="right"))
    assert decisions(rows) == [e for e in full if e.ts_event <= cut_ts]
