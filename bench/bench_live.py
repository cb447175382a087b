"""The live daemon on loopback: per-message latency and sustained ingest, real processes.

``algospace live`` (a subprocess) runs a strategy on the bundled BTC/USD hourly bars that
``algospace feed`` (another subprocess) publishes as fast as the socket takes them; a SUB in
this process collects the signals.

    python bench/bench_live.py                      # the rule-based synergy strategy
    python bench/bench_live.py --strategy marl      # the full learned decision stack

Figures, measured in one run of two daemons:

- ``latency``: a daemon warmed up on the first 16,000 hours (``--warmup``; its kernels
  precompiled) receives the next 2,000 bars 2 ms apart, so that no bar waits behind another;
  per feed message, from its receipt by the daemon to its signals published (or the verdict
  that there is none), p50/p99/max (the daemon's own count, ``status``); the max includes the
  first live bar;
- ``ingest``: a cold daemon receives the whole file as fast as the feed publishes it; bars per
  second from its receipt of the first bar to its last bar done (what arrives together is
  stepped as one chunk), and whether every bar was accepted (nothing lost).

Targets: p99 under 5 ms for bars without a setup and under 20 ms with a full learned
decision; at least 10,000 bars per second sustained. Results go to ``bench/out/live.json``.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import zmq

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "btcusd_1h.toml"


def port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def ask(ctx: zmq.Context, address: str, request: str) -> dict:
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    sock.send(request.encode())
    if not sock.poll(60_000):
        raise SystemExit(f"no answer to {request!r}")
    reply = json.loads(sock.recv())
    sock.close()
    return reply


def run_daemon(ctx: zmq.Context, tmp: Path, strategy: str, feed_csv: Path,
               warmup: Path | None, speed: float) -> tuple[dict, str]:
    """One daemon fed ``feed_csv``; its final ``status`` and the feed's summary line."""
    feed, publish, control = port(), port(), port()
    journal = tmp / f"journal_{time.monotonic_ns()}.bin"
    extra = ["--warmup", str(warmup)] if warmup is not None else []
    daemon = subprocess.Popen(
        [sys.executable, "-m", "engine.app.cli", "live", "--config", str(CONFIG), "--strategy",
         strategy, "--feed", feed, "--publish", publish, "--control", control,
         "--journal", str(journal), "--snapshot-every", "0", "--set", "logging.level=warning",
         *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp / "live.log", "a"))
    try:
        ask(ctx, control, "status")  # up (warmed up and precompiled)
        sent = subprocess.run(
            [sys.executable, "-m", "engine.app.cli", "feed", "--config", str(CONFIG), "--data",
             str(feed_csv), "--publish", feed, "--speed", str(speed),
             "--set", "logging.level=warning"],
            cwd=ROOT, capture_output=True, text=True, check=True)
        published = int(sent.stdout.split()[1].replace(",", ""))  # "feed  N events ..."
        progress, last_change = -1, time.monotonic()
        while True:
            status = ask(ctx, control, "status")
            if status["received"] - status.get("warmed_up", 0) >= published:
                break
            if status["received"] != progress:
                progress, last_change = status["received"], time.monotonic()
            elif time.monotonic() - last_change > 10:  # nothing more is coming: lost
                break
            time.sleep(0.05)
        status["published_by_feed"] = published
    finally:
        ask(ctx, control, "stop")
        daemon.wait(timeout=60)
    return status, sent.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategy", default="synergy")
    parser.add_argument("--warmup-rows", type=int, default=16_000)
    parser.add_argument("--paced-rows", type=int, default=1_000)
    parser.add_argument("--gap-ms", type=float, default=10.0,
                        help="spacing of the paced bars (latency phase)")
    args = parser.parse_args()
    ctx = zmq.Context.instance()
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        history, paced, everything = tmp / "history.csv", tmp / "paced.csv", tmp / "all.csv"
        end = args.warmup_rows + args.paced_rows
        frame.iloc[:args.warmup_rows].to_csv(history, index=False)
        frame.iloc[args.warmup_rows:end].to_csv(paced, index=False)
        frame.to_csv(everything, index=False)
        # 1. latency: warmed up on history, then one bar every gap_ms (no queueing)
        speed = 3600.0 / (args.gap_ms / 1e3)
        lat_status, _ = run_daemon(ctx, tmp, args.strategy, paced, history, speed)
        # 2. ingest: the whole file as fast as the feed can publish it
        ing_status, feed_line = run_daemon(ctx, tmp, args.strategy, everything, None, 0.0)
    latency = lat_status["latency_us"]
    rate = ing_status["accepted"] / ing_status["busy_s"]  # first receipt to the last done
    published = ing_status["published_by_feed"]
    lossless = ing_status["accepted"] == published
    out = {"strategy": args.strategy, "warmup_bars": lat_status["warmed_up"],
           "paced_bars": lat_status["published_by_feed"], "gap_ms": args.gap_ms,
           "latency_us": latency, "paced_signals": lat_status["signals"],
           "ingest_bars": published, "ingest_accepted": ing_status["accepted"],
           "bars_per_s": rate, "ingest_latency_us": ing_status["latency_us"],
           "ingest_signals": ing_status["signals"], "feed": feed_line}
    print(f"strategy      {args.strategy}")
    print(f"latency       warmed up on {lat_status['warmed_up']:,} BTC hours, then "
          f"{lat_status['published_by_feed']:,} bars {args.gap_ms:g} ms apart "
          f"({lat_status['signals']} signals): p50 {latency['p50'] / 1e3:.3f} ms  "
          f"p99 {latency['p99'] / 1e3:.3f} ms  max {latency['max'] / 1e3:.3f} ms per message "
          "(receipt -> published; the max includes the first live bar)")
    print(f"ingest        {rate:,.0f} bars/s sustained ({ing_status['accepted']:,} of "
          f"{published:,} accepted, {ing_status['busy_s']:.2f} s from the first receipt to "
          f"the last done, {ing_status['signals']} signals; none lost: {lossless})")
    target = 20.0 if args.strategy == "marl" else 5.0
    met = latency["p99"] / 1e3 < target
    print(f"target        p99 < {target:g} ms: {'PASS' if met else 'FAIL'}; >= 10,000 bars/s "
          f"without loss: {'PASS' if rate >= 10_000 and lossless else 'FAIL'}")
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / f"live_{args.strategy}.json").write_text(
        json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
