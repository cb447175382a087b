"""``algospace features``: one row per fast and slow bar with every indicator output."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.app.cli import main
from engine.wiring.features import feature_columns, write_features
from engine.wiring.schema import load_app_config

ROOT = Path(__file__).resolve().parents[2]
ES = ROOT / "config" / "es_5m_30m.toml"


def test_features_command_writes_every_bar_with_documented_columns(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["features", "--config", str(ES), "--out", str(out)]) == 0
    assert "536 rows (30m=76, 5m=460)" in capsys.readouterr().out
    table = pd.read_parquet(out / "features.parquet")
    loaded = load_app_config(ES)
    assert list(table.columns) == feature_columns(loaded.config)
    assert (table["ts_event"].diff().dropna() >= 0).all()
    assert (out / "manifest.json").is_file() and (out / "features.json").is_file()


def test_slow_values_sit_on_slow_rows_and_equal_ta_lib(tmp_path):
    loaded = load_app_config(ES)
    path = tmp_path / "f.parquet"
    write_features(loaded.config, loaded.data_path, path)
    table = pd.read_parquet(path)
    slow = table[table["timeframe"] == "30m"]
    fast = table[table["timeframe"] == "5m"]
    assert fast["rsi14"].isna().all() and fast["ha_close"].isna().all()
    close = slow["close"].to_numpy()
    np.testing.assert_allclose(slow["rsi14"].to_numpy(), talib.RSI(close, 14), equal_nan=True)
    np.testing.assert_allclose(slow["atr14"].to_numpy(),
                               talib.ATR(slow["high"].to_numpy(), slow["low"].to_numpy(), close,
                                         14), equal_nan=True)
    np.testing.assert_allclose(fast["atr14"].to_numpy(),
                               talib.ATR(fast["high"].to_numpy(), fast["low"].to_numpy(),
                                         fast["close"].to_numpy(), 14), equal_nan=True)


def test_no_look_ahead_truncated_data_gives_the_same_rows(tmp_path):
    loaded = load_app_config(ES)
    full = tmp_path / "full.parquet"
    write_features(loaded.config, loaded.data_path, full)
    data = pd.read_csv(loaded.data_path)
    cut = tmp_path / "cut.csv"
    data.iloc[:1200].to_csv(cut, index=False)
    part = tmp_path / "part.parquet"
    write_features(loaded.config, cut, part)
    a, b = pd.read_parquet(full), pd.read_parquet(part)
    pd.testing.assert_frame_equal(a.iloc[:len(b)].reset_index(drop=True), b)


_MINUTES = pd.read_csv(load_app_config(ES).data_path)


@settings(max_examples=30)
@given(cut=st.integers(1, _MINUTES.shape[0] - 1), ticks=st.integers(-40, 40),
       volume=st.floats(0.0, 5.0), drop=st.booleans())
def test_changing_bars_after_t_never_changes_a_row_at_or_before_t(cut, ticks, volume, drop):
    """Every indicator through the real pipeline: the input minutes from ``cut`` on are moved
    by ``ticks`` and their volume scaled (or dropped); every row that closed by the end of the
    last untouched minute is identical, and the rows stay in time order."""
    loaded = load_app_config(ES)
    changed = _MINUTES.copy()
    if drop:
        changed = changed.iloc[:cut]
    else:
        prices = ["open", "high", "low", "close"]
        changed.loc[cut:, prices] = changed.loc[cut:, prices] + 0.25 * ticks
        changed.loc[cut:, "volume"] = (changed.loc[cut:, "volume"] * volume).round()
    with tempfile.TemporaryDirectory() as tmp:
        base, other = Path(tmp) / "base.parquet", Path(tmp) / "other.parquet"
        write_features(loaded.config, loaded.data_path, base)
        data = Path(tmp) / "changed.csv"
        changed.to_csv(data, index=False)
        write_features(loaded.config, data, other)
        a, b = pd.read_parquet(base), pd.read_parquet(other)
    last = pd.Timestamp(_MINUTES["timestamp"].iloc[cut - 1]).value + 60 * 10**9  # its close
    keep_a, keep_b = a[a["ts_event"] <= last], b[b["ts_event"] <= last]
    assert len(keep_a) > 0 or cut < 30
    pd.testing.assert_frame_equal(keep_a.reset_index(drop=True), keep_b.reset_index(drop=True))


BTC = ROOT / "config" / "btcusd_1h.toml"


def test_mmd_features_sit_on_slow_rows_and_equal_the_kernel_over_the_slow_bars(tmp_path):
    import json

    from components.regime.mmd import MMD_FEATURE_NAMES, Mmd, MmdConfig
    from engine.core.chunks import BarChunk
    from engine.wiring.artifacts import load_artifacts

    out = tmp_path / "run"
    assert main(["features", "--config", str(BTC), "--out", str(out)]) == 0
    table = pd.read_parquet(out / "features.parquet")
    columns = [c if c.startswith("mmd_") else f"mmd_{c}" for c in MMD_FEATURE_NAMES]
    assert columns == [c for c in table.columns if c.startswith("mmd_")] and len(columns) == 23
    slow, fast = table[table["timeframe"] == "4h"], table[table["timeframe"] == "1h"]
    assert fast[columns].isna().all().all()
    loaded = load_app_config(BTC)
    artifacts = load_artifacts(loaded)
    assert artifacts.mmd is not None
    ts = slow["ts_open"].to_numpy(np.int64)
    chunk = BarChunk(ts, slow["ts_event"].to_numpy(np.int64),
                     *(slow[c].to_numpy(np.float64) for c in ("open", "high", "low", "close",
                                                             "volume")))
    expected = Mmd(MmdConfig(reference=artifacts.mmd.reference, version=artifacts.mmd.version,
                             timeframe="4h")).on_chunk(chunk)
    np.testing.assert_array_equal(slow[columns].to_numpy(), expected)
    assert slow[columns].iloc[:119].isna().all().all()
    assert slow[columns].iloc[119:].notna().all().all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["models"] == [{"name": "mmd_reference/btcusd_1h",
                                   "version": artifacts.mmd.version,
                                   "sha256": artifacts.mmd.sha256},
                                  {"name": "rde/btcusd_1h", "version": artifacts.rde.version,
                                   "sha256": artifacts.rde.manifest.sha256}]
    rde = [f"rde_{i}" for i in range(8)]  # the regime vector, from its first ready window on
    assert fast[rde].isna().all().all() and slow[rde].notna().all(axis=1).sum() > 4500


def test_an_mmd_reference_of_another_timeframe_or_a_missing_one_is_refused(tmp_path):
    import msgspec

    from engine.core.errors import ConfigError, EngineError, ModelError
    from engine.wiring.artifacts import load_artifacts
    from engine.wiring.features import build_indicators
    from engine.wiring.schema import LoadedConfig

    loaded = load_app_config(BTC, ["timeframes.slow=8h"])
    with pytest.raises(ModelError, match=r"regime.model: rde/btcusd_1h/[0-9a-f]{12} was "
                       r"trained on BTCUSD 4h bars, this run has BTCUSD 8h bars"):
        load_artifacts(loaded)
    loaded = LoadedConfig(msgspec.structs.replace(loaded.config, regime=None), loaded.path)
    with pytest.raises(ConfigError, match=r"fitted on BTCUSD 4h bars, this run computes MMD "
                                          r"on BTCUSD 8h bars"):
        build_indicators(loaded.config, load_artifacts(loaded))
    with pytest.raises(ConfigError, match="was not loaded"):
        build_indicators(loaded.config)
    missing = load_app_config(BTC, [f"indicators.mmd.reference={tmp_path / 'none'}"])
    with pytest.raises(EngineError, match="none"):
        load_artifacts(missing)
