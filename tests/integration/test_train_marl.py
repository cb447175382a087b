"""MARL training on the bundled BTC setups with a tiny network: a run stopped after an
iteration's checkpoint and resumed registers exactly the uninterrupted weights (so the run is
deterministic for its seed); a checkpoint of another config is refused; the registered gate
carries the threshold and agreement calibrated on validation; the diagnostics cover every
split."""

from pathlib import Path

import pytest

from engine.core.errors import ModelError
from engine.wiring.artifacts import load_artifacts
from engine.wiring.schema import load_app_config
from replay.train.marl_run import run_train_marl

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
TINY = ["train.marl.model.hidden=8", "train.marl.model.conv_channels=4",
        "train.marl.model.lstm=4", "train.marl.iterations=4", "train.marl.episodes=1",
        "train.marl.update_epochs=1", "train.marl.eval_every=2",
        "train.marl.checkpoint_every=1", "train.marl.gate.samples=8", "train.marl.cv.folds=2",
        "train.marl.cv.candidates=[[5, 1.0], [10, 1.0]]"]


def train(run_dir, models, overrides=(), **kwargs):
    loaded = load_app_config(BTC, [*TINY, *overrides])
    artifacts = load_artifacts(loaded, risk=True)
    return run_train_marl(loaded.config, loaded.data_path, artifacts, run_dir, models,
                          "btc", "btc.csv", **kwargs)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    base = tmp_path_factory.mktemp("marl")
    return train(base / "run", base / "models")


def test_stopped_and_resumed_equals_uninterrupted(uninterrupted, tmp_path):
    calls = []

    def stop_after_two():
        calls.append(1)
        return len(calls) >= 2

    stopped = train(tmp_path / "run", tmp_path / "models", should_stop=stop_after_two)
    assert stopped.registered is None and stopped.result.interrupted
    assert [m["iteration"] for m in stopped.result.metrics] == [0, 1, 2]  # 0: pretraining
    resumed = train(tmp_path / "run", tmp_path / "models", resume=True)
    assert resumed.registered is not None and uninterrupted.registered is not None
    assert resumed.registered.version == uninterrupted.registered.version
    assert [m["iteration"] for m in resumed.result.metrics] == [0, 1, 2, 3, 4]
    assert set(uninterrupted.table) == {"validation", "test"}
    assert set(uninterrupted.table["test"]) == {"marl", "mrms", "baseline"}


def test_a_checkpoint_of_another_config_is_refused(tmp_path):
    train(tmp_path / "run", tmp_path / "models", should_stop=lambda: True)
    with pytest.raises(ModelError, match="same config and data"):
        train(tmp_path / "run", tmp_path / "models", ["train.marl.lr=0.01"], resume=True)


def test_the_registered_gate_is_calibrated_and_the_diagnostics_cover_every_split(
        uninterrupted):
    run = uninterrupted
    assert run.registered is not None
    gate = run.registered.manifest.training["gate"]
    thresholds = run.registered.manifest.training["thresholds"]
    assert gate["threshold"] == run.result.threshold and gate["threshold"] in thresholds
    agreements = run.registered.manifest.training["agreements"]
    assert gate["min_agree"] == run.result.gate.min_agree and gate["min_agree"] in agreements
    metrics = run.registered.manifest.metrics
    evaluated = sum(1 for m in run.result.metrics if "gate/threshold" in m)
    cv = run.result.metrics[0]  # the cross-validation of the pretraining: 2 candidates
    assert cv["cv/trials"] == 2 * len(set(thresholds)) and cv["cv/epochs"] in (5, 10)
    assert metrics["selection_trials"] == cv["cv/trials"] + evaluated * len(
        set(thresholds)) * len(set(agreements))
    assert set(run.diagnostics) == {"train", "validation", "test"}
    for key, summary in run.diagnostics.items():
        setups = len(run.splits[key])
        assert summary["funnel"]["setups"] == setups == sum(summary["agreement"].values())
        assert sum(summary["ended"].values()) == setups
        assert {d["name"] for d in summary["deciders"]} == {
            "learned", "take_every", "long_only", "logistic"}
        take_every = next(d for d in summary["deciders"] if d["name"] == "take_every")
        assert take_every["taken"] == setups
        assert set(summary["ablation"]) == {"structure", "tactical", "arbitrageur"}
