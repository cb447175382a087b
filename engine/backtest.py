"""Backtest wiring: data through the pipeline, a strategy and the simulated broker (wiring layer).

Two paths run the same components:

- ``bus``: the replay driver publishes every bar; the broker (subscribed first), the shadow
  broker that computes the intrabar bound, and the strategy react to events. This is the
  path every strategy supports and the one the live daemon mirrors.
- ``batch``: each chunk of execution bars goes through the strategy's and the broker's batch
  kernels (loops over the same step kernels). Only for strategies that decide on the
  execution bars alone (``on_chunk``); the results are identical to the bus path (tested).

The run returns the broker's ledger (fills, trades, rejections), equity marks and counters; the
metrics and the report are computed from it by :mod:`engine.backtest_report`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, Protocol

import msgspec
import numpy as np
import structlog

from components.bars import BarAggregator
from engine.chunks import BarChunk, IntentChunk, TickChunk
from engine.errors import ConfigError
from engine.events import Event, Fill, OrderIntent, TradeClosed
from engine.pipeline import ReplayPipeline, build_aggregator
from engine.schema import AppConfig
from replay.broker import Marks, SimulatedBroker, SimulatedBrokerConfig
from strategies.sma_cross import SmaCross

__all__ = ["BacktestRun", "BatchStrategy", "Path_", "Strategy", "build_brokers", "build_strategy",
           "execution_timeframe", "run_backtest"]

log = structlog.get_logger(__name__)

Path_ = Literal["bus", "batch"]
MarkSink = Callable[[Marks, Marks], None]
ChunkCallback = Callable[[BarChunk | TickChunk], None]


class Strategy(Protocol):
    """What the backtest needs of a strategy component."""

    name: str

    def on_event(self, event: Event) -> object: ...


class BatchStrategy(Strategy, Protocol):
    """A strategy that can decide over a chunk of its bars."""

    def on_chunk(self, bars: BarChunk) -> IntentChunk: ...


class BacktestRun:
    """The ledger of one backtest: ``broker`` (the run), ``bound`` (other intrabar order)."""

    def __init__(self, config: AppConfig, path: Path_, broker: SimulatedBroker,
                 bound: SimulatedBroker, strategy: Strategy, input_rows: int,
                 bars: int, intents: int) -> None:
        self.config = config
        self.path = path
        self.broker = broker
        self.bound = bound
        self.strategy = strategy
        self.input_rows = input_rows
        self.bars = bars
        self.intents = intents

    @property
    def trades(self) -> list[TradeClosed]:
        """Closed trades of the run, in order."""
        return self.broker.trades

    @property
    def fills(self) -> list[Fill]:
        """Fills of the run, in order."""
        return self.broker.fills


def execution_timeframe(config: AppConfig) -> str:
    """The bars the broker executes on: ``backtest.broker.execution_timeframe`` or fast."""
    return config.backtest.broker.execution_timeframe or config.timeframes.fast


def build_strategy(config: AppConfig) -> Strategy:
    """The configured strategy, deciding on the fast bars unless it names a timeframe."""
    name = config.backtest.strategy
    if name == "sma_cross":
        cfg = config.strategies.sma_cross
        if not cfg.timeframe:
            cfg = msgspec.structs.replace(cfg, timeframe=config.timeframes.fast)
        return SmaCross(cfg)
    raise ConfigError(f"backtest.strategy: no strategy named {name!r}")


def build_brokers(config: AppConfig, strategy: str) -> tuple[SimulatedBroker, SimulatedBroker]:
    """The run's broker and the shadow broker with the other intrabar order (the bound)."""
    bt = config.backtest
    other = "optimistic" if bt.broker.intrabar == "pessimistic" else "pessimistic"
    base = SimulatedBrokerConfig(instrument=config.instrument_spec,
                                 timeframe=execution_timeframe(config), broker=bt.broker,
                                 costs=bt.costs, strategy=strategy)
    return (SimulatedBroker(base),
            SimulatedBroker(msgspec.structs.replace(base, intrabar=other, publish=False)))


def run_backtest(config: AppConfig, chunks: Iterable[BarChunk | TickChunk],
                 path: Path_ = "bus", on_marks: MarkSink | None = None,
                 on_chunk: ChunkCallback | None = None) -> BacktestRun:
    """Run the configured strategy over ``chunks`` on the chosen path.

    ``on_marks(run_marks, bound_marks)`` receives the equity marks of each chunk (for the
    metrics accumulators and the equity curve); ``on_chunk`` is called after each chunk (for
    progress). Incomplete bars at the end are not traded.
    """
    strategy = build_strategy(config)
    broker, bound = build_brokers(config, strategy.name)
    if path == "bus":
        rows, bars, intents = _run_bus(config, chunks, strategy, broker, bound, on_marks,
                                       on_chunk)
    elif path == "batch":
        rows, bars, intents = _run_batch(config, chunks, strategy, broker, bound, on_marks,
                                         on_chunk)
    else:
        raise ConfigError(f"backtest path: expected 'bus' or 'batch', was {path!r}")
    log.info("backtest.finished", path=path, bars=bars, trades=len(broker.trades),
             fills=len(broker.fills), rejected=len(broker.rejections))
    return BacktestRun(config, path, broker, bound, strategy, rows, bars, intents)


def _run_bus(config: AppConfig, chunks: Iterable[BarChunk | TickChunk], strategy: Strategy,
             broker: SimulatedBroker, bound: SimulatedBroker, on_marks: MarkSink | None,
             on_chunk: ChunkCallback | None) -> tuple[int, int, int]:
    pipeline = ReplayPipeline(config, None, None)  # fed the chunks given, not its reader
    exec_tf = execution_timeframe(config)
    published = set(pipeline.driver.stats.bars_by_timeframe)
    if exec_tf not in published:
        raise ConfigError(f"backtest.broker.execution_timeframe: {exec_tf} bars are not "
                          f"published (published: {sorted(published)}; set "
                          f"timeframes.publish_input = true to execute on the input bars)")
    bus = pipeline.bus
    bus.subscribe(broker)  # first: its fills precede every event derived from the same bar
    bus.subscribe(bound)
    bus.subscribe(strategy)  # type: ignore[arg-type]
    intents = 0

    def count(_: Event) -> list[Event]:
        nonlocal intents
        intents += 1
        return []

    bus.subscribe_handler(OrderIntent, count, "backtest.counter")
    rows = 0
    for chunk in chunks:
        pipeline.driver.step_chunk(chunk)
        rows += chunk.rows
        if on_marks is not None:
            on_marks(broker.take_marks(), bound.take_marks())
        if on_chunk is not None:
            on_chunk(chunk)
    bars = pipeline.driver.stats.bars_by_timeframe.get(exec_tf, 0)
    return rows, bars, intents


def _run_batch(config: AppConfig, chunks: Iterable[BarChunk | TickChunk], strategy: Strategy,
               broker: SimulatedBroker, bound: SimulatedBroker, on_marks: MarkSink | None,
               on_chunk: ChunkCallback | None) -> tuple[int, int, int]:
    on_chunk_method = getattr(strategy, "on_chunk", None)
    if on_chunk_method is None:
        raise ConfigError(f"backtest path 'batch': strategy {strategy.name} has no batch form; "
                          "use the bus path")
    exec_tf = execution_timeframe(config)
    strategy_tf = getattr(getattr(strategy, "config", None), "timeframe", exec_tf)
    if strategy_tf != exec_tf:
        raise ConfigError(f"backtest path 'batch': the strategy decides on {strategy_tf} bars "
                          f"and the broker executes on {exec_tf}; the batch path needs both "
                          "on the same bars (use the bus path)")
    input_tf = config.data.bar_interval if config.data.kind == "bars" else None
    aggregator = None
    if exec_tf != input_tf:
        aggregator = build_aggregator(config, exec_tf)
    rows = bars = intents = 0
    for chunk in chunks:
        rows += chunk.rows
        exec_bars = _execution_bars(chunk, aggregator)
        if exec_bars.rows:
            decided: IntentChunk = on_chunk_method(exec_bars)
            intents += decided.rows
            broker.on_chunk(exec_bars, decided)
            bound.on_chunk(exec_bars, decided)
            bars += exec_bars.rows
        if on_marks is not None:
            on_marks(broker.take_marks(), bound.take_marks())
        if on_chunk is not None:
            on_chunk(chunk)
    return rows, bars, intents


def _execution_bars(chunk: BarChunk | TickChunk, aggregator: BarAggregator | None) -> BarChunk:
    if aggregator is None:
        assert isinstance(chunk, BarChunk)
        return chunk
    out = aggregator.on_chunk(chunk)
    order = np.argsort(out.ts_close, kind="stable")
    return BarChunk(out.ts_open[order], out.ts_close[order], out.open[order], out.high[order],
                    out.low[order], out.close[order], out.volume[order])

