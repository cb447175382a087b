"""The RegimeDetector on replayed real BTC data: one RegimeVector per ready slow bar, whose mu
is the model's encoding of exactly the window the trainer collects for that bar (training /
serving parity); snapshot/restore mid-stream; no look-ahead across a cut of the data; the
caller's random numbers untouched."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from components.assemblers import RegimeAssemblerConfig
from components.regime.detector import RegimeDetector, RegimeDetectorConfig, encode_window
from components.regime.model import RegimeModel, RegimeModelConfig
from engine.core.events import Bar, LvnLevels, MmdFeatures, RegimeVector
from engine.wiring.artifacts import load_artifacts
from engine.wiring.features import build_indicators
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.registry import weights_bytes
from engine.wiring.schema import load_app_config
from replay.train.rde_data import collect_regime_rows, regime_sources

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
WINDOW = 24
TINY = RegimeModelConfig(window=WINDOW, d_model=16, heads=2, layers=1, feedforward=32,
                         decoder_layers=1)
ASSEMBLER = RegimeAssemblerConfig(timeframe="4h", window=WINDOW)


def network():
    torch.manual_seed(3)
    net = RegimeModel(TINY)
    with torch.no_grad():  # spread the weights so mu varies visibly between windows
        for p in net.parameters():
            p.mul_(3.0)
    return net.eval()


def detector_config(net):
    return RegimeDetectorConfig(model=TINY, weights=weights_bytes(net), version="rde/test/0",
                                assembler=ASSEMBLER)


def subset(tmp_path, rows):
    path = tmp_path / f"btc_{rows}.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:rows].to_csv(
        path, index=False)
    return path


def replay(data, net):
    """The detector on the bus with every indicator: its vectors, and the events it read."""
    loaded = load_app_config(BTC)
    pipeline = build_replay_pipeline(loaded.config, data)
    for component in regime_sources(build_indicators(loaded.config, load_artifacts(loaded))):
        pipeline.bus.subscribe(component)
    detector = RegimeDetector(detector_config(net))
    pipeline.bus.subscribe(detector)
    vectors, inputs = [], []
    pipeline.bus.subscribe_handler(RegimeVector, lambda e: vectors.append(e) or (), "probe")
    pipeline.bus.add_tap(lambda e: inputs.append(e) if type(e) in detector.inputs else None)
    pipeline.run()
    return vectors, inputs


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = subset(tmp_path_factory.mktemp("detector"), 3000)
    net = network()
    vectors, inputs = replay(data, net)
    loaded = load_app_config(BTC)
    rows = collect_regime_rows(loaded.config, data, load_artifacts(loaded), ASSEMBLER)
    return net, vectors, inputs, rows, data


def test_one_vector_per_ready_window_equal_to_the_training_windows(run):
    net, vectors, _, rows, _ = run
    windows, ends = rows.windows()
    assert len(windows) > 300
    assert [v.ts_event for v in vectors] == ends.tolist()
    for vector, window in zip(vectors, windows, strict=True):
        assert vector.mu == encode_window(net, np.ascontiguousarray(window))
        assert vector.model == "rde/test/0" and vector.timeframe == "4h"
    mus = np.array([v.mu for v in vectors])
    assert mus.std(axis=0).min() > 1e-3  # the vectors move with the market
    with torch.no_grad():  # the batched autograd path agrees to rounding
        batch_mu, _ = net.encode(torch.from_numpy(np.ascontiguousarray(windows)))
    np.testing.assert_allclose(mus, batch_mu.numpy(), rtol=1e-4, atol=1e-5)


def test_snapshot_restore_mid_stream_continues_identically(run):
    net, vectors, inputs, _, _ = run
    config = detector_config(net)
    cut = len(inputs) * 3 // 5
    first = RegimeDetector(config)
    out = [e for event in inputs[:cut] for e in first.on_event(event)]
    second = RegimeDetector(config)
    second.restore(first.snapshot())
    out += [e for event in inputs[cut:] for e in second.on_event(event)]
    assert out == vectors
    first.reset()
    assert not first.ready and first.snapshot() == RegimeDetector(config).snapshot()


def test_no_look_ahead_across_a_cut_of_the_data(run, tmp_path):
    net, vectors, _, _, _ = run
    shorter, _ = replay(subset(tmp_path, 2200), net)
    assert len(shorter) > 100
    assert shorter == vectors[:len(shorter)]


def test_ignores_other_timeframes_and_leaves_the_random_generator_alone(run):
    net, _, inputs, _, _ = run
    state = torch.get_rng_state()
    detector = RegimeDetector(detector_config(net))
    assert torch.equal(torch.get_rng_state(), state)
    other = [e for e in inputs if getattr(e, "timeframe", None) == "4h"][:50]
    relabelled = [type(e)(**{**{f: getattr(e, f) for f in e.__struct_fields__},
                            "timeframe": "1h"}) for e in other]
    assert all(not detector.on_event(e) for e in relabelled)
    assert isinstance(other[0], Bar | MmdFeatures | LvnLevels)


def test_config_refuses_mismatched_shapes():
    net = network()
    with pytest.raises(ValueError, match=r"model.window: expected the assembler's window"):
        RegimeDetectorConfig(model=TINY, weights=weights_bytes(net), version="x",
                             assembler=RegimeAssemblerConfig(timeframe="4h", window=96))
    with pytest.raises(ValueError, match=r"model.latent: expected 8"):
        RegimeDetectorConfig(model=RegimeModelConfig(window=WINDOW, latent=4),
                             weights=b"", version="x", assembler=ASSEMBLER)
