"""Numba kernels of the MMD regime features (kernel layer).

docs/design.md section 4 (MMD regime features), after docs/reference/algospace_spec.md 2.4.6 with
its defects removed
(section 7: references are fitted from real data, not random distributions; one fixed
dimension; causal). On one slow bar (high, low, close, volume):

Per-bar vector (:data:`MMD_VECTOR_NAMES`), from the bar after the first:
``return = close / prev_close - 1``, ``log_return = log(close / prev_close)``,
``range = (high - low) / prev_close``, ``volatility`` = population standard deviation of the last
``vol_window`` (default 20) returns; the vector exists from bar ``vol_window`` (0-based).

MMD: the vector, normalised with the reference's ``(x - mean) / std``, enters a ring of the last
``window`` (default 100) vectors. Against each reference set ``k`` (``n_k`` normalised points,
from :func:`mmd_init_state`), the unbiased estimator with the Gaussian kernel
``g(a, b) = exp(-|a - b|^2 / (2 sigma^2))``::

    MMD2_k = 2 S / (W (W - 1)) + YY_k - 2 C_k / (W n_k)

``S`` = sum of ``g`` over the window's unordered pairs, ``YY_k`` = mean of ``g`` over the
distinct pairs of set ``k`` (fixed, computed once), ``C_k`` = sum of ``g`` between every window
point and every point of set ``k``. Incremental: the state keeps the window's Gram matrix and
each window point's cross sums to every set, so a bar costs ``W - 1 + sum(n_k)`` kernel
evaluations (the new point against the window and the references) instead of the
``W (W - 1) / 2 + W sum(n_k)`` of a recomputation. The running sums ``S`` and ``C_k`` are
recomputed exactly from the stored Gram matrix and cross sums every ``recompute_every``
updates (default: the window), which costs no kernel evaluation and bounds the rounding drift
to that many updates (long-run test: 1,000,000 updates). The score is
``sqrt(max(MMD2_k, 0))``.

Statistics (population moments over the last ``n`` returns; ``0 / 0`` ratios are 1, the moments
of a constant window 0): momentum ``close / close[-n] - 1`` for n = 5, 10, 20, 50; skew and
excess kurtosis of the last 50 returns; Wilder RSI 14 of the close (TA-Lib convention, the
shared kernel); ``volume_ratio = volume / mean(last 20 volumes)``; ``volatility_ratio`` = std of
the last 20 returns / std of the last 100; the mean and the minimum of the scores, and the index
of the nearest set (smallest score, first on ties).

Outputs per bar, columns :data:`MMD_FEATURE_NAMES` (23 with the default 7 sets): the scores, then
the 16 statistics. Every column is ``nan`` until all are defined: bar
``max(vol_window + window - 1, 100)`` (119 with the defaults). Inputs must be finite, prices
positive.

State: one float64 array from :func:`mmd_init_state` (a copy is a snapshot): a header, the
normalisation, per-set counts and ``YY_k``, the reference points, the window ring, its Gram
matrix (``window x window``), the cross sums (``window x K``) and their totals, and rings of
the last 51 closes, 100 returns and 20 volumes, and the RSI state.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from components.indicators.shared_kernels import rsi_init_state, rsi_step_nb

__all__ = [
    "MMD_FEATURE_NAMES",
    "MMD_STAT_NAMES",
    "MMD_VECTOR_NAMES",
    "N_SETS",
    "mmd2_direct_nb",
    "mmd_batch_nb",
    "mmd_init_state",
    "mmd_mmd2_nb",
    "mmd_step_nb",
    "mmd_vectors_batch_nb",
    "mmd_vectors_init_state",
]

Floats = npt.NDArray[np.float64]

N_SETS = 7
MMD_VECTOR_NAMES = ("return", "log_return", "range", "volatility")
MMD_STAT_NAMES = ("return", "log_return", "range", "volatility", "momentum_5", "momentum_10",
                  "momentum_20", "momentum_50", "skew_50", "kurtosis_50", "rsi_14",
                  "volume_ratio", "volatility_ratio", "mmd_mean", "mmd_min", "mmd_nearest")
MMD_FEATURE_NAMES = (*(f"mmd_{k}" for k in range(N_SETS)), *MMD_STAT_NAMES)
D = len(MMD_VECTOR_NAMES)
N_STATS = len(MMD_STAT_NAMES)

_CLOSES = 51  # momentum 50 needs the close 50 bars back
_RETURNS = 100  # the longest return window (volatility ratio)
_VOLUMES = 20
_MOMENTA = (5, 10, 20, 50)

# header
_WINDOW = 0
_K = 1
_M = 2  # points per set, padded
_GAMMA = 3  # 1 / (2 sigma^2)
_VOL_WINDOW = 4
_BARS = 5
_FILLED = 6  # vectors in the window
_HEAD = 7  # next window slot (the oldest once full)
_S = 8  # sum of g over the window's unordered pairs
_SINCE = 9  # updates since the exact recomputation
_EVERY = 10
_PREV_CLOSE = 11
_AT_NORM = 12  # mean[D], std[D]
_AT_COUNTS = 13  # n_k[K]
_AT_YY = 14  # YY_k[K]
_AT_REFS = 15  # refs[K, M, D]
_AT_RING = 16  # ring[W, D]
_AT_GRAM = 17  # gram[W, W]
_AT_CROSS = 18  # cross[W, K]
_AT_CTOT = 19  # C_k[K]
_AT_CLOSES = 20  # closes[51], bar i at i % 51
_AT_RETS = 21  # returns[100], return i (bar i + 1) at i % 100
_AT_VOLS = 22  # volumes[20], bar i at i % 20
_AT_RSI = 23
_AT_END = 24
_HEADER = 25


def mmd_init_state(refs: Floats, counts: npt.NDArray[np.int64], norm_mean: Floats,
                   norm_std: Floats, bandwidth: float, window: int = 100,
                   vol_window: int = 20, recompute_every: int | None = None) -> Floats:
    """Fresh state for reference sets ``refs[k, :counts[k]]`` (normalised points, shape
    ``(K, M, 4)``), the normalisation ``(x - norm_mean) / norm_std`` and ``sigma = bandwidth``.

    Examples
    --------
    >>> refs = np.zeros((7, 2, 4)); refs[:, 1] = 1.0
    >>> state = mmd_init_state(refs, np.full(7, 2), np.zeros(4), np.ones(4), 1.0, window=3)
    >>> close = 100 + np.sin(np.arange(130.0))
    >>> out = mmd_batch_nb(state, close + 1, close - 1, close, np.ones(130))
    >>> int(np.isnan(out[:, 0]).sum())  # defined from bar 100 (the 100-return window)
    100
    >>> out.shape
    (130, 23)
    """
    refs = np.asarray(refs, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    if refs.ndim != 3 or refs.shape[2] != D:
        raise ValueError(f"mmd refs: expected shape (K, M, {D}), was {refs.shape}")
    k, m = refs.shape[0], refs.shape[1]
    if k < 1 or m < 2:
        raise ValueError(f"mmd refs: expected at least one set of 2 points, was {refs.shape}")
    if counts.shape != (k,):
        raise ValueError(f"mmd counts: expected shape ({k},), was {counts.shape}")
    if (counts < 2).any() or (counts > m).any():
        raise ValueError(f"mmd counts: expected 2..{m} points per set, were {counts.tolist()}")
    if not np.isfinite(refs).all():
        raise ValueError("mmd refs: expected finite points")
    if window < 2:
        raise ValueError(f"mmd window: expected >= 2, was {window}")
    if not 2 <= vol_window <= _RETURNS:
        raise ValueError(f"mmd vol_window: expected 2..{_RETURNS}, was {vol_window}")
    if not (math.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"mmd bandwidth: expected a positive number, was {bandwidth}")
    mean = np.asarray(norm_mean, dtype=np.float64)
    std = np.asarray(norm_std, dtype=np.float64)
    if mean.shape != (D,) or not np.isfinite(mean).all():
        raise ValueError(f"mmd norm_mean: expected {D} finite values, was {mean.tolist()}")
    if std.shape != (D,) or not (np.isfinite(std).all() and (std > 0).all()):
        raise ValueError(f"mmd norm_std: expected {D} finite positive values, was {std.tolist()}")
    every = window if recompute_every is None else recompute_every
    if every < 1:
        raise ValueError(f"mmd recompute_every: expected >= 1, was {every}")
    gamma = 1.0 / (2.0 * bandwidth * bandwidth)
    yy = np.array([_mean_pair_kernel(refs[i, : counts[i]], gamma) for i in range(k)])
    parts = [np.concatenate([mean, std]), counts.astype(np.float64), yy, refs.ravel(),
             np.zeros(window * D), np.zeros(window * window), np.zeros(window * k),
             np.zeros(k), np.zeros(_CLOSES), np.zeros(_RETURNS), np.zeros(_VOLUMES),
             rsi_init_state(14)]
    header = np.zeros(_HEADER)
    header[_WINDOW], header[_K], header[_M], header[_GAMMA] = window, k, m, gamma
    header[_VOL_WINDOW], header[_EVERY], header[_PREV_CLOSE] = vol_window, every, np.nan
    at = _HEADER
    for i, part in enumerate(parts):
        header[_AT_NORM + i] = at
        at += part.shape[0]
    header[_AT_END] = at
    return np.concatenate([header, *parts])


def _mean_pair_kernel(points: Floats, gamma: float) -> float:
    """Mean of g over the distinct (ordered) pairs of ``points``."""
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    g = np.exp(-gamma * d2)
    n = points.shape[0]
    return float((g.sum() - np.trace(g)) / (n * (n - 1)))


@njit(cache=True, inline="always")
def _g(a: Floats, b: Floats, gamma: float) -> float:
    d2 = 0.0
    for j in range(a.shape[0]):
        diff = a[j] - b[j]
        d2 += diff * diff
    return math.exp(-gamma * d2)


@njit(cache=True, inline="always")
def _std(values: Floats, newest: int, n: int, size: int) -> float:
    """Population std of the ``n`` newest values of a ring (newest at ``newest``)."""
    mean = 0.0
    for i in range(n):
        mean += values[(newest - i) % size]
    mean /= n
    ss = 0.0
    for i in range(n):
        d = values[(newest - i) % size] - mean
        ss += d * d
    return math.sqrt(ss / n)


@njit(cache=True)
def _stats_step_nb(state: Floats, high: float, low: float, close: float, volume: float,
                   stats: Floats) -> bool:
    """Update the rings with one bar; write the statistics (not the MMD ones) into
    ``stats[:13]``, nan where undefined. True when the per-bar vector ``stats[:4]`` exists."""
    bars = int(state[_BARS])
    closes = state[int(state[_AT_CLOSES]): int(state[_AT_RETS])]
    rets = state[int(state[_AT_RETS]): int(state[_AT_VOLS])]
    vols = state[int(state[_AT_VOLS]): int(state[_AT_RSI])]
    rsi = rsi_step_nb(state[int(state[_AT_RSI]): int(state[_AT_END])], close)
    closes[bars % _CLOSES] = close
    vols[bars % _VOLUMES] = volume
    n_vol = min(bars + 1, _VOLUMES)
    prev = state[_PREV_CLOSE]
    state[_PREV_CLOSE] = close
    state[_BARS] = bars + 1
    stats[:] = np.nan
    if bars == 0:
        return False
    newest = (bars - 1) % _RETURNS  # return number bars - 1 (the first is at bar 1)
    r = close / prev - 1.0
    rets[newest] = r
    have = min(bars, _RETURNS)  # returns in the ring
    stats[0] = r
    stats[1] = math.log(close / prev)
    stats[2] = (high - low) / prev
    vw = int(state[_VOL_WINDOW])
    if have >= vw:
        stats[3] = _std(rets, newest, vw, _RETURNS)
    for i in range(len(_MOMENTA)):
        n = _MOMENTA[i]
        if bars >= n:
            stats[4 + i] = close / closes[(bars - n) % _CLOSES] - 1.0
    if have >= 50:
        mean = 0.0
        for i in range(50):
            mean += rets[(newest - i) % _RETURNS]
        mean /= 50
        m2 = m3 = m4 = 0.0
        for i in range(50):
            d = rets[(newest - i) % _RETURNS] - mean
            d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        m2 /= 50
        m3 /= 50
        m4 /= 50
        if m2 > 0.0:
            stats[8] = m3 / m2 ** 1.5
            stats[9] = m4 / (m2 * m2) - 3.0
        else:
            stats[8] = 0.0
            stats[9] = 0.0
    stats[10] = rsi
    if n_vol >= _VOLUMES:
        mean_v = 0.0
        for i in range(_VOLUMES):
            mean_v += vols[i]
        mean_v /= _VOLUMES
        stats[11] = volume / mean_v if mean_v > 0.0 else 1.0
    if have >= _RETURNS:
        s20 = _std(rets, newest, 20, _RETURNS)
        s100 = _std(rets, newest, _RETURNS, _RETURNS)
        stats[12] = s20 / s100 if s100 > 0.0 else 1.0
    return have >= vw


@njit(cache=True)
def _recompute_nb(state: Floats) -> None:
    """Exact ``S`` and ``C_k`` from the stored Gram matrix and cross sums."""
    w, k = int(state[_WINDOW]), int(state[_K])
    filled = int(state[_FILLED])
    gram = state[int(state[_AT_GRAM]): int(state[_AT_CROSS])]
    cross = state[int(state[_AT_CROSS]): int(state[_AT_CTOT])]
    ctot = state[int(state[_AT_CTOT]): int(state[_AT_CLOSES])]
    s = 0.0
    for p in range(filled):
        for q in range(p + 1, filled):
            s += gram[p * w + q]
    state[_S] = s
    for j in range(k):
        c = 0.0
        for p in range(filled):
            c += cross[p * k + j]
        ctot[j] = c
    state[_SINCE] = 0.0


@njit(cache=True)
def _push_nb(state: Floats, v: Floats) -> None:
    """Add the normalised vector ``v`` to the window (evicting the oldest when full)."""
    w, k, m = int(state[_WINDOW]), int(state[_K]), int(state[_M])
    gamma = state[_GAMMA]
    filled, head = int(state[_FILLED]), int(state[_HEAD])
    counts = state[int(state[_AT_COUNTS]): int(state[_AT_YY])]
    refs = state[int(state[_AT_REFS]): int(state[_AT_RING])]
    ring = state[int(state[_AT_RING]): int(state[_AT_GRAM])]
    gram = state[int(state[_AT_GRAM]): int(state[_AT_CROSS])]
    cross = state[int(state[_AT_CROSS]): int(state[_AT_CTOT])]
    ctot = state[int(state[_AT_CTOT]): int(state[_AT_CLOSES])]
    s = state[_S]
    if filled == w:  # evict the oldest, in slot head
        for q in range(w):
            if q != head:
                s -= gram[head * w + q]
        for j in range(k):
            ctot[j] -= cross[head * k + j]
    # slots in use besides head: all when full, else 0..filled-1 (head == filled then)
    others = w if filled == w else filled
    for q in range(others):
        if q != head:
            g = _g(v, ring[q * D: q * D + D], gamma)
            gram[head * w + q] = g
            gram[q * w + head] = g
            s += g
    gram[head * w + head] = 0.0
    for j in range(k):
        c = 0.0
        base = j * m * D
        for i in range(int(counts[j])):
            c += _g(v, refs[base + i * D: base + i * D + D], gamma)
        cross[head * k + j] = c
        ctot[j] += c
    ring[head * D: head * D + D] = v
    state[_S] = s
    state[_HEAD] = (head + 1) % w
    state[_FILLED] = min(filled + 1, w)
    state[_SINCE] += 1.0
    if state[_SINCE] >= state[_EVERY]:
        _recompute_nb(state)


@njit(cache=True)
def mmd_mmd2_nb(state: Floats) -> Floats:
    """The current unbiased MMD^2 against each set (nan until the window is full)."""
    w, k = int(state[_WINDOW]), int(state[_K])
    out = np.full(k, np.nan)
    if int(state[_FILLED]) < w:
        return out
    counts = state[int(state[_AT_COUNTS]): int(state[_AT_YY])]
    yy = state[int(state[_AT_YY]): int(state[_AT_REFS])]
    ctot = state[int(state[_AT_CTOT]): int(state[_AT_CLOSES])]
    xx = 2.0 * state[_S] / (w * (w - 1.0))
    for j in range(k):
        out[j] = xx + yy[j] - 2.0 * ctot[j] / (w * counts[j])
    return out


@njit(cache=True)
def mmd_step_nb(state: Floats, high: float, low: float, close: float, volume: float,
                out: Floats) -> None:
    """Consume one slow bar; write the feature row (nan during the warm-up) into ``out``."""
    k = int(state[_K])
    stats = out[k:]
    has_vector = _stats_step_nb(state, high, low, close, volume, stats)
    if has_vector:
        norm = state[int(state[_AT_NORM]): int(state[_AT_COUNTS])]
        v = np.empty(D)
        for j in range(D):
            v[j] = (stats[j] - norm[j]) / norm[D + j]
        _push_nb(state, v)
    mmd2 = mmd_mmd2_nb(state)
    defined = not math.isnan(mmd2[0])
    for j in range(13):
        if math.isnan(stats[j]):
            defined = False
    if not defined:
        out[:] = np.nan
        return
    total = 0.0
    best = 0
    for j in range(k):
        score = math.sqrt(max(mmd2[j], 0.0))
        out[j] = score
        total += score
        if score < out[best]:
            best = j
    stats[13] = total / k
    stats[14] = out[best]
    stats[15] = best


@njit(cache=True)
def mmd_batch_nb(state: Floats, high: Floats, low: Floats, close: Floats,
                 volume: Floats) -> Floats:
    """Rows of :func:`mmd_step_nb` for a sequence of bars (the step kernel in a loop)."""
    n = close.shape[0]
    out = np.empty((n, int(state[_K]) + N_STATS))
    for i in range(n):
        mmd_step_nb(state, high[i], low[i], close[i], volume[i], out[i])
    return out


def mmd_vectors_init_state(vol_window: int = 20) -> Floats:
    """A state for :func:`mmd_vectors_batch_nb`: the statistics part of the MMD state only."""
    if not 2 <= vol_window <= _RETURNS:
        raise ValueError(f"mmd vol_window: expected 2..{_RETURNS}, was {vol_window}")
    parts = [np.zeros(_CLOSES), np.zeros(_RETURNS), np.zeros(_VOLUMES), rsi_init_state(14)]
    header = np.zeros(_HEADER)
    header[_VOL_WINDOW], header[_PREV_CLOSE] = vol_window, np.nan
    at = _HEADER
    for i, part in enumerate(parts):
        header[_AT_CLOSES + i] = at
        at += part.shape[0]
    header[_AT_END] = at
    return np.concatenate([header, *parts])


@njit(cache=True)
def mmd_vectors_batch_nb(state: Floats, high: Floats, low: Floats, close: Floats) -> Floats:
    """The raw per-bar vectors (``MMD_VECTOR_NAMES``, nan before bar ``vol_window``) of a
    sequence of bars, by the step kernel's own code: what the references are fitted on.
    ``state`` from :func:`mmd_vectors_init_state` (or a full MMD state)."""
    n = close.shape[0]
    out = np.full((n, D), np.nan)
    stats = np.empty(N_STATS)
    for i in range(n):
        if _stats_step_nb(state, high[i], low[i], close[i], 1.0, stats):
            out[i] = stats[:D]
    return out


@njit(cache=True)
def mmd2_direct_nb(window: Floats, refs: Floats, counts: Floats, gamma: float) -> Floats:
    """MMD^2 of the normalised ``window`` points ``(W, D)`` against each set, from scratch:
    ``W (W - 1) / 2 + W sum(n_k) + sum(n_k (n_k - 1) / 2)`` kernel evaluations."""
    w = window.shape[0]
    k = refs.shape[0]
    s = 0.0
    for p in range(w):
        for q in range(p + 1, w):
            s += _g(window[p], window[q], gamma)
    out = np.empty(k)
    for j in range(k):
        n = int(counts[j])
        yy = 0.0
        for a in range(n):
            for b in range(a + 1, n):
                yy += _g(refs[j, a], refs[j, b], gamma)
        c = 0.0
        for p in range(w):
            for a in range(n):
                c += _g(window[p], refs[j, a], gamma)
        out[j] = 2.0 * s / (w * (w - 1.0)) + 2.0 * yy / (n * (n - 1.0)) - 2.0 * c / (w * n)
    return out
