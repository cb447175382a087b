"""Simulated broker: next-open execution, brackets, costs and accounting (replay layer)."""

from replay.broker.broker import (
    Marks,
    SimulatedBroker,
    SimulatedBrokerConfig,
)
from replay.broker.sessions import SessionCloses

__all__ = [
    "Marks",
    "SessionCloses",
    "SimulatedBroker",
    "SimulatedBrokerConfig",
]
