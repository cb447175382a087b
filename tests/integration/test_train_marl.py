"""MARL training on the bundled BTC setups with a tiny network: a run stopped after an
iteration's checkpoint and resumed registers exactly the uninterrupted weights (so the run is
deterministic for its seed); a checkpoint of another config is refused."""

from pathlib import Path

import pytest

from engine.artifacts import load_artifacts
from engine.errors import ModelError
from engine.schema import load_app_config
from replay.marl_run import run_train_marl

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
TINY = ["train.marl.model.hidden=8", "train.marl.model.conv_channels=4",
        "train.marl.model.lstm=4", "train.marl.iterations=4", "train.marl.episodes=1",
        "train.marl.update_epochs=1", "train.marl.eval_every=2",
        "train.marl.checkpoint_every=1", "train.marl.gate.samples=8"]


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
    assert len(stopped.result.metrics) == 2
    resumed = train(tmp_path / "run", tmp_path / "models", resume=True)
    assert resumed.registered is not None and uninterrupted.registered is not None
    assert resumed.registered.version == uninterrupted.registered.version
    assert len(resumed.result.metrics) == 4
    assert set(uninterrupted.table) == {"validation", "test"}
    assert set(uninterrupted.table["test"]) == {"marl", "mrms", "baseline"}


def test_a_checkpoint_of_another_config_is_refused(tmp_path):
    train(tmp_path / "run", tmp_path / "models", should_stop=lambda: True)
    with pytest.raises(ModelError, match="same config and data"):
        train(tmp_path / "run", tmp_path / "models", ["train.marl.lr=0.01"], resume=True)
