"""How often the synergy detector fires on the bundled real data (measurement, not a test).

Replays each data set through the real pipeline (``build_replay_pipeline`` with every
configured indicator, the MMD reference included where the config names one) with one
``SynergySignals`` and a grid of ``SynergyDetector`` instances subscribed after the
indicators, as the wiring does. One replay per signal variant (activation settings); every
(window, cooldown) pair of the grid runs in the same replay. Prints, per data set:

- the raw indicator events per day (MLMI zero crosses, MLMI crossovers whose vote agrees,
  NW-RQK changes, FVG mitigations) and the activated signals per kind per day;
- setups per day for each (window, cooldown), per variant;
- for the default window and cooldown: setups per day by pattern and direction.

Rates are per calendar day of the *active* span: from the first fast bar at which MLMI,
NW-RQK and FVG have all produced output (their warm-ups end) to the last bar. Results go to
``bench/out/synergy_rates.json``; ``docs/synergy.md`` quotes them.

    python bench/synergy_rates.py                       # all data sets, all variants
    python bench/synergy_rates.py --datasets eurusd_1h  # one
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.synergy import (  # noqa: E402
    PATTERN_NAMES,
    SynergyConfig,
    SynergyDetector,
    SynergySignals,
)
from engine.core.events import (  # noqa: E402
    Bar,
    Event,
    FvgMitigated,
    FvgState,
    MlmiValue,
    NwrqkValue,
    SynergyDetected,
    SynergySignal,
)
from engine.core.logging import configure_logging  # noqa: E402
from engine.wiring.artifacts import load_artifacts  # noqa: E402
from engine.wiring.features import build_indicators  # noqa: E402
from engine.wiring.pipeline import build_replay_pipeline  # noqa: E402
from engine.wiring.schema import load_app_config  # noqa: E402

DATASETS = {
    "btcusd_1h": "config/btcusd_1h.toml",
    "eurusd_1h": "config/eurusd_1h.toml",
    "es_5m_30m": "config/es_5m_30m.toml",
}
WINDOWS = (6, 10, 20, 30, 48)
COOLDOWNS = (0, 5, 10)
DAY_NS = 86_400 * 10**9
DEFAULT = SynergyConfig()
# activation variants: overrides of the default config
VARIANTS: dict[str, dict[str, object]] = {
    "default": {},
    "mlmi_zero_cross": {"mlmi_mode": "zero_cross"},
    "mlmi_crossover": {"mlmi_mode": "crossover"},
    "fvg_spec_0.1pct": {"fvg_min_size_pct": 0.1, "fvg_min_size_atr": 0.0},
    "fvg_any": {"fvg_min_size_pct": 0.0, "fvg_min_size_atr": 0.0},
}


class Replay(msgspec.Struct):
    """What one replay of one variant counted."""

    active_days: float
    raw_per_day: dict[str, float]
    signals_per_day: dict[str, float]
    setups: dict[str, int]  # "window/cooldown" -> count
    by_pattern: dict[str, int]  # for the default window/cooldown: "pattern direction" -> count
    bars_to_complete: list[int]  # default window/cooldown
    strengths: dict[str, list[float]]  # kind -> (median, 90th percentile) of activated signals


def replay(config_path: Path, synergy: SynergyConfig) -> Replay:
    """Replay one data set with one signal component and the detector grid."""
    loaded = load_app_config(config_path)
    cfg = loaded.config
    fast, slow = cfg.timeframes.fast, cfg.timeframes.slow
    pipeline = build_replay_pipeline(cfg, loaded.resolve(cfg.data.path))
    bus = pipeline.bus
    for component in build_indicators(cfg, load_artifacts(loaded)):
        bus.subscribe(component)
    base = synergy.resolved(fast, slow)
    bus.subscribe(SynergySignals(base))
    found: dict[tuple[int, int], list[SynergyDetected]] = {}
    for window in WINDOWS:
        for cooldown in COOLDOWNS:
            detector = SynergyDetector(msgspec.structs.replace(base, window=window,
                                                               cooldown=cooldown))
            setups = found.setdefault((window, cooldown), [])
            handler = _recording(detector, setups)
            for event_type in detector.inputs:
                bus.subscribe_handler(event_type, handler, detector.name)

    raw: Counter[str] = Counter()
    signals: Counter[str] = Counter()
    strengths: dict[str, list[float]] = {"mlmi": [], "nwrqk": [], "fvg": []}
    seen: set[str] = set()
    span = {"start": -1, "end": -1}

    def tap(event: Event) -> None:
        match event:
            case Bar() if event.timeframe == fast:
                if span["start"] < 0 and len(seen) == 3:
                    span["start"] = event.ts_event
                span["end"] = event.ts_event
                if span["start"] >= 0:
                    raw["fast bars"] += 1
            case MlmiValue():
                seen.add("mlmi")
                if span["start"] >= 0:
                    raw["mlmi zero cross"] += event.signal != 0
                    raw["mlmi crossover (vote agrees)"] += event.crossover * event.value > 0
            case NwrqkValue():
                seen.add("nwrqk")
                if span["start"] >= 0:
                    raw["nwrqk change"] += event.signal != 0
            case FvgState():
                seen.add("fvg")
            case FvgMitigated() if span["start"] >= 0:
                raw["fvg mitigation"] += 1
            case SynergySignal() if span["start"] >= 0:
                signals[event.kind] += 1
                strengths[event.kind].append(event.strength)
            case _:
                pass

    bus.add_tap(tap)
    pipeline.run(flush=True)
    days = (span["end"] - span["start"]) / DAY_NS
    default = found[(DEFAULT.window, DEFAULT.cooldown)]
    return Replay(
        active_days=days,
        raw_per_day={k: v / days for k, v in raw.items()},
        signals_per_day={k: signals[k] / days for k in ("mlmi", "nwrqk", "fvg")},
        setups={f"{w}/{c}": len(v) for (w, c), v in found.items()},
        by_pattern=dict(Counter(f"{s.pattern} {'long' if s.direction > 0 else 'short'}"
                                for s in default)),
        bars_to_complete=[s.bars_to_complete for s in default],
        strengths={k: _median_p90(v) for k, v in strengths.items()},
    )


def _median_p90(values: list[float]) -> list[float]:
    if not values:
        return [float("nan"), float("nan")]
    ordered = sorted(values)
    return [ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 9 // 10)]]


def _recording(detector: SynergyDetector,
               into: list[SynergyDetected]) -> Callable[[Event], Sequence[Event]]:
    def handler(event: Event) -> Sequence[Event]:
        out = detector.on_event(event)
        into.extend(e for e in out if isinstance(e, SynergyDetected))
        return out
    return handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()
    configure_logging(json=False, level="warning")
    results: dict[str, dict[str, Replay]] = {}
    for name in args.datasets:
        for variant in args.variants:
            start = time.perf_counter()
            synergy = msgspec.structs.replace(DEFAULT, **VARIANTS[variant])
            result = replay(ROOT / DATASETS[name], synergy)
            results.setdefault(name, {})[variant] = result
            print(f"# {name} {variant}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        report(name, results[name])
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "synergy_rates.json").write_bytes(msgspec.json.format(msgspec.json.encode(results)))


def report(name: str, by_variant: dict[str, Replay]) -> None:
    """Print the tables of one data set (markdown)."""
    first = next(iter(by_variant.values()))
    print(f"\n## {name}: {first.active_days:.1f} active days\n")
    print("raw indicator events per day: " + ", ".join(
        f"{k} {v:.2f}" for k, v in first.raw_per_day.items()))
    print("signal strength median/p90 (default variant): " + ", ".join(
        f"{k} {m:.2f}/{p:.2f}" for k, (m, p) in by_variant.get("default", first).strengths.items()))
    print("\n| variant | mlmi signals/day | nwrqk signals/day | fvg signals/day |")
    print("|---|---:|---:|---:|")
    for variant, r in by_variant.items():
        s = r.signals_per_day
        print(f"| {variant} | {s['mlmi']:.3f} | {s['nwrqk']:.3f} | {s['fvg']:.3f} |")
    for variant, r in by_variant.items():
        print(f"\nsetups per day, {variant} (rows window, columns cooldown, fast bars):\n")
        print("| window | " + " | ".join(f"cd {c}" for c in COOLDOWNS) + " |")
        print("|---:|" + "---:|" * len(COOLDOWNS))
        for w in WINDOWS:
            cells = " | ".join(f"{r.setups[f'{w}/{c}'] / r.active_days:.3f} "
                               f"({r.setups[f'{w}/{c}']})" for c in COOLDOWNS)
            print(f"| {w} | {cells} |")
    r = by_variant.get("default", first)
    print(f"\nsetups per day by pattern, window {DEFAULT.window}, cooldown {DEFAULT.cooldown}:\n")
    print("| pattern | long | short |")
    print("|---|---:|---:|")
    for pattern, label in PATTERN_NAMES.items():
        cells = " | ".join(f"{r.by_pattern.get(f'{pattern} {d}', 0) / r.active_days:.3f} "
                           f"({r.by_pattern.get(f'{pattern} {d}', 0)})" for d in ("long", "short"))
        print(f"| {pattern} {label} | {cells} |")
    if r.bars_to_complete:
        ordered = sorted(r.bars_to_complete)
        print(f"\nbars to complete: median {ordered[len(ordered) // 2]}, "
              f"max {ordered[-1]}; setups per week {7 * len(ordered) / r.active_days:.2f}")


if __name__ == "__main__":
    main()
