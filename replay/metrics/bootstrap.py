"""Circular block bootstrap of return series and trade lists (replay layer, metrics).

The circular block bootstrap (Politis & Romano 1992) resamples a series as blocks of
``block`` consecutive values whose start is uniform over the series and which wrap around the
end, so every value is drawn with the same probability and short-range dependence (volatility
clustering, streaks) survives inside a block. It was chosen over the stationary bootstrap for
its fixed, configurable block length (``bootstrap_block_days``) and its simpler vectorised form.

Invariants: all randomness comes from the ``numpy.random.Generator`` passed in, so the same
generator state gives the same resamples and results; statistics are evaluated on batches of
resamples (rows of a 2-D array) to bound memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from replay.metrics.types import Interval

__all__ = ["block_bootstrap_indices", "bootstrap_distribution", "bootstrap_interval"]

# Elements per batch of resamples (int64 indices plus float64 values: ~64 MB at most).
_BATCH_ELEMENTS = 1 << 22


def block_bootstrap_indices(
    n: int, n_samples: int, block: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw circular-block-bootstrap resamples of ``range(n)``.

    Parameters
    ----------
    n
        Length of the series (and of each resample).
    n_samples
        Number of resamples.
    block
        Block length; capped at ``n``. 1 is the ordinary i.i.d. bootstrap.
    rng
        Source of randomness.

    Returns
    -------
    np.ndarray
        int64 array of shape ``(n_samples, n)``; each row indexes one resample.

    Raises
    ------
    ValueError
        If ``n``, ``n_samples`` or ``block`` is negative or ``block`` is 0.

    Examples
    --------
    >>> idx = block_bootstrap_indices(5, 2, 3, np.random.default_rng(0))
    >>> idx.shape
    (2, 5)
    >>> bool(((idx[:, 1] - idx[:, 0]) % 5 == 1).all())  # values 0 and 1 share a block
    True
    """
    if n < 0 or n_samples < 0 or block < 1:
        raise ValueError(f"expected n >= 0, n_samples >= 0, block >= 1, was {n}, "
                         f"{n_samples}, {block}")
    if n == 0:
        return np.empty((n_samples, 0), dtype=np.int64)
    block = min(block, n)
    n_blocks = -(-n // block)
    starts = rng.integers(0, n, size=(n_samples, n_blocks), dtype=np.int64)
    idx = (starts[:, :, np.newaxis] + np.arange(block, dtype=np.int64)) % n
    return idx.reshape(n_samples, n_blocks * block)[:, :n]


def bootstrap_distribution(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    n_samples: int,
    block: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bootstrap distribution of a statistic.

    Parameters
    ----------
    values
        The 1-D series to resample.
    statistic
        Maps a ``(k, n)`` array of resamples to ``k`` values (one per row), e.g.
        :func:`~replay.metrics.stats.sharpe_ratio_rows`.
    n_samples, block, rng
        As for :func:`block_bootstrap_indices`.

    Returns
    -------
    np.ndarray
        ``n_samples`` values of the statistic; all ``nan`` for an empty series.
    """
    x = np.asarray(values, dtype=np.float64)
    out = np.full(n_samples, np.nan)
    if x.size == 0:
        return out
    batch = max(1, _BATCH_ELEMENTS // x.size)
    for start in range(0, n_samples, batch):
        k = min(batch, n_samples - start)
        out[start:start + k] = statistic(x[block_bootstrap_indices(x.size, k, block, rng)])
    return out


def bootstrap_interval(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    n_samples: int,
    block: int,
    level: float,
    rng: np.random.Generator,
) -> Interval:
    """Two-sided percentile bootstrap interval (Efron) of a statistic at ``level``.

    The bounds are the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (linear
    interpolation) of :func:`bootstrap_distribution`, over the resamples where the statistic is
    defined (resamples giving ``nan``, e.g. a Sharpe ratio of identical values, are dropped).

    Returns
    -------
    Interval
        ``nan`` bounds when no resample gives a defined value.

    Examples
    --------
    >>> x = np.random.default_rng(1).normal(size=200)
    >>> ci = bootstrap_interval(x, lambda s: s.mean(axis=1), n_samples=500, block=5,
    ...                         level=0.9, rng=np.random.default_rng(2))
    >>> bool(ci.low < x.mean() < ci.high), ci.level
    (True, 0.9)
    """
    dist = bootstrap_distribution(values, statistic, n_samples=n_samples, block=block, rng=rng)
    dist = dist[~np.isnan(dist)]
    if dist.size == 0:
        return Interval(low=math.nan, high=math.nan, level=level)
    low, high = np.quantile(dist, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return Interval(low=float(low), high=float(high), level=level)
