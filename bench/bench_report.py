"""Size and render time of the interactive backtest report (issue 23), for 20k and 1M bars.

20k: the bundled BTC/USD hourly series (20,111 bars) backtested with the synergy strategy
(121 trades, its indicators drawn: NW-RQK, LVN levels, FVG zones); the page is the one the
backtest writes, its render timed as the backtest ran it. 1M: a load test of the renderer,
not market data: the same real bars, indicator lines, zones and trades tiled 50 times end to
end (each copy shifted in time to follow the previous one); the renderer thins candles, curves
and lines to at most 4,000 points and keeps the 2,000 largest zones, so the page size depends
on the trades, not on the bars. Prints the wall time of the render (Bokeh document built and
serialised) and the page size, in one run; with a Chromium on the machine, also the wall time
of a headless browser opening each page offline and screenshotting it (start-up included).

    python bench/bench_report.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import replay.report.files as report_files  # noqa: E402
from bench.screenshot_reports import browser, screenshot  # noqa: E402
from engine.app.api import backtest  # noqa: E402
from replay.report.interactive import (  # noqa: E402
    Line,
    PageExtras,
    PriceBars,
    Zone,
    render_interactive,
)

SEEN: dict[str, Any] = {}


def _timed_render(*args: Any, **kwargs: Any) -> str:
    """The backtest's own render call, timed, its arguments kept for the load test."""
    t0 = time.perf_counter()
    page = render_interactive(*args, **kwargs)
    SEEN.update(seconds=time.perf_counter() - t0, args=args, kwargs=kwargs)
    return page


def _tiled(extras: PageExtras, copies: int, span: int) -> PageExtras:
    lines = [Line(line.name, np.concatenate([line.ts + k * span for k in range(copies)]),
                  np.tile(line.values, copies), line.color, line.dash) for line in extras.lines]
    zones = [Zone(z.name, z.start + k * span, z.end + k * span, z.low, z.high, z.color)
             for k in range(copies) for z in extras.zones]
    return PageExtras(lines=lines, zones=zones)


def main() -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-report-"))
    report_files.render_interactive = _timed_render  # type: ignore[assignment]
    t0 = time.perf_counter()
    result = backtest(strategy="synergy", out=out / "run")
    total = time.perf_counter() - t0
    page = result.report()
    data, curve, prices, benchmark = SEEN["args"]
    extras: PageExtras = SEEN["kwargs"]["extras"]
    n = prices.ts.shape[0]
    copies = 50
    ts = prices.ts
    span = int(ts[-1] - ts[0]) + 3_600 * 10**9
    big_ts = np.concatenate([ts + k * span for k in range(copies)])
    big_prices = PriceBars(big_ts, *(np.tile(a, copies) for a in prices[1:]))
    big_curve = type(curve)(np.concatenate([curve.ts + k * span for k in range(copies)]),
                            np.tile(curve.equity, copies), np.tile(curve.position, copies))
    trades = [msgspec.structs.replace(t, ts_entry=t.ts_entry + k * span,
                                      ts_exit=t.ts_exit + k * span, trade_id=k * 1000 + t.trade_id)
              for k in range(copies) for t in data.trades]
    big_data = msgspec.structs.replace(data, trades=trades)
    big_extras = _tiled(extras, copies, span)
    t0 = time.perf_counter()
    big = render_interactive(big_data, big_curve, big_prices, np.tile(benchmark, copies),
                             extras=big_extras)
    big_s = time.perf_counter() - t0
    print(f"{'bars':>10} {'trades':>7} {'lines':>5} {'zones':>6} {'render s':>9} {'page MB':>8}")
    print(f"{n:>10,} {len(data.trades):>7,} {len(extras.lines):>5} {len(extras.zones):>6,} "
          f"{SEEN['seconds']:>9.2f} {page.stat().st_size / 1e6:>8.2f}   (whole backtest with "
          f"the report: {total:.1f} s)")
    print(f"{big_ts.shape[0]:>10,} {len(trades):>7,} {len(big_extras.lines):>5} "
          f"{len(big_extras.zones):>6,} {big_s:>9.2f} {len(big) / 1e6:>8.2f}   (the page "
          f"draws the 2,000 tallest zones)")
    big_page = out / "big" / "report.html"
    big_page.parent.mkdir()
    big_page.write_text(big, encoding="utf-8")
    chrome = browser()
    if chrome is None:
        print("no Chromium here: no browser timings")
        return
    for name, html_page in (("20k", page), ("1M", big_page)):
        t0 = time.perf_counter()
        screenshot(chrome, html_page, html_page.with_suffix(".png"))
        print(f"headless Chromium, {name} page: opened offline and screenshot in "
              f"{time.perf_counter() - t0:.1f} s ({html_page.with_suffix('.png')})")


if __name__ == "__main__":
    main()
