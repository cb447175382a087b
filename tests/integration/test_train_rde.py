"""RDE training on real replayed regime windows, tiny model: deterministic for a seed, an
interrupted run resumed equals the uninterrupted one, metrics written, the loss falls; the
collapse guard: the stride rule and the latent gain."""

import json
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest
import torch

from components.assemblers import RegimeAssemblerConfig
from components.regime.model import RegimeModelConfig
from engine.wiring.artifacts import load_artifacts
from engine.wiring.schema import load_app_config
from replay.train.rde_data import collect_regime_rows, split_windows
from replay.train.rde_run import collapsed
from replay.train.train_rde import RdeTrainConfig, effective_stride, evaluate, train_rde

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
WINDOW = 24  # a short regime window keeps the suite fast; the default is 96
TINY = RdeTrainConfig(model=RegimeModelConfig(window=WINDOW, d_model=16, heads=2, layers=1,
                                              feedforward=32, decoder_layers=1),
                      epochs=4, batch_size=32, beta_warmup_epochs=2, patience=10,
                      min_updates=1)


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    """Real BTC regime windows of 24 rows (the first 3,600 hours: 900 slow bars), every 4th
    of the splits (the trainer's mechanics and the collapse guard, not the model's
    quality)."""
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


def test_the_stride_is_lowered_until_the_epochs_make_min_updates_steps():
    config = RdeTrainConfig(epochs=40, batch_size=64, stride=4, min_updates=500)
    # the committed BTC model's 3,369 windows: 14 steps an epoch at stride 4, 560 in all
    assert effective_stride(config, 3369) == 4
    # a 240-day fold's 857 windows: 160 steps at stride 4, 280 at 2, 560 at 1
    assert effective_stride(config, 857) == 1
    assert effective_stride(config, 1800) == 2  # 8 steps at 4 (320), 15 at 2 (600)
    assert effective_stride(config, 10) == 1  # too few windows for any stride
    assert effective_stride(msgspec.structs.replace(config, min_updates=1), 857) == 4


def test_the_step_floor_turns_a_collapsed_latent_into_a_used_one(windows, tmp_path):
    """The same windows, config and seed: at stride 4 (the floor off) 30 epochs make about 60
    steps and the latent collapses (measured: gain 0.01, 2 of 8 units active); with the floor
    (stride 1, about 150 steps) it is used (gain 0.14, 8 units)."""
    train, val = windows
    config = msgspec.structs.replace(TINY, epochs=30, patience=30, lr=3e-3)
    x = torch.from_numpy(np.ascontiguousarray(train))
    short = train_rde(train, val, config, tmp_path / "short")
    floor = train_rde(train, val, msgspec.structs.replace(config, min_updates=150),
                      tmp_path / "floor")
    assert (short.stride, floor.stride) == (4, 1)
    few, many = evaluate(short.model, x, 0.0, 64), evaluate(floor.model, x, 0.0, 64)
    latent = config.model.latent
    assert collapsed(few, latent) and not collapsed(many, latent)
    assert many["latent_gain"] > 0.1 > few["latent_gain"]
    assert many["recon"] < few["recon"]
    with torch.no_grad():
        floor.model.expand.weight.zero_()  # now decode(z) is the same for every z
    ignored = evaluate(floor.model, x, 0.0, 64)
    assert abs(ignored["latent_gain"]) < 1e-6 and collapsed(ignored, latent)
