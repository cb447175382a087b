"""Fixtures for the report tests: a realistic hand-built run (metrics, targets, trades, curve)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.core.backtest_config import ReportConfig
from engine.core.events import TradeClosed
from replay.metrics.types import Interval, Metrics, TargetResult
from replay.report import CostTotals, EquityCurve, ReportData, write_report

NS = 1_000_000_000
START_NS = 1_704_205_800 * NS  # 2024-01-02T14:30:00Z
BAR_NS = 300 * NS  # 5-minute bars
N_BARS = 400

ASSUMPTIONS = [
    "Orders decided at a bar close fill at the next bar's open plus 1 tick of slippage.",
    "When a stop and a target both lie inside one bar, the stop fills first (pessimistic).",
    "A gap through a stop or target fills at the open, with slippage & commission <$2.25>.",
]


def make_metrics(**overrides: object) -> Metrics:
    """Return a plausible Metrics with every field filled (some undefined figures are nan)."""
    fields: dict[str, object] = dict(
        start_ts=START_NS, end_ts=START_NS + (N_BARS - 1) * BAR_NS, bars=N_BARS, days=2,
        days_per_year=252.0, bars_per_year=252.0 * 78,
        initial_equity=100_000.0, final_equity=101_234.5678,
        total_return=0.012345678, annual_return=0.2468, annual_volatility=0.1432,
        sharpe=1.2345, sortino=1.8, sharpe_bar=1.1, sortino_bar=1.6,
        daily_skew=-0.31, daily_kurtosis=math.nan,
        max_drawdown=0.0812, max_drawdown_usd=8_120.0, max_drawdown_days=1.5,
        max_drawdown_bars=117, calmar=3.04,
        trades=6, win_rate=0.5, profit_factor=1.42, expectancy_usd=205.76,
        avg_win_usd=612.5, avg_loss_usd=-201.0, largest_win_usd=1_250.0,
        largest_loss_usd=-410.25, avg_r=math.nan, avg_bars_held=12.5, exposure=0.42,
        probabilistic_sharpe=0.93, deflated_sharpe=math.nan, trials=1,
        sharpe_ci=Interval(low=0.21, high=2.1, level=0.95),
        max_drawdown_ci=Interval(low=0.051, high=math.nan, level=0.95),
    )
    fields.update(overrides)
    return Metrics(**fields)  # type: ignore[arg-type]


def make_targets() -> list[TargetResult]:
    """Return the four default targets, two passing and two failing, one probability nan."""
    return [
        TargetResult(name="sharpe", value=1.2345, op=">", threshold=1.5, passed=False,
                     probability=0.31, method="PSR"),
        TargetResult(name="max_drawdown", value=0.0812, op="<", threshold=0.15, passed=True,
                     probability=0.88, method="bootstrap"),
        TargetResult(name="win_rate", value=0.5, op=">", threshold=0.55, passed=False,
                     probability=math.nan, method="beta posterior"),
        TargetResult(name="profit_factor", value=1.42, op=">", threshold=1.3, passed=True,
                     probability=0.64, method="bootstrap"),
    ]


def make_trade(trade_id: int, **overrides: object) -> TradeClosed:
    """Return one closed ES trade; floats chosen to need all 17 digits to round-trip."""
    entry_bar = 10 + 40 * trade_id
    fields: dict[str, object] = dict(
        ts_event=START_NS + (entry_bar + 12) * BAR_NS, ts_init=START_NS + (entry_bar + 12) * BAR_NS,
        instrument="ES", strategy="sma_cross", trade_id=trade_id, order_id=100 + trade_id,
        direction="long" if trade_id % 2 else "short", quantity=1 + trade_id % 3,
        ts_entry=START_NS + entry_bar * BAR_NS, entry_price=4_512.25 + trade_id,
        ts_exit=START_NS + (entry_bar + 12) * BAR_NS + 1, exit_price=4_520.75 - trade_id,
        exit_reason="target", pnl_points=0.1 + 0.2, gross_pnl_usd=1.0 / 3.0 * 1000,
        commission_usd=4.5, slippage_usd=12.5 * 1.1, pnl_usd=(-1) ** trade_id * 123.456789012345,
        r_multiple=2.0 / 3.0, bars_held=12, mae_points=-1e-17, mfe_points=3.25e300, tag="",
    )
    fields.update(overrides)
    return TradeClosed(**fields)  # type: ignore[arg-type]


def make_trades() -> list[TradeClosed]:
    """Return six trades: long and short, winners and losers, one without R, odd tags."""
    return [
        make_trade(0),
        make_trade(1, tag='breakout, "fast"'),
        make_trade(2, r_multiple=None, exit_reason="stop"),
        make_trade(3, tag="<b>bold</b>"),
        make_trade(4, pnl_usd=1_250.0, exit_reason="time_stop"),
        make_trade(5, pnl_usd=-410.25, r_multiple=-1.0, exit_reason="stop"),
    ]


def make_equity(n_bars: int = N_BARS) -> EquityCurve:
    """Return a seeded random-walk equity curve with a matching position series."""
    rng = np.random.default_rng(7)
    ts = START_NS + BAR_NS * np.arange(n_bars, dtype=np.int64)
    equity = 100_000.0 + np.cumsum(rng.normal(3.0, 120.0, n_bars))
    position = np.where((np.arange(n_bars) // 40) % 2 == 0, 0.0, 2.0)
    return EquityCurve(ts=ts, equity=equity, position=position)


def make_data(**overrides: object) -> ReportData:
    """Return a complete ReportData for the fixture run."""
    fields: dict[str, object] = dict(
        title="sma_cross on ES 5m", strategy="sma_cross", instrument="ES", timeframe="5m",
        config_id="3f2a9c1d", metrics=make_metrics(),
        bound=make_metrics(total_return=0.0201, sharpe=1.61, profit_factor=math.inf,
                           win_rate=0.5833),
        intrabar="pessimistic", targets=make_targets(),
        costs=CostTotals(commission_usd=54.0, fees_usd=0.0, slippage_usd=82.5),
        counts={"orders": 14, "fills": 12, "rejected_orders": 2, "ambiguous_bars": 3,
                "input_rows": 400, "rejected_rows": 0},
        assumptions=list(ASSUMPTIONS), trades=make_trades(),
    )
    fields.update(overrides)
    return ReportData(**fields)  # type: ignore[arg-type]


@pytest.fixture
def data() -> ReportData:
    """The fixture run's report data."""
    return make_data()


@pytest.fixture
def equity() -> EquityCurve:
    """The fixture run's equity curve."""
    return make_equity()


@pytest.fixture
def data_factory() -> Callable[..., ReportData]:
    """Build the fixture run's report data with some fields replaced."""
    return make_data


@pytest.fixture
def trade_factory() -> Callable[..., TradeClosed]:
    """Build one closed trade with some fields replaced."""
    return make_trade


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Write the full report (every file) once per test module; the written paths by name."""
    return write_report(tmp_path_factory.mktemp("report"), make_data(), make_equity(),
                        ReportConfig())
