"""Size and render time of the interactive backtest report (issue 23), for 20k and 1M bars.

20k: the bundled BTC/USD hourly series (20,111 bars) backtested with the synergy strategy
(121 trades); the page is written by the backtest itself. 1M: a load test of the renderer,
not market data: the same real bars tiled 50 times end to end (each copy shifted in time to
follow the previous one), with the same trades repeated in every copy; the renderer thins
candles and curves to at most 4,000 points, so the page size depends on the trades, not on
the bars. Prints the wall time of the render (Bokeh document built and serialised) and the
page size, in one run.

    python bench/bench_report.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.app.api import backtest  # noqa: E402
from replay.report.data import EquityCurve  # noqa: E402
from replay.report.interactive import PriceBars, render_interactive  # noqa: E402


def main() -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-report-"))
    t0 = time.perf_counter()
    result = backtest(strategy="synergy", out=out / "run")
    total = time.perf_counter() - t0
    page = result.report()
    data = result.job.outcome.data
    eq = result.equity
    bars_csv = np.genfromtxt(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv", delimiter=",",
                             names=True, dtype=None, encoding="utf-8")
    close = np.asarray(bars_csv["close"], dtype=np.float64)
    n = close.shape[0]
    ts = np.asarray(eq["ts"], dtype=np.int64)
    prices = PriceBars(ts, np.asarray(bars_csv["open"], float), np.asarray(bars_csv["high"], float),
                       np.asarray(bars_csv["low"], float), close,
                       np.asarray(bars_csv["volume"], float))
    curve = EquityCurve(ts, np.asarray(eq["equity"], float), np.asarray(eq["position"], float))
    t0 = time.perf_counter()
    small = render_interactive(data, curve, prices, 100_000 + (close - close[0]))
    small_s = time.perf_counter() - t0
    copies = 50
    span = int(ts[-1] - ts[0]) + 3_600 * 10**9
    big_ts = np.concatenate([ts + k * span for k in range(copies)])
    tile = [np.tile(a, copies) for a in prices[1:]]
    big_prices = PriceBars(big_ts, *tile)
    big_curve = EquityCurve(big_ts, np.tile(curve.equity, copies),
                            np.tile(curve.position, copies))
    trades = [msgspec.structs.replace(t, ts_entry=t.ts_entry + k * span,
                                      ts_exit=t.ts_exit + k * span, trade_id=k * 1000 + t.trade_id)
              for k in range(copies) for t in data.trades]
    big_data = msgspec.structs.replace(data, trades=trades)
    t0 = time.perf_counter()
    big = render_interactive(big_data, big_curve, big_prices,
                             100_000 + (big_prices.close - big_prices.close[0]))
    big_s = time.perf_counter() - t0
    print(f"{'bars':>10} {'trades':>7} {'render s':>9} {'page MB':>8}")
    print(f"{n:>10,} {len(data.trades):>7,} {small_s:>9.2f} {len(small) / 1e6:>8.2f}   "
          f"(whole backtest with the report: {total:.1f} s; written: "
          f"{page.stat().st_size / 1e6:.2f} MB)")
    print(f"{big_ts.shape[0]:>10,} {len(trades):>7,} {big_s:>9.2f} {len(big) / 1e6:>8.2f}")


if __name__ == "__main__":
    main()
