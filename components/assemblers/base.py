"""What every assembler shares: bars open rows, that timeframe's events fill them (component
layer)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from components.assemblers.buffer import Floats32, RowBuffer
from engine.core.events import Bar, Event

__all__ = ["Assembler"]


class _Settings(Protocol):
    @property
    def timeframe(self) -> str: ...

    @property
    def window(self) -> int: ...


C = TypeVar("C", bound=_Settings)


class Assembler(ABC, Generic[C]):
    """Base of the assemblers: a bar of ``config.timeframe`` opens a row (:meth:`_open`), any
    other input event of that timeframe fills it (:meth:`_fill`); subclasses own the state."""

    kind = "assembler"
    _buffer: RowBuffer

    def __init__(self, config: C) -> None:
        self.config = config
        self.name = f"{self.kind}.{config.timeframe}"
        self.reset()

    @property
    def ready(self) -> bool:
        """True once ``window`` rows were built after every input had reported (and the bars
        of history a column needs)."""
        return self._buffer.complete >= self.config.window

    def matrix(self) -> Floats32:
        """A float32 copy of the rows, oldest first (``(rows, width)``, rows <= window)."""
        return self._buffer.matrix()

    def on_event(self, event: Event) -> Sequence[Event]:
        """Open a row on a bar of the timeframe; fill it from that bar's events."""
        tf = self.config.timeframe
        if type(event) is Bar:
            assert isinstance(event, Bar)
            if event.timeframe == tf:
                self._open(event)
        elif self._buffer.count and getattr(event, "timeframe", None) == tf:
            self._fill(event)
        return ()

    @abstractmethod
    def reset(self) -> None:
        """Return to no rows and no history."""

    @abstractmethod
    def _open(self, bar: Bar) -> None:
        """Start the row of ``bar``."""

    @abstractmethod
    def _fill(self, event: Event) -> None:
        """Write an input event of the timeframe into the open row."""
