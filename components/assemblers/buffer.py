"""The rolling float32 matrix every assembler fills (component layer).

:class:`RowBuffer` is a view of an assembler's kernel state (its ring header, see
:mod:`components.assemblers.kernels`) and its float32 ring: the last ``window`` rows, newest
last. A row is opened when a bar of the assembler's timeframe arrives (from the carried values
of the previous row) and filled in place by that bar's indicator events, which the bus delivers
right after the bar; it is frozen when the next bar opens a new row. So one row is exactly one
bar, and ``matrix()`` read by a consumer of an event derived from bar ``t`` (a
``SynergyDetected``, say) ends with bar ``t``'s row.
"""

from __future__ import annotations

import msgspec
import numpy as np

from components.assemblers.kernels import (
    BUFFER_COMPLETE,
    BUFFER_COUNT,
    BUFFER_HEAD,
    Floats,
    Floats32,
)

__all__ = ["Floats32", "RowBuffer"]


class RowBuffer:
    """The rows of ``state``'s ring in ``rows`` (``(window, width)`` float32), newest last."""

    __slots__ = ("rows", "state")

    def __init__(self, state: Floats, rows: Floats32) -> None:
        self.state = state
        self.rows = rows

    @property
    def window(self) -> int:
        return int(self.rows.shape[0])

    @property
    def width(self) -> int:
        return int(self.rows.shape[1])

    @property
    def count(self) -> int:
        """Rows ever opened."""
        return int(self.state[BUFFER_COUNT])

    @property
    def complete(self) -> int:
        """Rows opened since every input was first seen (and the history a column needs)."""
        return int(self.state[BUFFER_COMPLETE])

    def matrix(self) -> Floats32:
        """A copy of the rows, oldest first: ``(min(count, window), width)``."""
        rows = self.rows
        n = min(self.count, rows.shape[0])
        if n < rows.shape[0]:
            return rows[:n].copy()
        head = int(self.state[BUFFER_HEAD]) + 1
        if head == n:
            return rows.copy()
        return np.concatenate((rows[head:], rows[:head]))


class _BufferState(msgspec.Struct, array_like=True):
    """The ring in a snapshot written before the kernels (read by ``restore``)."""

    rows: list[float]
    head: int
    count: int
    complete: int
