"""Backtest wiring: data through the pipeline, a strategy and the simulated broker (wiring layer).

Two paths run the same components:

- ``bus``: the replay driver publishes every bar; the broker (subscribed first) and the
  strategy react to events. This is the path every strategy supports and the one the live
  daemon mirrors.
- ``batch``: each chunk of execution bars goes through the strategy's and the broker's batch
  kernels (loops over the same step kernels). Only for strategies that decide on the
  execution bars alone (``on_chunk``); the results are identical to the bus path (tested).

The intrabar bound (the same run with the other stop/target order) comes from a second broker
forked from the run's broker at the first bracket order; before one exists the rule cannot
change anything, so the fork is exact and strategies without brackets pay nothing for it.

The run returns the broker's ledger (fills, trades, rejections), equity marks and counters; the
metrics and the report are computed from it by :mod:`engine.wiring.backtest_report`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal

import numpy as np
import structlog

from components.bars import BarAggregator
from engine.core.chunks import BarChunk, IntentChunk, TickChunk
from engine.core.errors import ConfigError
from engine.core.events import (
    ConsensusReached,
    Event,
    Fill,
    OrderIntent,
    RiskProposal,
    SynergyDetected,
    TradeClosed,
    TradeRejected,
)
from engine.core.strategy import BatchStrategy, Strategy
from engine.wiring.build import build_broker, build_strategy, execution_timeframe, uses_models
from engine.wiring.pipeline import build_aggregator
from engine.wiring.schema import AppConfig
from engine.wiring.session import TradingSession
from replay.broker import Marks, SimulatedBroker

if TYPE_CHECKING:
    from engine.wiring.artifacts import Artifacts

__all__ = ["BacktestRun", "BatchStrategy", "Path_", "Strategy", "is_bracket", "run_backtest"]

log = structlog.get_logger(__name__)

Path_ = Literal["bus", "batch"]
MarkSink = Callable[[Marks, Marks], None]
ChunkCallback = Callable[[BarChunk | TickChunk], None]


class BacktestRun:
    """The ledger of one backtest.

    ``broker`` ran the configured intrabar rule; ``bound`` the other one. The bound broker is
    forked from the run's broker at the first bracket order (before it, the rule cannot
    matter), so it is ``None`` for strategies without stops or targets, whose bound is the
    run itself.
    """

    def __init__(self, config: AppConfig, path: Path_, broker: SimulatedBroker,
                 bound: SimulatedBroker | None, strategy: Strategy, input_rows: int,
                 bars: int, intents: int, setups: dict[str, int] | None = None) -> None:
        self.config = config
        self.path = path
        self.broker = broker
        self.bound = bound
        self.strategy = strategy
        self.input_rows = input_rows
        self.bars = bars
        self.intents = intents
        self.setups = setups or {}

    @property
    def trades(self) -> list[TradeClosed]:
        """Closed trades of the run, in order."""
        return self.broker.trades

    @property
    def fills(self) -> list[Fill]:
        """Fills of the run, in order."""
        return self.broker.fills

    @property
    def bound_trades(self) -> list[TradeClosed]:
        """Closed trades under the other intrabar rule."""
        return (self.bound or self.broker).trades

    @property
    def bound_ambiguous_bars(self) -> int:
        """Ambiguous bars counted under the other intrabar rule."""
        return (self.bound or self.broker).ambiguous_bars


class _Bound:
    """Forks the bound broker from the run's broker at the first bracket order."""

    def __init__(self, config: AppConfig, broker: SimulatedBroker) -> None:
        self.broker = broker
        self.intrabar: Literal["pessimistic", "optimistic"] = (
            "optimistic" if config.backtest.broker.intrabar == "pessimistic" else "pessimistic")
        self.shadow: SimulatedBroker | None = None

    def fork(self) -> SimulatedBroker:
        self.shadow = self.broker.fork(self.intrabar)
        return self.shadow

    def marks(self, run: Marks) -> Marks:
        return run if self.shadow is None else self.shadow.take_marks()


def is_bracket(intent: OrderIntent) -> bool:
    """Whether an intent carries a stop or a target."""
    return intent.action != "close" and (
        intent.stop_price is not None or intent.target_price is not None
        or bool(intent.stop_points) or bool(intent.target_points))


def _has_bracket(intents: IntentChunk) -> bool:
    f = intents.floats
    rows = ((np.isfinite(f[:, 1]) | np.isfinite(f[:, 2]) | (f[:, 3] > 0) | (f[:, 4] > 0))
            & (intents.ints[:, 1] != 2))
    return bool(rows.any())


def run_backtest(config: AppConfig, chunks: Iterable[BarChunk | TickChunk],
                 path: Path_ = "bus", on_marks: MarkSink | None = None,
                 on_chunk: ChunkCallback | None = None, artifacts: Artifacts | None = None,
                 start_ns: int | None = None, tap: Callable[[Event], None] | None = None
                 ) -> BacktestRun:
    """Run the configured strategy over ``chunks`` on the chosen path.

    ``on_marks(run_marks, bound_marks)`` receives the equity marks of each chunk (for the
    metrics accumulators and the equity curve); without it the marks are dropped, so memory
    does not grow with the bars. ``on_chunk`` is called after each chunk (for progress).
    ``artifacts`` are the fitted models a learned strategy runs (:func:`uses_models`).
    ``start_ns``: the strategy sees nothing before it (:class:`StartGate`; on the batch path
    the execution bars before it are not traded); the marks before it are the caller's to
    drop. ``tap`` sees every event the bus delivers (bus path; for parity checks).
    Incomplete bars at the end are not traded.
    """
    setups: dict[str, int] = {}
    if path == "bus":
        session = TradingSession(config, artifacts, start_ns)
        strategy, broker = session.strategy, session.broker
        bound = _Bound(config, broker)
        rows, bars, intents = _run_bus(session, chunks, bound, on_marks, on_chunk, setups,
                                       start_ns, tap)
    elif path == "batch":
        strategy = build_strategy(config)
        broker = build_broker(config, strategy.name)
        bound = _Bound(config, broker)
        if uses_models(config):
            raise ConfigError("backtest path 'batch': strategies with fitted models upstream "
                              "(the learned pipeline, synergy sized by the M-RMS) run on the "
                              "bus path only")
        rows, bars, intents = _run_batch(config, chunks, strategy, bound, on_marks, on_chunk,
                                         start_ns)
    else:
        raise ConfigError(f"backtest path: expected 'bus' or 'batch', was {path!r}")
    log.info("backtest.finished", path=path, bars=bars, trades=broker.count("trade"),
             fills=broker.count("fill"), rejected=broker.count("rejection"))
    return BacktestRun(config, path, broker, bound.shadow, strategy, rows, bars, intents,
                       setups)


def _run_bus(session: TradingSession, chunks: Iterable[BarChunk | TickChunk], bound: _Bound,
             on_marks: MarkSink | None, on_chunk: ChunkCallback | None,
             setups: dict[str, int], start_ns: int | None,
             tap: Callable[[Event], None] | None) -> tuple[int, int, int]:
    config = session.config
    broker = bound.broker
    pipeline = session.pipeline  # fed the chunks given, not its reader
    exec_tf = execution_timeframe(config)
    published = set(pipeline.driver.stats.bars_by_timeframe)
    if exec_tf not in published:
        raise ConfigError(f"backtest.broker.execution_timeframe: {exec_tf} bars are not "
                          f"published (published: {sorted(published)}; set "
                          f"timeframes.publish_input = true to execute on the input bars)")
    bus = session.bus  # the session subscribed the broker first, then the upstream
    if tap is not None:
        bus.add_tap(tap)
    first = -(2**63) if start_ns is None else start_ns

    def count_setup(setup: SynergyDetected) -> list[Event]:
        if setup.ts_event >= first:
            key = f"TYPE_{setup.pattern}_{'long' if setup.direction > 0 else 'short'}"
            setups[key] = setups.get(key, 0) + 1
        return []

    def count_rejection(rejection: TradeRejected) -> list[Event]:
        if rejection.ts_event >= first:
            stage = f"rejected_{rejection.stage}"
            setups[stage] = setups.get(stage, 0) + 1
            for reason in rejection.reasons:
                key = f"rejected_{rejection.stage}_{reason}"
                setups[key] = setups.get(key, 0) + 1
        return []

    def count_passed(event: ConsensusReached | RiskProposal) -> list[Event]:
        if event.ts_event >= first:
            key = "passed_gate1" if type(event) is ConsensusReached else "passed_risk"
            setups[key] = setups.get(key, 0) + 1
        return []

    bus.subscribe_handler(SynergyDetected, count_setup, "backtest.setups")
    bus.subscribe_handler(TradeRejected, count_rejection, "backtest.rejections")
    bus.subscribe_handler(ConsensusReached, count_passed, "backtest.gate1")
    bus.subscribe_handler(RiskProposal, count_passed, "backtest.risk")
    session.attach_strategy()
    intents = 0

    def count(intent: OrderIntent) -> list[Event]:
        nonlocal intents
        intents += 1
        if bound.shadow is None and is_bracket(intent):
            # the run's broker has queued this intent already (subscribed earlier)
            bus.subscribe(bound.fork())
        return []

    bus.subscribe_handler(OrderIntent, count, "backtest.counter")
    rows = 0
    for chunk in chunks:
        session.step(chunk)
        rows += chunk.rows
        marks = broker.take_marks()  # taken even without a sink: memory stays flat
        if on_marks is not None:
            on_marks(marks, bound.marks(marks))
        elif bound.shadow is not None:
            bound.shadow.take_marks()
        if on_chunk is not None:
            on_chunk(chunk)
    bars = pipeline.driver.stats.bars_by_timeframe.get(exec_tf, 0)
    return rows, bars, intents


def _run_batch(config: AppConfig, chunks: Iterable[BarChunk | TickChunk], strategy: Strategy,
               bound: _Bound, on_marks: MarkSink | None, on_chunk: ChunkCallback | None,
               start_ns: int | None) -> tuple[int, int, int]:
    broker = bound.broker
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
        bars += exec_bars.rows  # replayed, as the bus path counts them
        if start_ns is not None:
            exec_bars = exec_bars.since(start_ns)
        if exec_bars.rows:
            decided: IntentChunk = on_chunk_method(exec_bars)
            intents += decided.rows
            if bound.shadow is None and _has_bracket(decided):
                bound.fork()  # at the chunk start: identical to forking at the order itself
            broker.on_chunk(exec_bars, decided)
            if bound.shadow is not None:
                bound.shadow.on_chunk(exec_bars, decided)
        marks = broker.take_marks()
        if on_marks is not None:
            on_marks(marks, bound.marks(marks))
        elif bound.shadow is not None:
            bound.shadow.take_marks()
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

