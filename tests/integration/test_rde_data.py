"""RDE training data: the regime rows collected by replay are the rows the live assembler
builds, and equal those computed from ``algospace features`` for the same bars (the
training/serving parity test); windows and the chronological split."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.regime.detector import encode_window
from engine.wiring.artifacts import load_artifacts
from engine.wiring.features import write_features
from engine.wiring.schema import load_app_config
from replay.train.rde_data import collect_regime_rows, split_windows

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
# the independent oracle of the regime rows, written from the feature table's columns
_spec = importlib.util.spec_from_file_location(
    "assembler_oracles", Path(__file__).with_name("test_assemblers.py"))
assert _spec is not None and _spec.loader is not None
_oracles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_oracles)
expected_regime = _oracles.expected_regime


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rde")
    data = tmp / "btc.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:2400].to_csv(
        data, index=False)
    loaded = load_app_config(BTC)
    artifacts = load_artifacts(loaded)
    write_features(loaded.config, data, tmp / "f.parquet", artifacts=artifacts)
    table = pd.read_parquet(tmp / "f.parquet")
    return collect_regime_rows(loaded.config, data, artifacts), table


def test_training_rows_equal_the_rows_from_the_feature_table(replayed):
    got, table = replayed
    slow = table[table["timeframe"] == "4h"].reset_index(drop=True)
    assert got.rows.shape == (len(slow), 26) and got.rows.dtype == np.float32
    np.testing.assert_array_equal(got.ts, slow["ts_event"].to_numpy())
    np.testing.assert_allclose(got.rows, expected_regime(slow).astype(np.float32), rtol=2e-6,
                               atol=2e-7)
    # ready once a full window of complete rows exists, then for good
    first = int(np.argmax(got.ready))
    assert got.ready[first:].all() and not got.ready[:first].any()
    assert first >= 96 + 119  # the MMD warm-up, then a whole window


def test_the_regime_vectors_written_by_features_are_the_model_on_the_training_windows(
        replayed):
    """Serving parity: ``algospace features`` (the RegimeDetector on the bus) writes, for each
    ready slow bar, the registered model's mu of exactly the window the trainer collects."""
    got, table = replayed
    loaded = load_app_config(BTC)
    model = load_artifacts(loaded).rde.model
    slow = table[table["timeframe"] == "4h"].reset_index(drop=True)
    columns = [f"rde_{i}" for i in range(8)]
    windows, ends = got.windows()
    served = slow.set_index("ts_event").loc[ends, columns].to_numpy()
    expected = np.array([encode_window(model, np.ascontiguousarray(w)) for w in windows])
    np.testing.assert_array_equal(served, expected)
    assert slow[columns].notna().all(axis=1).sum() == len(windows) > 100


def test_windows_are_consecutive_ready_rows(replayed):
    got, _ = replayed
    windows, ends = got.windows()
    first = int(np.argmax(got.ready))
    assert windows.shape == (len(got.rows) - first, 96, 26)
    np.testing.assert_array_equal(windows[0], got.rows[first - 95: first + 1])
    np.testing.assert_array_equal(windows[-1], got.rows[-96:])
    assert ends[0] == got.ts[first] and ends[-1] == got.ts[-1]
    assert np.isfinite(windows).all() and np.abs(windows).max() <= 1.0


@pytest.mark.parametrize("n", [0, 1, 50, 400, 1000])
def test_split_is_chronological_and_later_splits_share_no_row(n):
    s = split_windows(n, 96)
    parts = [range(n)[p] for p in (s.train, s.validation, s.test)]
    for earlier, later in zip(parts, parts[1:], strict=False):
        if len(earlier) and len(later):
            assert later[0] - earlier[-1] >= 96  # windows ending 96 apart share no row
    assert len(parts[0]) == int(n * 0.7)
    assert all(0 <= i < n for p in parts for i in p)
