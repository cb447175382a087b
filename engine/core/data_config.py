"""The data section of the config: where the bars or ticks are, their columns and the
validation policy for bad rows (foundation: the readers in ``replay.data`` and the root
schema ``engine.wiring.schema`` both use it)."""

from __future__ import annotations

from typing import Literal

from engine.core.config import Config, PositiveInt
from engine.core.timeframes import parse_timeframe

__all__ = ["ColumnsConfig", "DataConfig", "ValidationConfig"]


class ValidationConfig(Config, frozen=True):
    """Per-rule policy for bad input rows.

    ``error`` stops with the file, line, rule and value; ``skip`` drops the row, counts it and
    writes it to the rejects file; ``repair`` fixes it (where a fix is defined) and counts it.

    - ``unparsable``: wrong field count, unreadable timestamp or number (error | skip)
    - ``nan``: an empty or NaN field (repair: price fields take the previous close, volume 0)
    - ``non_positive``: a price <= 0 (error | skip)
    - ``negative_volume``: volume < 0 (repair: volume 0)
    - ``ohlc``: high < max(open, close) or low > min(open, close) (repair: widen high/low)
    - ``duplicate``: a timestamp equal to the previous one (skip keeps the first)
    - ``out_of_order``: a timestamp earlier than the previous one (error | skip)
    - ``gap``: a missing input bar (skip: keep the gap and count it; repair: fill flat bars
      with the previous close and zero volume for gaps up to ``max_fill``; error: stop)
    """

    unparsable: Literal["error", "skip"] = "skip"
    nan: Literal["error", "skip", "repair"] = "skip"
    non_positive: Literal["error", "skip"] = "skip"
    negative_volume: Literal["error", "skip", "repair"] = "skip"
    ohlc: Literal["error", "skip", "repair"] = "skip"
    duplicate: Literal["error", "skip"] = "skip"
    out_of_order: Literal["error", "skip"] = "error"
    gap: Literal["error", "skip", "repair"] = "skip"
    max_fill: str = "15m"

    def __post_init__(self) -> None:
        parse_timeframe(self.max_fill)


class ColumnsConfig(Config, frozen=True):
    """Column names in the source file; ``None`` means detect from common spellings.

    Use ``timestamp`` for one combined column, or ``date`` and ``time`` for separate ones
    (NinjaTrader, TradeStation, Sierra Chart exports).
    """

    timestamp: str | None = None
    date: str | None = None
    time: str | None = None
    open: str | None = None
    high: str | None = None
    low: str | None = None
    close: str | None = None
    volume: str | None = None
    price: str | None = None


class DataConfig(Config, frozen=True):
    """Where the market data is and how to read it.

    ``timestamp_label`` says whether a bar's timestamp marks its open (the bundled files, Sierra
    Chart) or its close (NinjaTrader and TradeStation exports). Naive timestamps are read in
    ``timezone``. ``timestamp_unit = "auto"`` reads text as ISO/strptime and numbers as epoch
    seconds, milliseconds, microseconds or nanoseconds by magnitude.
    """

    path: str
    kind: Literal["bars", "ticks"] = "bars"
    format: Literal["auto", "csv", "parquet"] = "auto"
    layout: Literal["generic", "ninjatrader", "tradestation", "sierrachart"] = "generic"
    bar_interval: str = "1m"
    timestamp_label: Literal["open", "close"] = "open"
    timestamp_unit: Literal["auto", "text", "s", "ms", "us", "ns"] = "auto"
    timestamp_format: str | None = None
    timezone: str = "UTC"
    delimiter: str | None = None
    columns: ColumnsConfig = ColumnsConfig()
    chunk_rows: PositiveInt = 100_000
    validation: ValidationConfig = ValidationConfig()

    def __post_init__(self) -> None:
        parse_timeframe(self.bar_interval)
