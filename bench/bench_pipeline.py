"""The full rule-based pipeline, bar by bar: fast bars per second and peak memory.

Aggregation (1h input to 4h), every indicator (Heiken Ashi, MLMI, NW-RQK, LVN, FVG, ATR/RSI/std),
the MMD regime features, the three matrix assemblers, the synergy components, the synergy
strategy and the simulated broker, all on the bus as a backtest runs them. Input: the bundled
real BTC/USD hourly bars (the default config's data: fast 1h, slow 4h) tiled in time with
whole-span shifts (load for measuring, never market data for a result).

    python bench/bench_pipeline.py                    # 400,000 fast bars, and 100,000
    python bench/bench_pipeline.py --bars 100000      # quick

Chunks of 50,000 input rows (the readers' default is 100,000): the peak is one chunk's rows
as Python values in the driver plus what the run keeps (the trade list), so it is flat in the
number of bars once they exceed a chunk.

There is no batch path for this pipeline: the synergy detector and strategy decide on events
(setups complete across timeframes in bus order), so only the bus path exists; the indicator
kernels' own batch forms are measured by bench/bench_indicators.py.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.assemblers import (  # noqa: E402
    FastAssembler,
    FastAssemblerConfig,
    RegimeAssembler,
    RegimeAssemblerConfig,
    SlowAssembler,
    SlowAssemblerConfig,
)
from components.regime.mmd import Mmd, MmdConfig  # noqa: E402
from engine.core.chunks import BarChunk  # noqa: E402
from engine.core.events import SynergyDetected  # noqa: E402
from engine.core.logging import configure_logging  # noqa: E402
from engine.wiring.artifacts import load_artifacts  # noqa: E402
from engine.wiring.build import build_broker, build_strategy, build_upstream  # noqa: E402
from engine.wiring.pipeline import ReplayPipeline  # noqa: E402
from engine.wiring.schema import load_app_config  # noqa: E402

CONFIG = ROOT / "config" / "btcusd_1h.toml"
HOUR_NS = 3600 * 10**9
WEEK_NS = 7 * 24 * HOUR_NS


def tiled(n: int, chunk_rows: int = 50_000) -> Iterator[BarChunk]:
    """``n`` BTC hourly bars: the real series repeated, each copy shifted past the previous."""
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv")
    ts = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns").astype("int64")
    base = ts.to_numpy(np.int64)
    span = (int(base[-1] - base[0]) // WEEK_NS + 1) * WEEK_NS  # whole weeks: sessions align
    cols = [frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")]
    done = 0
    while done < n:
        idx = np.arange(done, min(n, done + chunk_rows))
        copy, pos = np.divmod(idx, base.shape[0])
        ts_open = base[pos] + copy * span
        yield BarChunk(ts_open, ts_open + HOUR_NS, *(c[pos] for c in cols))
        done += idx.shape[0]


def run(n: int, trace: bool = False) -> tuple[float, int, int, int]:
    """Seconds, peak traced bytes (``trace``: tracemalloc on, which slows Python several
    times, so speed is timed in a separate untraced run), setups and trades over ``n``
    fast bars."""
    loaded = load_app_config(CONFIG, ["backtest.strategy=synergy"])
    config = loaded.config
    artifacts = load_artifacts(loaded)
    assert artifacts.mmd is not None
    strategy = build_strategy(config)
    broker = build_broker(config, strategy.name)
    pipeline = ReplayPipeline(config, None, None)
    bus = pipeline.bus
    bus.subscribe(broker)
    for component in build_upstream(config):
        bus.subscribe(component)
    slow, fast = config.timeframes.slow, config.timeframes.fast
    bus.subscribe(Mmd(MmdConfig(reference=artifacts.mmd.reference, version=artifacts.mmd.version,
                                timeframe=slow)))
    for assembler in (SlowAssembler(SlowAssemblerConfig(timeframe=slow)),
                      FastAssembler(FastAssemblerConfig(timeframe=fast)),
                      RegimeAssembler(RegimeAssemblerConfig(timeframe=slow))):
        bus.subscribe(assembler)
    setups = 0

    def count(_: SynergyDetected) -> list[object]:
        nonlocal setups
        setups += 1
        return []

    bus.subscribe_handler(SynergyDetected, count, "bench.setups")
    bus.subscribe(strategy)  # type: ignore[arg-type]
    chunks = list(tiled(n))
    if trace:
        tracemalloc.start()
    t = time.perf_counter()
    for chunk in chunks:
        pipeline.driver.step_chunk(chunk)
        broker.take_marks()
    elapsed = time.perf_counter() - t
    peak = 0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return elapsed, peak, setups, len(broker.trades)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=400_000, help="fast bars (default 400k)")
    args = parser.parse_args()
    configure_logging(level="warning")  # not a DEBUG latency line per call
    run(2_000)  # compile / load every kernel first
    small = max(args.bars // 4, 50_000)
    rows = []
    for n in (small, args.bars):
        elapsed, _, setups, trades = run(n)
        _, peak, _, _ = run(n, trace=True)
        rows.append({"fast_bars": n, "seconds": elapsed, "bars_per_s": n / elapsed,
                     "peak_mib": peak / 2**20, "setups": setups, "trades": trades})
        print(f"{n:>9,} fast bars (+{n // 4:,} slow): {n / elapsed:>9,.0f} fast bars/s "
              f"({elapsed / n * 1e6:.1f} µs/bar), peak traced memory {peak / 2**20:.1f} MiB, "
              f"{setups:,} setups, {trades:,} trades")
    ratio = rows[1]["peak_mib"] / rows[0]["peak_mib"]
    speed = rows[1]["bars_per_s"]
    print(f"memory {rows[1]['fast_bars'] // rows[0]['fast_bars']}x the bars: {ratio:.2f}x the "
          "peak (only the broker's trade list grows, with the trades)")
    print(f"{'PASS' if speed >= 50_000 else 'FAIL'}: >= 50,000 fast bars per second bar by bar "
          f"({speed:,.0f})")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_bytes(msgspec.json.encode(rows))


if __name__ == "__main__":
    main()
