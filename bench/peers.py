"""Our engine against backtesting.py, NautilusTrader and vectorbt on one strategy (prints figures).

The strategy (peers_common): SMA(10/30) crossover on closes, long/flat, 1 unit, a decision at a
bar's close fills at the next bar's open, no commission, no slippage. The input: the bundled
real ES 1-minute bars tiled to ``--bars`` (default 1,000,000; bench/tiled.py).

Measured, each engine in a fresh worker process (``--worker``; see docs/benchmarks.md):

1. bars/s = bars / (prepare + run), best of ``--repeat`` runs (one run for engines whose run
   takes over 20 s), after one untimed warm-up run on 5,000 bars (numba JIT, import caches).
   ``prepare`` builds the engine's own input from numpy arrays (DataFrames, Nautilus objects);
   ours reads the tiled chunks as they are generated;
2. peak memory: the worker's peak RSS (``ru_maxrss``, native allocations included) and the part
   of it above the RSS measured after imports and input loading (``run MiB``);
3. fills: each engine's closed trades (entry and exit bar index and price) against a local
   reference (pandas rolling means + next-open fills);
4. memory flatness: our bar-by-bar path run alone at ``--memory-bars`` (default N/4 and N).

Targets printed as PASS/FAIL (the issue's): bar-by-bar >= 4x NautilusTrader's bars/s and
>= 1.5x backtesting.py's; batch >= vectorbt's; our memory flat in the number of bars; our fills
equal to the reference's on both paths.

NautilusTrader 1.221 needs pandas < 3 and this project runs pandas 3, so its workers run in
their own virtualenv (``--nautilus-python``, default bench/out/nautilus-venv/bin/python); every
other engine runs in the interpreter that runs this script.

    python bench/peers.py                         # all engines, 1,000,000 bars
    python bench/peers.py --bars 50000            # quick
    python bench/peers.py --engines backtesting,vectorbt,nautilus
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
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from peers_common import (  # noqa: E402
    COLUMNS,
    Trades,
    compare,
    load_bars,
    machine,
    peak_rss_mb,
    reference,
    rss_mb,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
NAUTILUS_PYTHON = OUT / "nautilus-venv" / "bin" / "python"
WARMUP_BARS = 5_000
SLOW_RUN_S = 20.0

ENGINES: dict[str, str] = {
    "ours_bus": "AlgoSpace bar-by-bar (bus path)",
    "ours_batch": "AlgoSpace batch path",
    "backtesting": "backtesting.py",
    "nautilus": "NautilusTrader (bars + open ticks, 1 ns latency)",
    "nautilus_bars": "NautilusTrader (bars only)",
    "vectorbt": "vectorbt",
}
LABELS = {**ENGINES, "reference": "local reference (pandas; sanity check)"}
PACKAGES = {"backtesting": "backtesting", "vectorbt": "vectorbt", "nautilus": "nautilus_trader",
            "nautilus_bars": "nautilus_trader", "ours_bus": "algospace-engine",
            "ours_batch": "algospace-engine"}


# ------------------------------------------------------------------------------- worker


def _slice(bars: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    return {k: v[:n] for k, v in bars.items()}


def _peer_runner(engine: str) -> tuple[Any, Any, Any]:
    """(prepare, run, to_trades) of a peer; importing the peer's package here."""
    import peers_runners as r

    if engine == "backtesting":
        import backtesting  # noqa: F401

        return r.backtesting_prepare, r.backtesting_run, lambda out, bars: out
    if engine == "vectorbt":
        import vectorbt  # noqa: F401

        return r.vectorbt_prepare, r.vectorbt_run, lambda out, bars: out
    if engine in ("nautilus", "nautilus_bars"):
        import nautilus_trader.backtest.engine  # noqa: F401

        at_open = engine == "nautilus"
        return (lambda bars: r.nautilus_prepare(bars, at_open), r.nautilus_run,
                lambda out, bars: r.nautilus_trades(out, bars, at_open))
    if engine == "reference":
        return (lambda bars: bars), r.reference_run, lambda out, bars: out
    raise SystemExit(f"unknown engine {engine!r}; expected one of {sorted(ENGINES)}")


def worker(name: str, n_bars: int, data: Path, result: Path, repeat: int,
           marks: str = "keep") -> None:
    """Time one engine, measure its memory, and write its result and trades next to ``result``."""
    prep_s: list[float] = []
    run_s: list[float] = []
    if name.startswith("ours_"):
        import peers_runners as r

        import engine.wiring.backtest  # noqa: F401  (import cost is not part of the run)

        path = name.removeprefix("ours_")
        base = rss_mb()
        r.run_ours(path, WARMUP_BARS, marks)
        out = None
        for _ in range(repeat):
            out = None
            gc.collect()
            t0 = time.perf_counter()
            out = r.run_ours(path, n_bars, marks)
            run_s.append(time.perf_counter() - t0)
            prep_s.append(0.0)
            if run_s[-1] > SLOW_RUN_S:
                break
        peak = peak_rss_mb()
        bars = load_bars(data)
        trades = r.ours_trades(out, bars["ts_open"])
        extra = {"ours_marks": marks, "ours_bars": out.bars, "ours_trades": len(out.trades),
                 "ours_fills": len(out.fills)}
    else:
        prepare, run, to_trades = _peer_runner(name)
        bars = load_bars(data)
        base = rss_mb()
        run(prepare(_slice(bars, WARMUP_BARS)))
        out = None
        for _ in range(repeat):
            out = None
            gc.collect()
            t0 = time.perf_counter()
            state = prepare(bars)
            t1 = time.perf_counter()
            out = run(state)
            t2 = time.perf_counter()
            del state
            prep_s.append(t1 - t0)
            run_s.append(t2 - t1)
            if t2 - t0 > SLOW_RUN_S:
                break
        peak = peak_rss_mb()
        trades = to_trades(out, bars)
        extra = {}
    totals = [p + q for p, q in zip(prep_s, run_s, strict=True)]
    best = int(np.argmin(totals))
    package = PACKAGES.get(name)
    trades.to_npz(result.with_suffix(".npz"))
    result.write_text(json.dumps({
        "engine": name, "bars": n_bars, "repeats": len(totals),
        "prep_s": prep_s, "run_s": run_s, "best_prep_s": prep_s[best],
        "best_run_s": run_s[best], "best_total_s": totals[best],
        "bars_per_s": n_bars / totals[best],
        "base_rss_mb": base, "peak_rss_mb": peak, "run_mb": peak - base,
        "python": sys.executable, "version": metadata.version(package) if package else None,
        "numpy": np.__version__, "pandas": metadata.version("pandas"), **extra,
    }))


# --------------------------------------------------------------------------- orchestrator


def write_bars(n_bars: int) -> Path:
    """The tiled bars as one ``.npz`` that every peer worker loads (made once per bar count)."""
    path = OUT / f"tiled_{n_bars}.npz"
    if not path.exists():
        from tiled import tiled_chunks

        chunks = list(tiled_chunks(n_bars))
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{c: np.concatenate([getattr(ch, c) for ch in chunks]) for c in COLUMNS})
        tmp.replace(path)
    return path


def run_worker(engine: str, n_bars: int, data: Path, repeat: int, python: str,
               timeout: float, marks: str = "keep") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        result = Path(tmp) / f"{engine}.json"
        cmd = [python, str(Path(__file__).resolve()), "--worker", engine, "--bars", str(n_bars),
               "--data", str(data), "--result", str(result), "--repeat", str(repeat),
               "--ours-marks", marks]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(BENCH), str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"engine": engine, "error": f"timed out after {timeout:.0f} s"}
        if proc.returncode != 0 or not result.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
            return {"engine": engine, "error": " | ".join(tail) or f"exit {proc.returncode}"}
        out = json.loads(result.read_text())
        out["trades"] = Trades.from_npz(result.with_suffix(".npz"))
        out["wall_s"] = time.perf_counter() - t0
        return out


def python_for(engine: str, nautilus_python: str) -> str:
    return nautilus_python if engine.startswith("nautilus") else sys.executable


def _fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma list of {', '.join(ENGINES)}")
    parser.add_argument("--skip", default="", help="comma list of engines to leave out")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-bars", default="",
                        help="comma list of bar counts for the flat-memory check of ours_bus "
                             "(default: N/4,N; 'none' to skip)")
    parser.add_argument("--nautilus-python",
                        default=os.environ.get("NAUTILUS_PYTHON", str(NAUTILUS_PYTHON)))
    parser.add_argument("--ours-marks", choices=("keep", "discard"), default="keep",
                        help="keep: plain run_backtest call (the run keeps its equity marks); "
                             "discard: pass an on_marks sink that drops them")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per worker, seconds")
    parser.add_argument("--out", type=Path, default=OUT / "peers.json")
    # worker mode (internal)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        worker(args.worker, args.bars, args.data, args.result, args.repeat, args.ours_marks)
        return 0

    skip = {e for e in args.skip.split(",") if e}
    engines = [e for e in args.engines.split(",") if e and e not in skip]
    unknown = [e for e in engines if e not in ENGINES and e != "reference"]
    if unknown:
        parser.error(f"unknown engines {unknown}; expected {sorted(ENGINES)}")
    if any(e.startswith("nautilus") for e in engines) and not Path(args.nautilus_python).exists():
        print(f"NautilusTrader interpreter {args.nautilus_python} not found: skipping Nautilus "
              "(see docs/benchmarks.md to create its virtualenv)")
        engines = [e for e in engines if not e.startswith("nautilus")]

    n = args.bars
    data = write_bars(n)
    bars = load_bars(data)
    expected, notes = reference(bars)
    # What a fill at the decision bar's close would be: bars-only Nautilus is held to this too.
    at_close = Trades(expected.entry_idx - 1, bars["close"][expected.entry_idx - 1],
                      expected.exit_idx - 1, bars["close"][expected.exit_idx - 1])
    del bars
    mach = machine()
    print(f"peers: {n:,} tiled ES 1-minute bars; SMA({10}/{30}) long/flat, next-open fills, "
          f"no costs; {mach['cores']} cores, {mach['cpu']}, {mach['memory']}")
    print(f"reference: {expected.count:,} closed trades; {notes}")

    results: dict[str, dict[str, Any]] = {}
    for engine in engines:
        print(f"  running {engine} ...", flush=True)
        res = run_worker(engine, n, data, args.repeat, python_for(engine, args.nautilus_python),
                         args.timeout, args.ours_marks)
        if "error" in res:
            print(f"    {engine}: FAILED: {res['error']}")
        else:
            res["fills"] = compare(expected, res.pop("trades")) if engine != "nautilus_bars" \
                else _compare_close(expected, at_close, res.pop("trades"))
            print(f"    {res['bars_per_s']:,.0f} bars/s, peak {res['peak_rss_mb']:,.0f} MiB, "
                  f"fills match: {res['fills']['match']}")
        results[engine] = res

    memory: dict[str, Any] = {}
    if "ours_bus" in engines and args.memory_bars != "none":
        counts = [int(x) for x in args.memory_bars.split(",") if x] or [n // 4, n]
        for count in counts:
            print(f"  memory: ours_bus at {count:,} bars ...", flush=True)
            res = run_worker("ours_bus", count, write_bars(count), 1, sys.executable,
                             args.timeout, args.ours_marks)
            res.pop("trades", None)
            memory[str(count)] = res

    report = summarize(n, results, memory)
    print_report(n, results, memory, report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "bars": n, "machine": {**mach, "python": platform.python_version()},
        "reference": {"trades": expected.count, **notes}, "engines": results,
        "memory": memory, "targets": report,
    }, indent=2, default=str))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


def _compare_close(expected: Trades, at_close: Trades, got: Trades) -> dict[str, Any]:
    """Bars-only Nautilus: against the spec, and against fills at the decision bar's close."""
    out = compare(expected, got)
    close = compare(at_close, got)
    out["same_decisions_filled_at_signal_close"] = close["match"]
    if not close["match"]:
        out["vs_signal_close"] = close
    return out


def _rate(results: dict[str, dict[str, Any]], engine: str) -> float | None:
    res = results.get(engine)
    return None if res is None or "error" in res else float(res["bars_per_s"])


def summarize(n: int, results: dict[str, dict[str, Any]],
              memory: dict[str, Any]) -> list[dict[str, Any]]:
    """The PASS/FAIL lines: each a target, the figures it compares, and the verdict."""
    lines: list[dict[str, Any]] = []

    def ratio_line(name: str, ours: str, peer: str, need: float) -> None:
        a, b = _rate(results, ours), _rate(results, peer)
        if a is None or b is None:
            lines.append({"target": name, "verdict": "SKIP",
                          "why": f"{ours if a is None else peer} not measured"})
            return
        lines.append({"target": name, "ratio": a / b, "need": need,
                      "verdict": "PASS" if a / b >= need else "FAIL"})

    ratio_line("bar-by-bar >= 4x NautilusTrader (next-open set-up)", "ours_bus", "nautilus", 4.0)
    ratio_line("bar-by-bar >= 4x NautilusTrader (bars only, fills at close)", "ours_bus",
               "nautilus_bars", 4.0)
    ratio_line("bar-by-bar >= 1.5x backtesting.py", "ours_bus", "backtesting", 1.5)
    ratio_line("batch >= vectorbt (both after JIT warm-up)", "ours_batch", "vectorbt", 1.0)

    runs = [m for m in memory.values() if "error" not in m]
    if len(runs) >= 2:
        small, large = runs[0], runs[-1]
        growth = large["run_mb"] / max(small["run_mb"], 1.0)
        lines.append({
            "target": f"memory flat: bar-by-bar run MiB at {large['bars']:,} vs "
                      f"{small['bars']:,} bars <= 1.5x",
            "ratio": growth, "need": 1.5, "verdict": "PASS" if growth <= 1.5 else "FAIL",
            "small_mb": small["run_mb"], "large_mb": large["run_mb"]})
    else:
        lines.append({"target": "memory flat in the number of bars", "verdict": "SKIP",
                      "why": "ours_bus memory runs not done"})
    for engine in ("ours_bus", "ours_batch"):
        res = results.get(engine)
        if res is None or "error" in res:
            lines.append({"target": f"{engine} fills == reference", "verdict": "SKIP",
                          "why": "not measured" if res is None else "failed"})
        else:
            lines.append({"target": f"{engine} fills == reference",
                          "verdict": "PASS" if res["fills"]["match"] else "FAIL"})
    return lines


def print_report(n: int, results: dict[str, dict[str, Any]], memory: dict[str, Any],
                 report: list[dict[str, Any]]) -> None:
    print()
    head = (f"{'engine':<52} {'bars/s':>12} {'prep s':>8} {'run s':>8} {'peak MiB':>9} "
            f"{'run MiB':>8} {'trades':>7}  fills == reference")
    print(head)
    print("-" * len(head))
    for engine, res in results.items():
        label = f"{engine}: {LABELS[engine]}"
        if "version" in res and res["version"]:
            label += f" {res['version']}"
        if "error" in res:
            print(f"{label:<52} FAILED: {res['error'][:120]}")
            continue
        fills = res["fills"]
        verdict = "yes" if fills["match"] else (
            f"NO: first difference at trade {fills['matching_prefix']} "
            f"(expected {fills['first_mismatch']['expected']}, "
            f"got {fills['first_mismatch']['got']})")
        if fills.get("same_decisions_filled_at_signal_close"):
            verdict += "; same decisions, filled at the signal bar's close"
        print(f"{label[:52]:<52} {res['bars_per_s']:>12,.0f} {res['best_prep_s']:>8.2f} "
              f"{res['best_run_s']:>8.2f} {res['peak_rss_mb']:>9,.0f} {res['run_mb']:>8,.0f} "
              f"{fills['trades']:>7,}  {verdict}")
    if any(e.startswith("nautilus") and "error" not in r for e, r in results.items()):
        print("(NautilusTrader ran in its own virtualenv: it needs pandas < 3)")
    print()
    ratios = [("ours_bus", p) for p in ("nautilus", "nautilus_bars", "backtesting", "vectorbt")]
    ratios += [("ours_batch", p) for p in ("vectorbt", "backtesting", "nautilus")]
    for ours, peer in ratios:
        a, b = _rate(results, ours), _rate(results, peer)
        if a is not None and b is not None:
            print(f"ratio {ours} / {peer}: {a / b:,.2f}x")
    if memory:
        print()
        for count, res in memory.items():
            if "error" in res:
                print(f"memory ours_bus {int(count):>12,} bars: FAILED: {res['error'][:120]}")
            else:
                print(f"memory ours_bus {int(count):>12,} bars: peak {res['peak_rss_mb']:,.0f} "
                      f"MiB, run {res['run_mb']:,.1f} MiB above the {res['base_rss_mb']:,.0f} "
                      f"MiB after imports; {res['ours_trades']:,} trades, "
                      f"{res['ours_fills']:,} fills kept, marks: {res['ours_marks']}")
    print()
    for line in report:
        figure = f" ({line['ratio']:.2f}x, need {line['need']}x)" if "ratio" in line else ""
        why = f" ({line['why']})" if "why" in line else ""
        print(f"{line['verdict']}: {line['target']}{figure}{why}")


if __name__ == "__main__":
    sys.exit(main())
