"""Dense rows for the agents' embedders (replay/train/dense_data.py, replay/train/marl_dense.py) on
the
bundled BTC data: each row is the matrices and regime vector a setup at that bar finds (off a
slow-bar close; at one, the setup is decided before the slow bar's row and regime arrive); the
targets are the next bars' return and range from those bars; the embedders pretrained on the
rows before a time predict the range after it."""

from pathlib import Path

import numpy as np
import pytest
import torch

from components.decision.model import MarlModel
from engine.wiring.artifacts import load_artifacts
from engine.wiring.schema import load_app_config
from replay.train.dense_data import collect_dense, dense_targets
from replay.train.marl_dense import pretrain_encoders
from replay.train.marl_run import matrix_configs
from replay.train.mrms_data import collect_setups
from replay.train_config import MarlDenseConfig, MarlTrainConfig

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
CONFIG = MarlTrainConfig()
HOUR = 3600 * 10**9


@pytest.fixture(scope="module")
def replayed():
    loaded = load_app_config(BTC)
    artifacts = load_artifacts(loaded)
    matrices = matrix_configs(loaded.config, CONFIG)
    dense = collect_dense(loaded.config, loaded.data_path, artifacts, matrices, stride=1,
                          horizon=8)
    setups = collect_setups(loaded.config, loaded.data_path, artifacts, matrices=matrices)
    return dense, setups


def test_a_row_is_what_a_setup_at_that_bar_finds(replayed):
    dense, setups = replayed
    row = {int(t): i for i, t in enumerate(dense.ts)}
    compared = boundary = 0
    for sample in setups.samples:
        i = row.get(sample.setup.ts_event)
        if i is None:  # a setup within the last 8 bars has no target window
            continue
        compared += 1
        assert np.array_equal(dense.fast[i], sample.fast)
        same = (np.array_equal(dense.slow[i], sample.slow)
                and np.allclose(dense.regime[i], sample.regime, rtol=0, atol=1e-6))
        on_slow_close = (sample.setup.ts_event // HOUR) % 4 == 0
        assert same or on_slow_close
        boundary += not same
    assert compared >= 80 and boundary < compared / 2


def test_the_targets_are_the_next_bars_in_atrs(replayed):
    dense, setups = replayed
    bars = setups.bars
    high, low, close = (np.array([getattr(b, f) for b in bars]) for f in ("high", "low", "close"))
    index = np.searchsorted([b.ts_event for b in bars], dense.ts[:50])
    assert np.allclose(dense_targets(high, low, close, index, 8), dense.targets[:50], atol=1e-5)
    assert all(dense.ts_target == dense.ts + 8 * HOUR)  # 24/7 hourly bars


def test_the_embedders_learn_the_next_bars_range_out_of_sample(replayed):
    dense, _ = replayed
    cut = int(dense.ts[len(dense) * 2 // 3])
    torch.manual_seed(0)
    model = MarlModel(CONFIG.model)
    figures = pretrain_encoders(model, dense.before(cut), MarlDenseConfig(epochs=3, stride=1), 0,
                                held_out=dense.after(cut))
    assert figures["dense/last_loss"] < figures["dense/first_loss"]
    assert figures["dense/held_out_corr_range"] > 0.1
