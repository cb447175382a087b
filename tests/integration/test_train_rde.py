"""RDE training on real replayed regime windows, tiny model: deterministic for a seed, an
interrupted run resumed equals the uninterrupted one, metrics written, the loss falls."""

import json
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest
import torch

from components.assemblers import RegimeAssemblerConfig
from components.regime.model import RegimeModelConfig
from engine.artifacts import load_artifacts
from engine.schema import load_app_config
from replay.rde_data import collect_regime_rows, split_windows
from replay.train_rde import RdeTrainConfig, train_rde

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
WINDOW = 24  # a short regime window keeps the suite fast; the default is 96
TINY = RdeTrainConfig(model=RegimeModelConfig(window=WINDOW, d_model=16, heads=2, layers=1,
                                              feedforward=32, decoder_layers=1),
                      epochs=4, batch_size=32, beta_warmup_epochs=2, patience=10)


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    """Real BTC regime windows of 24 rows (the first 3,600 hours: 900 slow bars), every 4th
    of the splits (the test is about the trainer's mechanics, not the model's quality)."""
    data = tmp_path_factory.mktemp("rde") / "btc.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:3600].to_csv(
        data, index=False)
    loaded = load_app_config(BTC)
    rows = collect_regime_rows(loaded.config, data, load_artifacts(loaded),
                               RegimeAssemblerConfig(timeframe="4h", window=WINDOW))
    w, _ = rows.windows()
    split = split_windows(len(w), rows.window)
    return w[split.train][::4], w[split.validation][::4]


def weights(result):
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_same_seed_same_weights_and_metrics_written(windows, tmp_path):
    train, val = windows
    assert train.shape[1:] == (WINDOW, 26) and len(train) > 100 and len(val) > 10
    a = train_rde(train, val, TINY, tmp_path / "a")
    b = train_rde(train, val, TINY, tmp_path / "b")
    wa, wb = weights(a), weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.metrics == b.metrics and len(a.metrics) == 4
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert [row["epoch"] for row in m] == [1, 2, 3, 4]
    assert len(m[0]["charts/kl_per_dim"]) == 8 and m[0]["charts/beta"] == 0.0
    assert m[-1]["losses/train_recon"] < m[0]["losses/train_recon"]
    assert (tmp_path / "a" / "metrics.csv").read_text().startswith("epoch,")
    other = train_rde(train, val, msgspec.structs.replace(TINY, seed=1), tmp_path / "c")
    assert any(not torch.equal(wa[k], weights(other)[k]) for k in wa)


def test_interrupted_then_resumed_equals_uninterrupted(windows, tmp_path):
    train, val = windows
    whole = train_rde(train, val, TINY, tmp_path / "whole")
    calls = []

    def stop_after_two():
        calls.append(1)
        return len(calls) >= 2

    part = train_rde(train, val, TINY, tmp_path / "run", should_stop=stop_after_two)
    assert part.interrupted and len(part.metrics) == 2
    resumed = train_rde(train, val, TINY, tmp_path / "run", resume=True)
    assert resumed.metrics == whole.metrics
    ww, wr = weights(whole), weights(resumed)
    assert all(torch.equal(ww[k], wr[k]) for k in ww)
    assert np.isfinite(resumed.best_validation)
