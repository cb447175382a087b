"""Number, money and time formatting shared by every report output (replay layer).

Human-facing helpers (``format_*``) show an undefined figure (``nan`` or ``None``) as
:data:`NA` and never use locale or colour. The file helpers (:func:`exact_float`,
:func:`iso_utc`) are lossless: their text parses back to the same value. :func:`key_figures`,
:func:`metric_rows` and :func:`target_rows` label and format :class:`Metrics` and targets once,
for the console summary and the HTML report alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from replay.metrics.types import Interval, Metrics, TargetResult

__all__ = [
    "INTRABAR_MEANING",
    "NA",
    "TARGET_HEADER",
    "exact_float",
    "format_count",
    "format_date",
    "format_datetime",
    "format_days",
    "format_money",
    "format_number",
    "format_percent",
    "format_price",
    "format_probability",
    "format_ratio",
    "format_target_value",
    "format_interval",
    "iso_utc",
    "key_figures",
    "metric_rows",
    "target_rows",
]

NA = "n/a"

INTRABAR_MEANING = {
    "pessimistic": "stop first when a stop and a target both lie inside one bar",
    "optimistic": "target first when a stop and a target both lie inside one bar",
}

# Targets whose value is a fraction and so reads best as a percentage.
_PERCENT_TARGETS = frozenset({"max_drawdown", "win_rate"})


def _infinite(x: float) -> str:
    return "inf" if x > 0 else "-inf"


def format_percent(x: float | None, digits: int = 2) -> str:
    """Format a fraction as a percentage.

    >>> format_percent(0.12345), format_percent(-0.5, 1), format_percent(float("nan"))
    ('12.35%', '-50.0%', 'n/a')
    """
    if x is None or math.isnan(x):
        return NA
    if math.isinf(x):
        return _infinite(x)
    return f"{x * 100:.{digits}f}%"


def format_money(x: float | None, digits: int = 2) -> str:
    """Format USD with thousands separators and the sign before the ``$``.

    >>> format_money(1234.5), format_money(-99.999), format_money(None)
    ('$1,234.50', '-$100.00', 'n/a')
    """
    if x is None or math.isnan(x):
        return NA
    if math.isinf(x):
        return _infinite(x)
    text = f"${abs(x):,.{digits}f}"
    return "-" + text if x < 0 and text.strip("$0.,") else text


def format_ratio(x: float | None, digits: int = 2) -> str:
    """Format a ratio (Sharpe, profit factor, R) with fixed decimals.

    >>> format_ratio(1.234), format_ratio(float("inf")), format_ratio(float("nan"))
    ('1.23', 'inf', 'n/a')
    """
    if x is None or math.isnan(x):
        return NA
    if math.isinf(x):
        return _infinite(x)
    return f"{x:.{digits}f}"


def format_number(x: float | None, digits: int = 1) -> str:
    """Format a plain quantity (bars held, skew) with thousands separators.

    >>> format_number(1234.56), format_number(None)
    ('1,234.6', 'n/a')
    """
    if x is None or math.isnan(x):
        return NA
    if math.isinf(x):
        return _infinite(x)
    return f"{x:,.{digits}f}"


def format_probability(x: float | None) -> str:
    """Format a probability in [0, 1] with two decimals.

    >>> format_probability(0.3071), format_probability(float("nan"))
    ('0.31', 'n/a')
    """
    return format_ratio(x, 2)


def format_count(n: int) -> str:
    """Format an integer count with thousands separators.

    >>> format_count(12345)
    '12,345'
    """
    return f"{n:,}"


def format_days(x: float | None) -> str:
    """Format a duration in days.

    >>> format_days(23.5), format_days(1), format_days(float("nan"))
    ('23.5 days', '1.0 day', 'n/a')
    """
    if x is None or math.isnan(x):
        return NA
    return f"{x:,.1f} {'day' if x == 1 else 'days'}"


def format_price(x: float | None) -> str:
    """Format a price with up to 10 significant digits, no trailing zeros.

    >>> format_price(4512.25), format_price(1.08345), format_price(None)
    ('4512.25', '1.08345', 'n/a')
    """
    if x is None or math.isnan(x):
        return NA
    return f"{x:.10g}"


def format_target_value(name: str, x: float | None) -> str:
    """Format a target's value or threshold: percent for fractions, a ratio otherwise.

    >>> format_target_value("max_drawdown", 0.15), format_target_value("sharpe", 1.5)
    ('15.00%', '1.50')
    """
    return format_percent(x) if name in _PERCENT_TARGETS else format_ratio(x)


def format_date(ts_ns: int) -> str:
    """Format a UTC ns timestamp as its calendar date.

    >>> format_date(1_704_205_800_000_000_000)
    '2024-01-02'
    """
    return str(np.datetime64(int(ts_ns), "ns").astype("datetime64[D]"))


def format_datetime(ts_ns: int) -> str:
    """Format a UTC ns timestamp to the second, for tables.

    >>> format_datetime(1_704_205_800_000_000_000)
    '2024-01-02 14:30:00'
    """
    return str(np.datetime64(int(ts_ns), "ns").astype("datetime64[s]")).replace("T", " ")


def iso_utc(ts_ns: np.ndarray) -> list[str]:
    """Return ISO-8601 UTC strings (``Z`` suffix) that keep every digit of ``ts_ns``.

    All strings of one call share the coarsest unit (s, ms, us or ns) that is exact for every
    value, so a column reads evenly and parses back to the same nanoseconds.

    >>> iso_utc(np.array([1_704_205_800_000_000_000, 1_704_205_801_500_000_000]))
    ['2024-01-02T14:30:00.000Z', '2024-01-02T14:30:01.500Z']
    >>> iso_utc(np.array([], dtype=np.int64))
    []
    """
    values = np.asarray(ts_ns, dtype=np.int64)
    unit: Literal["s", "ms", "us", "ns"] = "ns"
    units: tuple[tuple[Literal["s", "ms", "us"], int], ...] = (
        ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000))
    for candidate, step in units:
        if not np.any(values % step):
            unit = candidate
            break
    stamps = values.astype("datetime64[ns]")
    text = np.datetime_as_string(stamps, unit=unit, timezone="UTC")
    return [str(item) for item in text]


def exact_float(x: float | None) -> str:
    """Return the shortest text that parses back to exactly ``x``; ``None`` is empty.

    >>> exact_float(0.1 + 0.2), exact_float(float("nan")), exact_float(None), exact_float(2.0)
    ('0.30000000000000004', 'nan', '', '2.0')
    """
    return "" if x is None else repr(float(x))


def format_interval(interval: Interval, percent: bool = False) -> str:
    """Format a confidence interval with its level.

    >>> format_interval(Interval(low=0.2, high=2.1, level=0.95))
    '[0.20, 2.10] at 95%'
    >>> format_interval(Interval(low=0.05, high=float("nan"), level=0.9), percent=True)
    '[5.00%, n/a] at 90%'
    """
    render = format_percent if percent else format_ratio
    level = format_percent(interval.level, 0)
    return f"[{render(interval.low)}, {render(interval.high)}] at {level}"


def key_figures(m: Metrics) -> list[tuple[str, str]]:
    """Return the headline figures of a run as (label, text) pairs, in reading order."""
    return [
        ("total return", format_percent(m.total_return)),
        ("annual return", format_percent(m.annual_return)),
        ("sharpe (daily)", format_ratio(m.sharpe)),
        ("sortino (daily)", format_ratio(m.sortino)),
        ("max drawdown", format_percent(m.max_drawdown)),
        ("calmar", format_ratio(m.calmar)),
        ("trades", format_count(m.trades)),
        ("win rate", format_percent(m.win_rate)),
        ("profit factor", format_ratio(m.profit_factor)),
        ("expectancy", format_money(m.expectancy_usd)),
        ("avg R", format_ratio(m.avg_r)),
        ("exposure", format_percent(m.exposure)),
        ("PSR", format_probability(m.probabilistic_sharpe)),
        ("DSR", format_probability(m.deflated_sharpe)),
        ("final equity", format_money(m.final_equity)),
    ]


def metric_rows(m: Metrics) -> list[tuple[str, str]]:
    """Return every figure of a run as (label, text) pairs, grouped as :class:`Metrics` is."""
    return [
        ("start", format_datetime(m.start_ts)),
        ("end", format_datetime(m.end_ts)),
        ("bars", format_count(m.bars)),
        ("days", format_count(m.days)),
        ("initial equity", format_money(m.initial_equity)),
        ("final equity", format_money(m.final_equity)),
        ("total return", format_percent(m.total_return)),
        ("annual return", format_percent(m.annual_return)),
        ("annual volatility", format_percent(m.annual_volatility)),
        ("sharpe (daily)", format_ratio(m.sharpe)),
        ("sortino (daily)", format_ratio(m.sortino)),
        ("sharpe (bar)", format_ratio(m.sharpe_bar)),
        ("sortino (bar)", format_ratio(m.sortino_bar)),
        ("daily skew", format_ratio(m.daily_skew)),
        ("daily kurtosis", format_ratio(m.daily_kurtosis)),
        ("max drawdown", format_percent(m.max_drawdown)),
        ("max drawdown (USD)", format_money(m.max_drawdown_usd)),
        ("max drawdown duration", format_days(m.max_drawdown_days)),
        ("max drawdown bars", format_count(m.max_drawdown_bars)),
        ("calmar", format_ratio(m.calmar)),
        ("trades", format_count(m.trades)),
        ("win rate", format_percent(m.win_rate)),
        ("profit factor", format_ratio(m.profit_factor)),
        ("expectancy", format_money(m.expectancy_usd)),
        ("avg win", format_money(m.avg_win_usd)),
        ("avg loss", format_money(m.avg_loss_usd)),
        ("largest win", format_money(m.largest_win_usd)),
        ("largest loss", format_money(m.largest_loss_usd)),
        ("avg R", format_ratio(m.avg_r)),
        ("avg bars held", format_number(m.avg_bars_held)),
        ("exposure", format_percent(m.exposure)),
        ("probabilistic sharpe (PSR)", format_probability(m.probabilistic_sharpe)),
        ("deflated sharpe (DSR)", format_probability(m.deflated_sharpe)),
        ("trials", format_count(m.trials)),
        ("sharpe CI", format_interval(m.sharpe_ci)),
        ("max drawdown CI", format_interval(m.max_drawdown_ci, percent=True)),
    ]


TARGET_HEADER = ("target", "value", "need", "P(true meets)", "result", "method")


def target_rows(targets: Sequence[TargetResult]) -> list[tuple[str, str, str, str, str, str]]:
    """Return one text row per target, in the columns of ``TARGET_HEADER``.

    >>> target_rows([TargetResult(name="sharpe", value=1.234, op=">", threshold=1.5,
    ...                           passed=False, probability=0.31, method="PSR")])
    [('sharpe', '1.23', '> 1.50', '0.31', 'FAIL', 'PSR')]
    """
    return [
        (
            target.name,
            format_target_value(target.name, target.value),
            f"{target.op} {format_target_value(target.name, target.threshold)}",
            format_probability(target.probability),
            "PASS" if target.passed else "FAIL",
            target.method,
        )
        for target in targets
    ]
