"""The walk-forward's report pages, from hand-built folds: the combined ``report.html`` shades
each fold's test window, lists the folds (windows, chosen parameters, figures) and shows the
test windows' prices; each fold's page shows its prices and its row; the same folds write the
same bytes."""

import html
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from engine.research.executor import TaskFailure
from engine.research.folds import Fold
from engine.research.walk_forward import FoldOutcome, WalkForward, stitch
from engine.research.walk_forward_report import (
    FoldRow,
    fold_rows,
    folds_section,
    write_walk_forward,
)
from engine.wiring.schema import AppConfig, DataConfig
from replay.report import EquityCurve
from replay.report.interactive import PriceBars

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("report_fixtures",
                                               ROOT / "tests/unit/replay/report/conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

NS = 10**9
BAR = 300 * NS
START = 1_704_205_800 * NS  # 2024-01-02T14:30:00Z
BARS = 120  # per test window
PARAMS = ["strategies.sma_cross.fast=5 strategies.sma_cross.slow=30",
          "strategies.sma_cross.fast=10 strategies.sma_cross.slow=50"]


def _embedded(text):
    """``text`` as the page holds it (a string of Bokeh's JSON document: non-ASCII as
    ``\\u`` escapes, HTML-escaped)."""
    return html.escape(json.dumps(text)[1:-1], quote=False)


def _config():
    return AppConfig(data=DataConfig(path="bars.csv", bar_interval="5m"))


def _fold(k):
    test_start = START + k * BARS * BAR
    return Fold(index=k, train_start=test_start - 500 * BAR, train_end=test_start,
                test_start=test_start, test_end=test_start + BARS * BAR)


def _outcome(k, sharpe):
    fold = _fold(k)
    rng = np.random.default_rng(k)
    ts = fold.test_start + BAR * np.arange(BARS, dtype=np.int64)
    equity = 100_000.0 + np.cumsum(rng.normal(2.0, 100.0, BARS))
    position = np.where((np.arange(BARS) // 30) % 2 == 0, 0.0, 1.0)
    curve = EquityCurve(ts, equity, position)
    close = 4_500.0 + np.cumsum(rng.normal(0.0, 2.0, BARS))
    prices = PriceBars(ts, close - 0.5, close + 1.0, close - 1.0, close,
                       np.full(BARS, 100.0))
    trades = [_fixtures.make_trade(i, ts_entry=int(ts[10 + 30 * i]),
                                   ts_exit=int(ts[20 + 30 * i]))
              for i in range(3)]
    metrics = _fixtures.make_metrics(start_ts=int(ts[0]), end_ts=int(ts[-1]), sharpe=sharpe,
                                     trades=len(trades))
    data = _fixtures.make_data(metrics=metrics, trades=trades)
    return FoldOutcome(fold, data, curve, curve, {}, [], None, 500, BARS, prices=prices)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    config = _config()
    outcomes = [_outcome(0, 1.25), _outcome(1, -0.5)]
    combined, curve = stitch(config, outcomes, 2)
    wf = WalkForward(list(outcomes), combined, curve)
    folds = [o.fold for o in outcomes]
    chosen = {0: (PARAMS[0], 2.5), 1: (PARAMS[1], 1.75)}
    out = tmp_path_factory.mktemp("wf") / "run"
    files = write_walk_forward(out, config, folds, wf, chosen)
    again = tmp_path_factory.mktemp("wf") / "run"
    write_walk_forward(again, config, folds, wf, chosen)
    return out, again, files, fold_rows(folds, wf.folds, chosen)


def test_the_combined_page_shades_and_lists_every_fold(written):
    out, _, files, rows = written
    assert files["html"] == str(out / "report.html")
    page = (out / "report.html").read_text()
    for row in rows:
        assert f'"text":"fold {row.fold}"' in page  # the band's label on the time panels
        window = f"{row.test_start[:16]} – {row.test_end[:16]}".replace("T", " ")
        assert _embedded(window) in page
        assert _embedded(html.escape(row.params)) in page
    assert _embedded("<h2>Folds</h2>") in page
    assert _embedded("<td>all</td>") in page
    assert "each fold's Sharpe (daily) on its test window" in page  # the timeline
    assert "price, indicators and trades" in page  # the test windows' candles
    assert "buy and hold (1 contract, no costs)" in page


def test_the_same_folds_write_the_same_pages(written):
    out, again, _, _ = written
    for name in ("report.html", "folds/0/report.html", "folds/1/report.html"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_each_fold_page_shows_its_prices_and_its_row(written):
    out, _, _, rows = written
    for row in rows:
        page = (out / "folds" / str(row.fold) / "report.html").read_text()
        assert "price, indicators and trades" in page
        assert _embedded(f"<h2>Fold {row.fold} of the walk-forward</h2>") in page
        assert _embedded(html.escape(row.params)) in page
        other = PARAMS[1 - row.fold]
        assert _embedded(html.escape(other)) not in page


def _row(k, **fields):
    base = {"fold": k, "status": "ok", "train_start": "2024-01-01T00:00:00Z",
            "train_end": "2024-02-01T00:00:00Z", "test_start": "2024-02-01T00:00:00Z",
            "test_end": "2024-03-01T00:00:00Z", "trades": 4, "total_return": 0.01,
            "sharpe": 1.0}
    return FoldRow(**{**base, **fields})


def test_the_table_shows_baselines_and_latents_only_when_a_fold_has_them():
    plain = folds_section([_row(0), _row(1)])
    assert "synergy return" not in plain and "RDE" not in plain and "models" not in plain
    assert "chosen parameters" not in plain
    learned = folds_section([
        _row(0, synergy_return=0.02, synergy_trades=7, buy_hold_return=-0.03,
             rde_train_active_units=5.0, rde_test_active_units=4.0, rde_collapsed=0.0,
             models="rde/3 marl/2", fitted_until="2024-01-27T13:00:00Z"),
        _row(1)])
    for text in ("synergy return", "buy-hold return", "RDE active units train/test",
                 "<td>5/4</td>", "<td>-3.00%</td>", "<td class='list'>rde/3<br>marl/2</td>",
                 "<td>2024-01-27 13:00</td>", "<td>no</td>"):
        assert text in learned, text
    # the baselines and latents sit in a second table, under the folds' own
    main, beside = learned.split("<h3>The learned stack beside its baselines")
    assert "models" in main and "synergy return" not in main
    assert "synergy return" in beside and "learned Sharpe" in beside


def test_a_failed_fold_shows_its_error_and_the_footer_sums_the_rest():
    combined = _fixtures.make_metrics(total_return=0.03, trades=9)
    section = folds_section([
        _row(0, params="a=1", in_sample=2.0, total_return=0.01),
        _row(1, status="failed", attempts=2, error="boom <here>"),
        _row(2, status="failed", attempts=0, params="", error="no valid trial")],
        combined)
    assert "failed after 2 attempts: boom &lt;here&gt;" in section
    assert "not run: no valid trial" in section
    assert "<td class='wrap'>a=1</td><td>2.00</td>" in section
    assert "<td>all</td>" in section and "<td>3.00%</td>" in section
    assert "learned stack" not in section  # a rule-based strategy: one table


def test_the_rows_of_failed_folds_are_kept():
    folds = [_fold(0), _fold(1)]
    rows = fold_rows(folds, [_outcome(0, 1.0), TaskFailure(index=1, attempts=1, error="x")])
    section = folds_section(rows)
    assert "failed after 1 attempts: x" in section
