"""Indicator cost per bar, step vs batch, whole set per slow bar, JIT cold vs warm start.

Input (load for measuring, never market data for a result): slow bars are the bundled real
BTC/USD hourly bars (20,111) tiled in time with whole-week shifts, standing in for a long
30-minute series (cost per bar does not depend on the bar length); fast bars are 5-minute bars
built from the bundled real ES 1-minute file, tiled the same way. ``--slow es`` tiles the 77
bundled ES 30-minute bars instead: a degenerate input for MLMI, whose full memory then holds
about 6 distinct points each repeated ~1,700 times (its worst case), where a long real series
spreads 10,000 points over the feature square.

    python bench/bench_indicators.py                 # 1,000,000 slow bars
    python bench/bench_indicators.py --bars 100000   # quick

Prints, for each indicator component: microseconds per bar through ``on_event`` (step mode:
the component as the bus drives it, event objects included; timed on bars that follow a batch
warm-up of up to 150,000 bars, so MLMI's memory is full as in a long-running daemon) and through
``on_chunk`` (batch mode: the same step kernels in one numba loop, over all bars), their ratio,
then the whole fast + slow set per slow bar (one slow bar and the 6 fast bars inside it), and
the time to the first result in a fresh process with the numba cache cold (cache dir emptied)
and warm (second process).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.bars.heiken_ashi import HeikenAshi, HeikenAshiConfig  # noqa: E402
from components.indicators.fvg import Fvg, FvgConfig  # noqa: E402
from components.indicators.lvn import Lvn, LvnConfig  # noqa: E402
from components.indicators.mlmi import Mlmi, MlmiConfig  # noqa: E402
from components.indicators.nwrqk import Nwrqk, NwrqkConfig  # noqa: E402
from components.indicators.scalar import ScalarIndicator, ScalarIndicatorConfig  # noqa: E402
from engine.core.chunks import BarChunk  # noqa: E402
from engine.core.events import Bar, HeikenAshiBar  # noqa: E402

WEEK_NS = 7 * 24 * 3600 * 10**9


def tiled(path: Path, minutes: int, n: int) -> BarChunk:
    frame = pd.read_csv(path)
    ts = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns").astype("int64")
    base = ts.to_numpy(np.int64)
    cols = [frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")]
    idx = np.arange(n)
    copy, pos = np.divmod(idx, base.shape[0])
    ts_open = base[pos] + copy * WEEK_NS
    return BarChunk(ts_open, ts_open + minutes * 60 * 10**9, *(c[pos] for c in cols))


def slow_bars(source: str, n: int) -> BarChunk:
    if source == "es":
        return tiled(ROOT / "data" / "es_30min_2013-09.csv", 30, n)
    return tiled(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv", 60, n)


def fast_bars(n_slow: int) -> BarChunk:
    one = tiled(ROOT / "data" / "es_1min_2013-09.csv", 1, 5 * 6 * n_slow)
    k = one.close.shape[0] // 5
    r = lambda a: a[: k * 5].reshape(k, 5)  # noqa: E731
    return BarChunk(r(one.ts_open)[:, 0], r(one.ts_close)[:, -1], r(one.open)[:, 0],
                    r(one.high).max(1), r(one.low).min(1), r(one.close)[:, -1],
                    r(one.volume).sum(1))


def events(chunk: BarChunk, timeframe: str) -> list[Bar]:
    return [Bar(ts_event=int(tc), ts_init=int(tc), instrument="ES", timeframe=timeframe,
                ts_open=int(to), open=o, high=h, low=lo, close=c, volume=v)
            for to, tc, o, h, lo, c, v in zip(*(col.tolist() for col in chunk), strict=True)]


def heiken_ashi_events(before: BarChunk, bars: list[Bar]) -> list[HeikenAshiBar]:
    """The Heiken Ashi bars of ``bars``, continuing the transform of the bars ``before``."""
    ha = HeikenAshi(HeikenAshiConfig(timeframe="30m"))
    ha.on_chunk(before)
    return [e for b in bars for e in ha.on_event(b)]  # type: ignore[misc]


def slow_components(source: str) -> dict[str, Callable[[], object]]:
    # BTC: $0.01 ticks, profile bins of $10 (a 20-hour range spans tens of bins, as an ES
    # 30-minute window does at 0.25); ES: its 0.25 tick.
    tick, bins = (0.25, None) if source == "es" else (0.01, 10.0)
    return {
        "heiken_ashi": lambda: HeikenAshi(HeikenAshiConfig(timeframe="30m")),
        "mlmi": lambda: Mlmi(MlmiConfig(timeframe="30m")),
        "nwrqk": lambda: Nwrqk(NwrqkConfig(timeframe="30m")),
        "lvn": lambda: Lvn(LvnConfig(timeframe="30m", tick_size=tick, bin_size=bins)),
        "atr14": lambda: ScalarIndicator(ScalarIndicatorConfig(indicator="atr",
                                                               timeframe="30m")),
        "rsi14": lambda: ScalarIndicator(ScalarIndicatorConfig(indicator="rsi",
                                                               timeframe="30m")),
        "std20": lambda: ScalarIndicator(ScalarIndicatorConfig(indicator="std", period=20,
                                                               timeframe="30m")),
    }


def fast_components() -> dict[str, Callable[[], object]]:
    return {
        "fvg (fast)": lambda: Fvg(FvgConfig(timeframe="5m")),
        "atr14 (fast)": lambda: ScalarIndicator(ScalarIndicatorConfig(indicator="atr",
                                                                      timeframe="5m")),
    }


def batch_input(name: str, chunk: BarChunk) -> object:
    """MLMI and NW-RQK read the Heiken Ashi close (as in the default wiring), others bars."""
    if name in ("nwrqk", "mlmi"):
        return HeikenAshi(HeikenAshiConfig(timeframe="30m")).on_chunk(chunk)[:, 3].copy()
    return chunk


def step_input(name: str, bars: list[Bar], ha: list[HeikenAshiBar]) -> list:
    return ha if name in ("nwrqk", "mlmi") else bars


def measure(factory: Callable[[], object], name: str, chunk: BarChunk, bars: list[Bar],
            ha: list[HeikenAshiBar], warm: int) -> tuple[float, float]:
    """Step: warm up in batch on the first ``warm`` bars, then time ``on_event`` on ``bars``
    (the events of the bars that follow), best of 3 passes from the same restored state (the
    first pass in a process runs while the CPU clock ramps up); batch: a fresh component over
    the whole chunk."""
    comp = factory()
    feed = step_input(name, bars, ha)
    comp.on_event(feed[0])  # type: ignore[attr-defined]
    comp = factory()
    comp.on_chunk(batch_input(name, BarChunk(*(c[:warm] for c in chunk))))  # type: ignore
    warmed = comp.snapshot()  # type: ignore[attr-defined]
    on_event = comp.on_event  # type: ignore[attr-defined]
    step = float("inf")
    for _ in range(3):
        comp.restore(warmed)  # type: ignore[attr-defined]
        t = time.perf_counter()
        for e in feed:
            on_event(e)
        step = min(step, (time.perf_counter() - t) / len(feed))
    factory().on_chunk(batch_input(name, BarChunk(*(c[:100] for c in chunk))))  # type: ignore
    comp = factory()
    data = batch_input(name, chunk)
    t = time.perf_counter()
    comp.on_chunk(data)  # type: ignore[attr-defined]
    batch = (time.perf_counter() - t) / chunk.close.shape[0]
    return step, batch


def start_time(cache_dir: Path) -> float:
    code = ("import time; t=time.perf_counter();"
            "import numpy as np;"
            "from components.indicators.nwrqk import Nwrqk, NwrqkConfig;"
            "from components.indicators.lvn import Lvn, LvnConfig;"
            "from components.indicators.scalar import ScalarIndicator, ScalarIndicatorConfig;"
            "from engine.core.chunks import BarChunk;"
            "n=50; x=np.linspace(100,110,n); ts=np.arange(n, dtype=np.int64);"
            "c=BarChunk(ts, ts+1, x, x+1, x-1, x, np.ones(n));"
            "from components.indicators.mlmi import Mlmi, MlmiConfig;"
            "from components.indicators.fvg import Fvg, FvgConfig;"
            "Nwrqk(NwrqkConfig(timeframe='30m')).on_chunk(x);"
            "Mlmi(MlmiConfig(timeframe='30m')).on_chunk(x);"
            "Fvg(FvgConfig(timeframe='5m')).on_chunk(c);"
            "Lvn(LvnConfig(timeframe='30m', tick_size=0.25)).on_chunk(c);"
            "[ScalarIndicator(ScalarIndicatorConfig(indicator=k, timeframe='30m')).on_chunk(c)"
            " for k in ('atr','rsi','std','sma','wma','ema')];"
            "print(time.perf_counter()-t)")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000, help="slow bars (default 1M)")
    parser.add_argument("--step-bars", type=int, default=20_000,
                        help="bars timed in step mode per component (default 20,000)")
    parser.add_argument("--slow", choices=("btc", "es"), default="btc",
                        help="slow series to tile: BTC hourly (default) or ES 30-minute")
    args = parser.parse_args()

    slow = slow_bars(args.slow, args.bars)
    fast = fast_bars(min(args.bars, 200_000))
    step_n = min(args.step_bars, args.bars // 2)
    warm = min(150_000, args.bars - step_n)
    fast_warm = min(6 * warm, fast.close.shape[0] - 6 * step_n)
    step_slow = events(BarChunk(*(c[warm:warm + step_n] for c in slow)), "30m")
    step_fast = events(BarChunk(*(c[fast_warm:fast_warm + 6 * step_n] for c in fast)), "5m")
    ha = heiken_ashi_events(BarChunk(*(c[:warm] for c in slow)), step_slow)

    name = "BTC/USD hourly" if args.slow == "btc" else "ES 30-minute"
    print(f"indicators: {args.bars:,} tiled {name} bars as slow bars, 5-minute ES as fast "
          f"(step mode timed on {step_n:,} slow bars after {warm:,} in batch); "
          f"{os.cpu_count()} cores")
    print(f"{'component':<16}{'step µs/bar':>14}{'batch µs/bar':>15}{'step/batch':>12}")
    results: dict[str, dict[str, float]] = {}
    per_slow_step = per_slow_batch = 0.0
    for name, factory in slow_components(args.slow).items():
        step, batch = measure(factory, name, slow, step_slow, ha, warm)
        results[name] = {"step_us": step * 1e6, "batch_us": batch * 1e6}
        per_slow_step += step
        per_slow_batch += batch
        print(f"{name:<16}{step * 1e6:>14.2f}{batch * 1e6:>15.3f}{step / batch:>11.1f}x")
    for name, factory in fast_components().items():
        step, batch = measure(factory, name, fast, step_fast, [], fast_warm)
        results[name] = {"step_us": step * 1e6, "batch_us": batch * 1e6}
        per_slow_step += 6 * step
        per_slow_batch += 6 * batch
        print(f"{name:<16}{step * 1e6:>14.2f}{batch * 1e6:>15.3f}{step / batch:>11.1f}x")
    ratio = per_slow_step / per_slow_batch
    print(f"\nwhole set per slow bar (slow indicators + 6 fast bars): step "
          f"{per_slow_step * 1e6:.1f} µs, batch {per_slow_batch * 1e6:.2f} µs ({ratio:.0f}x)")
    with tempfile.TemporaryDirectory() as cache:
        cold = start_time(Path(cache))
        warm = start_time(Path(cache))
    print(f"first result in a fresh process: cold numba cache {cold:.2f} s, "
          f"warm cache {warm:.2f} s")
    print(f"{'PASS' if per_slow_step * 1e6 < 20 else 'FAIL'}: step mode < 20 µs per slow bar "
          f"({per_slow_step * 1e6:.1f} µs)")
    print(f"{'PASS' if ratio >= 20 else 'FAIL'}: batch >= 20x faster than step ({ratio:.0f}x)")
    print(f"{'PASS' if warm < 2 else 'FAIL'}: warm start < 2 s ({warm:.2f} s)")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "indicators.json").write_text(json.dumps({
        "bars": args.bars, "slow": args.slow, "components": results,
        "per_slow_bar_step_us": per_slow_step * 1e6,
        "per_slow_bar_batch_us": per_slow_batch * 1e6, "cold_start_s": cold,
        "warm_start_s": warm}, indent=2))


if __name__ == "__main__":
    main()
