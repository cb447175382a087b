"""Backtest configuration: broker, costs, metrics, targets, report (core layer).

These Structs sit under ``[backtest]`` in a TOML config. Defaults are the design's defaults
(docs/design.md section 5): next-open execution, 1 tick of slippage, $2.25 commission per contract
per
side, pessimistic intrabar ordering, a 100-bar time stop, and the original documents' targets
(Sharpe > 1.5, max drawdown < 15%, win rate > 55%, profit factor > 1.3).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from engine.core.config import Config, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from engine.core.timeframes import parse_instant, parse_timeframe

__all__ = [
    "BacktestConfig",
    "BrokerConfig",
    "CostsConfig",
    "MetricsConfig",
    "ReportConfig",
    "TargetsConfig",
]

ConfidenceLevel = Annotated[float, msgspec.Meta(gt=0, lt=1)]


class CostsConfig(Config, frozen=True):
    """Trading costs. Fees are USD per contract per side; slippage is in ticks per fill.

    Slippage applies to market fills, stop fills and fills at the open; limit and target fills
    are at their price. It never moves a fill outside the bar's high-low range.
    ``commission_bps`` charges basis points of the traded notional (price x quantity x point
    value) per side on top of the per-contract fees, the way crypto and FX venues charge.
    """

    slippage_ticks: NonNegativeFloat = 1.0
    commission_per_contract: NonNegativeFloat = 2.25
    exchange_fee_per_contract: NonNegativeFloat = 0.0
    nfa_fee_per_contract: NonNegativeFloat = 0.0
    commission_bps: NonNegativeFloat = 0.0

    @property
    def fee_per_contract(self) -> float:
        """All per-contract, per-side charges together."""
        return (self.commission_per_contract + self.exchange_fee_per_contract
                + self.nfa_fee_per_contract)


class BrokerConfig(Config, frozen=True):
    """Execution rules of the simulated broker.

    Parameters
    ----------
    initial_cash
        Starting account equity in USD.
    execution_timeframe
        Bars the broker executes and marks on; ``None`` means the fast timeframe. A finer one
        (the 1-minute input) narrows intrabar ambiguity.
    intrabar
        Which of stop and target fills first when both lie inside one bar: ``pessimistic``
        (stop first, the default) or ``optimistic``. The other order is always computed as
        the bound and reported beside the result.
    time_stop_bars
        Bracket orders (with a stop or target) exit at the open after this many bars held
        (0 disables). Plain orders have no time stop; either kind may set its own.
    flat_at_session_end
        Close any position at the close of the last bar of each session (needs the
        instrument's ``session_close``) and cancel pending entries.
    max_position
        Largest absolute position in contracts; orders that would exceed it are rejected.
    """

    initial_cash: PositiveFloat = 100_000.0
    execution_timeframe: str | None = None
    intrabar: Literal["pessimistic", "optimistic"] = "pessimistic"
    time_stop_bars: NonNegativeInt = 100
    flat_at_session_end: bool = False
    max_position: PositiveInt = 100

    def __post_init__(self) -> None:
        if self.execution_timeframe is not None:
            parse_timeframe(self.execution_timeframe)


class MetricsConfig(Config, frozen=True):
    """How metrics are computed.

    ``days_per_year`` annualises daily figures (``None``: 365 for crypto, 252 otherwise);
    ``trials`` is the number of strategy variants tried to reach this one (for the deflated
    Sharpe ratio); ``trials_sharpe_variance`` the variance of their (per-period) Sharpe ratios,
    if known. Bootstrap intervals use ``bootstrap_samples`` resamples of daily returns in blocks
    of ``bootstrap_block_days``, seeded from the run's seed.
    """

    days_per_year: PositiveFloat | None = None
    risk_free_rate: NonNegativeFloat = 0.0
    trials: PositiveInt = 1
    trials_sharpe_variance: NonNegativeFloat | None = None
    bootstrap_samples: PositiveInt = 1000
    bootstrap_block_days: PositiveInt = 5
    ci_level: ConfidenceLevel = 0.95


class TargetsConfig(Config, frozen=True):
    """Pass/fail targets of the summary (the original AlgoSpace documents' defaults)."""

    sharpe: float = 1.5
    max_drawdown: PositiveFloat = 0.15
    win_rate: float = 0.55
    profit_factor: NonNegativeFloat = 1.3


class ReportConfig(Config, frozen=True):
    """Which report files to write beside the JSON summary and trades CSV."""

    html: bool = True
    parquet: bool = True
    equity_csv: bool = True


class BacktestConfig(Config, frozen=True):
    """Everything ``algospace backtest`` needs besides the data and the strategy's own config.

    ``start`` is where trading and the metrics begin: ``None`` at the first bar, ``"auto"``
    right after every period a fitted artifact the strategy uses was trained or selected on
    (the bars before it only warm the pipeline up), or an ISO 8601 date or timestamp (UTC
    unless it names a zone), refused when it lies inside such a period.
    """

    strategy: str = "sma_cross"
    start: str | None = None
    broker: BrokerConfig = BrokerConfig()
    costs: CostsConfig = CostsConfig()
    metrics: MetricsConfig = MetricsConfig()
    targets: TargetsConfig = TargetsConfig()
    report: ReportConfig = ReportConfig()

    def __post_init__(self) -> None:
        if self.start is not None and self.start != "auto":
            parse_instant(self.start, "start")
