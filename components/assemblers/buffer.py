"""The rolling float32 matrix every assembler fills, and the causal normalisers (component layer).

:class:`RowBuffer` holds the last ``window`` rows, newest last. A row is opened when a bar of
the assembler's timeframe arrives (from the carried values of the previous row) and filled in
place by that bar's indicator events, which the bus delivers right after the bar; it is frozen
when the next bar opens a new row. So one row is exactly one bar, and ``matrix()`` read by a
consumer of an event derived from bar ``t`` (a ``SynergyDetected``, say) ends with bar ``t``'s
row. :class:`EwZScore` is an exponentially weighted z-score using only earlier values.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = ["EwZScore", "Floats32", "RowBuffer", "clip_unit"]

Floats32 = npt.NDArray[np.float32]


def clip_unit(x: float, scale: float) -> float:
    """``x / scale`` clipped to [-1, 1]; 0 for a non-finite ``x``."""
    if not math.isfinite(x):
        return 0.0
    return max(-1.0, min(1.0, x / scale))


class EwZScore:
    """z-score of ``x`` against the exponentially weighted mean and variance of the values
    before it (weight ``alpha`` on the newest), clipped to +-``clip`` and divided by ``clip``
    (so in [-1, 1]); 0 until two values were seen or while the variance is 0."""

    __slots__ = ("alpha", "clip", "mean", "var", "n")

    def __init__(self, span: int, clip: float = 3.0) -> None:
        self.alpha = 2.0 / (span + 1.0)
        self.clip = clip
        self.mean = 0.0
        self.var = 0.0
        self.n = 0

    def __call__(self, x: float) -> float:
        """Score ``x``, then add it to the statistics."""
        z = 0.0
        if self.n >= 2 and self.var > 0.0:
            z = clip_unit((x - self.mean) / math.sqrt(self.var), self.clip)
        if self.n == 0:
            self.mean = x
        else:
            diff = x - self.mean
            incr = self.alpha * diff
            self.mean += incr
            self.var = (1.0 - self.alpha) * (self.var + diff * incr)
        self.n += 1
        return z

    def state(self) -> tuple[float, float, int]:
        return (self.mean, self.var, self.n)

    def load(self, state: tuple[float, float, int]) -> None:
        self.mean, self.var, self.n = state


class _BufferState(msgspec.Struct, array_like=True):
    rows: list[float]
    head: int
    count: int
    complete: int


class RowBuffer:
    """The last ``window`` rows of ``width`` float32 values, newest last.

    The newest row is kept as a Python list while its bar's events fill it (a list store costs
    a fraction of a numpy item store) and written into the float32 ring when the next row
    opens or the matrix is read.
    """

    def __init__(self, window: int, width: int) -> None:
        self.window = window
        self.width = width
        self._rows = np.zeros((window, width), dtype=np.float32)
        self._head = -1  # slot of the newest row
        self._pending: list[float] | None = None  # the newest row, not yet in the ring
        self.count = 0  # rows ever opened
        self.complete = 0  # rows opened since every input was first seen

    def open(self, values: list[float], complete: bool) -> None:
        """Start a new row with ``values`` (the carried ones; the buffer keeps the list)."""
        self._flush()
        self._head = (self._head + 1) % self.window
        self._pending = values
        self.count += 1
        self.complete = self.complete + 1 if complete else 0

    def set(self, column: int, value: float) -> None:
        """Write into the newest row."""
        assert self._pending is not None
        self._pending[column] = value

    def get(self, column: int) -> float:
        """Read from the newest row."""
        assert self._pending is not None
        return self._pending[column]

    def matrix(self) -> Floats32:
        """A copy of the rows, oldest first: ``(min(count, window), width)``."""
        self._flush()
        n = min(self.count, self.window)
        if n < self.window:
            return self._rows[:n].copy()
        return np.roll(self._rows, -(self._head + 1), axis=0)

    def _flush(self) -> None:
        if self._pending is not None:
            self._rows[self._head] = self._pending

    def state(self) -> _BufferState:
        self._flush()
        return _BufferState(self._rows.ravel().tolist(), self._head, self.count, self.complete)

    def load(self, state: _BufferState) -> None:
        self._rows = np.array(state.rows, dtype=np.float32).reshape(self.window, self.width)
        self._head, self.count, self.complete = state.head, state.count, state.complete
        # the newest row continues to be filled: take it back as a list
        self._pending = (self._rows[self._head].astype(np.float64).tolist()
                         if self.count else None)
