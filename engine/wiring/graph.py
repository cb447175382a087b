"""Wiring by declared needs: the components upstream of a strategy (wiring layer).

A strategy declares the event types it needs produced (``needs``, default its ``inputs``;
:mod:`engine.core.strategy`). The pipeline and the broker produce the sources (bars, ticks,
heartbeats, fills, closed trades, order rejections); every other type comes from one of the
producers below, each declaring what it produces and what it needs in turn. The session builds
the closure of the strategy's needs, in the producers' fixed order (the order of this table,
which is the order the models were trained in): the indicators (with the MMD and the regime
detector only when a regime vector is needed), the two synergy components, the MARL decider,
the risk manager (sizing the setups that passed gate 1 when the decider runs, else every
setup), then the user components of ``plugins.components`` in their order. A needed type that
nothing produces is refused, naming it.

Whether a strategy runs fitted models follows from the closure: the regime features, the
decider and the risk manager need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from components.synergy import build_synergy
from engine.core.errors import ConfigError
from engine.core.events import (
    Bar,
    ConsensusReached,
    Event,
    Fill,
    FvgMitigated,
    FvgState,
    Heartbeat,
    HeikenAshiBar,
    IndicatorValue,
    LvnLevels,
    MlmiValue,
    MmdFeatures,
    NwrqkValue,
    OrderIntent,
    OrderRejected,
    RegimeVector,
    RiskProposal,
    SynergyDetected,
    SynergySignal,
    Tick,
    TradeClosed,
    TradeRejected,
)
from engine.core.timing import Timed
from engine.wiring.features import build_indicators

if TYPE_CHECKING:
    from engine.core.component import Component
    from engine.wiring.artifacts import Artifacts
    from engine.wiring.plugins import ComponentPlugin
    from engine.wiring.schema import AppConfig

__all__ = ["PRODUCERS", "SOURCES", "Plan", "Producer", "plan_upstream", "user_producer"]

#: produced by the pipeline (bars, ticks, heartbeats) and the broker (fills, trades, refusals);
#: a setup's refusal (TradeRejected) is a by-product of the decider and the risk manager and
#: never a reason to run them
SOURCES: tuple[type[Event], ...] = (Bar, Tick, Heartbeat, Fill, TradeClosed, OrderRejected,
                                    OrderIntent, TradeRejected)

Build = Callable[["AppConfig", "Artifacts | None", "Plan"], "list[Component]"]


@dataclass(frozen=True)
class Producer:
    """One upstream part: what it produces, what it needs, whether it runs fitted models."""

    name: str
    produces: tuple[type[Event], ...]
    needs: tuple[type[Event], ...]
    models: bool
    build: Build
    check: Callable[[AppConfig, Plan], None] | None = None


@dataclass(frozen=True)
class Plan:
    """The producers a strategy's needs close over, in subscription order."""

    strategy: str
    needed: frozenset[type[Event]]
    producers: tuple[Producer, ...]

    def has(self, name: str) -> bool:
        """Whether the producer ``name`` runs."""
        return any(p.name == name for p in self.producers)

    @property
    def uses_models(self) -> bool:
        """Whether any part runs fitted models (so they load, and evaluation starts after
        what they were fitted on)."""
        return any(p.models for p in self.producers) or bool(
            self.needed & {MmdFeatures, RegimeVector})

    @property
    def regime(self) -> bool:
        """Whether the regime features (MMD, regime detector) run."""
        return bool(self.needed & {MmdFeatures, RegimeVector})

    def build(self, config: AppConfig, artifacts: Artifacts | None) -> list[Component]:
        """The components, in subscription order (every producer's configuration checked
        before any is built)."""
        for p in self.producers:
            if p.check is not None:
                p.check(config, self)
        return [c for p in self.producers for c in p.build(config, artifacts, self)]


def _features(config: AppConfig, artifacts: Artifacts | None, plan: Plan) -> list[Component]:
    if plan.regime:
        return build_indicators(config, artifacts)
    # the rules do not read the MMD: no fitted reference, no excluded evaluation period
    indicators = msgspec.structs.replace(config.indicators, mmd=None)
    plain = msgspec.structs.replace(config, indicators=indicators, regime=None)
    return build_indicators(plain)


def _synergy(config: AppConfig, artifacts: Artifacts | None, plan: Plan) -> list[Component]:
    fast, slow = config.timeframes.fast, config.timeframes.slow
    synergy = config.synergy.resolved(fast, slow)
    labels = {(s.label, config.resolve_timeframe(s.timeframe)) for s in config.indicators.scalars}
    if (synergy.atr_indicator, synergy.atr_timeframe) not in labels:
        raise ConfigError(
            f"synergy.atr_indicator: {synergy.atr_indicator!r} on {synergy.atr_timeframe} is not "
            f"a configured indicator (indicators.scalars give {sorted(labels)})")
    return build_synergy(config.synergy, fast, slow)


def _check_decider(config: AppConfig, plan: Plan) -> None:
    if config.marl is None or config.risk is None or config.regime is None:
        raise ConfigError(f"backtest.strategy: {plan.strategy!r} needs gate 1's consensus: "
                          "[marl], [risk] and [regime] must name trained models "
                          "(algospace train all)")


def _decider(config: AppConfig, artifacts: Artifacts | None, plan: Plan) -> list[Component]:
    from engine.wiring.risk import build_decider  # torch

    return [Timed(build_decider(config, artifacts, plan.strategy))]


def _check_risk(config: AppConfig, plan: Plan) -> None:
    if config.risk is None or config.regime is None:
        raise ConfigError(f"backtest.strategy: {plan.strategy!r} needs the M-RMS's proposals: "
                          "[risk] must name a trained M-RMS and [regime] its RDE "
                          "(algospace train mrms)")


def _check_regime(config: AppConfig, plan: Plan) -> None:
    if plan.regime and (config.regime is None or config.indicators.mmd is None):
        raise ConfigError(f"backtest.strategy: {plan.strategy!r} needs the regime vector: "
                          "[regime] must name a trained RDE and [indicators.mmd] its MMD "
                          "reference (algospace train rde)")


def _risk(config: AppConfig, artifacts: Artifacts | None, plan: Plan) -> list[Component]:
    from engine.wiring.risk import build_risk_manager  # torch

    consensus = plan.has("decider")
    return [Timed(build_risk_manager(config, artifacts, plan.strategy, consensus=consensus))]


_INDICATOR_EVENTS: tuple[type[Event], ...] = (HeikenAshiBar, IndicatorValue, MlmiValue,
                                              NwrqkValue, LvnLevels, FvgState, FvgMitigated)

#: every built-in producer, in subscription order
PRODUCERS: tuple[Producer, ...] = (
    Producer("indicators", (*_INDICATOR_EVENTS, MmdFeatures, RegimeVector), (Bar,), False,
             _features, _check_regime),
    Producer("synergy", (SynergySignal, SynergyDetected), _INDICATOR_EVENTS, False, _synergy),
    Producer("decider", (ConsensusReached,), (SynergyDetected, RegimeVector), True, _decider,
             _check_decider),
    Producer("risk", (RiskProposal,), (SynergyDetected, RegimeVector), True, _risk,
             _check_risk),
)


def user_producer(plugin: ComponentPlugin) -> Producer:
    """A user component (:class:`engine.wiring.plugins.ComponentPlugin`) as a producer, built
    from its ``[components.<key>]`` table."""

    def build(config: AppConfig, artifacts: Artifacts | None, plan: Plan) -> list[Component]:
        component: Component = plugin.build(config)
        return [component]

    return Producer(plugin.key, plugin.produces, plugin.needs, False, build)


def plan_upstream(strategy: str, needs: Iterable[type[Event]],
                  producers: tuple[Producer, ...] = PRODUCERS) -> Plan:
    """The closure of ``needs`` over ``producers`` (module docstring); ConfigError naming a
    needed event type that nothing produces."""
    needed: set[type[Event]] = set()
    chosen: set[str] = set()
    todo = list(needs)
    while todo:
        kind = todo.pop()
        if kind in needed:
            continue
        needed.add(kind)
        if kind in SOURCES:
            continue
        producer = next((p for p in producers if kind in p.produces), None)
        if producer is None:
            known = "; ".join(f"{p.name}: {', '.join(t.__name__ for t in p.produces)}"
                              for p in producers)
            raise ConfigError(
                f"backtest.strategy: {strategy!r} needs {kind.__name__} events and no "
                f"component produces them (the pipeline and broker produce "
                f"{', '.join(t.__name__ for t in SOURCES)}; {known})")
        if producer.name not in chosen:
            chosen.add(producer.name)
            todo.extend(producer.needs)
    return Plan(strategy, frozenset(needed),
                tuple(p for p in producers if p.name in chosen))
