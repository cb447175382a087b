"""Fit the seven MMD reference sets from a training period's slow bars (training layer).

Steps 2-8 of the procedure documented in :mod:`replay.train.mmd_reference`: per-bar vectors by the
component's own kernel, normalisation, block descriptors, k-means, ordering, subsampling and
the bandwidth. Plain numpy on arrays given by the caller; nothing here reads files or clocks.

Invariant: the result is a function of the bars passed in, the parameters and the seed only.
Every distance is a broadcast difference summed over the last axis (no BLAS matrix product,
whose blocking and threading could change the rounding), and all randomness comes from one
``numpy.random.default_rng(seed)`` drawn in a fixed order.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
import numpy.typing as npt

from components.regime.mmd.kernels import (
    MMD_VECTOR_NAMES,
    N_SETS,
    mmd_vectors_batch_nb,
    mmd_vectors_init_state,
)
from components.regime.mmd.reference import REFERENCE_FORMAT, MmdReference, RegimeSet
from engine.core.errors import ModelError

__all__ = ["MAX_ITER", "N_INIT", "FitParams", "MmdFit", "fit_reference", "min_training_bars"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

N_INIT = 10
MAX_ITER = 300
_TREND, _VOLATILITY, _AUTOCORRELATION = 0, 1, 2


class FitParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The procedure's parameters (defaults as in ``algospace train mmd-reference``)."""

    block_bars: int = 20
    set_size: int = 200
    vol_window: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if self.block_bars < 2:
            raise ModelError(f"--block-bars: expected >= 2, was {self.block_bars}")
        if self.set_size < 2:
            raise ModelError(f"--set-size: expected >= 2, was {self.set_size}")
        if not 2 <= self.vol_window <= 100:
            raise ModelError(f"vol_window: expected 2..100, was {self.vol_window}")
        if self.seed < 0:
            raise ModelError(f"--seed: expected >= 0, was {self.seed}")


class MmdFit(msgspec.Struct, frozen=True, kw_only=True):
    """A fitted reference with the counts of what it was fitted on."""

    reference: MmdReference
    bars: int
    vectors: int
    blocks: int


def min_training_bars(params: FitParams) -> int:
    """Slow bars a training period needs: the warm-up plus one block per set."""
    return params.vol_window + N_SETS * params.block_bars


def fit_reference(ts_event: Ints, high: Floats, low: Floats, close: Floats, *, instrument: str,
                  timeframe: str, data_sha256: str, params: FitParams,
                  source: str) -> MmdFit:
    """Fit the reference on the training bars given (time order); ``source`` names the data
    in error messages."""
    n = int(close.shape[0])
    raw = mmd_vectors_batch_nb(mmd_vectors_init_state(params.vol_window), high, low, close)
    defined = ~np.isnan(raw).any(axis=1)
    first = int(np.argmax(defined)) if defined.any() else n
    vectors = raw[first:]
    if not np.isfinite(vectors).all():
        raise ModelError(f"{source}: per-bar vectors: expected finite values after the "
                         f"warm-up, was a non-finite value at training bar "
                         f"{first + int(np.flatnonzero(~np.isfinite(vectors).all(1))[0])}")
    blocks = vectors.shape[0] // params.block_bars
    if blocks < N_SETS:
        raise ModelError(f"{source}: training period: expected at least {N_SETS} blocks of "
                         f"{params.block_bars} bars ({min_training_bars(params)} slow bars), "
                         f"was {blocks} from {n} bars")
    norm_mean = vectors.mean(axis=0)
    norm_std = vectors.std(axis=0)
    for j, name in enumerate(MMD_VECTOR_NAMES):
        if not norm_std[j] > 0:
            raise ModelError(f"{source}: normalisation of {name!r}: expected a positive std "
                             f"over the {vectors.shape[0]} training vectors, was {norm_std[j]}")
    normalised = (vectors - norm_mean) / norm_std

    descriptors = _block_descriptors(vectors[: blocks * params.block_bars, 1], params.block_bars)
    rng = np.random.default_rng(params.seed)
    labels = _kmeans(_zscore(descriptors), N_SETS, rng, source)
    centroids = np.stack([descriptors[labels == c].mean(axis=0) for c in range(N_SETS)])
    # primary key trend, then volatility; lexsort is stable, so full ties keep cluster order
    order = np.lexsort((centroids[:, _VOLATILITY], centroids[:, _TREND]))

    sets, chosen = [], []
    for rank, cluster in enumerate(order):
        members = np.flatnonzero(labels == cluster)
        bars = (members[:, None] * params.block_bars + np.arange(params.block_bars)).ravel()
        points = normalised[bars]
        if points.shape[0] > params.set_size:
            keep = rng.choice(points.shape[0], params.set_size, replace=False)
            points = points[np.sort(keep)]
        chosen.append(points)
        centroid = centroids[cluster]
        sets.append(RegimeSet(
            name=f"regime_{rank}", count=int(points.shape[0]), points=points.ravel().tolist(),
            blocks=int(members.shape[0]), bars=int(bars.shape[0]),
            trend=float(centroid[_TREND]), volatility=float(centroid[_VOLATILITY]),
            autocorrelation=float(centroid[_AUTOCORRELATION]),
            mean=points.mean(axis=0).tolist(), std=points.std(axis=0).tolist()))
    bandwidth = _median_heuristic(np.concatenate(chosen))
    if not bandwidth > 0:
        raise ModelError(f"{source}: bandwidth: expected a positive median distance between "
                         f"the reference points, was {bandwidth}")
    reference = MmdReference(
        format=REFERENCE_FORMAT, vector_names=list(MMD_VECTOR_NAMES),
        vol_window=params.vol_window, norm_mean=norm_mean.tolist(), norm_std=norm_std.tolist(),
        bandwidth=bandwidth, sets=sets, instrument=instrument, timeframe=timeframe,
        period_start_ns=int(ts_event[0]), period_end_ns=int(ts_event[-1]),
        data_sha256=data_sha256, block_bars=params.block_bars, set_size=params.set_size,
        seed=params.seed)
    return MmdFit(reference=reference, bars=n, vectors=int(vectors.shape[0]), blocks=blocks)


def _block_descriptors(log_returns: Floats, block_bars: int) -> Floats:
    """``(blocks, 3)``: mean, population std and lag-1 autocorrelation of each block."""
    x = log_returns.reshape(-1, block_bars)
    trend = x.mean(axis=1)
    dev = x - trend[:, None]
    ss = (dev * dev).sum(axis=1)
    lagged = (dev[:, 1:] * dev[:, :-1]).sum(axis=1)
    auto = np.where(ss > 0, lagged / np.where(ss > 0, ss, 1.0), 0.0)
    return np.stack([trend, np.sqrt(ss / block_bars), auto], axis=1)


def _zscore(x: Floats) -> Floats:
    mean, std = x.mean(axis=0), x.std(axis=0)
    return np.where(std > 0, (x - mean) / np.where(std > 0, std, 1.0), 0.0)


def _sqdist(a: Floats, b: Floats) -> Floats:
    """Squared Euclidean distances ``(len(a), len(b))`` by broadcasting."""
    diff = a[:, None, :] - b[None, :, :]
    out: Floats = (diff * diff).sum(axis=-1)
    return out


def _kmeans(x: Floats, k: int, rng: np.random.Generator, source: str) -> Ints:
    """Labels of the best of ``N_INIT`` k-means++ / Lloyd runs (lowest inertia, first on ties);
    a run that empties a cluster is discarded."""
    best: tuple[Ints, float] | None = None
    for _ in range(N_INIT):
        centers = _kmeans_plus_plus(x, k, rng)
        if centers is None:
            raise ModelError(f"{source}: k-means: expected at least {k} distinct blocks, the "
                             f"{x.shape[0]} blocks of the training period have fewer")
        result = _lloyd(x, centers)
        if result is not None and (best is None or result[1] < best[1]):
            best = result
    if best is None:
        raise ModelError(f"{source}: k-means: expected {k} non-empty clusters, every one of "
                         f"the {N_INIT} restarts emptied one ({x.shape[0]} blocks); use a "
                         "longer training period")
    return best[0]


def _kmeans_plus_plus(x: Floats, k: int, rng: np.random.Generator) -> Floats | None:
    """k-means++ seeds: the first uniform, each next with probability proportional to its
    squared distance to the nearest seed so far (None when fewer than k points differ)."""
    n = x.shape[0]
    chosen = [int(rng.integers(n))]
    d2 = _sqdist(x, x[chosen[0]][None])[:, 0]
    for _ in range(1, k):
        cumulative = np.cumsum(d2)
        if not cumulative[-1] > 0:
            return None
        j = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        if j >= n:  # the draw rounded up to the total
            j = int(np.flatnonzero(d2)[-1])
        chosen.append(j)
        d2 = np.minimum(d2, _sqdist(x, x[j][None])[:, 0])
    return x[chosen].copy()


def _lloyd(x: Floats, centers: Floats) -> tuple[Ints, float] | None:
    """Lloyd iterations until the assignments repeat (at most ``MAX_ITER``); ties go to the
    lowest cluster index. None when a cluster empties."""
    k = centers.shape[0]
    labels = np.full(x.shape[0], -1, dtype=np.int64)
    for _ in range(MAX_ITER):
        new = _sqdist(x, centers).argmin(axis=1).astype(np.int64)
        if np.array_equal(new, labels):
            break
        labels = new
        if (np.bincount(labels, minlength=k) == 0).any():
            return None
        centers = np.stack([x[labels == c].mean(axis=0) for c in range(k)])
    diff = x - centers[labels]
    return labels, float((diff * diff).sum())


def _median_heuristic(points: Floats, rows: int = 256) -> float:
    """``sqrt`` of the median squared distance over the distinct pairs of ``points``."""
    m = points.shape[0]
    parts = []
    for start in range(0, m - 1, rows):
        block = _sqdist(points[start: start + rows], points)
        for i in range(block.shape[0]):
            parts.append(block[i, start + i + 1:])
    return math.sqrt(float(np.median(np.concatenate(parts))))
