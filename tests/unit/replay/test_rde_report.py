"""The RDE evaluation report: its arithmetic, determinism and input checks.

The rows are synthetic (this tests the statistics, not a market claim) but structured: the
bars run through MMD regimes in blocks, and the regime drives some columns, the
``mmd_nearest`` column and the volatility and drift of the close.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import msgspec
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from components.assemblers.regime import REGIME_COLUMNS
from components.regime.model import RegimeModel, RegimeModelConfig
from replay.train.rde_data import RegimeRows, Split, split_windows
from replay.train.rde_report import (
    RdeReport,
    eta_squared,
    eta_squared_per_dim,
    format_rde_report,
    future_returns,
    knn_accuracy,
    mmd_regimes,
    rank_average,
    rde_report,
    ridge_r2,
    spearman,
)

BARS, WINDOW, HORIZON = 240, 8, 6
NEAREST = REGIME_COLUMNS.index("mmd_nearest")
HOUR4_NS = 4 * 3600 * 1_000_000_000


def _rows() -> RegimeRows:
    rng = np.random.default_rng(0)
    regime = (np.arange(BARS) // 12) % 7  # blocks of 12 bars
    rows = rng.normal(0.0, 0.1, (BARS, len(REGIME_COLUMNS)))
    rows[np.arange(BARS), regime] -= 0.8  # the nearest reference scores low
    rows[:, 10] += (regime - 3) / 3.0  # volatility column
    rows[:, NEAREST] = regime / 6.0 * 2.0 - 1.0
    log_returns = rng.normal((regime - 3) * 1e-3, 0.004 * (1 + regime))
    close = 10_000.0 * np.exp(np.cumsum(log_returns))
    ready = np.arange(BARS) >= 10  # the windows ending at bars 7..9 are not ready
    ts = 1_500_000_000 * 10**9 + np.arange(BARS, dtype=np.int64) * HOUR4_NS
    return RegimeRows(rows.astype(np.float32), ts, close, ready, WINDOW)


def _model() -> RegimeModel:
    torch.manual_seed(0)
    return RegimeModel(RegimeModelConfig(window=WINDOW, d_model=16, heads=2, layers=1,
                                         feedforward=32, decoder_layers=1))


@pytest.fixture(scope="module")
def rows() -> RegimeRows:
    return _rows()


@pytest.fixture(scope="module")
def split(rows: RegimeRows) -> Split:
    return split_windows(rows.windows()[0].shape[0], WINDOW)


@pytest.fixture(scope="module")
def run(rows: RegimeRows, split: Split, tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[RegimeModel, RdeReport, Path, bytes, bytes]:
    out = tmp_path_factory.mktemp("rde")
    model = _model()
    report = rde_report(model, rows, split, out, horizon=HORIZON, batch=16)
    return (model, report, out, (out / "rde_report.json").read_bytes(),
            (out / "latent.png").read_bytes())


def test_report_files_are_written_and_byte_identical(
        run: tuple[RegimeModel, RdeReport, Path, bytes, bytes], rows: RegimeRows,
        split: Split) -> None:
    model, report, out, json_bytes, png_bytes = run
    assert png_bytes.startswith(b"\x89PNG") and b"Software" not in png_bytes
    assert msgspec.json.decode(json_bytes, type=RdeReport) == report
    assert report.plot == str(out / "latent.png")
    again = rde_report(_model(), rows, split, out, horizon=HORIZON, batch=16)
    assert again == report
    assert (out / "rde_report.json").read_bytes() == json_bytes
    assert (out / "latent.png").read_bytes() == png_bytes


def test_model_mode_is_restored(run: tuple[RegimeModel, RdeReport, Path, bytes, bytes]
                                ) -> None:
    assert run[0].training  # a fresh module trains; the report ran it in eval mode


def test_reconstruction_matches_an_independent_computation(
        run: tuple[RegimeModel, RdeReport, Path, bytes, bytes], rows: RegimeRows,
        split: Split) -> None:
    model, report, *_ = run
    windows, _ = rows.windows()
    train_mean = windows[split.train].astype(np.float64).mean(axis=(0, 1))
    model.eval()
    try:
        for name in ("train", "validation", "test"):
            x = np.ascontiguousarray(windows[getattr(split, name)])
            with torch.no_grad():
                recon, mu, log_var = model(torch.from_numpy(x))
            got = getattr(report, name)
            assert got.windows == x.shape[0]
            assert got.reconstruction.model_mse == pytest.approx(
                F.mse_loss(recon, torch.from_numpy(x)).item(), rel=1e-5)
            x64 = x.astype(np.float64)
            assert got.reconstruction.window_mean_mse == pytest.approx(
                ((x64 - x64.mean(axis=1, keepdims=True)) ** 2).mean(), rel=1e-9)
            assert got.reconstruction.train_mean_mse == pytest.approx(
                ((x64 - train_mean) ** 2).mean(), rel=1e-9)
            assert got.latent.mu_mean == pytest.approx(mu.double().mean(0).tolist(), abs=1e-6)
            assert got.latent.posterior_variance == pytest.approx(
                log_var.double().exp().mean(0).tolist(), rel=1e-5)
            variance = mu.double().var(0)
            assert got.latent.active_units == int((variance > 0.01).sum())
    finally:
        model.train()


def _hand_future(close: np.ndarray, last: int, horizon: int) -> tuple[float, float]:
    returns = [math.log(close[last + j + 1] / close[last + j]) for j in range(horizon)]
    mean = sum(returns) / horizon
    return math.sqrt(sum((r - mean) ** 2 for r in returns) / horizon), sum(returns)


def test_future_volatility_and_trend_match_a_hand_computation(rows: RegimeRows) -> None:
    _, end_ts = rows.windows()
    last = int(np.searchsorted(rows.ts, end_ts[100]))
    assert rows.ts[last] == end_ts[100]
    volatility, trend, valid = future_returns(rows.close, [last], HORIZON)
    hand_vol, hand_trend = _hand_future(rows.close, last, HORIZON)
    assert valid.tolist() == [True]
    assert volatility[0] == pytest.approx(hand_vol, rel=1e-12)
    assert trend[0] == pytest.approx(hand_trend, rel=1e-12)
    assert trend[0] == pytest.approx(math.log(rows.close[last + HORIZON] / rows.close[last]))


def test_windows_without_a_full_horizon_are_excluded(
        run: tuple[RegimeModel, RdeReport, Path, bytes, bytes], rows: RegimeRows,
        split: Split) -> None:
    _, report, *_ = run
    _, end_ts = rows.windows()
    last = np.searchsorted(rows.ts, end_ts)
    _, _, valid = future_returns(rows.close, last, HORIZON)
    assert valid.tolist() == [i + HORIZON <= BARS - 1 for i in last]
    assert (~valid).sum() == HORIZON  # the last HORIZON bars end a window each
    assert report.future_excluded == HORIZON
    assert report.test.future.excluded == HORIZON
    assert report.train.future.excluded == report.validation.future.excluded == 0
    test_last = last[split.test]
    hand = [_hand_future(rows.close, int(i), HORIZON) for i in test_last
            if i + HORIZON <= BARS - 1]
    assert report.test.future.windows == len(hand)
    assert report.test.future.volatility_mean == pytest.approx(np.mean([h[0] for h in hand]))
    assert report.test.future.trend_mean == pytest.approx(np.mean([h[1] for h in hand]))
    # persistence baseline: the volatility of the HORIZON returns up to the last close
    past = [_hand_future(rows.close, int(i) - HORIZON, HORIZON)[0] for i in test_last
            if i + HORIZON <= BARS - 1]
    assert report.test.prediction.spearman_volatility_persistence == pytest.approx(
        spearman(past, [h[0] for h in hand]))


def test_regime_counts_come_from_the_last_rows(
        run: tuple[RegimeModel, RdeReport, Path, bytes, bytes], rows: RegimeRows,
        split: Split) -> None:
    _, report, *_ = run
    _, end_ts = rows.windows()
    last = np.searchsorted(rows.ts, end_ts)
    regime = (last // 12) % 7
    for name in ("train", "validation", "test"):
        counts = np.bincount(regime[getattr(split, name)], minlength=7)
        assert getattr(report, name).regimes.counts == counts.tolist()
    assert report.majority_regime == int(np.bincount(regime[split.train], minlength=7).argmax())
    assert 0.0 <= report.knn_test_accuracy <= 1.0


def test_eta_squared_is_one_for_grouped_values_and_zero_for_none() -> None:
    groups = np.repeat(np.arange(4), 25)
    centres = np.random.default_rng(1).normal(size=(4, 8))
    assert eta_squared(centres[groups], groups) == pytest.approx(1.0)
    assert eta_squared([[0.0], [2.0], [0.0], [2.0]], [0, 0, 1, 1]) == 0.0
    noise = np.random.default_rng(2).normal(size=(20_000, 8))
    assert eta_squared(noise, np.arange(20_000) % 7) < 1e-3
    # pooled: dimension 0 is all between-group, dimension 1 all within, equal totals
    values = [[0.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 2.0]]
    assert eta_squared(values, [0, 0, 1, 1]) == pytest.approx(0.5)
    assert eta_squared_per_dim(values, [0, 0, 1, 1]).tolist() == [1.0, 0.0]
    assert math.isnan(eta_squared([[1.0], [1.0]], [0, 1]))


def test_spearman_matches_a_hand_ranked_example() -> None:
    # y ranks 1, 2, 3.5, 5, 3.5 (the two 7s share ranks 3 and 4); x ranks 1..5
    assert rank_average([5, 6, 7, 8, 7]).tolist() == [1.0, 2.0, 3.5, 5.0, 3.5]
    assert spearman([10, 20, 30, 40, 50], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    # no ties: 1 - 6 sum d^2 / (n (n^2 - 1)), d = (0, -2, 1, 1, 0)
    assert spearman([1, 2, 3, 4, 5], [1, 4, 2, 3, 5]) == pytest.approx(1 - 6 * 6 / 120)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))


def test_knn_ridge_and_regime_helpers() -> None:
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0]])
    labels = np.arange(90) % 3
    points = centres[labels] + rng.normal(size=(90, 2))
    assert knn_accuracy(points[:60], labels[:60], points[60:], labels[60:]) == 1.0
    x = rng.normal(size=(50, 3))
    y = 2.0 * x[:, 0] - x[:, 1] + 3.0
    assert ridge_r2(x[:40], y[:40], x[40:], y[40:], alpha=1e-9) == pytest.approx(1.0)
    codes = (np.arange(7) / 6.0 * 2.0 - 1.0).astype(np.float32)
    assert mmd_regimes(codes).tolist() == list(range(7))
    with pytest.raises(ValueError, match="mmd_nearest"):
        mmd_regimes([0.1])


def test_format_summarises_the_report(run: tuple[RegimeModel, RdeReport, Path, bytes, bytes]
                                      ) -> None:
    _, report, out, *_ = run
    text = format_rde_report(report)
    for needle in ("recon MSE", "window-mean base", "active units", "ridge R2",
                   "eta2", "kNN(15)", "majority", str(out / "latent.png")):
        assert needle in text
    assert f"{report.test.reconstruction.model_mse:.4f}" in text


@pytest.mark.parametrize(("change", "match"), [
    ("split_count", "split.test"),
    ("empty_split", "split.validation"),
    ("window", "rows.window"),
    ("close_length", "rows.close"),
    ("horizon", "horizon"),
    ("batch", "batch"),
])
def test_bad_inputs_raise(rows: RegimeRows, split: Split, tmp_path: Path, change: str,
                          match: str) -> None:
    n = rows.windows()[0].shape[0]
    kwargs: dict[str, int] = {}
    if change == "split_count":
        split = split_windows(n + 5, WINDOW)
    elif change == "empty_split":
        split = Split(slice(0, 100), slice(100, 100), slice(100, n))
    elif change == "window":
        rows = replace(rows, window=WINDOW * 2)
    elif change == "close_length":
        rows = replace(rows, close=rows.close[:-1])
    elif change == "horizon":
        kwargs["horizon"] = 1
    else:
        kwargs["batch"] = 0
    with pytest.raises(ValueError, match=match):
        rde_report(_model(), rows, split, tmp_path, **kwargs)
    assert not (tmp_path / "rde_report.json").exists()
