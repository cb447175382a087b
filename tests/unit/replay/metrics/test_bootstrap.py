"""Circular block bootstrap: block structure, uniform coverage, determinism, intervals."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.metrics import (
    Interval,
    block_bootstrap_indices,
    bootstrap_distribution,
    bootstrap_interval,
)


@given(st.integers(1, 60), st.integers(0, 20), st.integers(1, 15), st.integers(0, 2**32 - 1))
def test_resamples_are_wrapped_blocks_of_consecutive_indices(n, n_samples, block, seed):
    idx = block_bootstrap_indices(n, n_samples, block, np.random.default_rng(seed))
    assert idx.shape == (n_samples, n)
    assert idx.dtype == np.int64
    assert ((idx >= 0) & (idx < n)).all()
    block = min(block, n)
    # inside a block each index follows the previous one, wrapping at the end
    steps = (np.diff(idx, axis=1) % n)[:, [i for i in range(n - 1) if (i + 1) % block]]
    assert (steps == 1 % n).all()


def test_every_index_is_drawn_equally_often():
    idx = block_bootstrap_indices(10, 20_000, 4, np.random.default_rng(3))
    counts = np.bincount(idx.ravel(), minlength=10) / idx.size
    np.testing.assert_allclose(counts, 0.1, atol=0.003)


def test_same_generator_state_gives_same_resamples():
    a = block_bootstrap_indices(50, 30, 5, np.random.default_rng(11))
    b = block_bootstrap_indices(50, 30, 5, np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)


def test_invalid_arguments_raise():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="block >= 1"):
        block_bootstrap_indices(5, 1, 0, rng)
    with pytest.raises(ValueError):
        block_bootstrap_indices(-1, 1, 1, rng)
    assert block_bootstrap_indices(0, 3, 2, rng).shape == (3, 0)


def test_distribution_in_small_batches_still_resamples_whole_series(monkeypatch):
    """Batching bounds memory; every row is still one full-length resample."""
    monkeypatch.setattr("replay.metrics.bootstrap._BATCH_ELEMENTS", 12)  # 2 rows per batch
    x = np.arange(5.0)
    dist = bootstrap_distribution(x, lambda s: s.shape[1] + 0 * s.sum(axis=1), n_samples=7,
                                  block=2, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(dist, np.full(7, 5.0))
    means = bootstrap_distribution(x, lambda s: s.mean(axis=1), n_samples=7, block=2,
                                   rng=np.random.default_rng(0))
    assert ((means >= 0) & (means <= 4)).all() and np.unique(means).size > 1


def test_distribution_of_an_empty_series_is_nan():
    dist = bootstrap_distribution(np.array([]), lambda s: s.sum(axis=1), n_samples=4, block=2,
                                  rng=np.random.default_rng(0))
    assert dist.shape == (4,) and np.isnan(dist).all()


def test_interval_of_the_mean_matches_normal_theory():
    """For i.i.d. normal data the 90% bootstrap interval of the mean is about +-1.645 s/sqrt(n)."""
    x = np.random.default_rng(5).normal(0.0, 1.0, 400)
    ci = bootstrap_interval(x, lambda s: s.mean(axis=1), n_samples=4000, block=1, level=0.9,
                            rng=np.random.default_rng(6))
    half = 1.645 * x.std(ddof=1) / math.sqrt(x.size)
    assert ci.level == 0.9
    assert ci.low == pytest.approx(x.mean() - half, abs=0.2 * half)
    assert ci.high == pytest.approx(x.mean() + half, abs=0.2 * half)


def test_interval_drops_undefined_resamples_and_is_nan_when_none_is_defined():
    nan_everywhere = bootstrap_interval(np.ones(5), lambda s: np.full(s.shape[0], np.nan),
                                        n_samples=10, block=2, level=0.95,
                                        rng=np.random.default_rng(0))
    assert math.isnan(nan_everywhere.low) and math.isnan(nan_everywhere.high)
    half_nan = bootstrap_interval(
        np.ones(5), lambda s: np.where(np.arange(s.shape[0]) % 2, np.nan, 1.0),
        n_samples=10, block=2, level=0.95, rng=np.random.default_rng(0))
    assert half_nan == Interval(low=1.0, high=1.0, level=0.95)
