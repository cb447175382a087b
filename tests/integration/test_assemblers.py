"""Matrix assemblers on real replayed data: one row per bar of their own timeframe, the
incremental matrices equal rows computed independently from the feature table, every value in
[-1, 1], byte-identical to the plain-Python assemblers the kernels replaced, snapshot/restore
mid-run."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.assemblers import (
    FAST_COLUMNS,
    REGIME_COLUMNS,
    SLOW_COLUMNS,
    FastAssembler,
    FastAssemblerConfig,
    RegimeAssembler,
    RegimeAssemblerConfig,
    SlowAssembler,
    SlowAssemblerConfig,
)
from components.regime.mmd import MMD_FEATURE_NAMES
from engine.core.events import Bar
from engine.wiring.artifacts import load_artifacts
from engine.wiring.features import build_indicators, write_features
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import load_app_config

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"
HOURS = 2400  # 600 slow (4h) bars: past the MMD warm-up and every window
# the Python assemblers before the kernels (tests/property/test_assembler_kernels.py)
_spec = importlib.util.spec_from_file_location(
    "assembler_reference", ROOT / "tests" / "property" / "test_assembler_kernels.py")
assert _spec is not None and _spec.loader is not None
_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_reference)


def replay_matrices(hours, tmp):
    """Replay the first ``hours`` BTC bars with every indicator and the three assemblers: the
    matrix of each after every bar of its timeframe, the assemblers and the delivered events."""
    data = tmp / f"btc_{hours}.csv"
    pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:hours].to_csv(
        data, index=False)
    loaded = load_app_config(BTC)
    config, artifacts = loaded.config, load_artifacts(loaded)
    assemblers = {"slow": SlowAssembler(SlowAssemblerConfig(timeframe="4h")),
                  "fast": FastAssembler(FastAssemblerConfig(timeframe="1h")),
                  "regime": RegimeAssembler(RegimeAssemblerConfig(timeframe="4h"))}
    pipeline = build_replay_pipeline(config, data)
    seen = {name: [] for name in assemblers}

    def probe(bar: Bar):  # before the assemblers: their matrices end at the previous bar
        for name, a in assemblers.items():
            if bar.timeframe == a.config.timeframe and a._buffer.count:
                seen[name].append(a.matrix())
        return ()

    events = []
    pipeline.bus.add_tap(events.append)
    pipeline.bus.subscribe_handler(Bar, probe, "probe")
    for component in build_indicators(config, artifacts):
        pipeline.bus.subscribe(component)
    for a in assemblers.values():
        pipeline.bus.subscribe(a)
    pipeline.run()
    for name, a in assemblers.items():
        seen[name].append(a.matrix())
    return data, seen, assemblers, events


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """Matrices after every bar of each assembler's timeframe, and the feature table."""
    tmp = tmp_path_factory.mktemp("assemblers")
    data, seen, assemblers, events = replay_matrices(HOURS, tmp)
    loaded = load_app_config(BTC)
    write_features(loaded.config, data, tmp / "f.parquet", artifacts=load_artifacts(loaded))
    return pd.read_parquet(tmp / "f.parquet"), seen, assemblers, events


def ew_scores(xs, span, clip=3.0):
    """The documented z-score, written out: against the EW mean/variance of earlier values."""
    alpha, mean, var, out = 2 / (span + 1), 0.0, 0.0, []
    for n, x in enumerate(xs):
        out.append(0.0 if n < 2 or var <= 0 else max(-1, min(1, (x - mean) / math.sqrt(var)
                                                              / clip)))
        if n == 0:
            mean = x
        else:
            d = x - mean
            mean += alpha * d
            var = (1 - alpha) * (var + d * alpha * d)
    return np.array(out)


def expected_slow(slow):
    close = slow["close"].to_numpy()
    out = np.zeros((len(slow), len(SLOW_COLUMNS)))
    out[:, 0] = np.clip(slow["mlmi_value"].ffill().fillna(0) / 200, -1, 1)
    out[:, 1] = slow["mlmi_signal"].fillna(0)
    dist = np.clip((slow["nwrqk_yhat1"] - close) / close / 0.05, -1, 1)
    out[:, 2] = dist.ffill().fillna(0)
    defined = slow["nwrqk_slope"].notna().to_numpy()
    scores = np.zeros(len(slow))
    scores[defined] = ew_scores((slow["nwrqk_slope"] / close)[defined].tolist(), 100)
    out[:, 3] = pd.Series(np.where(defined, scores, np.nan)).ffill().fillna(0)
    out[:, 4] = slow["nwrqk_signal"].fillna(0)
    for col, side in ((5, "support"), (7, "resistance")):
        has = slow["lvn_poc_price"].notna()  # an LVN row exists (the side may be empty)
        prox = np.where(slow[f"lvn_{side}_distance"].notna(),
                        np.exp(-100 * slow[f"lvn_{side}_distance"] / close), 0.0)
        strength = slow[f"lvn_{side}_strength"].fillna(0) / 100
        out[:, col] = pd.Series(np.where(has, prox, np.nan)).ffill().fillna(0)
        out[:, col + 1] = pd.Series(np.where(has, strength, np.nan)).ffill().fillna(0)
    ts = slow["ts_event"].to_numpy()
    hour = (ts % 86_400_000_000_000) / 3.6e12
    weekday = (ts // 86_400_000_000_000 + 3) % 7
    out[:, 9], out[:, 10] = np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)
    out[:, 11], out[:, 12] = np.sin(2 * np.pi * weekday / 7), np.cos(2 * np.pi * weekday / 7)
    return out


def expected_fast(fast):
    close = fast["close"].to_numpy()
    volume = fast["volume"].to_numpy()
    out = np.zeros((len(fast), len(FAST_COLUMNS)))
    out[:, 0] = fast["fvg_bullish_count"] > 0
    out[:, 1] = fast["fvg_bearish_count"] > 0
    out[:, 2] = np.clip((fast["fvg_nearest_level"] - close) / close / 0.02, -1, 1).fillna(0)
    out[:, 3] = np.exp(-fast["fvg_nearest_age"] / 10).fillna(0)
    out[:, 4] = np.clip(fast["fvg_nearest_size_pct"], 0, 1).fillna(0)
    out[:, 5] = fast["fvg_bullish_mitigated"] - fast["fvg_bearish_mitigated"]
    logs = np.log(close[5:] / close[:-5])
    out[5:, 6] = ew_scores(logs.tolist(), 200)
    ema = volume[0]
    for i in range(1, len(fast)):
        out[i, 7] = 0 if ema <= 0 else (-1 if volume[i] <= 0
                                        else math.tanh(math.log(volume[i] / ema)))
        ema = 0.02 * volume[i] + 0.98 * ema
    return out


def expected_regime(slow):
    names = [c if c.startswith("mmd_") else f"mmd_{c}" for c in MMD_FEATURE_NAMES]
    mmd = slow[names].to_numpy()
    defined = ~np.isnan(mmd[:, 0])
    rows = np.full((len(slow), len(REGIME_COLUMNS)), np.nan)
    m = mmd[defined]
    r = rows[defined]
    r[:, :7] = np.clip(m[:, :7] / math.sqrt(2), -1, 1)
    for name in ("return", "log_return", "range", "volatility", "momentum_5", "momentum_10",
                 "momentum_20", "momentum_50", "volume_ratio", "volatility_ratio"):
        i = MMD_FEATURE_NAMES.index(name)
        x = np.log(np.maximum(m[:, i], 1e-12)) if name.endswith("ratio") else m[:, i]
        r[:, i] = ew_scores(x.tolist(), 200)
    i = MMD_FEATURE_NAMES.index
    r[:, i("skew_50")] = np.clip(m[:, i("skew_50")] / 3, -1, 1)
    r[:, i("kurtosis_50")] = np.clip(m[:, i("kurtosis_50")] / 10, -1, 1)
    r[:, i("rsi_14")] = (m[:, i("rsi_14")] - 50) / 50
    r[:, i("mmd_mean")] = np.clip(m[:, i("mmd_mean")] / math.sqrt(2), -1, 1)
    r[:, i("mmd_min")] = np.clip(m[:, i("mmd_min")] / math.sqrt(2), -1, 1)
    r[:, i("mmd_nearest")] = m[:, i("mmd_nearest")] / 6 * 2 - 1
    rows[defined] = r
    rows[:, :23] = pd.DataFrame(rows[:, :23]).ffill().fillna(0).to_numpy()
    close = slow["close"].to_numpy()
    returns = close[1:] / close[:-1] - 1
    vol = pd.Series(returns).rolling(30).std(ddof=0).to_numpy()
    rows[:, 23] = 0.0
    rows[30:, 23] = ew_scores(vol[29:].tolist(), 200)
    has = slow["lvn_poc_price"].notna().to_numpy()
    poc = np.full(len(slow), np.nan)
    poc[has] = ew_scores(((close - slow["lvn_poc_price"]) / close)[has].tolist(), 200)
    rows[:, 24] = pd.Series(poc).ffill().fillna(0)
    rows[:, 25] = 0.0
    rows[2:, 25] = ew_scores(np.diff(returns).tolist(), 200)
    return rows


@pytest.mark.parametrize(("name", "timeframe", "expected", "window"), [
    ("slow", "4h", expected_slow, 48), ("fast", "1h", expected_fast, 60),
    ("regime", "4h", expected_regime, 96)])
def test_one_row_per_bar_equal_to_independent_rows_and_bounded(replay, name, timeframe,
                                                                expected, window):
    table, seen, assemblers, _ = replay
    bars = table[table["timeframe"] == timeframe].reset_index(drop=True)
    rows = expected(bars).astype(np.float32)
    matrices = seen[name]
    assert len(matrices) == len(bars)  # one row per bar of its timeframe, no more
    for t, matrix in enumerate(matrices):
        want = rows[max(0, t - window + 1): t + 1]
        assert matrix.dtype == np.float32 and matrix.shape == want.shape
        np.testing.assert_allclose(matrix, want, rtol=2e-6, atol=2e-7,
                                   err_msg=f"{name} matrix after bar {t}")
        assert np.isfinite(matrix).all() and np.abs(matrix).max() <= 1.0
    assert assemblers[name].ready


@pytest.mark.parametrize("name", ["slow", "fast", "regime"])
def test_byte_identical_to_the_python_assemblers_at_every_event(replay, name):
    _, _, assemblers, events = replay
    config = assemblers[name].config
    new = type(assemblers[name])(config)
    ref = _reference.REFERENCE[type(new)](config)
    for i, event in enumerate(events):
        if type(event) in new.inputs:
            ref.on_event(event)
            new.on_event(event)
            _reference.assert_same(ref, new, f"{name} after event {i}")
            _reference.assert_same_internals(ref, new, f"{name} after event {i}")
    assert new.ready


@pytest.mark.parametrize("name", ["slow", "fast", "regime"])
@pytest.mark.parametrize("split", [1, 977, 4321])
def test_snapshot_restore_mid_run_continues_identically(replay, name, split):
    _, _, assemblers, events = replay
    config = assemblers[name].config
    whole, first = type(assemblers[name])(config), type(assemblers[name])(config)
    for e in events:
        whole.on_event(e)
    for e in events[:split]:
        first.on_event(e)
    second = type(assemblers[name])(config)
    second.restore(first.snapshot())
    for e in events[split:]:
        second.on_event(e)
    np.testing.assert_array_equal(second.matrix(), whole.matrix())
    np.testing.assert_array_equal(whole.matrix(), assemblers[name].matrix())
    assert second.snapshot() == whole.snapshot() and second.ready == whole.ready


@pytest.mark.parametrize("cut", [1001, 1777])
def test_matrices_before_a_cut_do_not_depend_on_later_bars(replay, tmp_path, cut):
    _, whole, _, _ = replay
    _, part, _, _ = replay_matrices(cut, tmp_path)
    for name in whole:
        assert len(part[name]) < len(whole[name])
        for t, matrix in enumerate(part[name]):
            np.testing.assert_array_equal(matrix, whole[name][t], err_msg=f"{name} bar {t}")
