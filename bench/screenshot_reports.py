"""Screenshots of report pages in a real browser (headless Chromium), so anyone can look at
them without opening one (issue 23).

Runs, on the bundled BTC data, into a temporary directory (or takes the report.html files
given): the sma_cross, synergy and marl backtests, a walk-forward of sma_cross choosing its
two periods on each fold's training window (3 folds), and a sweep of sma_cross over the two
periods (4 x 4). Opens each page from file:// in headless Chromium with networking disabled
(the pages are self-contained; a page that needed the network would render blank) and saves a
PNG beside it. Without a Chromium on the machine it says so and exits 0 (Debian: apt-get
install chromium). About three minutes on a 2-core machine.

    python bench/screenshot_reports.py [--out DIR] [REPORT.html ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
GRID = ["--grid", "strategies.sma_cross.fast=5,10,20,40",
        "--grid", "strategies.sma_cross.slow=50,100,200,400"]
RUNS = {
    "sma_cross": ["backtest", "--strategy", "sma_cross"],
    "synergy": ["backtest", "--strategy", "synergy"],
    "marl": ["backtest", "--strategy", "marl"],
    "walk_forward": ["walk-forward", "--strategy", "sma_cross", "--folds", "3", "--train",
                     "180d", "--test", "120d", "--backend", "serial",
                     "--grid", "strategies.sma_cross.fast=5,10,20",
                     "--grid", "strategies.sma_cross.slow=50,100,200"],
    "sweep": ["sweep", "--strategy", "sma_cross", "--backend", "serial", *GRID],
}
# a second screenshot of these, zoomed by the page's address (report.html#FROM..TO), where
# candles, indicator zones and lines, and stop and target levels can be told apart
ZOOMS = {"synergy": "2019-03-01..2019-03-20", "marl": "2019-07-01..2019-07-16",
         "sma_cross": "2018-01-10..2018-01-25"}


def browser() -> str | None:
    """The first Chromium on the PATH."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def screenshot(chrome: str, page: Path, png: Path, size: str = "1400,2600",
               zoom: str = "") -> None:
    """``page`` rendered offline to ``png`` (``zoom``: the span to open it on)."""
    subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                    "--virtual-time-budget=8000", f"--window-size={size}",
                    f"--screenshot={png}", page.resolve().as_uri() + (f"#{zoom}" if zoom else "")],
                   check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="report.html files (default: "
                        "run the five reports of the module docstring)")
    parser.add_argument("--out", type=Path, help="where the runs and screenshots go")
    args = parser.parse_args(argv)
    chrome = browser()
    if chrome is None:
        print("no Chromium on this machine (apt-get install chromium): nothing to do")
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="report-shots-"))
    pages = list(args.pages)
    if not pages:
        for name, command in RUNS.items():
            run = out / name
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "engine.app.cli", *command, "--out", str(run),
                            "--no-progress"], cwd=ROOT, check=True, capture_output=True,
                           timeout=900)
            print(f"{name}: ran in {time.perf_counter() - start:.0f} s")
            pages.append(run / "report.html")
    for page in pages:
        png = page.with_suffix(".png")
        screenshot(chrome, page, png)
        print(f"{png}  ({png.stat().st_size / 1e3:,.0f} kB, from {page}, "
              f"{page.stat().st_size / 1e6:.1f} MB)")
        zoom = ZOOMS.get(page.parent.name)
        if zoom:
            zoomed = page.with_name("report_zoomed.png")
            screenshot(chrome, page, zoomed, "1400,1500", zoom)
            print(f"{zoomed}  (opened on {zoom})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
