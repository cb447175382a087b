"""Screenshots of report pages in a real browser (headless Chromium), so anyone can look at
them without opening one (issue 23).

Runs the sma_cross, synergy and marl backtests on the bundled BTC data into a temporary
directory (or takes the report.html files given), opens each page from file:// in headless
Chromium with networking disabled (the pages are self-contained; a page that needed the
network would render blank) and saves a PNG beside it. Without a Chromium on the machine it
says so and exits 0 (Debian: apt-get install chromium).

    python bench/screenshot_reports.py [--out DIR] [REPORT.html ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def browser() -> str | None:
    """The first Chromium on the PATH."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def screenshot(chrome: str, page: Path, png: Path, size: str = "1400,2200") -> None:
    """``page`` rendered offline to ``png``."""
    subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                    "--virtual-time-budget=8000", f"--window-size={size}",
                    f"--screenshot={png}", page.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="report.html files (default: "
                        "run the sma_cross, synergy and marl backtests)")
    parser.add_argument("--out", type=Path, help="where the runs and screenshots go")
    args = parser.parse_args(argv)
    chrome = browser()
    if chrome is None:
        print("no Chromium on this machine (apt-get install chromium): nothing to do")
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="report-shots-"))
    pages = list(args.pages)
    if not pages:
        for strategy in ("sma_cross", "synergy", "marl"):
            run = out / strategy
            subprocess.run([sys.executable, "-m", "engine.app.cli", "backtest", "--strategy",
                            strategy, "--out", str(run), "--no-progress"], cwd=ROOT,
                           check=True, capture_output=True, timeout=600)
            pages.append(run / "report.html")
    for page in pages:
        png = page.with_suffix(".png")
        screenshot(chrome, page, png)
        print(f"{png}  ({png.stat().st_size / 1e3:,.0f} kB, from {page})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
