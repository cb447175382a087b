"""The RDE on CPU: training throughput and inference latency per call, default model size.

Input: the real regime windows of the bundled BTC/USD hourly data (config
``config/btcusd_1h.toml``: 4h slow bars, 96-row windows of the 26 regime columns), collected by
replaying the pipeline exactly as ``algospace train rde`` does; the chronological 70/15/15
split.

    python bench/bench_rde.py            # throughput (2 epochs) and latency
    python bench/bench_rde.py --train    # also the whole default 'train rde' (minutes)

Figures, measured in one run:

- ``training``: training windows per second over ``--epochs`` epochs of ``train_rde`` with the
  default ``[train.rde]`` (batch 64; the time includes each epoch's validation pass and
  checkpoint, as a real run does);
- ``inference``: milliseconds per call of the detector's computation (``encode_window``: one
  96 x 26 window -> mu under ``torch.inference_mode``), p50/p99/max over ``--calls`` calls
  after 50 warm-up calls, with torch's default thread count and with 1 thread;
- ``detector``: p50/p99 of the whole ``RegimeDetector.on_event`` calls that emit a
  ``RegimeVector`` (matrix copy + encode + event) over the replayed slow bars;
- ``train rde`` (``--train``): wall time of the default training run (replay, training with
  early stopping, evaluation, registration into a temporary folder). Target: under 10 minutes.

Targets: inference p99 under 2 ms. Results go to ``bench/out/rde.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.assemblers import RegimeAssemblerConfig  # noqa: E402
from components.regime.detector import (  # noqa: E402
    RegimeDetector,
    RegimeDetectorConfig,
    encode_window,
)
from components.regime.model import RegimeModel  # noqa: E402
from engine.core.logging import configure_logging  # noqa: E402
from engine.wiring.artifacts import load_artifacts  # noqa: E402
from engine.wiring.features import build_indicators  # noqa: E402
from engine.wiring.pipeline import build_replay_pipeline  # noqa: E402
from engine.wiring.registry import weights_bytes  # noqa: E402
from engine.wiring.schema import load_app_config  # noqa: E402
from replay.train.rde_data import collect_regime_rows, regime_sources, split_windows  # noqa: E402
from replay.train.rde_run import resolve_train_config, run_train_rde  # noqa: E402
from replay.train.train_rde import train_rde  # noqa: E402

CONFIG = ROOT / "config" / "btcusd_1h.toml"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    a = np.array(samples_ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "calls": len(samples_ms)}


def latency(model: RegimeModel, windows: np.ndarray, calls: int) -> dict[str, float]:
    for i in range(50):
        encode_window(model, np.ascontiguousarray(windows[i % len(windows)]))
    samples = []
    for i in range(calls):
        w = np.ascontiguousarray(windows[i % len(windows)])
        start = time.perf_counter()
        encode_window(model, w)
        samples.append((time.perf_counter() - start) * 1e3)
    return percentiles(samples)


def detector_latency(loaded, model: RegimeModel, span: int) -> dict[str, float]:
    cfg = loaded.config
    detector = RegimeDetector(RegimeDetectorConfig(
        model=model.config, weights=weights_bytes(model), version="rde/bench/0",
        assembler=RegimeAssemblerConfig(timeframe=cfg.timeframes.slow,
                                        window=model.config.window, span=span)))
    pipeline = build_replay_pipeline(cfg, loaded.data_path)
    for component in regime_sources(build_indicators(cfg, load_artifacts(loaded))):
        pipeline.bus.subscribe(component)
    samples: list[float] = []

    def timed(event):
        start = time.perf_counter()
        out = detector.on_event(event)
        if out:
            samples.append((time.perf_counter() - start) * 1e3)
        return out

    for event_type in detector.inputs:
        pipeline.bus.subscribe_handler(event_type, timed, detector.name)
    pipeline.run()
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--train", action="store_true", help="also time the default train rde")
    args = parser.parse_args()
    configure_logging(level="warning")  # not a DEBUG latency line per call
    loaded = load_app_config(CONFIG)
    cfg = loaded.config
    artifacts = load_artifacts(loaded)
    train_config = resolve_train_config(cfg)
    mc = train_config.model
    start = time.perf_counter()
    rows = collect_regime_rows(cfg, loaded.data_path, artifacts, RegimeAssemblerConfig(
        timeframe=cfg.timeframes.slow, window=mc.window, span=train_config.span))
    replay_s = time.perf_counter() - start
    windows, _ = rows.windows()
    split = split_windows(len(windows), rows.window, cfg.train.fractions)
    train, val = windows[split.train], windows[split.validation]
    threads = torch.get_num_threads()
    print(f"data          {rows.rows.shape[0]:,} slow bars -> {len(windows):,} windows "
          f"({len(train):,} train, {len(val):,} validation); replay {replay_s:.1f} s")
    print(f"model         d_model {mc.d_model}, {mc.heads} heads, {mc.layers}+"
          f"{mc.decoder_layers} layers, latent {mc.latent}; torch threads {threads}")

    import msgspec

    short = msgspec.structs.replace(train_config, epochs=args.epochs, patience=args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train_rde(train, val, short, Path(tmp))
        train_s = time.perf_counter() - start
    rate = len(train) * args.epochs / train_s
    print(f"training      {rate:,.0f} windows/s ({args.epochs} epochs of {len(train):,} in "
          f"{train_s:.1f} s, {train_s / args.epochs:.1f} s/epoch incl. validation)")
    model = result.model.eval()
    inference = latency(model, windows, args.calls)
    torch.set_num_threads(1)
    single = latency(model, windows, args.calls)
    torch.set_num_threads(threads)
    print(f"inference     p50 {inference['p50_ms']:.3f} ms  p99 {inference['p99_ms']:.3f} ms  "
          f"max {inference['max_ms']:.3f} ms ({threads} threads, {args.calls} calls)")
    print(f"              p50 {single['p50_ms']:.3f} ms  p99 {single['p99_ms']:.3f} ms  "
          f"max {single['max_ms']:.3f} ms (1 thread)")
    detector = detector_latency(loaded, model, train_config.span)
    print(f"detector      p50 {detector['p50_ms']:.3f} ms  p99 {detector['p99_ms']:.3f} ms  "
          f"max {detector['max_ms']:.3f} ms over {detector['calls']:,} emitting calls")
    verdict = "PASS" if inference["p99_ms"] < 2.0 else "FAIL"
    print(f"target        inference p99 < 2 ms: {verdict}")
    out = {"windows": len(windows), "train_windows": len(train), "replay_s": replay_s,
           "threads": threads, "training_windows_per_s": rate, "epoch_s": train_s / args.epochs,
           "inference": inference, "inference_1_thread": single, "detector": detector}
    if args.train:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            run = run_train_rde(cfg, loaded.data_path, artifacts, Path(tmp) / "run",
                                Path(tmp) / "models", "bench", cfg.data.path)
            full_s = time.perf_counter() - start
        epochs = len(run.result.metrics)
        verdict = "PASS" if full_s < 600 else "FAIL"
        print(f"train rde     {full_s / 60:.1f} min ({epochs} epochs, best {run.result.best_epoch}"
              f"); target < 10 min: {verdict}")
        out.update({"train_rde_s": full_s, "train_rde_epochs": epochs})
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "rde.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
