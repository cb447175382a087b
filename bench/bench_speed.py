"""Every speed target in one run: measured, target, ratio, PASS/FAIL, and where each comes from.

Runs, in one process and one sitting, the measurements of the single-figure benchmarks
(their own functions, the same method), so the ratios to the targets come from one machine
state:

- the full rule-based pipeline bar by bar, fast bars per second (``bench_pipeline.run``);
- the indicator set per slow bar, step mode and batch mode (``bench_indicators.measure`` for
  every component, summed as ``bench_indicators.main`` sums them);
- live ingest of a cold daemon, synergy and marl strategies (``bench_live.run_daemon``: the
  real ``algospace live`` and ``algospace feed`` processes on loopback, the ingest phase);
- the RDE's inference call, p50/p99 (``bench_rde.latency``; on the registered RDE, of the
  default model size: weights do not change the cost, so bench_rde's two training epochs are
  skipped; at the torch thread count bench_rde reads after its replay, which is the engine's
  inference policy, engine/core/threads.py);
- the MARL decision, ``SynergyDetected`` to the gate-2 verdict, p50/p99, with the registered
  gate and a gate passing every setup (``bench_marl.decision_latency``).

    python bench/bench_speed.py           # the scripts' default sizes (1-2 minutes on 2 cores)
    python bench/bench_speed.py --quick   # smaller sizes (under a minute): a smoke check

Only the figures above are measured: not bench_pipeline's smaller size and traced-memory
runs, bench_indicators' cold/warm start, bench_live's paced latency phase, bench_rde's
training throughput and detector replay, nor bench_marl's batched-vs-sequential gate 1 (run
those scripts for their other targets).

Ratios are oriented so that >= 1.00 means met: measured / target for rates and speed-ups,
target / measured for times. Progress goes to stderr; the report (fixed layout) to stdout and
``bench/out/speed.json``. Each figure names the command that measures it alone (at the sizes
used here), for a closer look.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import torch  # noqa: E402

TORCH_DEFAULT_THREADS = torch.get_num_threads()  # before any builder sets the engine's policy

import bench_indicators  # noqa: E402
import bench_live  # noqa: E402
import bench_marl  # noqa: E402
import bench_pipeline  # noqa: E402
import bench_rde  # noqa: E402
import msgspec  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import zmq  # noqa: E402

from components.assemblers import RegimeAssemblerConfig  # noqa: E402
from components.regime.model import RegimeModel  # noqa: E402
from engine.core.chunks import BarChunk  # noqa: E402
from engine.core.logging import configure_logging  # noqa: E402
from engine.core.threads import INFERENCE_THREADS, available_cores  # noqa: E402
from engine.wiring.artifacts import load_artifacts  # noqa: E402
from engine.wiring.schema import load_app_config  # noqa: E402
from replay.train.marl_run import matrix_configs, resolve_marl_config  # noqa: E402
from replay.train.mrms_data import collect_setups  # noqa: E402
from replay.train.rde_data import collect_regime_rows  # noqa: E402
from replay.train.rde_run import resolve_train_config  # noqa: E402

CONFIG = ROOT / "config" / "btcusd_1h.toml"
BTC = ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv"


@dataclass(frozen=True)
class Sizes:
    pipeline_bars: int  # fast bars through the bus (bench_pipeline --bars)
    indicator_bars: int  # tiled slow bars (bench_indicators --bars)
    indicator_step: int  # slow bars timed in step mode (bench_indicators --step-bars)
    live_rows: int | None  # BTC hours fed to the cold daemon (None: the whole file)
    rde_calls: int  # timed encode_window calls (bench_rde --calls)
    marl_calls: int  # timed decisions per gate (bench_marl --calls)


FULL = Sizes(pipeline_bars=400_000, indicator_bars=1_000_000, indicator_step=20_000,
             live_rows=None, rde_calls=2_000, marl_calls=1_000)
QUICK = Sizes(pipeline_bars=50_000, indicator_bars=200_000, indicator_step=5_000,
              live_rows=8_000, rde_calls=500, marl_calls=200)


@dataclass(frozen=True)
class Figure:
    name: str
    measured: float
    target: float
    unit: str  # "bars/s", "us", "x", "ms"
    higher_is_better: bool
    source: str
    also: bool = True  # a further condition of the target (live: nothing lost)

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.measured / self.target
        return self.target / self.measured if self.measured > 0 else float("inf")

    @property
    def met(self) -> bool:
        if self.higher_is_better:
            return self.measured >= self.target and self.also
        return self.measured < self.target and self.also


def fmt(value: float, unit: str) -> str:
    if unit == "bars/s":
        return f"{value:,.0f} bars/s"
    if unit == "us":
        return f"{value:.1f} µs"
    if unit == "x":
        return f"{value:.1f}x"
    return f"{value:.3f} ms"


def fmt_target(figure: Figure) -> str:
    op = ">=" if figure.higher_is_better else "<"
    if figure.unit == "bars/s":
        return f"{op} {figure.target:,.0f} bars/s"
    if figure.unit == "x":
        return f"{op} {figure.target:g}x"
    return f"{op} {figure.target:g} {'µs' if figure.unit == 'us' else 'ms'}"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the sections: each returns its figures, one detail line per figure group, a JSON record


def pipeline(sizes: Sizes) -> tuple[list[Figure], list[str], dict]:
    """bench_pipeline's speed figure: one untimed 2,000-bar run, then one timed run."""
    bench_pipeline.run(2_000)  # compile / load every kernel first
    n = sizes.pipeline_bars
    elapsed, _, setups, trades = bench_pipeline.run(n)
    rate = n / elapsed
    figures = [Figure("pipeline, bar by bar (bus path)", rate, 50_000, "bars/s", True,
                      f"python bench/bench_pipeline.py --bars {n}")]
    details = [f"pipeline     {n:,} fast bars (+{n // 4:,} slow) in {elapsed:.1f} s "
               f"({elapsed / n * 1e6:.1f} µs/bar), {setups:,} setups, {trades:,} trades"]
    return figures, details, {"fast_bars": n, "seconds": elapsed, "bars_per_s": rate,
                              "setups": setups, "trades": trades}


def indicators(sizes: Sizes) -> tuple[list[Figure], list[str], dict]:
    """bench_indicators' whole set per slow bar, as its main sums it (BTC slow bars)."""
    bi, source = bench_indicators, "btc"
    bars, step_bars = sizes.indicator_bars, sizes.indicator_step
    slow = bi.slow_bars(source, bars)
    fast = bi.fast_bars(min(bars, 200_000))
    step_n = min(step_bars, bars // 2)
    warm = min(150_000, bars - step_n)
    fast_warm = min(6 * warm, fast.close.shape[0] - 6 * step_n)
    step_slow = bi.events(BarChunk(*(c[warm:warm + step_n] for c in slow)), "30m")
    step_fast = bi.events(BarChunk(*(c[fast_warm:fast_warm + 6 * step_n] for c in fast)), "5m")
    ha = bi.heiken_ashi_events(BarChunk(*(c[:warm] for c in slow)), step_slow)
    components: dict[str, dict[str, float]] = {}
    step_total = batch_total = 0.0
    for name, factory in bi.slow_components(source).items():
        step, batch = bi.measure(factory, name, slow, step_slow, ha, warm)
        components[name] = {"step_us": step * 1e6, "batch_us": batch * 1e6}
        step_total += step
        batch_total += batch
    for name, factory in bi.fast_components().items():
        step, batch = bi.measure(factory, name, fast, step_fast, [], fast_warm)
        components[name] = {"step_us": step * 1e6, "batch_us": batch * 1e6}
        step_total += 6 * step
        batch_total += 6 * batch
    ratio = step_total / batch_total
    source_cmd = f"python bench/bench_indicators.py --bars {bars} --step-bars {step_bars}"
    figures = [
        Figure("indicators, step mode per slow bar", step_total * 1e6, 20, "us", False,
               source_cmd),
        Figure("indicators, batch vs step per slow bar", ratio, 20, "x", True, source_cmd),
    ]
    worst = max(components, key=lambda k: components[k]["step_us"])
    details = [f"indicators   {bars:,} tiled BTC hourly bars as slow bars, 5-minute ES as fast; "
               f"step timed on {step_n:,} slow bars after {warm:,} in batch: step "
               f"{step_total * 1e6:.1f} µs, batch {batch_total * 1e6:.2f} µs per slow bar "
               f"(slowest step: {worst} {components[worst]['step_us']:.2f} µs/bar)"]
    return figures, details, {"bars": bars, "step_bars": step_n, "warm": warm,
                              "components": components,
                              "per_slow_bar_step_us": step_total * 1e6,
                              "per_slow_bar_batch_us": batch_total * 1e6}


def live(sizes: Sizes) -> tuple[list[Figure], list[str], dict]:
    """bench_live's ingest phase for both strategies: a cold daemon, the feed at full speed."""
    ctx = zmq.Context.instance()
    frame = pd.read_csv(BTC)
    if sizes.live_rows is not None:
        frame = frame.iloc[:sizes.live_rows]
    figures, details, record = [], [], {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        everything = tmp / "all.csv"
        frame.to_csv(everything, index=False)
        for strategy in ("synergy", "marl"):
            progress(f"  live ingest, {strategy} ...")
            status, feed_line = bench_live.run_daemon(ctx, tmp, strategy, everything, None, 0.0)
            rate = status["accepted"] / status["busy_s"]
            published = status["published_by_feed"]
            lossless = status["accepted"] == published
            rows = ("the whole file" if sizes.live_rows is None
                    else f"the first {sizes.live_rows:,} rows")
            figures.append(Figure(f"live ingest, {strategy}, no loss", rate, 10_000, "bars/s",
                                  True, f"python bench/bench_live.py --strategy {strategy} "
                                  "(its 'ingest' line; always the whole file)", also=lossless))
            details.append(f"live {strategy:<8}cold daemon, BTC hours ({rows}) as fast as the "
                           f"feed publishes: {status['accepted']:,} of {published:,} accepted "
                           f"(none lost: {lossless}) in {status['busy_s']:.2f} s from the first "
                           f"receipt to the last done, {status['signals']} signals")
            record[strategy] = {"rows": published, "accepted": status["accepted"],
                                "busy_s": status["busy_s"], "bars_per_s": rate,
                                "lossless": lossless, "signals": status["signals"],
                                "feed": feed_line}
    return figures, details, record


def rde(sizes: Sizes) -> tuple[list[Figure], list[str], dict]:
    """bench_rde's inference latency on the real regime windows of the bundled BTC hours."""
    loaded = load_app_config(CONFIG)
    cfg = loaded.config
    artifacts = load_artifacts(loaded)
    assert artifacts.rde is not None
    train_config = resolve_train_config(cfg)
    mc = train_config.model
    rows = collect_regime_rows(cfg, loaded.data_path, artifacts, RegimeAssemblerConfig(
        timeframe=cfg.timeframes.slow, window=mc.window, span=train_config.span))
    windows, _ = rows.windows()
    threads = torch.get_num_threads()  # as bench_rde reads it: after the replay
    if artifacts.rde.config == mc:
        model, which = artifacts.rde.model.eval(), f"registered {artifacts.rde.label}"
    else:  # the registered model is not of the default size bench_rde measures: an untrained one
        model, which = RegimeModel(mc).eval(), "untrained, default size"
    calls = sizes.rde_calls
    inference = bench_rde.latency(model, windows, calls)
    figures = [Figure(f"RDE inference p99 ({threads} thread{'s' * (threads != 1)})",
                      inference["p99_ms"], 2.0, "ms", False,
                      f"python bench/bench_rde.py --calls {calls} (its 'inference' line)")]
    line = (f"RDE          encode_window, 96 x {mc.features} -> mu, d_model {mc.d_model}, "
            f"{mc.layers}+{mc.decoder_layers} layers ({which}), {calls:,} calls over "
            f"{len(windows):,} windows: p50 {inference['p50_ms']:.3f} ms  p99 "
            f"{inference['p99_ms']:.3f} ms  max {inference['max_ms']:.3f} ms at {threads} "
            f"thread{'s' * (threads != 1)}")
    return figures, [line], {"model": which, "threads": threads, "inference": inference}


def marl(sizes: Sizes) -> tuple[list[Figure], list[str], dict]:
    """bench_marl's decision latency, with the registered gate and a gate passing all."""
    loaded = load_app_config(CONFIG, ["backtest.strategy=marl"])
    config = loaded.config
    artifacts = load_artifacts(loaded, risk=True, marl=True)
    assert artifacts.marl is not None
    train = msgspec.structs.replace(resolve_marl_config(config), model=artifacts.marl.config)
    data = collect_setups(config, loaded.data_path, artifacts,
                          matrices=matrix_configs(config, train))
    gate = msgspec.convert(artifacts.marl.manifest.training["gate"], dict)
    lenient = {**gate, "threshold": 0.0, "min_agree": 1, "penalty": 0.0}
    calls = sizes.marl_calls
    figures, details, record = [], [], {"setups": len(data.samples),
                                        "model": artifacts.marl.label}
    for label, settings in (("registered gate", gate), ("gate passing all", lenient)):
        cfg = msgspec.structs.replace(config, marl=msgspec.structs.replace(
            config.marl, gate=msgspec.convert(settings, type(train.gate))))
        result, orders = bench_marl.decision_latency(cfg, artifacts, data, calls)
        figures.append(Figure(f"MARL decision p99 ({label})", result["p99_ms"], 10.0, "ms",
                              False, f"python bench/bench_marl.py --calls {calls} (its "
                              "'decision' lines)"))
        details.append(f"MARL {label:<17}p50 {result['p50_ms']:.3f} ms  p99 "
                       f"{result['p99_ms']:.3f} ms  max {result['max_ms']:.3f} ms, {calls:,} "
                       f"decisions over {len(data.samples)} setups, {orders} to an order; "
                       f"{artifacts.marl.label}, {torch.get_num_threads()} torch thread"
                       f"{'s' * (torch.get_num_threads() != 1)}")
        record[label.replace(" ", "_")] = {**result, "orders": orders}
    return figures, details, record


SECTIONS: tuple[tuple[str, Callable[[Sizes], tuple[list[Figure], list[str], dict]]], ...] = (
    ("pipeline", pipeline), ("indicators", indicators), ("live", live), ("rde", rde),
    ("marl", marl))


def code_version() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=10)
        return out.stdout.strip() + " (git describe --always --dirty --tags)"
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def probe() -> float:
    """Milliseconds of a fixed pure-Python loop (best of 5): the machine's speed now, to
    compare runs (the load average misses work outside this VM or container)."""
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes (about a minute): a smoke check, not the figures")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    configure_logging(level="warning")  # not a DEBUG latency line per call
    load_start, probe_start = load(), probe()
    t_all = time.perf_counter()
    figures: list[Figure] = []
    details: list[str] = []
    record: dict[str, object] = {}
    timings: list[str] = []
    for number, (name, section) in enumerate(SECTIONS, 1):
        progress(f"[{number}/{len(SECTIONS)}] {name} ...")
        t = time.perf_counter()
        f, d, r = section(sizes)
        seconds = time.perf_counter() - t
        figures += f
        details += d
        record[name] = {**r, "section_s": seconds}
        timings.append(f"{name} {seconds:.0f} s")
        progress(f"[{number}/{len(SECTIONS)}] {name} done in {seconds:.1f} s")
        gc.collect()
    total = time.perf_counter() - t_all
    probe_end = probe()

    mode = "quick, smoke sizes" if args.quick else "full sizes"
    print(f"AlgoSpace speed targets, one run ({mode}): python bench/bench_speed.py"
          f"{' --quick' if args.quick else ''}")
    print(f"code      {code_version()}")
    print(f"machine   {os.cpu_count()} CPUs ({available_cores()} available to this process), "
          f"{cpu_model()}, {platform.system()} {platform.machine()}")
    print(f"threads   torch default {TORCH_DEFAULT_THREADS}, engine inference "
          f"{INFERENCE_THREADS} (engine/core/threads.py); numba kernels single-threaded")
    print(f"software  Python {platform.python_version()}, torch {torch.__version__}, numba "
          f"{numba.__version__}, numpy {np.__version__}")
    print(f"load avg  {load_start} at the start, {load()} at the end (1, 5, 15 min; above "
          f"{available_cores()} means other work shared the CPUs)")
    print(f"cpu probe {probe_start:.1f} ms at the start, {probe_end:.1f} ms at the end (a fixed "
          "1M-step Python loop, best of 5: compare runs; slower = a busier or slower machine)")
    print()
    width = max(len(f.name) for f in figures)
    print(f"{'#':>2}  {'figure':<{width}}  {'measured':>15}  {'target':>17}  {'ratio':>6}  "
          "verdict")
    for i, f in enumerate(figures, 1):
        print(f"{i:>2}  {f.name:<{width}}  {fmt(f.measured, f.unit):>15}  "
              f"{fmt_target(f):>17}  {f.ratio:>6.2f}  {'PASS' if f.met else 'FAIL'}")
    met = sum(f.met for f in figures)
    print(f"{met} of {len(figures)} targets met (ratio >= 1.00 means met: measured/target for "
          "rates and speed-ups, target/measured for times)")
    print()
    print("details")
    for line in details:
        print(f"  {line}")
    print()
    print("where each figure comes from (run one alone; bench_speed calls the same functions)")
    for i, f in enumerate(figures, 1):
        print(f"{i:>2}  {f.source}")
    print()
    print(f"took {total:.0f} s ({', '.join(timings)})")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps({
        "mode": "quick" if args.quick else "full", "code": code_version(),
        "cpus": os.cpu_count(), "available_cores": available_cores(),
        "torch_default_threads": TORCH_DEFAULT_THREADS, "sizes": sizes.__dict__,
        "load_start": load_start, "load_end": load(), "probe_ms": [probe_start, probe_end],
        "figures": [{"figure": f.name, "measured": f.measured, "unit": f.unit,
                     "target": f.target, "higher_is_better": f.higher_is_better,
                     "ratio": f.ratio, "met": f.met, "source": f.source} for f in figures],
        "sections": record, "seconds": total}, indent=2) + "\n")


if __name__ == "__main__":
    main()
