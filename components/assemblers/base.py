"""What every assembler shares: bars open rows, that timeframe's events fill them, all in numba
kernels on one float64 state and the float32 ring (component layer)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec
import numpy as np

from components.assemblers.buffer import RowBuffer, _BufferState
from components.assemblers.kernels import (
    BUFFER_COMPLETE,
    BUFFER_COUNT,
    BUFFER_HEAD,
    Floats,
    Floats32,
)
from engine.core.events import Event

__all__ = ["Assembler"]


class _Settings(Protocol):
    @property
    def timeframe(self) -> str: ...

    @property
    def window(self) -> int: ...


C = TypeVar("C", bound=_Settings)


class _Snapshot(msgspec.Struct, array_like=True, tag="assembler/2"):
    """The snapshot format since the kernels: the assembler's kind, its float64 kernel state
    and its float32 ring, little-endian."""

    kind: str
    state: bytes
    rows: bytes


class Assembler(ABC, Generic[C]):
    """Base of the assemblers: ``on_event`` of a subclass hands a bar of ``config.timeframe``
    and that timeframe's input events to its kernels (one call each) on ``_state`` (float64,
    from :meth:`_init_state`) and ``_rows`` (the float32 ring, ``window x width``)."""

    kind = "assembler"
    width: ClassVar[int]
    _parameters: ClassVar[tuple[int, ...]]  # state slots that hold settings
    _legacy: ClassVar[type[Any]]  # the snapshot struct written before the kernels
    _state: Floats
    _rows: Floats32
    _buffer: RowBuffer

    def __init__(self, config: C) -> None:
        self.config = config
        self.name = f"{self.kind}.{config.timeframe}"
        self._tf = config.timeframe
        self.reset()

    @property
    def ready(self) -> bool:
        """True once ``window`` rows were built after every input had reported (and the bars
        of history a column needs)."""
        return bool(self._state[BUFFER_COMPLETE] >= self.config.window)

    def matrix(self) -> Floats32:
        """A float32 copy of the rows, oldest first (``(rows, width)``, rows <= window)."""
        return self._buffer.matrix()

    @abstractmethod
    def on_event(self, event: Event) -> Sequence[Event]:
        """Open a row on a bar of the timeframe; fill it from that bar's events."""

    @abstractmethod
    def _init_state(self) -> Floats:
        """A fresh kernel state for the config."""

    @abstractmethod
    def _load_legacy(self, old: Any, state: Floats, rows: Floats32) -> None:
        """Fill ``state`` (ring header set, ``rows`` loaded) from an older snapshot's fields."""

    def reset(self) -> None:
        """Return to no rows and no history."""
        self._set(self._init_state(),
                  np.zeros((self.config.window, self.width), dtype=np.float32))

    def _set(self, state: Floats, rows: Floats32) -> None:
        self._state, self._rows = state, rows
        self._buffer = RowBuffer(state, rows)

    def snapshot(self) -> bytes:
        """The kernel state and the rows."""
        return msgspec.msgpack.encode(_Snapshot(
            self.kind, self._state.astype("<f8", copy=False).tobytes(),
            self._rows.astype("<f4", copy=False).tobytes()))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`, or by the assemblers before the kernels
        (the rows the older format kept in float64 while open come back as float32, as the
        older code restored them). Raises ``ValueError`` naming the assembler for a snapshot
        of another kind or other settings, or one that is neither format."""
        fresh = self._init_state()
        rows = np.zeros((self.config.window, self.width), dtype=np.float32)
        try:
            s = msgspec.msgpack.decode(state, type=_Snapshot)
        except msgspec.DecodeError as exc:
            self._restore_legacy(state, fresh, rows, exc)
            return
        if s.kind != self.kind:
            raise ValueError(f"{self.name}: the snapshot is of a {s.kind}, not a {self.kind}")
        loaded = np.frombuffer(s.state, dtype="<f8").astype(np.float64)
        if (loaded.shape != fresh.shape or len(s.rows) != rows.nbytes
                or not np.array_equal(loaded[list(self._parameters)],
                                      fresh[list(self._parameters)])):
            raise ValueError(f"{self.name}: the snapshot was taken with other settings than "
                             f"{self.config}")
        self._set(loaded, np.frombuffer(s.rows, dtype="<f4").astype(np.float32).reshape(
            rows.shape))

    def _restore_legacy(self, blob: bytes, state: Floats, rows: Floats32,
                        cause: Exception) -> None:
        try:
            old = msgspec.msgpack.decode(blob, type=self._legacy)
        except msgspec.DecodeError:
            raise ValueError(f"{self.name}: not a {self.kind} snapshot (neither the format "
                             f"of the kernels nor the one before): {cause}") from cause
        buffer: _BufferState = old.buffer
        if len(buffer.rows) != rows.size or not -1 <= buffer.head < rows.shape[0]:
            raise ValueError(f"{self.name}: the snapshot (older format) holds "
                             f"{len(buffer.rows)} values of rows; this config has "
                             f"{rows.shape[0]} x {rows.shape[1]}")
        rows[:] = np.array(buffer.rows, dtype=np.float32).reshape(rows.shape)
        state[BUFFER_HEAD] = buffer.head
        state[BUFFER_COUNT] = buffer.count
        state[BUFFER_COMPLETE] = buffer.complete
        try:
            self._load_legacy(old, state, rows)
        except ValueError as exc:
            raise ValueError(f"{self.name}: the snapshot (older format) does not fit this "
                             f"config: {exc}") from exc
        self._set(state, rows)
