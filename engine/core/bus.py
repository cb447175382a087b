"""In-process, synchronous, deterministic event bus (core layer).

Delivery order is ``(ts_event, sequence)``: every published event gets the next sequence number,
and an event is delivered to all of its subscribers before any event derived from it. Inputs must
arrive with non-decreasing ``ts_event`` (the drivers guarantee it; the bus refuses anything else
with :class:`~engine.core.errors.OrderingError`). Events a component returns must carry the
triggering
event's ``ts_event``; they are queued behind it and delivered first-in first-out, so no handler
ever sees an event older than one it has already seen.

The bus is single-threaded. A component that raises stops delivery: the bus logs
``component.failed`` with the component and ``ts_event`` and re-raises (errors are never
swallowed; the driver decides what a failure means for the run).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from engine.core.component import Component
from engine.core.errors import EngineError, OrderingError
from engine.core.events import Event

__all__ = ["Bus", "Handler"]

log = structlog.get_logger(__name__)

Handler = Callable[[Any], Sequence[Event]]
Tap = Callable[[Event], None]


class Bus:
    """Route events to subscribed components by exact event type.

    Examples
    --------
    >>> from engine.core.events import Heartbeat
    >>> bus = Bus()
    >>> seen = []
    >>> bus.subscribe_handler(Heartbeat, lambda e: seen.append(e.sequence) or (), "probe")
    >>> bus.publish(Heartbeat(ts_event=1, ts_init=1, source="x", sequence=7))
    >>> seen
    [7]
    """

    __slots__ = ("_routes", "_names", "_taps", "_last_ts", "_sequence", "_components")

    def __init__(self) -> None:
        self._routes: dict[type, tuple[Handler, ...]] = {}
        self._names: dict[Handler, str] = {}
        self._taps: tuple[Tap, ...] = ()
        self._components: list[Component] = []
        self._last_ts = -(2**63)
        self._sequence = 0

    @property
    def sequence(self) -> int:
        """Number of events delivered so far (the last assigned sequence number)."""
        return self._sequence

    @property
    def last_ts(self) -> int:
        """``ts_event`` of the last published input."""
        return self._last_ts

    @property
    def components(self) -> tuple[Component, ...]:
        """Subscribed components, in subscription order."""
        return tuple(self._components)

    def subscribe(self, component: Component) -> None:
        """Subscribe ``component.on_event`` to every type in ``component.inputs``."""
        if not component.inputs:
            raise EngineError(f"Bus.subscribe: expected {component.name} to declare inputs")
        self._components.append(component)
        for event_type in component.inputs:
            self.subscribe_handler(event_type, component.on_event, component.name)

    def subscribe_handler(self, event_type: type[Event], handler: Handler, name: str) -> None:
        """Subscribe a plain callable (for drivers, recorders and tests)."""
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise EngineError(f"Bus.subscribe: expected an Event subclass, was {event_type!r}")
        self._routes[event_type] = (*self._routes.get(event_type, ()), handler)
        self._names[handler] = name

    def unsubscribe(self, component: Component) -> None:
        """Remove every subscription of ``component``."""
        handler = component.on_event
        for event_type, handlers in list(self._routes.items()):
            kept = tuple(h for h in handlers if h != handler)
            if kept:
                self._routes[event_type] = kept
            else:
                del self._routes[event_type]
        self._components = [c for c in self._components if c is not component]

    def restore_order(self, last_ts: int, sequence: int) -> None:
        """Continue from a snapshot: the last published time and sequence number."""
        self._last_ts = last_ts
        self._sequence = sequence

    def add_tap(self, tap: Tap) -> None:
        """Call ``tap(event)`` for every delivered event, in delivery order (event logs)."""
        self._taps = (*self._taps, tap)

    def publish(self, event: Event) -> None:
        """Deliver an input event and everything derived from it, to quiescence."""
        ts = event.ts_event
        if ts < self._last_ts:
            raise OrderingError(
                f"Bus.publish({type(event).__name__}): expected ts_event >= {self._last_ts}, "
                f"was {ts}"
            )
        self._last_ts = ts
        self._sequence += 1
        for tap in self._taps:
            tap(event)
        handlers = self._routes.get(event.__class__)
        if handlers is None:
            return
        handler: Handler | None = None
        pending: deque[Event] | None = None
        try:
            for handler in handlers:
                out = handler(event)
                if out:
                    if pending is None:
                        pending = deque()
                    self._check_derived(out, ts, handler)
                    pending.extend(out)
            if pending is not None:
                self._drain(pending, ts)
        except Exception:
            if handler is not None:
                log.exception(
                    "component.failed", component=self._names.get(handler, "?"), ts_event=ts
                )
            raise

    def _drain(self, pending: deque[Event], ts: int) -> None:
        routes = self._routes
        taps = self._taps
        while pending:
            event = pending.popleft()
            self._sequence += 1
            for tap in taps:
                tap(event)
            for handler in routes.get(event.__class__, ()):
                out = handler(event)
                if out:
                    self._check_derived(out, ts, handler)
                    pending.extend(out)

    def _check_derived(self, out: Sequence[Event], ts: int, handler: Handler) -> None:
        for event in out:
            if event.ts_event != ts:
                raise OrderingError(
                    f"{self._names.get(handler, '?')}: returned {type(event).__name__} with "
                    f"ts_event {event.ts_event}; expected the triggering ts_event {ts}"
                )
