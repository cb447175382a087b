"""Throughput of bar aggregation: 1-minute bars into 5m and 30m (benchmark, prints figures).

Input is the bundled real ES 1-minute file tiled in time (``bench/tiled.py``). Each figure is the
best of ``--repeat`` runs after a warm-up run that compiles (or loads) the numba kernels:

- ``bucket_bounds``: session-aligned bucket bounds for the whole array;
- ``kernel``: ``aggregate_batch_nb`` alone on precomputed bounds;
- ``on_chunk``: ``BarAggregator.on_chunk`` end to end (bounds + kernel + output columns), once
  for a single chunk of all bars and once in 100,000-row chunks as the replay driver reads them;
- ``on_event``: the per-event path (``Bar`` objects in, ``Bar`` objects out) on a prefix.

Usage: ``python bench/bench_aggregation.py [--bars 1000000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from tiled import tiled_chunks

from components.bars import BarAggregator, BarAggregatorConfig, bucket_bounds
from components.bars.kernels import aggregate_batch_nb, aggregate_init_state
from engine.core.chunks import BarChunk
from engine.core.events import Bar
from engine.core.timeframes import parse_timeframe

SESSIONS = (("America/Chicago", "17:00"), ("UTC", "00:00"))
TIMEFRAMES = ("5m", "30m")


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """Best wall time of ``repeat`` runs after one warm-up run."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def one_chunk(config: BarAggregatorConfig, chunk: BarChunk) -> object:
    return BarAggregator(config).on_chunk(chunk)


def split(chunk: BarChunk, rows: int) -> list[BarChunk]:
    return [BarChunk(*(column[i:i + rows] for column in chunk))
            for i in range(0, chunk.rows, rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000, help="number of 1-minute bars")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (best)")
    parser.add_argument("--event-bars", type=int, default=100_000,
                        help="bars for the per-event figure")
    args = parser.parse_args()

    chunk = next(tiled_chunks(args.bars, chunk_rows=args.bars))
    pieces = split(chunk, 100_000)
    n = chunk.rows
    span_days = (chunk.ts_close[-1] - chunk.ts_open[0]) / 86_400e9
    print(f"input: {n:,} ES 1-minute bars (tiled real data, {span_days:,.0f} days)")
    header = (f"{'session':<22} {'tf':>4} {'out bars':>9} {'bucket_bounds':>14} {'kernel':>10} "
              f"{'on_chunk':>10} {'bars/s':>12} {'100k chunks':>12} {'bars/s':>12}")
    print(header)
    print("-" * len(header))
    for zone, session_open in SESSIONS:
        for timeframe in TIMEFRAMES:
            tf_ns = parse_timeframe(timeframe)
            config = BarAggregatorConfig(instrument="ES", timeframe=timeframe,
                                         input_timeframe="1m", session_open=session_open,
                                         session_timezone=zone)
            t_bounds = best_of(args.repeat, partial(bucket_bounds, chunk.ts_open, tf_ns,
                                                    session_open, zone))
            start, end = bucket_bounds(chunk.ts_open, tf_ns, session_open, zone)

            def kernel(start: np.ndarray = start, end: np.ndarray = end) -> object:
                state_i, state_f = aggregate_init_state()
                return aggregate_batch_nb(state_i, state_f, start, end, chunk.ts_open,
                                          chunk.ts_close, chunk.open, chunk.high, chunk.low,
                                          chunk.close, chunk.volume)

            t_kernel = best_of(args.repeat, kernel)
            t_chunk = best_of(args.repeat, partial(one_chunk, config, chunk))

            def chunked(config: BarAggregatorConfig = config) -> object:
                agg = BarAggregator(config)
                return [agg.on_chunk(piece) for piece in pieces]

            t_pieces = best_of(args.repeat, chunked)
            out_rows = BarAggregator(config).on_chunk(chunk).rows
            print(f"{zone + ' ' + session_open:<22} {timeframe:>4} {out_rows:>9,} "
                  f"{t_bounds * 1e3:>11.1f} ms {t_kernel * 1e3:>7.1f} ms {t_chunk * 1e3:>7.1f} ms "
                  f"{n / t_chunk:>12,.0f} {t_pieces * 1e3:>9.1f} ms {n / t_pieces:>12,.0f}")

    m = min(args.event_bars, n)
    events = [Bar(ts_event=int(chunk.ts_close[i]), ts_init=int(chunk.ts_close[i]),
                  instrument="ES", timeframe="1m", ts_open=int(chunk.ts_open[i]),
                  open=float(chunk.open[i]), high=float(chunk.high[i]), low=float(chunk.low[i]),
                  close=float(chunk.close[i]), volume=float(chunk.volume[i])) for i in range(m)]
    print(f"\nper-event path (on_event), {m:,} Bar events:")
    for zone, session_open in SESSIONS:
        config = BarAggregatorConfig(instrument="ES", timeframe="30m", input_timeframe="1m",
                                     session_open=session_open, session_timezone=zone)

        def feed(config: BarAggregatorConfig = config) -> object:
            agg = BarAggregator(config)
            return [agg.on_event(event) for event in events]

        t_events = best_of(max(1, args.repeat // 2), feed)
        print(f"  {zone + ' ' + session_open:<22} 30m: {t_events * 1e3:8.1f} ms "
              f"{m / t_events:>12,.0f} events/s")


if __name__ == "__main__":
    main()
