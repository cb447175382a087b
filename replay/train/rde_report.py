"""The RDE's evaluation report: do the learned regime vectors mean something? (training layer)

``rde_report(model, rows, split, out_dir)`` runs a trained :class:`RegimeModel` over every
ready window of :class:`~replay.train.rde_data.RegimeRows` (eval mode, no gradients, ``z = mu``) and
writes ``rde_report.json`` (an :class:`RdeReport`, sorted keys) and ``latent.png``. Every
statistic is given per split (train / validation / test,
:func:`~replay.train.rde_data.split_windows`);
anything fitted is fitted on train and scored on the later splits, so the test numbers are out
of sample. How to read them:

Reconstruction
    ``model_mse``: mean squared error per value of the decoded window. It is set beside two
    naive baselines: ``window_mean_mse`` predicts every row of a window by that window's own
    column means (26 numbers per window, more than the 8 latent dimensions carry, so a decoder
    near or above it reconstructs little beyond the window's level), ``train_mean_mse`` predicts
    the train set's column means everywhere (a model that ignores its input). A model that does
    not beat ``train_mean_mse`` has learned nothing about the windows.
Latent
    Per dimension of ``mu``: mean and std over the split, the mean posterior variance
    ``exp(log_var)`` (near 1 with a ``mu`` near 0 means the dimension is collapsed to the prior),
    the KL to ``N(0, 1)``, and ``active_units``: dimensions whose ``mu`` varies over the split
    (unbiased variance above 0.01, the trainer's rule). Only active units can carry a regime.
Future
    The label: over the ``horizon`` slow bars after a window's last bar, the log returns of the
    close; ``volatility`` is their population std (ddof 0), ``trend`` their sum (the log return
    over the horizon). A window is mapped to its last row by ``searchsorted(rows.ts, end_ts)``;
    windows whose horizon runs past the data are left out of every statistic that uses the
    future (``future_excluded``). The future is used only as a label, never as an input.
Prediction
    Spearman rank correlation (average ranks for ties) of each ``mu`` dimension with the future
    volatility and trend, and the R² of a ridge fit (``mu`` standardised on train, intercept
    unpenalised, ``RIDGE_ALPHA``) of each from all dimensions, fitted on train. R² on train is
    in sample; on validation and test it can be negative (worse than the split's mean). |rho|
    around 0.05 is noise at a few hundred windows. Volatility clusters, so future volatility
    is partly predictable from the past alone: ``*_persistence`` are the same two scores for
    the realised volatility of the ``horizon`` log returns up to the window's last close. A
    regime vector earns its keep by beating that baseline, not by a large rho on its own.
Regimes
    Each window's MMD regime is the ``mmd_nearest`` column of its last row (the nearest of the 7
    k-means reference regimes, 0 most bearish .. 6 most bullish). Per split: window count and
    mean ``mu`` per regime, and ``eta_squared``: between-regime sum of squares over total sum of
    squares of ``mu`` pooled over dimensions (the R² of a one-way ANOVA; 1 when ``mu`` is
    constant within each regime, about 0 when it does not depend on the regime), also per
    dimension. ``knn_*``: accuracy of a k-nearest-neighbour vote (euclidean on ``mu``
    standardised by train, fitted on train) predicting the regime; ``majority_*`` is the
    accuracy of always predicting train's most frequent regime, and ``best_constant_*`` the
    share of the split's own most frequent regime (the best any constant could do).
Projection
    ``latent.png``: PCA of ``mu`` (fitted on train by SVD; each axis signed so its largest
    loading is positive) of all windows, in three panels coloured by future volatility, future
    trend (diverging, centred on 0) and MMD regime. Train is small faint circles, validation
    squares, test triangles with thin dark edges; windows without a future are grey.

Everything is deterministic: no random numbers, stable sorts and lowest-index tie breaks, and
the PNG is saved at a fixed dpi without the ``Software`` tag, so identical inputs give
byte-identical files with the same library versions. Undefined values (a correlation against a
constant, an empty regime) are ``null`` in the JSON.
"""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt
import torch

from components.assemblers.regime import REGIME_COLUMNS
from components.regime.mmd import N_SETS
from components.regime.model import RegimeModel
from replay.train.rde_data import RegimeRows, Split
from replay.train.rde_plot import Projection, pca
from replay.train.rde_plot import plot as draw
from replay.train.rde_stats import (
    KNN_K,
    RIDGE_ALPHA,
    eta_squared,
    eta_squared_per_dim,
    future_returns,
    knn_accuracy,
    mmd_regimes,
    rank_average,
    ridge_r2,
    spearman,
)

__all__ = [
    "KNN_K", "RIDGE_ALPHA", "FutureStats", "LatentStats", "Prediction", "Projection",
    "RdeReport", "Reconstruction", "RegimeStats", "SplitReport", "eta_squared",
    "eta_squared_per_dim", "format_rde_report", "future_returns", "knn_accuracy",
    "mmd_regimes", "rank_average", "rde_report", "ridge_r2", "spearman",
]

_NEAREST = REGIME_COLUMNS.index("mmd_nearest")
_SPLITS = ("train", "validation", "test")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class Reconstruction(msgspec.Struct, frozen=True, kw_only=True):
    """Mean squared error per value of the model and of the two naive baselines."""

    model_mse: float
    window_mean_mse: float
    train_mean_mse: float


class LatentStats(msgspec.Struct, frozen=True, kw_only=True):
    """Per latent dimension: ``mu`` mean and std, mean ``exp(log_var)``, KL; active units."""

    mu_mean: list[float]
    mu_std: list[float]
    posterior_variance: list[float]
    kl_per_dim: list[float]
    active_units: int


class FutureStats(msgspec.Struct, frozen=True, kw_only=True):
    """Windows with a full horizon, those left out, and the mean future volatility and trend."""

    windows: int
    excluded: int
    volatility_mean: float | None
    trend_mean: float | None


class Prediction(msgspec.Struct, frozen=True, kw_only=True):
    """Spearman rho of each ``mu`` dimension with the future; R² of the train-fitted ridge;
    the same two for the persistence baseline (past volatility predicts future volatility)."""

    spearman_volatility: list[float | None]
    spearman_trend: list[float | None]
    r2_volatility: float | None
    r2_trend: float | None
    spearman_volatility_persistence: float | None
    r2_volatility_persistence: float | None


class RegimeStats(msgspec.Struct, frozen=True, kw_only=True):
    """Windows and mean ``mu`` per MMD regime; eta² pooled and per dimension."""

    counts: list[int]
    mean_mu: list[list[float] | None]
    eta_squared: float | None
    eta_squared_per_dim: list[float | None]


class SplitReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything measured on one split; ``ts_first``/``ts_last``: its windows' last closes."""

    windows: int
    ts_first: int
    ts_last: int
    reconstruction: Reconstruction
    latent: LatentStats
    future: FutureStats
    prediction: Prediction
    regimes: RegimeStats


class RdeReport(msgspec.Struct, frozen=True, kw_only=True):
    """The RDE evaluation report (``rde_report.json``); the module docstring reads it."""

    windows: int
    window: int
    latent: int
    horizon: int
    future_excluded: int
    train: SplitReport
    validation: SplitReport
    test: SplitReport
    ridge_alpha: float
    knn_k: int
    majority_regime: int
    knn_validation_accuracy: float
    knn_test_accuracy: float
    majority_validation_accuracy: float
    majority_test_accuracy: float
    best_constant_validation_accuracy: float
    best_constant_test_accuracy: float
    projection: Projection
    plot: str


def _check(model: RegimeModel, rows: RegimeRows, split: Split, horizon: int, batch: int,
           n: int) -> list[slice]:
    c = model.config
    bars = rows.rows.shape[0]
    if rows.rows.ndim != 2 or rows.rows.shape[1] != c.features:
        raise ValueError(f"rows.rows: expected (bars, {c.features}), was {rows.rows.shape}")
    for name in ("ts", "close", "ready"):
        shape = getattr(rows, name).shape
        if shape != (bars,):
            raise ValueError(f"rows.{name}: expected ({bars},) like rows.rows, was {shape}")
    if rows.window != c.window:
        raise ValueError(f"rows.window: expected the model's window {c.window}, "
                         f"was {rows.window}")
    if bars > 1 and not (np.diff(rows.ts) > 0).all():
        raise ValueError("rows.ts: expected strictly increasing close times, was not")
    if not (np.isfinite(rows.close) & (rows.close > 0.0)).all():
        raise ValueError("rows.close: expected finite positive prices, was not")
    if horizon < 2:
        raise ValueError(f"horizon: expected at least 2 bars, was {horizon}")
    if batch < 1:
        raise ValueError(f"batch: expected a positive window count, was {batch}")
    slices, previous = [], 0
    for name in _SPLITS:
        part = getattr(split, name)
        start, stop = part.start or 0, part.stop
        if part.step not in (None, 1) or stop is None or not previous <= start < stop <= n:
            raise ValueError(f"split.{name}: expected a non-empty slice within the {n} "
                             f"windows of rows, after the previous split, was {part}")
        slices.append(slice(start, stop))
        previous = stop
    if previous != n:
        raise ValueError(f"split.test: expected to end at the last of the {n} windows of "
                         f"rows (a split made for another window count?), was {split.test}")
    return slices


def _encode(model: RegimeModel, windows: npt.NDArray[np.float32], batch: int,
            baseline: F64) -> tuple[F64, F64, F64, F64, F64]:
    # Per window: mu, log_var, and the summed squared errors of model and both baselines.
    device = next(model.parameters()).device
    mus, log_vars, errors = [], [], []
    with torch.no_grad():
        for start in range(0, windows.shape[0], batch):
            x = np.ascontiguousarray(windows[start:start + batch], dtype=np.float32)
            recon, mu, log_var = model(torch.from_numpy(x).to(device))
            x64 = x.astype(np.float64)
            model_sq = ((recon.double().cpu().numpy() - x64) ** 2).sum(axis=(1, 2))
            window_sq = ((x64 - x64.mean(axis=1, keepdims=True)) ** 2).sum(axis=(1, 2))
            train_sq = ((x64 - baseline) ** 2).sum(axis=(1, 2))
            mus.append(mu.double().cpu().numpy())
            log_vars.append(log_var.double().cpu().numpy())
            errors.append(np.stack([model_sq, window_sq, train_sq], axis=1))
    error = np.concatenate(errors)
    return np.concatenate(mus), np.concatenate(log_vars), error[:, 0], error[:, 1], error[:, 2]


def _latent(mu: F64, log_var: F64) -> LatentStats:
    variance = mu.var(axis=0, ddof=1) if mu.shape[0] > 1 else np.zeros(mu.shape[1])
    kl = (-0.5 * (1.0 + log_var - mu ** 2 - np.exp(log_var))).mean(axis=0)
    return LatentStats(mu_mean=mu.mean(axis=0).tolist(), mu_std=mu.std(axis=0).tolist(),
                       posterior_variance=np.exp(log_var).mean(axis=0).tolist(),
                       kl_per_dim=kl.tolist(), active_units=int((variance > 0.01).sum()))


def _regimes(mu: F64, regime: I64) -> RegimeStats:
    counts = np.bincount(regime, minlength=N_SETS)
    means = [mu[regime == g].mean(axis=0).tolist() if counts[g] else None
             for g in range(N_SETS)]
    return RegimeStats(counts=counts.tolist(), mean_mu=means,
                       eta_squared=_finite(eta_squared(mu, regime)),
                       eta_squared_per_dim=[_finite(v) for v in
                                            eta_squared_per_dim(mu, regime)])


def rde_report(model: RegimeModel, rows: RegimeRows, split: Split, out_dir: Path,
               horizon: int = 24, batch: int = 256) -> RdeReport:
    """Evaluate ``model`` on the windows of ``rows``; write the JSON report and the plot.

    Parameters
    ----------
    model
        The trained regime model (run in eval mode; its train/eval mode is restored after).
    rows
        The regime rows the windows come from (:func:`~replay.train.rde_data.collect_regime_rows`).
    split
        Train, validation and test slices into ``rows.windows()``, ending at its last window.
    out_dir
        Where ``rde_report.json`` and ``latent.png`` are written (created if missing).
    horizon
        Slow bars after a window's last bar over which the future is measured (at least 2).
    batch
        Windows per forward pass.

    Returns
    -------
    RdeReport
        What ``rde_report.json`` holds; the module docstring explains every field.
    """
    windows, end_ts = rows.windows()
    n = int(windows.shape[0])
    slices = _check(model, rows, split, horizon, batch, n)
    last = np.searchsorted(rows.ts, end_ts)
    training = model.training
    model.eval()
    try:
        x_train = windows[slices[0]]
        baseline = np.zeros(x_train.shape[2])
        for start in range(0, x_train.shape[0], 4096):
            baseline += x_train[start:start + 4096].astype(np.float64).sum(axis=(0, 1))
        baseline /= x_train.shape[0] * x_train.shape[1]
        mu, log_var, model_sq, window_sq, train_sq = _encode(model, windows, batch, baseline)
    finally:
        model.train(training)
    volatility, trend, valid = future_returns(rows.close, last, horizon)
    past, _, past_valid = future_returns(rows.close, last - horizon, horizon)
    past_valid &= valid
    regime = mmd_regimes(rows.rows[last, _NEAREST])
    values = float(windows.shape[1] * windows.shape[2])
    fit = slices[0]
    fit_mask = valid[fit]
    parts = {}
    for name, part in zip(_SPLITS, slices, strict=True):
        m, ok, both = mu[part], valid[part], past_valid[part]
        future = FutureStats(
            windows=int(ok.sum()), excluded=int((~ok).sum()),
            volatility_mean=_finite(float(volatility[part][ok].mean())) if ok.any() else None,
            trend_mean=_finite(float(trend[part][ok].mean())) if ok.any() else None)
        prediction = Prediction(
            spearman_volatility=[_finite(spearman(m[ok, d], volatility[part][ok]))
                                 for d in range(m.shape[1])],
            spearman_trend=[_finite(spearman(m[ok, d], trend[part][ok]))
                            for d in range(m.shape[1])],
            r2_volatility=_finite(ridge_r2(mu[fit][fit_mask], volatility[fit][fit_mask],
                                           m[ok], volatility[part][ok])),
            r2_trend=_finite(ridge_r2(mu[fit][fit_mask], trend[fit][fit_mask], m[ok],
                                      trend[part][ok])),
            spearman_volatility_persistence=_finite(spearman(past[part][both],
                                                             volatility[part][both])),
            r2_volatility_persistence=_finite(ridge_r2(
                past[fit][past_valid[fit], None], volatility[fit][past_valid[fit]],
                past[part][both, None], volatility[part][both])))
        parts[name] = SplitReport(
            windows=int(m.shape[0]), ts_first=int(end_ts[part][0]),
            ts_last=int(end_ts[part][-1]),
            reconstruction=Reconstruction(model_mse=float(model_sq[part].sum()) / (
                m.shape[0] * values), window_mean_mse=float(window_sq[part].sum()) / (
                m.shape[0] * values), train_mean_mse=float(train_sq[part].sum()) / (
                m.shape[0] * values)),
            latent=_latent(m, log_var[part]), future=future, prediction=prediction,
            regimes=_regimes(m, regime[part]))
    majority = int(np.bincount(regime[fit], minlength=N_SETS).argmax())
    accuracy = {name: (knn_accuracy(mu[fit], regime[fit], mu[part], regime[part]),
                       float((regime[part] == majority).mean()),
                       float(np.bincount(regime[part]).max() / regime[part].size))
                for name, part in zip(_SPLITS[1:], slices[1:], strict=True)}
    projection, points = pca(mu, fit)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = out_dir / "latent.png"
    split_of = np.zeros(n, np.int64)
    for k, part in enumerate(slices):
        split_of[part] = k + 1
    plot.write_bytes(draw(points, split_of, volatility, trend, regime, projection, horizon))
    report = RdeReport(
        windows=n, window=rows.window, latent=int(mu.shape[1]), horizon=horizon,
        future_excluded=int(sum(int((~valid[p]).sum()) for p in slices)),
        train=parts["train"], validation=parts["validation"], test=parts["test"],
        ridge_alpha=RIDGE_ALPHA, knn_k=KNN_K, majority_regime=majority,
        knn_validation_accuracy=accuracy["validation"][0],
        knn_test_accuracy=accuracy["test"][0],
        majority_validation_accuracy=accuracy["validation"][1],
        majority_test_accuracy=accuracy["test"][1],
        best_constant_validation_accuracy=accuracy["validation"][2],
        best_constant_test_accuracy=accuracy["test"][2],
        projection=projection, plot=str(plot))
    body = msgspec.json.format(msgspec.json.encode(report, order="sorted"), indent=2)
    (out_dir / "rde_report.json").write_bytes(body + b"\n")
    return report


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


# ---------------------------------------------------------------- terminal summary


def _best(values: list[float | None]) -> str:
    known = [(abs(v), d, v) for d, v in enumerate(values) if v is not None]
    if not known:
        return "n/a"
    _, dim, value = max(known, key=lambda item: (item[0], -item[1]))
    return f"dim {dim} {value:+.3f}"


def _number(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def format_rde_report(report: RdeReport) -> str:
    """Return a compact, aligned terminal summary of ``report``."""
    parts = (report.train, report.validation, report.test)

    def row(label: str, cells: list[str]) -> str:
        return f"{label:<22}" + "".join(f"{c:>14}" for c in cells)

    lines = [
        f"RDE report: {report.windows} windows of {report.window} bars, latent "
        f"{report.latent}, future over {report.horizon} bars ({report.future_excluded} "
        f"windows without a full horizon left out)",
        row("", ["train", "validation", "test"]),
        row("windows", [str(p.windows) for p in parts]),
        row("recon MSE", [f"{p.reconstruction.model_mse:.4f}" for p in parts]),
        row("  window-mean base", [f"{p.reconstruction.window_mean_mse:.4f}" for p in parts]),
        row("  train-mean base", [f"{p.reconstruction.train_mean_mse:.4f}" for p in parts]),
        row("active units", [f"{p.latent.active_units}/{report.latent}" for p in parts]),
        row("KL (sum of dims)", [f"{sum(p.latent.kl_per_dim):.3f}" for p in parts]),
        row("future vol: best rho", [_best(p.prediction.spearman_volatility) for p in parts]),
        row("  ridge R2", [_number(p.prediction.r2_volatility) for p in parts]),
        row("  past vol: rho", [_number(p.prediction.spearman_volatility_persistence, "+.3f")
                                for p in parts]),
        row("  past vol: R2", [_number(p.prediction.r2_volatility_persistence)
                               for p in parts]),
        row("future trend: best rho", [_best(p.prediction.spearman_trend) for p in parts]),
        row("  ridge R2", [_number(p.prediction.r2_trend) for p in parts]),
        row("MMD regime eta2", [_number(p.regimes.eta_squared) for p in parts]),
        row(f"  kNN({report.knn_k}) accuracy", ["", f"{report.knn_validation_accuracy:.3f}",
                                              f"{report.knn_test_accuracy:.3f}"]),
        row(f"  majority ({report.majority_regime})",
            ["", f"{report.majority_validation_accuracy:.3f}",
             f"{report.majority_test_accuracy:.3f}"]),
        row("  best constant", ["", f"{report.best_constant_validation_accuracy:.3f}",
                                f"{report.best_constant_test_accuracy:.3f}"]),
        f"plot: {report.plot}",
    ]
    return "\n".join(lines)
