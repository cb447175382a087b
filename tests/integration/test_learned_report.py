"""A learned strategy's report (issue 23): its HTML page opens with the learned pipeline
beside its baselines (the verdict) and gate 1's out-of-sample funnel, and
``algospace report RUN_DIR`` prints the comparison and the gate statistics again from the
run directory, as the backtest printed them."""

import html
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BTC = ROOT / "config" / "btcusd_1h.toml"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "engine.app.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_the_learned_report_carries_the_comparison_and_the_funnel(tmp_path):
    run = tmp_path / "marl"
    backtest = cli("backtest", "--config", str(BTC), "--strategy", "marl", "--out", str(run),
                   "--no-progress")
    assert backtest.returncode == 0, backtest.stderr
    # the page's text travels HTML-escaped in its document's JSON
    page = html.unescape((run / "report.html").read_text())
    section = page.index("The learned pipeline beside its baselines")
    assert section < page.index("Gate 1 out of sample") < page.index("Targets</h2>")
    assert "learned layers add value over synergy:" in page
    assert "setups 25 &rarr; gate 1 2" in page
    report = cli("report", str(run))
    assert report.returncode == 0, report.stderr
    printed = backtest.stdout
    for block in ("the same period, side by side", "gate 1, out of sample"):
        assert block in report.stdout
    # the same table and the same gate lines as the backtest printed
    table = printed[printed.index("strategy   trades"):printed.index("learned layers add")]
    assert table in report.stdout
    gate = printed[printed.index("gate 1, out of sample"):printed.index("run directory:")]
    assert gate.strip() in report.stdout
