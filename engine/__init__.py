"""AlgoSpace engine: events, bus, clocks, component protocol, config and drivers.

Foundation modules (events, errors, config, schema, instruments, timeframes, chunks,
component) are importable by every layer; wiring modules (bus, clocks, drivers, CLI, manifest,
logging) only by the entry points. This package re-exports the foundation and the bus/clocks.
``engine.wiring.schema`` (the root config, which holds the components' config Structs) is imported
from its own module, not from here, so that importing a component never imports the whole
schema back (no import cycle).
"""

from engine.core.bus import Bus
from engine.core.chunks import BarChunk, TickChunk
from engine.core.clock import Clock, LiveClock, TestClock
from engine.core.component import Component
from engine.core.config import Config, config_id
from engine.core.errors import ConfigError, DataError, EngineError, OrderingError
from engine.core.events import AnyEvent, Bar, Event, Heartbeat, Tick, decode, encode

__all__ = [
    "AnyEvent",
    "Bar",
    "BarChunk",
    "Bus",
    "Clock",
    "Component",
    "Config",
    "ConfigError",
    "DataError",
    "EngineError",
    "Event",
    "Heartbeat",
    "LiveClock",
    "OrderingError",
    "TestClock",
    "Tick",
    "TickChunk",
    "config_id",
    "decode",
    "encode",
]
