"""What a backtest report is made of (replay layer): the run's figures and its equity curve.

:class:`ReportData` holds everything but the per-bar arrays, which travel separately as an
:class:`EquityCurve` (msgspec has no numpy support, and the JSON summary must stay small).
Nothing here carries wall-clock time or file paths, so identical runs give identical reports.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import msgspec
import numpy as np

from engine.core.events import TradeClosed
from replay.metrics.types import Metrics, TargetResult

__all__ = ["CostTotals", "EquityCurve", "ReportData", "drawdown_fraction"]


class EquityCurve(NamedTuple):
    """Per-bar account state (the caller may decimate it for long runs).

    Attributes
    ----------
    ts
        int64 ns UTC, bar close times, ascending.
    equity
        float64 USD, account equity marked at each close.
    position
        float64 signed contracts held after each close.
    """

    ts: np.ndarray
    equity: np.ndarray
    position: np.ndarray


class CostTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Trading costs of the whole run, in USD."""

    commission_usd: float
    fees_usd: float
    slippage_usd: float

    @property
    def total_usd(self) -> float:
        """Commission, fees and slippage together."""
        return self.commission_usd + self.fees_usd + self.slippage_usd


class ReportData(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a backtest report states, except the equity curve.

    ``metrics`` is the run under the ``intrabar`` order (stop or target first when both lie
    inside one bar); ``bound`` is the same run under the other order, reported beside it.
    ``counts`` holds event and data counts (orders, fills, rejected_orders, ambiguous_bars,
    input_rows, rejected_rows, ...); ``assumptions`` the fill assumptions, one sentence each.
    """

    title: str
    strategy: str
    instrument: str
    timeframe: str
    config_id: str
    metrics: Metrics
    bound: Metrics
    intrabar: Literal["pessimistic", "optimistic"]
    targets: list[TargetResult]
    costs: CostTotals
    counts: dict[str, int]
    assumptions: list[str]
    trades: list[TradeClosed]

    @property
    def bound_intrabar(self) -> Literal["pessimistic", "optimistic"]:
        """The intrabar order that ``bound`` was computed with."""
        return "optimistic" if self.intrabar == "pessimistic" else "pessimistic"


def drawdown_fraction(equity: np.ndarray) -> np.ndarray:
    """Return the drawdown below the running peak at each bar, as a positive fraction.

    Examples
    --------
    >>> drawdown_fraction(np.array([100.0, 120.0, 90.0, 130.0])).tolist()
    [0.0, 0.0, 0.25, 0.0]
    """
    values = np.asarray(equity, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peak > 0, 1.0 - values / peak, 0.0)
    return np.maximum(drawdown, 0.0)
