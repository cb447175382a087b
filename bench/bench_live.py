"""The live daemon on loopback: per-message latency and sustained ingest, real processes.

``algospace live`` (a subprocess) runs a strategy on the bundled BTC/USD hourly bars that
``algospace feed`` (another subprocess) publishes as fast as the socket takes them; a SUB in
this process collects the signals.

    python bench/bench_live.py                      # the rule-based synergy strategy
    python bench/bench_live.py --strategy marl      # the full learned decision stack

Figures, measured in one run:

- ``latency``: per feed message, from its receipt by the daemon to its signals published (or
  the verdict that there is none), p50/p99/max (the daemon's own count, ``status``);
- ``ingest``: bars per second from the daemon's receipt of the first bar to its last bar done
  (the feed publishes faster than that), and whether every bar was accepted (nothing lost).

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategy", default="synergy")
    parser.add_argument("--rows", type=int, default=20_111)
    args = parser.parse_args()
    ctx = zmq.Context.instance()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "btc.csv"
        pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:args.rows].to_csv(
            data, index=False)
        feed, publish, control = port(), port(), port()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "live", "--config", str(CONFIG), "--strategy",
             args.strategy, "--feed", feed, "--publish", publish, "--control", control,
             "--journal", str(Path(tmp) / "journal.bin"), "--set", "logging.level=warning"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / 'live.log', 'w'))
        try:
            ask(ctx, control, "status")  # up
            started = time.monotonic()
            sent = subprocess.run(
                [sys.executable, "-m", "engine.cli", "feed", "--config", str(CONFIG), "--data",
                 str(data), "--publish", feed, "--set", "logging.level=warning"],
                cwd=ROOT, capture_output=True, text=True, check=True)
            published = int(sent.stdout.split()[1].replace(",", ""))  # "feed  N events ..."
            progress, last_change = -1, time.monotonic()
            while True:
                status = ask(ctx, control, "status")
                if status["received"] >= published:
                    break
                if status["received"] != progress:
                    progress, last_change = status["received"], time.monotonic()
                elif time.monotonic() - last_change > 10:  # nothing more is coming: lost
                    break
                time.sleep(0.05)
            seconds = time.monotonic() - started
        finally:
            ask(ctx, control, "stop")
            daemon.wait(timeout=60)
    latency = status["latency_us"]
    rate = status["accepted"] / status["busy_s"]  # first receipt to the last message done
    out = {"strategy": args.strategy, "bars": published, "accepted": status["accepted"],
           "signals": status["signals"], "seconds": seconds, "bars_per_s": rate,
           "latency_us": latency, "feed": sent.stdout.strip()}
    print(f"strategy      {args.strategy}; {published:,} BTC hours published; "
          f"{status['signals']} signals")
    print(f"latency       p50 {latency['p50'] / 1e3:.3f} ms  p99 {latency['p99'] / 1e3:.3f} ms  "
          f"max {latency['max'] / 1e3:.3f} ms per message (receipt -> published)")
    print(f"ingest        {rate:,.0f} bars/s sustained ({status['accepted']:,} of {published:,} "
          f"accepted, {status['busy_s']:.1f} s from the first receipt to the last done; "
          f"{seconds:.1f} s with the feed's start; none lost: "
          f"{status['accepted'] == published})")
    target = 20.0 if args.strategy == "marl" else 5.0
    met = latency["p99"] / 1e3 < target
    print(f"target        p99 < {target:g} ms: {'PASS' if met else 'FAIL'}; >= 10,000 bars/s: "
          f"{'PASS' if rate >= 10_000 else 'FAIL'}")
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / f"live_{args.strategy}.json").write_text(
        json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
