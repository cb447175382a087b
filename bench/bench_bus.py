"""Throughput and memory of the bus and the replay driver (prints figures; not a test).

Figures, all on the bundled real ES 1-minute bars tiled to ``--bars`` (default 1,000,000):

1. bus delivery to one no-op component, events pre-built (the bus's own cost);
2. the same including event construction (what a driver pays per event);
3. full replay: chunks -> 5m/30m batch aggregation -> merge -> Bar events -> bus -> no-op,
   with every 1m, 5m and 30m bar published;
4. the same replay read from a CSV file of N rows through the validating reader;
5. peak traced memory of the full replay for M/4 and M bars (``--memory-bars``, default N;
   flat memory means a ratio ~1; run it with 10,000,000 to check the 10M-bar requirement).

Targets (issue 2): >= 1,000,000 events/s through the bus to a no-op component; memory flat in
the number of bars. Aggregation throughput is in bench/bench_aggregation.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiled import tiled_chunks, write_tiled_csv  # noqa: E402

from components.bars import BarAggregator, BarAggregatorConfig  # noqa: E402
from engine.core.bus import Bus  # noqa: E402
from engine.core.clock import TestClock  # noqa: E402
from engine.core.events import Bar  # noqa: E402
from engine.wiring.replay_driver import ReplayDriver  # noqa: E402


class NoOp:
    """Subscribes to bars and does nothing."""

    name = "noop"
    inputs = (Bar,)
    ready = True

    def __init__(self) -> None:
        self.count = 0

    def on_event(self, event: Bar) -> tuple[()]:
        return ()

    def reset(self) -> None:
        pass

    def snapshot(self) -> bytes:
        return b""

    def restore(self, state: bytes) -> None:
        pass


def make_driver() -> tuple[ReplayDriver, Bus]:
    bus = Bus()
    bus.subscribe(NoOp())
    aggs = [
        BarAggregator(BarAggregatorConfig(instrument="ES", timeframe=tf, input_timeframe="1m",
                                          session_open="17:00",
                                          session_timezone="America/Chicago"))
        for tf in ("5m", "30m")
    ]
    return ReplayDriver(bus, TestClock(), "ES", "1m", aggs), bus


def bench_bus(n: int) -> tuple[float, float]:
    events = []
    for chunk in tiled_chunks(n):
        for t_open, t, o, h, lo, c, v in zip(chunk.ts_open.tolist(), chunk.ts_close.tolist(),
                                             chunk.open.tolist(), chunk.high.tolist(),
                                             chunk.low.tolist(), chunk.close.tolist(),
                                             chunk.volume.tolist(), strict=True):
            events.append((t, t_open, o, h, lo, c, v))
    built = [Bar(ts_event=t, ts_init=t, instrument="ES", timeframe="1m", ts_open=t_open, open=o,
                 high=h, low=lo, close=c, volume=v) for t, t_open, o, h, lo, c, v in events]
    bus = Bus()
    bus.subscribe(NoOp())
    publish = bus.publish
    start = time.perf_counter()
    for event in built:
        publish(event)
    delivery = len(built) / (time.perf_counter() - start)
    del built
    bus = Bus()
    bus.subscribe(NoOp())
    publish = bus.publish
    start = time.perf_counter()
    for t, t_open, o, h, lo, c, v in events:
        publish(Bar(ts_event=t, ts_init=t, instrument="ES", timeframe="1m", ts_open=t_open,
                    open=o, high=h, low=lo, close=c, volume=v))
    with_construction = len(events) / (time.perf_counter() - start)
    return delivery, with_construction


def bench_replay(n: int) -> tuple[float, float, dict[str, int]]:
    driver, bus = make_driver()
    start = time.perf_counter()
    stats = driver.run(tiled_chunks(n))
    elapsed = time.perf_counter() - start
    return n / elapsed, stats.events_published / elapsed, dict(stats.bars_by_timeframe)


def bench_csv_pipeline(n: int) -> tuple[float, float]:
    from engine.wiring.pipeline import build_replay_pipeline
    from engine.wiring.schema import AppConfig, DataConfig

    with tempfile.TemporaryDirectory() as tmp:
        path = write_tiled_csv(Path(tmp) / "es_tiled.csv", n)
        config = AppConfig(instrument="ES", data=DataConfig(path=str(path)))
        pipeline = build_replay_pipeline(config, path)
        pipeline.bus.subscribe(NoOp())
        start = time.perf_counter()
        stats = pipeline.run()
        elapsed = time.perf_counter() - start
    return stats.input_rows / elapsed, stats.events_published / elapsed


def peak_memory(n: int) -> int:
    driver, _ = make_driver()
    tracemalloc.start()
    driver.run(tiled_chunks(n, chunk_rows=50_000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--memory-bars", type=int, default=None,
                        help="bars for the memory check (default: --bars)")
    args = parser.parse_args()
    memory_bars = args.memory_bars or args.bars
    import structlog
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    make_driver()[0].run(tiled_chunks(10_000))  # JIT warm-up (cached kernels load here)

    delivery, constructed = bench_bus(args.bars)
    print(f"bus delivery, no-op component, pre-built events : {delivery:14,.0f} events/s "
          f"({1e9 / delivery:6.0f} ns/event)  target >= 1,000,000")
    print(f"bus delivery incl. Bar construction            : {constructed:14,.0f} events/s "
          f"({1e9 / constructed:6.0f} ns/event)")
    rows, events, counts = bench_replay(args.bars)
    print(f"full replay 1m -> 5m/30m -> bus (all published) : {rows:14,.0f} input bars/s, "
          f"{events:,.0f} events/s  {counts}")
    rows, events = bench_csv_pipeline(args.bars)
    print(f"full pipeline from CSV (read+validate+replay)  : {rows:14,.0f} input bars/s, "
          f"{events:,.0f} events/s")
    small, large = peak_memory(memory_bars // 4), peak_memory(memory_bars)
    print(f"peak traced memory, replay of {memory_bars // 4:>10,} bars : {small / 2**20:8.1f} MiB")
    print(f"peak traced memory, replay of {memory_bars:>10,} bars : {large / 2**20:8.1f} MiB "
          f"(ratio {large / small:.2f}; flat memory means ~1)")


if __name__ == "__main__":
    main()
