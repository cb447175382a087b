"""The sweep's interactive page (issue 23): one offline page (Bokeh's JavaScript inlined,
nothing fetched), the same bytes for the same sweep, the best trial's DSR and significance,
the text escaped; two parameters give the Sharpe and DSR heatmaps (numeric axes sorted, each
trial in its cell, the best outlined), one parameter its charts; ``write_sweep`` writes it."""

from __future__ import annotations

import html
import re

import pytest

from engine.research.search import parse_space
from engine.research.sweep import SweepRow, significance
from engine.research.sweep_report import write_sweep
from replay.report.sweep_page import axis_values, heatmap_grid, render_sweep


def row(trial: int, status: str = "ok", sharpe: float = 1.0, **params: str) -> SweepRow:
    if status != "ok":
        return SweepRow(trial=trial, params=params, status=status, error=f"{status} <b>")
    return SweepRow(trial=trial, params=params, status="ok", attempts=1, trades=10 + trial,
                    total_return=0.01 * sharpe, sharpe=sharpe, sharpe_daily=sharpe / 16,
                    days=500, daily_skew=0.0, daily_kurtosis=3.0, psr=0.5, max_drawdown=0.1,
                    profit_factor=1.2)


def two_params() -> list[SweepRow]:
    # drawn as a grid over fast = 10, 5 (not sorted) and slow = 50, 30, 100 ("10" < "5" as text)
    rows = []
    sharpes = iter([0.5, -0.2, 1.1, 0.9, 2.5, 0.1])
    for fast in ("10", "5"):
        for slow in ("50", "30", "100"):
            trial = len(rows)
            status = "failed" if trial == 1 else "invalid" if trial == 5 else "ok"
            rows.append(row(trial, status, next(sharpes), fast=fast, slow=slow))
    return rows


def offline(page: str) -> None:
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert not re.search(r"<script[^>]*\bsrc=", page)  # the JavaScript is inline
    assert not re.search(r"<link[^>]*\bhref=\"?https?:", page)


def test_numeric_axes_are_sorted_and_text_keeps_its_order():
    rows = [row(0, a="10", b="z"), row(1, a="5", b="y"), row(2, a="2.5", b="z"),
            row(3, a="7", b="x")]
    assert axis_values(rows, "a") == ["2.5", "5", "7", "10"]
    assert axis_values(rows, "b") == ["z", "y", "x"]


def test_each_trial_sits_in_its_cell_and_the_best_is_outlined():
    rows, summary = significance(two_params())
    assert summary.best_trial == 4  # fast=5, slow=30: Sharpe 2.5
    grid = heatmap_grid(rows, "fast", "slow", summary.best_trial)
    assert grid.y_values == ["5", "10"] and grid.x_values == ["30", "50", "100"]
    placed = {cell: r.trial for cell, r in grid.cells.items()}
    assert placed == {(1, 1): 0, (1, 0): 1, (1, 2): 2, (0, 1): 3, (0, 0): 4, (0, 2): 5}
    assert grid.best == (0, 0)


def test_a_repeated_cell_shows_a_finished_trial_and_a_missing_one_stays_empty():
    rows = [row(0, a="1", b="1"), row(1, "failed", a="1", b="1"), row(2, a="2", b="2")]
    grid = heatmap_grid(rows, "a", "b", None)
    assert grid.cells[(0, 0)].trial == 0  # the failure after it does not hide it
    assert (0, 1) not in grid.cells and (1, 0) not in grid.cells
    assert grid.best is None


def test_the_two_parameter_page_is_offline_deterministic_and_escaped():
    rows = two_params()
    rows[3] = row(3, sharpe=3.0, fast="5", slow="<script>alert('x')</script>")  # the best
    rows, summary = significance(rows)
    first = render_sweep("sweep <b>", rows, summary, ["fast", "slow"])
    offline(first)
    assert render_sweep("sweep <b>", rows, summary, ["fast", "slow"]) == first
    page = html.unescape(first)
    assert "<script>alert('x')</script>" not in first and "sweep <b>" not in first
    assert html.escape("<script>alert('x')</script>") in page  # in the header
    assert "Sharpe ratio (daily, annualised)" in page
    assert f"Deflated Sharpe ratio ({summary.run} trials)" in page
    assert f"DSR against {summary.run} trials" in page
    assert f"{summary.best_dsr:.2f}" in page
    assert "significant: " in page and "(DSR &gt;= 0.95 needed)" in page
    assert "Trials (6)" in page


def test_the_one_parameter_page_charts_both_figures():
    rows, summary = significance([row(i, sharpe=s, fast=str(f))
                                  for i, (f, s) in enumerate([(20, 0.3), (5, 1.4), (10, 0.8)])])
    first = render_sweep("one", rows, summary, ["fast"])
    offline(first)
    assert render_sweep("one", rows, summary, ["fast"]) == first
    page = html.unescape(first)
    assert "Sharpe ratio (daily, annualised) against fast" in page
    assert "Deflated Sharpe ratio (3 trials) against fast" in page
    assert f"{summary.best_dsr:.2f}" in page and "#1" in page
    assert "Sharpe ratio (daily, annualised)\"" not in page  # no heatmap


def test_three_parameters_chart_against_the_trial():
    rows, summary = significance([row(i, sharpe=0.1 * i, a=str(i), b="x", c="true")
                                  for i in range(4)])
    page = html.unescape(render_sweep("three", rows, summary, ["a", "b", "c"]))
    assert "Sharpe ratio (daily, annualised) against trial" in page


def test_no_finished_trial_gives_a_page_without_a_best():
    rows, summary = significance([row(0, "invalid", a="1", b="2"),
                                  row(1, "failed", a="2", b="2")])
    page = html.unescape(render_sweep("none", rows, summary, ["a", "b"]))
    assert "no best trial" in page and "Deflated Sharpe ratio (1 trials)" in page


@pytest.mark.parametrize("keys", [["fast", "slow"], ["fast"]])
def test_write_sweep_writes_the_page_the_same_way_twice(tmp_path, keys):
    rows = [SweepRow(trial=r.trial, params={k: r.params[k] for k in keys}, status=r.status,
                     sharpe=r.sharpe, sharpe_daily=r.sharpe_daily, days=r.days,
                     daily_skew=r.daily_skew, daily_kurtosis=r.daily_kurtosis, psr=r.psr)
            for r in two_params()]
    rows, summary = significance(rows)
    space = parse_space([f"{k}=1,2" for k in keys])
    files = write_sweep(tmp_path / "a", rows, summary, space)
    again = write_sweep(tmp_path / "b", rows, summary, space)
    assert files["report"] == tmp_path / "a" / "report.html"
    assert files["report"].read_bytes() == again["report"].read_bytes()
    assert not list((tmp_path / "a").glob("*.png"))
