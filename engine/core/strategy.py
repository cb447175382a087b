"""What a strategy is to the engine: the protocol every strategy plugin follows (core layer).

A strategy is a component (``engine.core.component``) that turns the events it declares in
``inputs`` into ``OrderIntent`` events. A *plugin* is a class with, besides the component
methods:

- ``config_type``: its frozen settings Struct (a subclass of :class:`engine.core.config.Config`),
  filled from the config's ``[strategies.<key>]`` table and validated with the usual precise
  errors;
- ``key`` (optional): the name of that table, default the class name in snake_case;
- ``needs`` (optional, class or instance attribute): the event types that must be produced
  upstream of it, default ``inputs``; the session builds the producers of each
  (:mod:`engine.wiring.graph`);
- ``from_config(config, context)`` (optional classmethod): the constructor the engine calls,
  default ``cls(config)``; ``context`` (:class:`StrategyContext`) gives the run's timeframes;
- ``baselines`` (optional): ``{strategy: {key: value}}``, the strategies a learned strategy is
  reported beside, with their table's overrides;
- ``chart_indicators()`` (optional): the scalar indicator configs the backtest report draws
  over the candles (``engine.wiring.chart``).

The built-in strategies (``strategies/``) are ordinary plugins; ``docs/strategies.md`` is the
tutorial for writing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from engine.core.events import Event

if TYPE_CHECKING:
    from engine.core.chunks import BarChunk, IntentChunk

__all__ = ["BatchStrategy", "Strategy", "StrategyContext"]


@dataclass(frozen=True)
class StrategyContext:
    """What a plugin may read of the run when it is built: the fast and slow timeframes, the
    bars the broker executes on, and the instrument."""

    fast: str
    slow: str
    execution: str
    instrument: str


class Strategy(Protocol):
    """What the backtest and the live daemon need of a strategy component."""

    name: str

    def on_event(self, event: Event) -> object: ...

    def snapshot(self) -> bytes: ...

    def restore(self, state: bytes) -> None: ...


class BatchStrategy(Strategy, Protocol):
    """A strategy that can decide over a chunk of its bars."""

    def on_chunk(self, bars: BarChunk) -> IntentChunk: ...
