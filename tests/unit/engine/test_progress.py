"""The progress bar: drawn only on a terminal, totals estimated from the file."""

import io
from pathlib import Path

from engine.core.progress import Progress, estimate_rows

ROOT = Path(__file__).resolve().parents[3]


def test_hidden_when_the_stream_is_not_a_terminal():
    stream = io.StringIO()
    bar = Progress(100, stream=stream)
    bar.update(50)
    bar.close()
    assert stream.getvalue() == ""


def test_draws_percent_rows_and_date_when_enabled():
    stream = io.StringIO()
    bar = Progress(200, label="backtest", stream=stream, enabled=True)
    bar.update(100, ts_ns=1_378_000_000 * 10**9)
    text = stream.getvalue()
    assert "backtest" in text and "50%" in text and "100 rows" in text and "2013-09-01" in text
    bar.close()
    # the finished bar: every cell filled (the total is the rows read, not the estimate of
    # 200), on its own line
    last = stream.getvalue().split("\r\033[K")[-1]
    assert last.startswith("backtest  [########################] 100%  100 rows")
    assert last.endswith("\n")


def test_a_log_line_never_continues_the_bar_line(monkeypatch):
    import structlog

    from engine.core.logging import configure_logging

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging(json=True)
    bar = Progress(1000, stream=stream, enabled=True)
    bar.update(500)
    structlog.get_logger().info("between")
    text = stream.getvalue()
    drawn, logged = text.split('{"event": "between"', 1)
    assert drawn.endswith("\r\033[K")  # the bar's line erased before the log line
    bar._last_draw = 0.0
    bar.update(100)  # and drawn again after it
    assert stream.getvalue().split("\n", 1)[1].startswith("\r\033[Kreplay  [")


def test_row_estimates_of_bundled_files():
    estimate = estimate_rows(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv")
    assert estimate is not None and abs(estimate - 20_111) < 0.05 * 20_111
    assert estimate_rows(ROOT / "data" / "es_ticks_2013-09.csv.gz") is None


def test_task_progress_counts_tasks_and_failures():
    import io

    from engine.core.progress import TaskProgress

    stream = io.StringIO()
    bar = TaskProgress(4, "walk-forward", "folds", stream=stream, enabled=True)
    bar.update()
    bar.update(failed=True)
    bar.close()
    assert (bar.done, bar.failed) == (2, 1)
    last = stream.getvalue().split("\r\x1b[K")[-1]
    assert last.startswith("walk-forward [############------------] 2/4 folds  1 failed  ")
    assert " s/fold  ETA " in last and last.endswith("\n")
    quiet = io.StringIO()
    TaskProgress(2, stream=quiet).update()  # not a terminal: nothing drawn
    assert quiet.getvalue() == ""
