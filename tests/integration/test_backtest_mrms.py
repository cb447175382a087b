"""The synergy strategy sized by the registered BTC M-RMS, end to end on the bundled data: the
backtest's trades on the bus are exactly the trainer's evaluation of the same model on the
test split (one implementation of setups, account, limits and broker); nothing is traded or
measured before every fitted period ends; models that do not match the run are refused."""

from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest

from components.risk.limits import RiskLimitsConfig
from engine.core.chunks import BarChunk
from engine.core.errors import ConfigError, ModelError
from engine.wiring.artifacts import evaluation_start, load_artifacts
from engine.wiring.backtest import run_backtest
from engine.wiring.backtest_report import backtest_file
from engine.wiring.build import build_upstream
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.risk import risk_account
from engine.wiring.schema import load_app_config
from replay.train.mrms_data import collect_setups, split_setups
from replay.train.train_mrms import evaluate_policy
from replay.train_config import MrmsTrainConfig

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "btcusd_1h.toml"
HOUR_NS = 3600 * 10**9
LEARNED = ["backtest.strategy=synergy", "strategies.synergy.sizing=mrms"]
FIELDS = ("direction", "quantity", "ts_entry", "entry_price", "ts_exit", "exit_price",
          "exit_reason", "pnl_usd", "tag")


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    loaded = load_app_config(CONFIG, LEARNED)
    artifacts = load_artifacts(loaded, risk=True)
    out = tmp_path_factory.mktemp("bt")
    outcome = backtest_file(loaded.config, loaded.data_path, out, progress=False,
                            artifacts=artifacts)
    return loaded, artifacts, outcome


def test_the_backtest_trades_exactly_what_the_trainer_scores_on_the_test_split(learned):
    loaded, artifacts, outcome = learned
    data = collect_setups(loaded.config, loaded.data_path, artifacts)
    test = split_setups(data.samples, artifacts.rde.manifest.splits)["test"]
    mrms = artifacts.mrms
    training = msgspec.convert(mrms.manifest.training, MrmsTrainConfig)
    episode = evaluate_policy(mrms.model, data, test, training)
    assert len(test) == 25 and episode.trades
    assert ([tuple(getattr(t, f) for f in FIELDS) for t in outcome.data.trades]
            == [tuple(getattr(t, f) for f in FIELDS) for t in episode.trades])
    assert outcome.data.metrics.trades == len(episode.trades)
    counts = outcome.data.counts
    setups = sum(n for k, n in counts.items() if k.startswith("setups_TYPE_"))
    rejected = sum(n for k, n in counts.items() if k.startswith("setups_rejected_risk_"))
    assert setups == len(test)
    assert counts.get("setups_rejected_risk_model_size_zero", 0) == sum(
        1 for s in episode.steps if s.proposal.size == 0)
    assert counts.get("setups_rejected_risk_max_risk_per_trade", 0) == sum(
        1 for s in episode.steps if s.proposal.size > 0 and s.allowed == 0
        and "max_risk_per_trade" in s.reasons)
    assert rejected + counts["orders"] >= setups - episode.skipped


def test_nothing_is_traded_or_measured_before_every_fitted_period_ends(learned):
    loaded, artifacts, outcome = learned
    until = artifacts.fitted_until()
    assert until == max(artifacts.rde.manifest.splits["validation"].end_ns,
                        artifacts.mrms.manifest.splits["validation"].end_ns,
                        artifacts.mmd.reference.period_end_ns)
    assert all(t.ts_entry > until for t in outcome.data.trades)
    curve = pd.read_csv(Path(outcome.files["equity_csv"]))
    assert curve["ts"].iloc[0] == until + HOUR_NS  # the first bar closing after it
    assert any("after" in a and "backtest.start" in a for a in outcome.data.assumptions)
    assert any(artifacts.mrms.label.removeprefix("mrms/") in a
               for a in outcome.data.assumptions)


def test_an_evaluation_start_inside_a_fitted_period_is_refused():
    loaded = load_app_config(CONFIG, [*LEARNED, "backtest.start=2019-06-01"])
    artifacts = load_artifacts(loaded, risk=True)
    with pytest.raises(ModelError, match=r"backtest.start = '2019-06-01'.*validation split"):
        evaluation_start(loaded.config, artifacts, models=True)
    later = load_app_config(CONFIG, [*LEARNED, "backtest.start=2019-08-01"])
    assert evaluation_start(later.config, artifacts, models=True) == 1_564_617_600 * 10**9
    unset = load_app_config(CONFIG, [*LEARNED, "backtest.start=auto"])
    assert evaluation_start(unset.config, artifacts, models=True) == artifacts.fitted_until() + 1


def test_models_that_do_not_match_the_run_are_refused(tmp_path):
    changed = load_app_config(CONFIG, [*LEARNED, "synergy.window=20"])
    with pytest.raises(ModelError, match="synergy settings"):
        load_artifacts(changed, risk=True)
    assert load_artifacts(changed, risk=False).mrms is None  # the trainers do not read [risk]
    wrong_kind = load_app_config(CONFIG, [*LEARNED,
                                          "risk.model=../models/rde/btcusd_1h/592ec96224d3"])
    with pytest.raises(ModelError, match="mrms"):
        load_artifacts(wrong_kind, risk=True)


def test_the_learned_sizing_needs_risk_and_the_bus_path():
    loaded = load_app_config(CONFIG, LEARNED)
    bare = msgspec.structs.replace(loaded.config, risk=None)
    with pytest.raises(ConfigError, match=r"'synergy' needs the M-RMS's proposals: \[risk\]"):
        build_upstream(bare, None)
    with pytest.raises(ConfigError, match="bus path only"):
        run_backtest(loaded.config, [], path="batch")


def test_the_live_account_is_the_training_account_unless_risk_overrides_it():
    loaded = load_app_config(CONFIG, LEARNED)
    training = load_artifacts(loaded, risk=True).mrms.manifest.training
    account = risk_account(loaded.config, training, "manifest", "synergy")
    assert (account.start_equity, account.limits) == (50_000.0, RiskLimitsConfig())
    assert (account.strategy, account.instrument, account.point_value) == (
        "synergy", "BTCUSD", 1.0)
    other = load_app_config(CONFIG, [*LEARNED, "risk.start_equity=100000",
                                     "risk.limits.max_contracts=2"])
    account = risk_account(other.config, training, "manifest", "synergy")
    assert account.start_equity == 100_000.0
    assert account.limits == RiskLimitsConfig(max_contracts=2)


def test_decisions_before_a_cut_do_not_depend_on_later_bars(learned):
    loaded, artifacts, outcome = learned
    config = loaded.config
    start = evaluation_start(config, artifacts, models=True)
    (chunk,) = build_replay_pipeline(config, loaded.data_path).chunks()
    trades = outcome.data.trades
    i = max(len(trades) // 2 - 1, 0)  # flat between two consecutive trades
    cut = (trades[i].ts_exit + trades[i + 1].ts_entry) // 2
    rows = int(np.searchsorted(chunk.ts_close, cut, side="right"))
    head = run_backtest(config, [BarChunk(*(c[:rows] for c in chunk))], artifacts=artifacts,
                        start_ns=start)
    assert head.trades == [t for t in trades if t.ts_event <= cut] and head.trades
    full = outcome.data.counts
    assert head.intents <= full["orders"] and head.broker.position == 0
