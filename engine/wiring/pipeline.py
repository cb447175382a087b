"""Build the replay pipeline from an application config (wiring layer).

One function assembles what every replay-driven command shares: the bus, the simulated clock,
the fast and slow bar aggregators aligned to the instrument's session, the streaming reader with
its reject log, and the driver. Backtests, trainers and parity checks extend this wiring by
subscribing more components to ``pipeline.bus``; they never build a second feature path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from components.bars import BarAggregator, BarAggregatorConfig
from engine.core.bus import Bus
from engine.core.chunks import BarChunk, TickChunk
from engine.core.clock import TestClock
from engine.core.errors import EngineError
from engine.wiring.dataset import Dataset, DataSource
from engine.wiring.replay_driver import ReplayDriver, ReplayStats
from engine.wiring.schema import AppConfig
from replay.data import RejectLog, read_market_data

__all__ = ["ReplayPipeline", "build_aggregator", "build_replay_pipeline", "input_timeframe"]


class ReplayPipeline:
    """The wired replay: ``bus``, ``clock``, ``aggregators``, ``driver``, ``rejects``."""

    def __init__(self, config: AppConfig, data_path: DataSource | None,
                 rejects_path: Path | None) -> None:
        input_tf = input_timeframe(config)
        self.config = config
        self.data_path = data_path
        self.bus = Bus()
        self.clock = TestClock()
        self.aggregators = [
            build_aggregator(config, timeframe)
            for timeframe in _distinct(config.timeframes.fast, config.timeframes.slow, input_tf)
        ]
        self.rejects = RejectLog(rejects_path)
        self.driver = ReplayDriver(
            self.bus, self.clock, config.instrument_spec.symbol, input_tf, self.aggregators,
            publish_input=config.timeframes.publish_input,
        )

    def chunks(self) -> Iterator[BarChunk | TickChunk]:
        """Stream validated chunks of the configured data file (or of the data set in memory,
        read and validated once)."""
        if isinstance(self.data_path, Dataset):
            return iter(self.data_path.chunks)
        if self.data_path is None:
            raise EngineError("ReplayPipeline.chunks: expected a data file, none was given")
        return read_market_data(self.data_path, self.config.data, self.rejects)

    def run(self, flush: bool = False) -> ReplayStats:
        """Replay the whole data file through the bus."""
        try:
            return self.driver.run(self.chunks(), flush=flush)
        finally:
            self.rejects.close()


def input_timeframe(config: AppConfig) -> str | None:
    """Label of the input bars, or ``None`` when the input is ticks."""
    return config.data.bar_interval if config.data.kind == "bars" else None


def build_aggregator(config: AppConfig, timeframe: str) -> BarAggregator:
    """An aggregator from the configured input to ``timeframe`` on the instrument's session."""
    spec = config.instrument_spec
    return BarAggregator(BarAggregatorConfig(
        instrument=spec.symbol,
        timeframe=timeframe,
        input_timeframe=input_timeframe(config),
        session_open=spec.session_open,
        session_timezone=spec.session_timezone,
    ))


def build_replay_pipeline(
    config: AppConfig, data_path: DataSource, rejects_path: Path | None = None
) -> ReplayPipeline:
    """Wire bus, clock, aggregators, reader and driver for ``config`` (``data_path``: a file,
    or a :class:`~engine.wiring.dataset.Dataset` already in memory)."""
    return ReplayPipeline(config, data_path, rejects_path)


def _distinct(fast: str, slow: str, input_tf: str | None) -> list[str]:
    # When the input already is the fast timeframe (hourly data, fast = 1h) the input bars are
    # the fast bars; aggregating them again would publish every bar twice.
    return [tf for tf in dict.fromkeys((fast, slow)) if tf != input_tf]
