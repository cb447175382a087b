"""The MARL decision core on CPU: decision latency and batched vs sequential MC-Dropout.

Input: the synergy setups of the bundled BTC/USD hourly data with their slow and fast matrices
and regime vectors, replayed as ``algospace train marl`` does, and the registered models the
config names (``[regime]``, ``[risk]``, ``[marl]``; ``--model`` for another MARL model).

    python bench/bench_marl.py

Figures, measured in one run:

- ``decision``: milliseconds from a ``SynergyDetected`` to the gate-2 verdict: the decider's
  gate 1 (observation, ``gate.samples`` dropout masks, one batched forward, consensus, the
  event), the consensus risk manager's proposal, the strategy's gate 2 and order. Twice: with
  the registered gate (most setups stop at gate 1) and with a gate that passes every setup
  with an agent for it (threshold 0), so the whole chain runs;
- ``gate 1``: the 50 stochastic passes as one batched forward against 50 single forwards with
  the same masks, on the same setups, and the ratio.

Targets: decision p99 under 10 ms; batched gate 1 at least 10x faster than sequential.
Results go to ``bench/out/marl.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import msgspec
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.decision.decider import mask_generator, observe  # noqa: E402
from components.risk.setup_features import setup_features  # noqa: E402
from engine.core.events import ConsensusReached, RegimeVector  # noqa: E402
from engine.core.logging import configure_logging  # noqa: E402
from engine.wiring.artifacts import load_artifacts  # noqa: E402
from engine.wiring.backtest import build_strategy  # noqa: E402
from engine.wiring.risk import build_decider, build_risk_manager  # noqa: E402
from engine.wiring.schema import load_app_config  # noqa: E402
from replay.train.marl_run import matrix_configs, resolve_marl_config  # noqa: E402
from replay.train.mrms_data import collect_setups  # noqa: E402

CONFIG = ROOT / "config" / "btcusd_1h.toml"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    a = np.array(samples_ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "calls": len(samples_ms)}


def decision_latency(config, artifacts, data, calls: int) -> tuple[dict[str, float], int]:
    """Milliseconds per setup through gate 1, the risk manager and gate 2; how many of the
    timed decisions ended in an order."""
    decider = build_decider(config, artifacts, "marl")
    risk = build_risk_manager(config, artifacts, "marl", consensus=True)
    strategy = build_strategy(config)
    samples, orders = [], 0
    for i in range(calls + 20):
        sample = data.samples[i % len(data.samples)]
        s = sample.setup
        risk.on_event(RegimeVector(s.ts_event, s.ts_init, s.instrument, config.timeframes.slow,
                                   sample.regime, "rde"))
        strategy.reset()
        t0 = time.perf_counter()
        out = decider.decide(s, sample.slow, sample.fast, sample.regime)
        if type(out) is ConsensusReached:
            strategy.on_event(out)
            (answer,) = risk.on_event(out)
            result = strategy.on_event(answer)
            orders += int(bool(result) and type(result[0]).__name__ == "OrderIntent")
        elapsed = (time.perf_counter() - t0) * 1e3
        if i >= 20:
            samples.append(elapsed)
    return percentiles(samples), orders


def gate_one(decider, data, rounds: int) -> dict[str, float]:
    """Batched vs sequential MC-Dropout on the same setups and masks."""
    model = decider.model
    n = decider.config.gate.samples
    batched, sequential = [], []
    for i in range(rounds):
        sample = data.samples[i % len(data.samples)]
        obs = observe(sample.slow, sample.fast, sample.regime,
                      setup_features(sample.setup, decider.config.window))
        with torch.inference_mode():
            masks = model.sample_masks(n, mask_generator(0, sample.setup.ts_event))
            t0 = time.perf_counter()
            model.mc_probs(*obs, masks)
            t1 = time.perf_counter()
            for k in range(n):
                model.mc_probs(*obs, [m[k:k + 1] for m in masks])
            t2 = time.perf_counter()
        batched.append((t1 - t0) * 1e3)
        sequential.append((t2 - t1) * 1e3)
    b, s = float(np.median(batched)), float(np.median(sequential))
    return {"samples": n, "batched_ms": b, "sequential_ms": s, "speedup": s / b}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--model", help="a registered MARL model (default: the config's)")
    args = parser.parse_args()
    configure_logging(level="warning")
    overrides = ["backtest.strategy=marl", *([f"marl.model={args.model}"] if args.model else [])]
    loaded = load_app_config(CONFIG, overrides)
    config = loaded.config
    artifacts = load_artifacts(loaded, risk=True, marl=True)
    assert artifacts.marl is not None
    train = msgspec.structs.replace(resolve_marl_config(config), model=artifacts.marl.config)
    start = time.perf_counter()
    data = collect_setups(config, loaded.data_path, artifacts,
                          matrices=matrix_configs(config, train))
    print(f"data          {len(data.samples)} setups with full matrices; replay "
          f"{time.perf_counter() - start:.1f} s; model {artifacts.marl.label}; "
          f"{torch.get_num_threads()} torch threads")
    out: dict[str, object] = {"setups": len(data.samples), "model": artifacts.marl.label}
    gate = msgspec.convert(artifacts.marl.manifest.training["gate"], dict)
    lenient = {**gate, "threshold": 0.0, "min_agree": 1, "penalty": 0.0}
    for label, settings in (("registered gate", gate), ("gate passing all", lenient)):
        cfg = msgspec.structs.replace(config, marl=msgspec.structs.replace(
            config.marl, gate=msgspec.convert(settings, type(train.gate))))
        figures, orders = decision_latency(cfg, artifacts, data, args.calls)
        out[f"decision_{label.replace(' ', '_')}"] = {**figures, "orders": orders}
        print(f"decision      p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms  "
              f"max {figures['max_ms']:.2f} ms ({label}; {orders} of {args.calls} to an order)")
    g = gate_one(build_decider(config, artifacts, "marl"), data, args.rounds)
    out["gate1"] = g
    print(f"gate 1        {g['samples']} passes: batched {g['batched_ms']:.2f} ms, sequential "
          f"{g['sequential_ms']:.2f} ms, {g['speedup']:.1f}x")
    worst = max(v["p99_ms"] for k, v in out.items() if k.startswith("decision_"))  # type: ignore[union-attr]
    print(f"target        decision p99 < 10 ms: {'PASS' if worst < 10 else 'FAIL'}; batched "
          f">= 10x sequential: {'PASS' if g['speedup'] >= 10 else 'FAIL'}")
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "marl.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
