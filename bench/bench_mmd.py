"""MMD regime features: incremental vs from-scratch cost per bar, and the full 23-value vector.

Input (load for measuring, never market data for a result): the bundled real BTC/USD hourly
bars (20,111), tiled in time (repeated) when more bars are asked for; the per-bar cost does not
depend on the bar length. Reference sets: the fitted artifact
``models/mmd_reference/btcusd_1h/<version>/reference.msgpack`` when one exists (the first by
name), else 7 disjoint chunks of 200 of the data's own normalised vectors with the
median-heuristic bandwidth (load only, not a fitted reference). Window 100, volatility window
20, recomputation every 100 updates (the defaults).

    python bench/bench_mmd.py                  # 200,000 bars, 2,000 from scratch
    python bench/bench_mmd.py --bars 50000     # quick
    python bench/bench_mmd.py --chunks         # 7 x 200 chunks even if an artifact exists

Measured in one run on the same bars and references, each figure in microseconds per bar:

- ``batch``: ``mmd_batch_nb`` over all bars (incremental MMD + statistics: the full vector);
- ``step``: ``mmd_step_nb`` called from Python per bar (``--step-bars`` bars after a batch
  warm-up, best of 3 passes from the same restored state);
- ``statistics``: ``mmd_vectors_batch_nb`` over all bars, which runs the same statistics code
  per bar without the MMD part; ``batch - statistics`` is the incremental MMD alone;
- ``from scratch``: ``mmd2_direct_nb`` on each bar's window over ``--direct-bars`` bars (it
  also recomputes the sets' own fixed terms, ``sum n_k (n_k - 1) / 2`` evaluations), and a
  fairer from-scratch kernel defined here that takes those terms precomputed, leaving the
  ``W (W - 1) / 2 + W sum(n_k)`` evaluations that depend on the window.

Ratios: MMD alone (from scratch / (batch - statistics)) and the full vector ((from scratch +
statistics) / batch), both against the fairer from-scratch kernel. Targets: >= 25x faster than
recomputing, and the full vector under 50 us per bar (batch). The incremental MMD^2 is checked
against the from-scratch one on every from-scratch bar (max abs difference). Results go to
``bench/out/mmd.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.regime.mmd.kernels import (  # noqa: E402
    mmd2_direct_nb,
    mmd_batch_nb,
    mmd_init_state,
    mmd_mmd2_nb,
    mmd_step_nb,
    mmd_vectors_batch_nb,
    mmd_vectors_init_state,
)
from components.regime.mmd.reference import MmdReference  # noqa: E402

Floats = npt.NDArray[np.float64]
WINDOW = 100
SET_SIZE = 200
N_SETS = 7


def bars(n: int) -> list[Floats]:
    """high, low, close, volume of ``n`` bars: the real hours repeated."""
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv")
    cols = [np.array(frame[c], dtype=np.float64) for c in ("high", "low", "close", "volume")]
    pos = np.arange(n) % cols[0].shape[0]
    return [c[pos] for c in cols]


def reference(data: list[Floats], chunks: bool) -> tuple[Floats, npt.NDArray[np.int64], Floats,
                                                         Floats, float, int, str]:
    """refs, counts, norm mean and std, bandwidth, vol_window, and where they came from."""
    found = sorted((ROOT / "models" / "mmd_reference" / "btcusd_1h").glob("*/reference.msgpack"))
    if found and not chunks:
        ref = msgspec.msgpack.decode(found[0].read_bytes(), type=MmdReference)
        refs, counts = ref.arrays()
        return (refs, counts, np.array(ref.norm_mean), np.array(ref.norm_std), ref.bandwidth,
                ref.vol_window, f"fitted artifact {found[0].relative_to(ROOT)}")
    raw = mmd_vectors_batch_nb(mmd_vectors_init_state(20), *data[:3])
    raw = raw[~np.isnan(raw).any(1)][: 20_000]
    mean, std = raw.mean(0), raw.std(0)
    norm = (raw - mean) / std
    refs = norm[: N_SETS * SET_SIZE].reshape(N_SETS, SET_SIZE, 4).copy()
    pooled = refs.reshape(-1, 4)
    d2 = ((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(-1)
    bandwidth = float(np.sqrt(np.median(d2[np.triu_indices(pooled.shape[0], 1)])))
    return (refs, np.full(N_SETS, SET_SIZE, dtype=np.int64), mean, std, bandwidth, 20,
            f"{N_SETS} chunks of {SET_SIZE} of the data's own vectors (load only)")


@njit(cache=False)
def window_terms_nb(window: Floats, refs: Floats, counts: Floats, gamma: float,
                    yy: Floats) -> Floats:
    """MMD^2 from scratch with the sets' fixed mean pair kernels ``yy`` given: the window's
    pairs and every window x set pair, ``W (W - 1) / 2 + W sum(n_k)`` evaluations."""
    w, d = window.shape[0], window.shape[1]
    s = 0.0
    for p in range(w):
        for q in range(p + 1, w):
            d2 = 0.0
            for j in range(d):
                diff = window[p, j] - window[q, j]
                d2 += diff * diff
            s += math.exp(-gamma * d2)
    out = np.empty(refs.shape[0])
    for k in range(refs.shape[0]):
        n = int(counts[k])
        c = 0.0
        for p in range(w):
            for a in range(n):
                d2 = 0.0
                for j in range(d):
                    diff = window[p, j] - refs[k, a, j]
                    d2 += diff * diff
                c += math.exp(-gamma * d2)
        out[k] = 2.0 * s / (w * (w - 1.0)) + yy[k] - 2.0 * c / (w * n)
    return out


def pair_means(refs: Floats, counts: npt.NDArray[np.int64], gamma: float) -> Floats:
    """Each set's mean kernel over its distinct pairs (the fixed term ``YY_k``)."""
    out = np.empty(refs.shape[0])
    for k in range(refs.shape[0]):
        y = refs[k, : counts[k]]
        g = np.exp(-gamma * ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1))
        out[k] = (g.sum() - np.trace(g)) / (counts[k] * (counts[k] - 1))
    return out


def best(passes: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(passes):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000, help="bars (default 200,000)")
    parser.add_argument("--step-bars", type=int, default=20_000,
                        help="bars timed in step mode (default 20,000)")
    parser.add_argument("--direct-bars", type=int, default=2_000,
                        help="bars recomputed from scratch (default 2,000)")
    parser.add_argument("--chunks", action="store_true",
                        help="7 chunks of 200 of the data's vectors even if an artifact exists")
    args = parser.parse_args()

    data = bars(args.bars)
    refs, counts, mean, std, bandwidth, vol_window, source = reference(data, args.chunks)
    countsf = counts.astype(np.float64)
    gamma = 1.0 / (2.0 * bandwidth * bandwidth)
    n_sets = refs.shape[0]

    def new_state() -> Floats:
        return mmd_init_state(refs, counts, mean, std, bandwidth, window=WINDOW,
                              vol_window=vol_window)

    vectors = (mmd_vectors_batch_nb(mmd_vectors_init_state(vol_window), *data[:3]) - mean) / std
    first = max(vol_window + WINDOW - 1, 100)  # first bar with every column defined
    step_n = min(args.step_bars, args.bars - first - 1)
    direct_n = min(args.direct_bars, args.bars - first)
    warm = args.bars - step_n  # step mode on the last bars
    at = args.bars - direct_n  # from scratch on the last bars

    # compile (or load) every kernel first
    small = [x[:200] for x in data]
    mmd_batch_nb(new_state(), *small)
    mmd_step_nb(new_state(), 1.0, 1.0, 1.0, 1.0, np.empty(n_sets + 16))
    mmd_mmd2_nb(new_state())
    mmd_vectors_batch_nb(mmd_vectors_init_state(vol_window), *small[:3])
    yy = pair_means(refs, counts, gamma)
    window_terms_nb(vectors[first - WINDOW + 1: first + 1], refs, countsf, gamma, yy)

    sizes = f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"
    print(f"mmd: {args.bars:,} tiled BTC/USD hourly bars, window {WINDOW}, {n_sets} sets of "
          f"{sizes} points ({source}), bandwidth {bandwidth:.3f}; "
          f"{os.cpu_count()} cores")

    # incremental, batch: the full vector over all bars
    out = np.empty(0)

    def run_batch() -> None:
        nonlocal out
        out = mmd_batch_nb(new_state(), *data)

    batch = best(3, run_batch) / args.bars
    stats = best(3, lambda: mmd_vectors_batch_nb(mmd_vectors_init_state(vol_window),
                                                 *data[:3])) / args.bars

    # incremental, step from Python, on the last step_n bars after a batch warm-up
    state = new_state()
    mmd_batch_nb(state, *(x[:warm] for x in data))
    warmed = state.copy()
    feed = list(zip(*(x[warm:].tolist() for x in data), strict=True))
    row = np.empty(n_sets + 16)

    def run_step() -> None:
        s = warmed.copy()
        for h, lo, c, v in feed:
            mmd_step_nb(s, h, lo, c, v, row)

    step = best(3, run_step) / step_n

    # from scratch, on the last direct_n bars (their windows of normalised vectors)
    windows = [vectors[t - WINDOW + 1: t + 1] for t in range(at, args.bars)]
    direct_out = np.empty((direct_n, n_sets))
    t0 = time.perf_counter()
    for i, win in enumerate(windows):
        direct_out[i] = mmd2_direct_nb(win, refs, countsf, gamma)
    direct = (time.perf_counter() - t0) / direct_n
    cached_out = np.empty((direct_n, n_sets))
    t0 = time.perf_counter()
    for i, win in enumerate(windows):
        cached_out[i] = window_terms_nb(win, refs, countsf, gamma, yy)
    cached = (time.perf_counter() - t0) / direct_n

    # agreement on the from-scratch bars: incremental MMD^2 read after each bar (untimed)
    state = new_state()
    mmd_batch_nb(state, *(x[:at] for x in data))
    incremental = np.empty((direct_n, n_sets))
    for i, t in enumerate(range(at, args.bars)):
        mmd_step_nb(state, data[0][t], data[1][t], data[2][t], data[3][t], row)
        incremental[i] = mmd_mmd2_nb(state)
    diff = float(np.abs(incremental - direct_out).max())
    diff_cached = float(np.abs(cached_out - direct_out).max())
    score_diff = float(np.abs(out[at:, :n_sets] - np.sqrt(np.maximum(direct_out, 0.0))).max())

    mmd_only = batch - stats
    ratio_mmd = cached / mmd_only
    ratio_full = (cached + stats) / batch
    us = 1e6
    print(f"{'incremental, batch (full vector)':<44}{batch * us:>10.2f} µs/bar")
    print(f"{'incremental, step from Python (full vector)':<44}{step * us:>10.2f} µs/bar")
    print(f"{'statistics part alone':<44}{stats * us:>10.2f} µs/bar")
    print(f"{'incremental MMD alone (batch - statistics)':<44}{mmd_only * us:>10.2f} µs/bar")
    print(f"{'from scratch, mmd2_direct_nb':<44}{direct * us:>10.2f} µs/bar "
          f"({direct / mmd_only:.0f}x the incremental MMD)")
    print(f"{'from scratch, sets fixed terms cached':<44}{cached * us:>10.2f} µs/bar "
          f"({ratio_mmd:.0f}x the incremental MMD)")
    print(f"full vector from scratch (cached + statistics) {(cached + stats) * us:.1f} µs/bar vs "
          f"incremental batch {batch * us:.2f} µs/bar: {ratio_full:.0f}x")
    print(f"agreement on {direct_n:,} bars: max |incremental - direct| MMD^2 {diff:.2e}, "
          f"cached vs direct {diff_cached:.2e}, scores vs sqrt(max(direct, 0)) {score_diff:.2e}")
    checks = {
        "mmd_ratio": ratio_mmd >= 25, "full_ratio": ratio_full >= 25,
        "full_under_50us": batch * us < 50, "agreement": max(diff, diff_cached) < 1e-9,
    }
    print(f"{'PASS' if checks['mmd_ratio'] else 'FAIL'}: incremental MMD >= 25x faster than "
          f"from-scratch recomputation ({ratio_mmd:.0f}x; {direct / mmd_only:.0f}x against "
          f"mmd2_direct_nb)")
    print(f"{'PASS' if checks['full_ratio'] else 'FAIL'}: full vector >= 25x faster than "
          f"from scratch ({ratio_full:.0f}x)")
    print(f"{'PASS' if checks['full_under_50us'] else 'FAIL'}: full {n_sets + 16}-value vector "
          f"< 50 µs per bar ({batch * us:.2f} µs batch, {step * us:.2f} µs step)")
    print(f"{'PASS' if checks['agreement'] else 'FAIL'}: incremental == from scratch within "
          f"1e-9 ({diff:.2e})")
    dest = ROOT / "bench" / "out"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "mmd.json").write_text(json.dumps({
        "bars": args.bars, "step_bars": step_n, "direct_bars": direct_n, "window": WINDOW,
        "sets": n_sets, "counts": counts.tolist(), "reference": source,
        "bandwidth": bandwidth, "cores": os.cpu_count(),
        "batch_us": batch * us, "step_us": step * us, "statistics_us": stats * us,
        "mmd_only_us": mmd_only * us, "direct_us": direct * us, "direct_cached_us": cached * us,
        "ratio_mmd": ratio_mmd, "ratio_mmd_vs_direct": direct / mmd_only,
        "ratio_full": ratio_full, "max_abs_diff_mmd2": diff,
        "max_abs_diff_cached": diff_cached, "max_abs_diff_scores": score_diff,
        "checks": checks}, indent=2))


if __name__ == "__main__":
    main()
