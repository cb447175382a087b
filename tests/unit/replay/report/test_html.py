"""The HTML report: self-contained, complete, escaped."""

from __future__ import annotations

import base64
import html
import re

import pytest

import replay.report.html as report_html
from replay.report import render_html

IMAGE = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def page(written) -> str:
    """The fixture run's report.html."""
    return written["html"].read_text(encoding="utf-8")


def test_html_is_self_contained(page):
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert "http://" not in page and "https://" not in page
    assert re.findall(r'src="([a-z]+):', page) == ["data", "data", "data"]


def test_html_embeds_the_three_plots_as_png(page):
    images = IMAGE.findall(page)

    assert len(images) == 3
    for encoded in images:
        assert base64.b64decode(encoded).startswith(b"\x89PNG\r\n\x1a\n")


def test_html_has_the_target_table_with_pass_fail_and_probability(page, data):
    table = page[page.index('<table class="targets">'):]
    table = table[:table.index("</table>")]

    assert "<th>P(true meets)</th>" in table
    for target in data.targets:
        assert f"<td>{target.name}</td>" in table
    assert '<td class="pass">PASS</td>' in table and '<td class="fail">FAIL</td>' in table
    assert "<td>0.31</td>" in table and "<td>n/a</td>" in table
    assert "<td>&gt; 1.50</td>" in table and "<td>&lt; 15.00%</td>" in table


def test_html_lists_every_fill_assumption_escaped(page, data):
    for sentence in data.assumptions:
        assert f"<li>{html.escape(sentence)}</li>" in page
    assert "&lt;$2.25&gt;" in page


def test_html_shows_the_intrabar_bound_beside_the_run(page):
    assert "<th>pessimistic (this run)</th><th>optimistic (bound)</th>" in page
    assert "<tr><td>total return</td><td>1.23%</td><td>2.01%</td></tr>" in page
    assert "<tr><td>profit factor</td><td>1.42</td><td>inf</td></tr>" in page


def test_html_states_costs_counts_and_the_trade_list(page, data):
    assert "<td>slippage</td><td>$82.50</td>" in page
    assert "<td>rejected orders</td><td>2</td>" in page
    assert page.count("<tr class=\"win\">") + page.count("<tr class=\"loss\">") == len(
        data.trades)
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page


def test_html_escapes_a_script_in_the_title(data_factory, equity):
    page = render_html(data_factory(title="<script>alert('x')</script>", trades=[]), equity)

    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_html_caps_the_trade_table_and_points_to_the_csv(monkeypatch, data, equity):
    monkeypatch.setattr(report_html, "MAX_TRADE_ROWS", 2)

    page = render_html(data, equity)

    assert page.count('<tr class="win">') + page.count('<tr class="loss">') == 2
    assert "Showing the first 2 of 6 trades; trades.csv holds them all." in page
