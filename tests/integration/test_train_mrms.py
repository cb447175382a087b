"""M-RMS training on real BTC setups: the environment with the hard limits relaxed trades
exactly what the rule-based backtest trades; PPO is deterministic for a seed; an interrupted
run resumed equals the uninterrupted one; the registered model verifies."""

from pathlib import Path

import msgspec
import pandas as pd
import pytest
import torch

from components.risk.limits import AccountState, RiskLimitsConfig, apply_limits
from components.risk.model_config import RiskModelConfig
from components.risk.state import cost_per_contract
from engine.wiring.artifacts import load_artifacts
from engine.wiring.backtest import run_backtest
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.registry import SplitBounds, load_model
from engine.wiring.schema import load_app_config
from replay.train.mrms_data import collect_setups, split_setups
from replay.train.mrms_env import Proposal, run_episode
from replay.train.mrms_run import BASELINE, compare
from replay.train.outcomes import FIXED_BRACKET, one_contract
from replay.train.train_mrms import train_mrms
from replay.train_config import EnvConfig, MrmsTrainConfig

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
ROWS = 6000
TINY = MrmsTrainConfig(model=RiskModelConfig(hidden=16), iterations=4, episodes=2,
                       update_epochs=2, minibatch=16, eval_every=2, checkpoint_every=1)
RELAXED = EnvConfig(start_equity=1e9, limits=RiskLimitsConfig(
    max_risk_pct=100.0, daily_loss_limit=1e12, max_drawdown=1e12, max_contracts=1000,
    max_trades_per_day=1000))


@pytest.fixture(scope="module")
def setups(tmp_path_factory):
    data = tmp_path_factory.mktemp("mrms") / "btc.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:ROWS].to_csv(
        data, index=False)
    loaded = load_app_config(BTC)
    got = collect_setups(loaded.config, data, load_artifacts(loaded))
    ts = [s.setup.ts_event for s in got.samples]
    cut = ts[2 * len(ts) // 3]

    def bounds(start, end):
        return SplitBounds(samples=0, start_ns=start, end_ns=end, start="", end="")

    parts = split_setups(got.samples, {"train": bounds(0, cut),
                                       "validation": bounds(cut + 1, 2**62),
                                       "test": bounds(2**62, 2**62)})
    return got, parts, data


def test_relaxed_baseline_trades_exactly_what_the_backtest_trades(setups):
    got, _, data = setups
    loaded = load_app_config(BTC, ["backtest.strategy=synergy"])
    (chunk,) = build_replay_pipeline(loaded.config, data).chunks()
    trades = run_backtest(loaded.config, [chunk]).trades
    episode = run_episode(got, got.samples, RELAXED, lambda _s, _x: BASELINE)
    fields = ("direction", "ts_entry", "entry_price", "ts_exit", "exit_price", "exit_reason",
              "pnl_usd", "tag")
    ours = [tuple(getattr(t, f) for f in fields) for t in episode.trades]
    theirs = [tuple(getattr(t, f) for f in fields) for t in trades]
    # the backtest also trades the setups before the first regime vector, so the first few
    # trades may differ (a position still open there skips a setup the episode takes); from
    # the first trade both take, the one-position-at-a-time sequences must be identical
    sync = next(i for i, t in enumerate(ours) if t in theirs)
    assert sync <= 2 and episode.violations == 0
    assert ours[sync:] == theirs[theirs.index(ours[sync]):]
    assert len(ours) - sync >= 15


def test_limits_cut_and_the_penalty_counts(setups):
    got, parts, _ = setups
    greedy = run_episode(got, parts["train"], EnvConfig(reward="sortino"),
                         lambda _s, _x: Proposal(5, 3.0, 1.0))
    assert greedy.violations > 0
    cut = [s for s in greedy.steps if s.reasons]
    assert all(s.allowed < 5 for s in cut)
    assert sum(s.reward for s in greedy.steps) == pytest.approx(
        greedy.sortino - 0.1 * sum((5 - s.allowed) / 5 for s in cut))


def test_the_relative_reward_makes_abstaining_cost_what_the_baseline_earns(setups):
    got, parts, _ = setups
    env = EnvConfig()
    assert env.reward == "relative"
    same = run_episode(got, parts["train"], env, lambda _s, _x: BASELINE)
    assert [s.reward for s in same.steps if not s.reasons] == [
        0.0 for s in same.steps if not s.reasons]
    abstain = run_episode(got, parts["train"], env, lambda _s, _x: Proposal(0, 2.0, 2.0))
    assert not abstain.trades and len(abstain.steps) == len(parts["train"])
    signs = [(s.reward > 0) - (s.reward < 0) for s in abstain.steps]
    expected = []
    equity = env.start_equity
    account = AccountState(equity=equity, start_equity=equity, peak_equity=equity,
                           day_start_equity=equity)
    inst = got.broker.instrument
    for s in abstain.steps:  # nothing traded: the baseline's change is the sign of its P&L
        setup = s.sample.setup
        allowed = apply_limits(1, FIXED_BRACKET[0] * setup.atr, inst.point_value,
                               cost_per_contract(got.broker.costs, inst, setup.price), account,
                               env.limits).size  # 0: the limits veto the baseline too
        pnl = allowed * one_contract(got, s.sample, setup.direction, *FIXED_BRACKET)[1]
        expected.append((pnl < 0) - (pnl > 0))
    assert signs == expected and 0 < signs.count(-1) < len(signs)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_seed_same_weights_and_resume_equals_uninterrupted(setups, tmp_path):
    got, parts, _ = setups
    a = train_mrms(got, parts["train"], parts["validation"], TINY, tmp_path / "a")
    b = train_mrms(got, parts["train"], parts["validation"], TINY, tmp_path / "b")
    wa = weights(a.model)
    assert all(torch.equal(wa[k], v) for k, v in weights(b.model).items())
    assert a.metrics == b.metrics and len(a.metrics) == 5  # iteration 0: the pretraining
    assert "pretrain/utility" in a.metrics[0] and "validation/score" in a.metrics[0]
    assert "validation/sortino" in a.metrics[2] and "losses/approx_kl" in a.metrics[1]
    calls = []
    stopped = train_mrms(got, parts["train"], parts["validation"], TINY, tmp_path / "c",
                         should_stop=lambda: calls.append(1) or len(calls) >= 2)
    assert stopped.interrupted and len(stopped.metrics) == 3
    resumed = train_mrms(got, parts["train"], parts["validation"], TINY, tmp_path / "c",
                         resume=True)
    assert all(torch.equal(wa[k], v) for k, v in weights(resumed.model).items())
    assert resumed.metrics == a.metrics
    other = train_mrms(got, parts["train"], parts["validation"],
                       msgspec.structs.replace(TINY, seed=1), tmp_path / "d")
    assert any(not torch.equal(wa[k], v) for k, v in weights(other.model).items())
    table = compare(a.model, got, {**parts, "test": parts["validation"]}, TINY)
    assert set(table) == {"validation", "test"}
    assert table["test"]["baseline"]["trades"] > 0


def test_mrms_kind_registers_and_verifies(tmp_path):
    from components.risk.model import RiskModel
    from engine.wiring.registry import DataRef, save_model

    torch.manual_seed(0)
    net = RiskModel(RiskModelConfig(hidden=16))
    bounds = SplitBounds(samples=1, start_ns=1, end_ns=2, start="a", end="b")
    saved = save_model(tmp_path, {
        "kind": "mrms", "name": "btc", "training": {}, "config_hash": "x",
        "data": DataRef(path="d", sha256="0" * 64), "instrument": "BTCUSD", "timeframe": "1h",
        "splits": {"train": bounds}, "metrics": {}, "inputs": {"rde": "rde/x/y"},
        "code_version": "c", "seed": 0, "created": "b", "created_ns": 2},
        net, RiskModelConfig(hidden=16))
    loaded = load_model(saved.path, kind="mrms")
    assert loaded.label == f"mrms/btc/{saved.version}"
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
