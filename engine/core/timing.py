"""Per-call latency of a component, logged at DEBUG (core layer: components keep no clock).

:class:`Timed` wraps a component and behaves exactly like it on the bus (same name, inputs,
readiness, outputs, snapshots); each call that returns events logs ``component.latency`` with
the component's name, the output type and the microseconds the call took. The wall clock is
read for this log only and never reaches a component.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import structlog

from engine.core.component import Component
from engine.core.events import Event

__all__ = ["Timed"]

log = structlog.get_logger(__name__)


class Timed:
    """``component`` with its producing calls timed and logged at DEBUG."""

    inputs: ClassVar[tuple[type[Event], ...]] = ()

    def __init__(self, component: Component) -> None:
        self.component = component
        self.name = component.name
        self.inputs = component.inputs  # type: ignore[misc]
        self.calls = 0
        self.total_us = 0.0

    @property
    def ready(self) -> bool:
        """The wrapped component's readiness."""
        return self.component.ready

    def on_event(self, event: Event) -> Sequence[Event]:
        """Call the component; when it returns events, log how long the call took."""
        start = time.perf_counter()
        out = self.component.on_event(event)
        if out:
            us = (time.perf_counter() - start) * 1e6
            self.calls += 1
            self.total_us += us
            log.debug("component.latency", component=self.name, output=type(out[0]).__name__,
                      us=round(us, 1))
        return out

    def reset(self) -> None:
        """Reset the component."""
        self.component.reset()

    def snapshot(self) -> bytes:
        """The component's snapshot."""
        return self.component.snapshot()

    def restore(self, state: bytes) -> None:
        """Restore the component."""
        self.component.restore(state)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.component, name)
