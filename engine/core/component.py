"""The single Component protocol (core layer).

A component is a plain, deterministic object: it reacts to the event types it declares in
``inputs`` and **returns** the events it produces. It never publishes, never reads a clock and
never touches I/O; the bus delivers its outputs. That makes every component testable without the
bus and keeps the engine free of god objects.

Conventions every component follows (checked by ``tests/contract``):

- constructed as ``Component(config)`` from its own frozen config Struct; randomness comes from
  ``config.seed``;
- output events carry the triggering event's ``ts_event`` (and ``ts_init``), so derived events
  are never older or newer than their cause;
- ``on_event`` ignores types it did not declare and never mutates its input;
- ``snapshot()`` returns bytes from which ``restore()`` rebuilds exactly the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from engine.core.events import Event

__all__ = ["Component"]


@runtime_checkable
class Component(Protocol):
    """Protocol of every incremental unit on the bus."""

    name: str
    inputs: ClassVar[tuple[type[Event], ...]]

    @property
    def ready(self) -> bool:
        """Whether warm-up is complete and outputs are meaningful."""
        ...

    def on_event(self, event: Event) -> Sequence[Event]:
        """Handle one event and return the events it produces (possibly none)."""
        ...

    def reset(self) -> None:
        """Return to the freshly constructed state."""
        ...

    def snapshot(self) -> bytes:
        """Serialise the full state."""
        ...

    def restore(self, state: bytes) -> None:
        """Replace the state with one produced by :meth:`snapshot`."""
        ...
