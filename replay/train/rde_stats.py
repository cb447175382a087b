"""Statistics of the RDE report, in plain numpy (training layer): ranks and Spearman
correlation, one-way ANOVA eta squared, future volatility and trend, ridge R², k-nearest
neighbours, the MMD regime of a regime-matrix column. ``replay/train/rde_report.py`` explains how
each is used and read."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from components.assemblers.regime import REGIME_COLUMNS
from components.regime.mmd import N_SETS

__all__ = ["KNN_K", "RIDGE_ALPHA", "eta_squared", "eta_squared_per_dim", "future_returns",
           "knn_accuracy", "mmd_regimes", "rank_average", "ridge_r2", "spearman"]

KNN_K = 15
RIDGE_ALPHA = 1.0
_NEAREST = REGIME_COLUMNS.index("mmd_nearest")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]



def rank_average(x: npt.ArrayLike) -> F64:
    """Return the 1-based ranks of ``x``, ties sharing their average rank.

    Examples
    --------
    >>> rank_average([10.0, 30.0, 20.0, 30.0]).tolist()
    [1.0, 3.5, 2.0, 3.5]
    """
    values = np.asarray(x, dtype=np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts).astype(np.float64)
    average: F64 = last - (counts - 1) / 2.0
    return average[inverse.reshape(-1)]


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Return Spearman's rank correlation of ``x`` and ``y`` (NaN if either is constant).

    Examples
    --------
    >>> round(spearman([1, 2, 3, 4], [10, 30, 20, 40]), 6)
    0.8
    """
    a, b = rank_average(x), rank_average(y)
    if a.shape != b.shape:
        raise ValueError(f"spearman: expected x and y of one length, was {a.size} and {b.size}")
    if a.size < 2:
        return math.nan
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0.0 else math.nan


def _group_sums(values: F64, groups: I64) -> tuple[F64, F64, F64]:
    # Between- and total sum of squares per column, after checking the shapes.
    if values.ndim != 2 or groups.shape != (values.shape[0],):
        raise ValueError(f"eta_squared: expected values (n, d) and groups (n,), was "
                         f"{values.shape} and {groups.shape}")
    mean = values.mean(axis=0)
    total = ((values - mean) ** 2).sum(axis=0)
    between = np.zeros(values.shape[1])
    for g in np.unique(groups):
        member = values[groups == g]
        between += member.shape[0] * (member.mean(axis=0) - mean) ** 2
    return between, total, mean


def eta_squared(values: npt.ArrayLike, groups: npt.ArrayLike) -> float:
    """Return the between-group share of the variance of ``values`` (n, d), pooled over d.

    The R² of a one-way ANOVA: ``sum_g n_g |mean_g - mean|² / sum_i |x_i - mean|²``; NaN when
    the values are constant.

    Examples
    --------
    >>> eta_squared([[0.0], [0.0], [2.0], [2.0]], [0, 0, 1, 1])
    1.0
    >>> eta_squared([[0.0], [2.0], [0.0], [2.0]], [0, 0, 1, 1])
    0.0
    """
    between, total, _ = _group_sums(np.asarray(values, np.float64), np.asarray(groups, np.int64))
    return float(between.sum() / total.sum()) if total.sum() > 0.0 else math.nan


def eta_squared_per_dim(values: npt.ArrayLike, groups: npt.ArrayLike) -> F64:
    """Return :func:`eta_squared` of each column of ``values`` (NaN for a constant column)."""
    between, total, _ = _group_sums(np.asarray(values, np.float64), np.asarray(groups, np.int64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0.0, between / np.where(total > 0.0, total, 1.0), np.nan)


def future_returns(close: npt.ArrayLike, last: npt.ArrayLike, horizon: int
                   ) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """Return the future volatility, trend and validity of the bars at indices ``last``.

    Over the ``horizon`` log returns of ``close`` after bar ``last[i]``
    (``log(close[last+j+1] / close[last+j])``, ``j < horizon``): volatility is their
    population std, trend their sum. Where ``last[i] + horizon`` runs past the data the
    values are NaN and ``valid`` is False.
    """
    prices = np.asarray(close, dtype=np.float64)
    index = np.asarray(last, dtype=np.int64)
    log_returns = np.diff(np.log(prices))
    valid = (index >= 0) & (index + horizon <= log_returns.size)
    volatility = np.full(index.shape, np.nan)
    trend = np.full(index.shape, np.nan)
    if valid.any():
        view = np.lib.stride_tricks.sliding_window_view(log_returns, horizon)
        future = view[index[valid]]  # (valid, horizon)
        volatility[valid] = future.std(axis=1)
        trend[valid] = future.sum(axis=1)
    return volatility, trend, valid


def _standardiser(train: F64) -> tuple[F64, F64]:
    std = train.std(axis=0)
    return train.mean(axis=0), np.where(std > 1e-12, std, 1.0)


def ridge_r2(train_x: npt.ArrayLike, train_y: npt.ArrayLike, test_x: npt.ArrayLike,
             test_y: npt.ArrayLike, alpha: float = RIDGE_ALPHA) -> float:
    """Return the R² on ``test`` of a ridge regression fitted on ``train``.

    Features are standardised by the train mean and std; the intercept (the train mean of y)
    is not penalised. NaN when fewer than 2 test targets or they are constant.
    """
    xt, yt = np.asarray(train_x, np.float64), np.asarray(train_y, np.float64)
    xs, ys = np.asarray(test_x, np.float64), np.asarray(test_y, np.float64)
    if xt.shape[0] == 0 or ys.size < 2:
        return math.nan
    mean, std = _standardiser(xt)
    a, b = (xt - mean) / std, (xs - mean) / std
    weights = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (yt - yt.mean()))
    residual = ys - (yt.mean() + b @ weights)
    total = float(((ys - ys.mean()) ** 2).sum())
    return 1.0 - float(residual @ residual) / total if total > 0.0 else math.nan


def knn_accuracy(train_x: npt.ArrayLike, train_y: npt.ArrayLike, test_x: npt.ArrayLike,
                 test_y: npt.ArrayLike, k: int = KNN_K) -> float:
    """Return the accuracy on ``test`` of a k-nearest-neighbour vote fitted on ``train``.

    Euclidean on features standardised by train; neighbours ordered by a stable sort, votes
    tied between labels go to the lowest label. NaN when ``test`` is empty.
    """
    xt, yt = np.asarray(train_x, np.float64), np.asarray(train_y, np.int64)
    xs, ys = np.asarray(test_x, np.float64), np.asarray(test_y, np.int64)
    if ys.size == 0:
        return math.nan
    if yt.size == 0 or k < 1:
        raise ValueError(f"knn_accuracy: expected train points and k >= 1, was {yt.size} "
                         f"points and k={k}")
    mean, std = _standardiser(xt)
    a, b = (xt - mean) / std, (xs - mean) / std
    k = min(k, yt.size)
    labels = int(yt.max()) + 1
    hits = 0
    for start in range(0, b.shape[0], 256):
        chunk = b[start:start + 256]
        distance = ((chunk[:, None, :] - a[None, :, :]) ** 2).sum(axis=2)  # (chunk, train)
        nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
        votes = np.zeros((chunk.shape[0], labels), np.int64)
        np.add.at(votes, (np.arange(chunk.shape[0])[:, None], yt[nearest]), 1)
        hits += int((votes.argmax(axis=1) == ys[start:start + 256]).sum())
    return hits / ys.size


def mmd_regimes(column: npt.ArrayLike) -> I64:
    """Return the MMD regime index (0..6) of ``mmd_nearest`` values (``2 index / 6 - 1``)."""
    values = np.asarray(column, dtype=np.float64)
    scaled = (values + 1.0) / 2.0 * (N_SETS - 1)
    index = np.rint(scaled)
    bad = ~(np.abs(scaled - index) < 1e-3) | (index < 0) | (index > N_SETS - 1)
    if bad.any():
        raise ValueError(f"rows.rows[:, {_NEAREST}] (mmd_nearest): expected 2 k / "
                         f"{N_SETS - 1} - 1 for a regime k in 0..{N_SETS - 1}, was "
                         f"{values[bad][0]!r}")
    return index.astype(np.int64)


# ---------------------------------------------------------------- running the model


