"""Sweep throughput: the same grid of SMA-crossover trials serially and on a local Ray.

The bundled real BTC/USD hourly bars (``config/btcusd_1h.toml``, 20,111 bars) are read once;
a grid of ``strategies.sma_cross.fast`` x ``strategies.sma_cross.slow`` (every trial valid,
``fast < slow``) is planned with :func:`engine.research.sweep.plan_sweep` and run with
:func:`engine.research.sweep.run_sweep`, as ``algospace sweep`` does, on three backends in turn:

- ``serial``: every trial in this process (:class:`engine.research.executor.SerialBackend`);
- ``ray x1``: a fresh local Ray with one CPU (``RayBackend(num_cpus=1)``);
- ``ray x2``: a fresh local Ray with two CPUs (``RayBackend(num_cpus=2)``).

    python bench/bench_sweep.py                 # 24 trials, about 1 minute on 2 cores
    python bench/bench_sweep.py --trials 60     # a larger grid

Figures, measured in one run:

- ``start``: the local Ray's start-up (``ray.init`` in the backend's constructor), reported on
  its own and never counted in a sweep's time; ``shutdown``: its ``close()``;
- ``cold``: the backend's first sweep: the serial one is the first in this process (numba
  kernels loaded from the cache on the first trial), a Ray one starts worker processes that
  import the engine and load the kernels on their first task, and ships the data set;
- ``warm``: a second sweep of the same trials on the same backend (the same Ray instance,
  whose workers already hold the imported modules and loaded kernels);
- per backend: the sweep's wall seconds, trials per minute and seconds per trial; for Ray, the
  overhead per trial over serial (the 1-worker time minus the serial time, over the trials)
  and the speed-up of 2 workers over 1 worker and over serial.

Every sweep's rows (``msgspec.json.encode(rows)``) must be byte-identical to the serial cold
sweep's; the bench says so and exits with status 1 when they are not. The closing note
extrapolates the throughput to more cores (an extrapolation, not a measurement): a sweep of
``N`` trials on ``w`` workers modelled as ``F + ceil(N / w) t``, with ``t`` one trial's time on
one worker (the warm 1-worker sweep) and ``F`` what a fresh Ray's first sweep pays once (the
1-worker cold minus warm time), checked against the measured 2-worker sweep (its parallel
efficiency). Results go to ``bench/out/sweep.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.core.logging import configure_logging  # noqa: E402
from engine.research.executor import Backend, RayBackend, SerialBackend  # noqa: E402
from engine.research.search import Trial, grid_trials, parse_space  # noqa: E402
from engine.research.sweep import SweepPlan, plan_sweep, run_sweep  # noqa: E402
from engine.wiring.dataset import load_dataset  # noqa: E402
from engine.wiring.schema import load_app_config  # noqa: E402

CONFIG = ROOT / "config" / "btcusd_1h.toml"
OVERRIDES = ["backtest.strategy=sma_cross"]
FAST = (5, 10, 15, 20)  # every slow value below is above 20: every trial is valid
SLOW_FIRST, SLOW_STEP = 25, 5


def trials(n: int) -> tuple[list[str], list[Trial]]:
    """The grid arguments and its first ``n`` trials (fast varies slowest)."""
    slow_count = max(1, math.ceil(n / len(FAST)))
    slow_last = SLOW_FIRST + SLOW_STEP * (slow_count - 1)
    grid = [f"strategies.sma_cross.fast={','.join(str(v) for v in FAST)}",
            f"strategies.sma_cross.slow={SLOW_FIRST}:{slow_last}:{SLOW_STEP}"]
    return grid, grid_trials(parse_space(grid))[:n]


def sweep(plan: SweepPlan, backend: Backend, retries: int) -> tuple[float, bytes, int]:
    """Seconds, the encoded rows and the trials that did not finish ``ok``."""
    started = time.perf_counter()
    rows, _ = run_sweep(plan, backend, retries, progress=False)
    seconds = time.perf_counter() - started
    return seconds, msgspec.json.encode(rows), sum(r.status != "ok" for r in rows)


def figures(seconds: float, n: int) -> dict[str, float]:
    return {"seconds": seconds, "trials_per_min": 60 * n / seconds, "s_per_trial": seconds / n}


def line(label: str, f: dict[str, float], extra: str = "") -> str:
    return (f"{label:<16} {f['seconds']:7.2f} s  {f['trials_per_min']:7.1f} trials/min  "
            f"{f['s_per_trial']:6.3f} s/trial{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24, help="trials in the grid (default 24)")
    parser.add_argument("--retries", type=int, default=1, help="retries per trial (default 1)")
    parser.add_argument("--no-warm", action="store_true",
                        help="skip the second (warm) sweep on each backend")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "sweep.json",
                        help="results file (default bench/out/sweep.json)")
    args = parser.parse_args()
    if args.trials < 1:
        parser.error("--trials: expected at least 1")
    configure_logging(level="warning")  # not a line per trial

    started = time.perf_counter()
    loaded = load_app_config(CONFIG, OVERRIDES)
    data = load_dataset(loaded.config, loaded.data_path)
    load_s = time.perf_counter() - started
    grid, chosen = trials(args.trials)
    started = time.perf_counter()
    plan = plan_sweep(loaded, OVERRIDES, chosen, data)
    plan_s = time.perf_counter() - started
    n = len(plan.tasks)
    if plan.invalid or n == 0:
        raise SystemExit(f"expected only valid trials, {len(plan.invalid)} invalid of "
                         f"{len(chosen)}")
    print(f"data          {data.rows:,} rows of {Path(data.source).name} read once in "
          f"{load_s:.2f} s; {os.cpu_count()} cores")
    print(f"sweep         {n} sma_cross trials (first {n} of {' x '.join(grid)}), planned in "
          f"{plan_s:.2f} s")

    runs: dict[str, dict[str, Any]] = {}
    encoded: dict[str, bytes] = {}
    failed: dict[str, int] = {}
    phases = ["cold"] if args.no_warm else ["cold", "warm"]

    serial = SerialBackend()
    for phase in phases:
        seconds, rows, bad = sweep(plan, serial, args.retries)
        runs[f"serial {phase}"] = figures(seconds, n)
        encoded[f"serial {phase}"], failed[f"serial {phase}"] = rows, bad
    serial.close()

    for workers in (1, 2):
        started = time.perf_counter()
        ray_backend = RayBackend(num_cpus=workers)
        start_s = time.perf_counter() - started
        try:
            for phase in phases:
                seconds, rows, bad = sweep(plan, ray_backend, args.retries)
                key = f"ray x{workers} {phase}"
                runs[key] = figures(seconds, n) | {"workers": ray_backend.workers}
                encoded[key], failed[key] = rows, bad
        finally:
            started = time.perf_counter()
            ray_backend.close()
            stop_s = time.perf_counter() - started
        runs[f"ray x{workers} start"] = {"seconds": start_s, "shutdown_seconds": stop_s}
        print(f"ray x{workers} start   {start_s:7.2f} s  (local ray.init with num_cpus={workers}, "
              f"{ray_backend.workers} worker{'s' if ray_backend.workers > 1 else ''}; "
              f"shutdown {stop_s:.2f} s; not counted below)")

    print()
    for phase in phases:
        s, r1, r2 = (runs[f"{k} {phase}"] for k in ("serial", "ray x1", "ray x2"))
        over1 = (r1["seconds"] - s["seconds"]) / n
        r1["overhead_s_per_trial"] = over1
        r2["speedup_vs_1_worker"] = r1["seconds"] / r2["seconds"]
        r2["speedup_vs_serial"] = s["seconds"] / r2["seconds"]
        print(f"{phase}: {'a fresh backend' if phase == 'cold' else 'the same backend again'}")
        print(line(f"  serial {phase}", s))
        print(line(f"  ray x1 {phase}", r1, f"  overhead {1e3 * over1:+.0f} ms/trial vs serial"))
        print(line(f"  ray x2 {phase}", r2,
                   f"  speed-up {r2['speedup_vs_1_worker']:.2f}x vs 1 worker, "
                   f"{r2['speedup_vs_serial']:.2f}x vs serial"))
    if not args.no_warm:
        for key in ("serial", "ray x1", "ray x2"):
            cold, warm = runs[f"{key} cold"]["seconds"], runs[f"{key} warm"]["seconds"]
            runs[f"{key} warm"]["first_sweep_extra_s"] = cold - warm
        print("first-sweep cost (cold - warm): " + ", ".join(
            f"{key} {runs[f'{key} warm']['first_sweep_extra_s']:+.2f} s"
            for key in ("serial", "ray x1", "ray x2")))

    reference = encoded["serial cold"]
    same = [k for k, v in encoded.items() if v == reference]
    differ = [k for k, v in encoded.items() if v != reference]
    not_ok = sum(failed.values())
    print(f"identical rows {'yes' if not differ else 'NO'}: {len(same)} of {len(encoded)} "
          f"sweeps byte-identical to serial cold ({len(reference):,} bytes, sha256 "
          f"{hashlib.sha256(reference).hexdigest()[:12]})"
          + (f"; differ: {', '.join(differ)}" if differ else "")
          + (f"; {not_ok} trial runs not ok" if not_ok else ""))

    # Scaling: a sweep of n trials on w workers modelled as F + ceil(n / w) x t, with t one
    # trial's time on one worker (the warm 1-worker sweep) and F what a fresh Ray's first sweep
    # pays once (cold - warm: workers start, import the engine, load the kernels).
    phase = phases[-1]
    per_trial = runs[f"ray x1 {phase}"]["s_per_trial"]
    fixed = max(runs["ray x1 cold"]["seconds"] - runs[f"ray x1 {phase}"]["seconds"], 0.0)
    predicted = {w: 60 * n / (fixed + math.ceil(n / w) * per_trial) for w in (2, 4, 8, 16)}
    asymptotic = {w: 60 * w / per_trial for w in (2, 4, 8, 16)}
    measured2 = runs[f"ray x2 {phase}"]["trials_per_min"]
    ideal2 = 60 * n / (math.ceil(n / 2) * per_trial)
    efficiency = measured2 / ideal2
    runs["scaling_extrapolation"] = {"s_per_trial_one_worker": per_trial,
                                     "fixed_s_first_sweep": fixed,
                                     "trials_per_min_this_sweep_cold": predicted,
                                     "trials_per_min_large_sweep": asymptotic,
                                     "efficiency_2_workers": efficiency}
    print()
    print(f"scaling       an extrapolation, not a measurement: one trial takes t = "
          f"{per_trial:.3f} s on one worker (ray x1 {phase}), a fresh Ray's first sweep pays "
          f"F = {fixed:.2f} s once (ray x1 cold - {phase}); N trials on w workers: "
          "F + ceil(N / w) x t, assuming linear task parallelism")
    print("  predicted    " + "  ".join(
        f"w={w}: {predicted[w]:,.0f} trials/min ({n} trials, cold), {asymptotic[w]:,.0f} "
        "(large sweep)" for w in (4, 8, 16)))
    print(f"  check w=2    measured {measured2:,.1f} trials/min ({phase}) against "
          f"{ideal2:,.1f} linear: parallel efficiency {100 * efficiency:.0f}% (on this "
          f"{os.cpu_count()}-core machine the driver and Ray's own processes share the cores "
          "with the workers)")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(msgspec.json.format(msgspec.json.encode(
        {"trials": n, "grid": grid, "cores": os.cpu_count(), "data_rows": data.rows,
         "identical_rows": not differ, "runs": runs}), indent=2) + b"\n")
    if differ or not_ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
