"""What a strategy's session is built from: the strategy its plugin builds, the upstream
graph of its declared needs, the broker, the start gate (wiring layer). The session
(:mod:`engine.wiring.session`) and the backtest (:mod:`engine.wiring.backtest`) both build
from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.core.events import Event
from engine.core.strategy import Strategy
from engine.wiring.graph import PRODUCERS, Plan, plan_upstream, user_producer
from engine.wiring.plugins import component_plugins, selected
from engine.wiring.schema import AppConfig
from replay.broker import SimulatedBroker, SimulatedBrokerConfig

if TYPE_CHECKING:
    from engine.core.component import Component
    from engine.wiring.artifacts import Artifacts

__all__ = ["StartGate", "build_broker", "build_strategy", "build_upstream",
           "execution_timeframe", "learned", "plan", "uses_models"]


def execution_timeframe(config: AppConfig) -> str:
    """The bars the broker executes on: ``backtest.broker.execution_timeframe`` or fast."""
    return config.backtest.broker.execution_timeframe or config.timeframes.fast


def build_strategy(config: AppConfig) -> Strategy:
    """The strategy ``backtest.strategy`` selects, built by its plugin
    (:mod:`engine.wiring.plugins`)."""
    return selected(config).build(config)


def plan(config: AppConfig, strategy: Strategy | None = None) -> Plan:
    """The upstream producers the selected strategy's needs close over
    (:mod:`engine.wiring.graph`): the built-in ones, then the user components of
    ``plugins.components`` in their order; ``strategy``: the instance, when it is built
    already."""
    plugin = selected(config)
    instance = plugin.build(config) if strategy is None else strategy
    producers = (*PRODUCERS, *(user_producer(c) for c in component_plugins(config)))
    return plan_upstream(instance.name, plugin.needs(instance), producers)


def uses_models(config: AppConfig) -> bool:
    """Whether the selected strategy decides with fitted models (anything upstream of it
    runs them: the regime features, the decider, the risk manager), so the run loads them and
    evaluates only after what they were fitted on."""
    return plan(config).uses_models


def learned(config: AppConfig) -> bool:
    """Whether the selected strategy decides through gate 1 (the MARL decider runs): such a
    run loads the MARL core, writes the gate diagnostics and is reported beside baselines."""
    return plan(config).has("decider")


def build_upstream(config: AppConfig, artifacts: Artifacts | None = None,
                   strategy: Strategy | None = None) -> list[Component]:
    """The components the selected strategy's decisions rest on, in subscription order (after
    the broker, before the strategy): :func:`plan`'s producers, built. ``artifacts``: the
    fitted models (:func:`engine.wiring.artifacts.load_artifacts`) when it uses them."""
    return plan(config, strategy).build(config, artifacts)


class StartGate:
    """The strategy, seeing its events only from ``start_ns`` (``backtest.start``).

    Everything upstream (indicators, the regime detector, the risk manager's account) runs from
    the first bar; the strategy decides nothing before the evaluation starts.
    """

    def __init__(self, strategy: Strategy, start_ns: int) -> None:
        self.strategy = strategy
        self.start_ns = start_ns
        self.name = strategy.name
        self.inputs = strategy.inputs  # type: ignore[attr-defined]

    @property
    def ready(self) -> bool:
        """The strategy's readiness."""
        return bool(getattr(self.strategy, "ready", True))

    def on_event(self, event: Event) -> object:
        """Pass ``event`` on from the start; drop it before."""
        return self.strategy.on_event(event) if event.ts_event >= self.start_ns else ()

def build_broker(config: AppConfig, strategy: str) -> SimulatedBroker:
    """The run's broker for ``strategy`` on the execution timeframe."""
    bt = config.backtest
    return SimulatedBroker(SimulatedBrokerConfig(
        instrument=config.instrument_spec, timeframe=execution_timeframe(config),
        broker=bt.broker, costs=bt.costs, strategy=strategy))
