"""The console summary: plain fixed-width text with every figure, the bound and the targets."""

from __future__ import annotations

import math

from replay.report import format_summary


def test_summary_lists_every_target_with_pass_fail(data):
    text = format_summary(data)

    for target in data.targets:
        assert any(line.startswith(target.name + " ") for line in text.splitlines())
    assert "PASS" in text and "FAIL" in text


def test_summary_target_table_is_aligned(data):
    lines = format_summary(data).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("target "))
    table = lines[header:header + 1 + len(data.targets)]

    column = table[0].index("P(true meets)")
    result = table[0].index("result")
    assert table[1][column:].startswith("0.31") and table[1][result:].startswith("FAIL")
    assert table[3][column:].startswith("n/a") and table[2][result:].startswith("PASS")


def test_summary_shows_undefined_figures_as_na(data):
    text = format_summary(data)

    assert math.isnan(data.metrics.avg_r)
    assert "avg R             n/a" in text
    assert "nan" not in text.lower().replace("n/a", "")


def test_summary_states_span_bound_costs_and_assumptions(data):
    text = format_summary(data)

    assert "span              2024-01-02 to 2024-01-03 (2 days, 400 bars)" in text
    assert "intrabar bound (optimistic): total return 2.01%, sharpe (daily) 1.61" in text
    assert "profit factor inf" in text
    assert "slippage $82.50" in text and "rejected_orders 2" in text
    for sentence in data.assumptions:
        assert f"- {sentence}" in text


def test_summary_is_plain_text_within_100_columns(data):
    text = format_summary(data)

    assert "\x1b" not in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_summary_names_the_pessimistic_bound_of_an_optimistic_run(data_factory):
    text = format_summary(data_factory(intrabar="optimistic"))

    assert "intrabar bound (pessimistic):" in text
