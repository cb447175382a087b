"""The M-RMS on CPU: proposal latency and PPO training speed, on the real BTC setups.

Input: the synergy setups of the bundled BTC/USD hourly data (config ``config/btcusd_1h.toml``
with its registered RDE), collected by replaying the pipeline as ``algospace train mrms`` does.

    python bench/bench_mrms.py

Figures, measured in one run:

- ``proposal``: milliseconds per ``RiskManager.on_event(SynergyDetected)`` (features, the
  network's deterministic proposal under ``torch.inference_mode``, the hard limits, the event),
  p50/p99/max over every real setup repeated to ``--calls`` calls, on one torch thread and on
  the default count;
- ``training``: PPO environment steps (setups decided and executed by the backtest's broker)
  per second and iterations per second over ``--iterations`` iterations of the default
  ``[train.mrms]``.

Target: proposal p99 under 2 ms. Results go to ``bench/out/mrms.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.risk.account import AccountTrackerConfig  # noqa: E402
from components.risk.manager import RiskManager, RiskManagerConfig  # noqa: E402
from components.risk.model import RiskModel  # noqa: E402
from engine.core.events import RegimeVector  # noqa: E402
from engine.core.logging import configure_logging  # noqa: E402
from engine.wiring.artifacts import load_artifacts  # noqa: E402
from engine.wiring.registry import weights_bytes  # noqa: E402
from engine.wiring.schema import load_app_config  # noqa: E402
from replay.train.mrms_data import collect_setups, split_setups  # noqa: E402
from replay.train.mrms_run import resolve_mrms_config  # noqa: E402
from replay.train.train_mrms import train_mrms  # noqa: E402

CONFIG = ROOT / "config" / "btcusd_1h.toml"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    a = np.array(samples_ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "calls": len(samples_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()
    configure_logging(level="warning")  # not a DEBUG latency line per call
    loaded = load_app_config(CONFIG)
    cfg = loaded.config
    artifacts = load_artifacts(loaded)
    assert artifacts.rde is not None
    start = time.perf_counter()
    data = collect_setups(cfg, loaded.data_path, artifacts)
    print(f"data          {len(data.samples)} setups with a regime vector; replay "
          f"{time.perf_counter() - start:.1f} s")
    train_config = resolve_mrms_config(cfg)
    torch.manual_seed(0)
    model = RiskModel(train_config.model)
    instrument = cfg.instrument_spec
    manager = RiskManager(RiskManagerConfig(
        model=train_config.model, weights=weights_bytes(model), version="mrms/bench/0",
        account=AccountTrackerConfig.for_instrument(instrument, strategy="synergy",
                                                    limits=train_config.account.limits),
        instrument=instrument, costs=cfg.backtest.costs,
        window=cfg.synergy.resolved(cfg.timeframes.fast, cfg.timeframes.slow).window))
    out: dict[str, object] = {"setups": len(data.samples)}
    threads = torch.get_num_threads()
    for label, count in (("1 thread", 1), (f"{threads} threads", threads)):
        torch.set_num_threads(count)
        samples = []
        for i in range(args.calls + 50):
            sample = data.samples[i % len(data.samples)]
            s = sample.setup
            manager.on_event(RegimeVector(ts_event=s.ts_event, ts_init=s.ts_init,
                                          instrument=s.instrument, timeframe="4h",
                                          mu=sample.regime, model="rde"))
            t0 = time.perf_counter()
            manager.on_event(s)
            if i >= 50:
                samples.append((time.perf_counter() - t0) * 1e3)
        figures = percentiles(samples)
        out[f"proposal_{count}_thread"] = figures
        print(f"proposal      p50 {figures['p50_ms']:.3f} ms  p99 {figures['p99_ms']:.3f} ms  "
              f"max {figures['max_ms']:.3f} ms ({label}, {args.calls} calls)")
    torch.set_num_threads(threads)
    parts = split_setups(data.samples, artifacts.rde.manifest.splits)
    short = msgspec.structs.replace(train_config, iterations=args.iterations,
                                    eval_every=args.iterations + 1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train_mrms(data, parts["train"], parts["validation"], short, Path(tmp))
        seconds = time.perf_counter() - t0
    steps = sum(m["charts/steps"] for m in result.metrics)
    print(f"training      {steps / seconds:,.0f} env steps/s, {args.iterations / seconds:.2f} "
          f"iterations/s ({args.iterations} iterations, {steps} steps, {seconds:.1f} s)")
    p99 = out["proposal_1_thread"]["p99_ms"]  # type: ignore[index]
    print(f"target        proposal p99 < 2 ms: {'PASS' if p99 < 2.0 else 'FAIL'}")
    out.update({"training_steps_per_s": steps / seconds,
                "training_iterations_per_s": args.iterations / seconds})
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "mrms.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
