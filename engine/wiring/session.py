"""One strategy's bus wiring, shared by the backtest and the live daemon (wiring layer).

:class:`TradingSession` builds, on a fresh :class:`~engine.wiring.pipeline.ReplayPipeline` (bus,
clock, bar aggregators, driver), the components a strategy's decisions rest on, in the one
subscription order both drivers use:

1. the simulated broker of the strategy (its fills precede every event derived from the same
   bar; in the live daemon it keeps the paper position the signals assume);
2. the upstream components the strategy's declared needs close over
   (:mod:`engine.wiring.graph`: indicators, the regime detector, the synergy components, the
   decider and risk manager of a learned strategy);
3. the strategy, behind a :class:`~engine.wiring.backtest.StartGate` when ``start_ns`` is given.

The backtest adds its counters and the intrabar-bound broker after step 2 and steps chunks of
the data file; the live driver steps one-row chunks of the bars it receives. Same components,
same order, same chunk-size-invariant driver: the decisions are the same by construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.wiring.build import StartGate, build_broker, build_strategy, build_upstream
from engine.wiring.pipeline import ReplayPipeline
from engine.wiring.schema import AppConfig

if TYPE_CHECKING:
    from engine.core.chunks import BarChunk, TickChunk
    from engine.core.component import Component
    from engine.core.strategy import Strategy
    from engine.wiring.artifacts import Artifacts
    from replay.broker import SimulatedBroker

__all__ = ["TradingSession"]


class TradingSession:
    """The pipeline, broker, upstream components and strategy of ``config`` (module
    docstring). Call :meth:`attach_strategy` after subscribing any handler that must see an
    event before the strategy does."""

    def __init__(self, config: AppConfig, artifacts: Artifacts | None = None,
                 start_ns: int | None = None) -> None:
        self.config = config
        self.artifacts = artifacts
        self.pipeline = ReplayPipeline(config, None, None)
        self.bus = self.pipeline.bus
        self.strategy: Strategy = build_strategy(config)
        self.broker: SimulatedBroker = build_broker(config, self.strategy.name)
        self.upstream: list[Component] = build_upstream(config, artifacts, self.strategy)
        self.start_ns = start_ns
        self.bus.subscribe(self.broker)
        for component in self.upstream:
            self.bus.subscribe(component)
        self._attached = False

    def attach_strategy(self) -> None:
        """Subscribe the strategy (once), gated by ``start_ns`` when set."""
        if self._attached:
            return
        self._attached = True
        gated = self.strategy if self.start_ns is None else StartGate(self.strategy,
                                                                      self.start_ns)
        self.bus.subscribe(gated)  # type: ignore[arg-type]

    def step(self, chunk: BarChunk | TickChunk) -> None:
        """Aggregate and publish one chunk of input data."""
        self.attach_strategy()
        self.pipeline.driver.step_chunk(chunk)
