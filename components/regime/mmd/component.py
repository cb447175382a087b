"""MMD regime features as a component (component layer).

Reads the real bars of the slow timeframe (never Heiken Ashi: returns and ranges must be the
market's) and returns an ``MmdFeatures`` event with the 23 values of
:mod:`components.regime.mmd.kernels` once all are defined (bar 119 with the defaults). The
reference sets come in the config as a fitted :class:`MmdReference` (the wiring loads the
artifact named by :class:`MmdSettings`); the component reads no file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from components.indicators.inputs import pack_state, unpack_state
from components.regime.mmd.kernels import (
    MMD_FEATURE_NAMES,
    mmd_batch_nb,
    mmd_init_state,
    mmd_step_nb,
)
from components.regime.mmd.reference import MmdReference
from engine.core.chunks import BarChunk
from engine.core.config import Config, PositiveInt
from engine.core.events import MMD_FEATURE_COUNT, Bar, Event, MmdFeatures
from engine.core.timeframes import parse_timeframe

__all__ = ["Mmd", "MmdConfig", "MmdSettings"]

assert len(MMD_FEATURE_NAMES) == MMD_FEATURE_COUNT


class MmdSettings(Config, frozen=True):
    """``[indicators.mmd]``: the reference artifact (a version directory written by
    ``algospace train mmd-reference``, relative to the config file) and the window.

    ``recompute_every`` (default: the window) is how often the running kernel sums are
    recomputed exactly from the stored ones.
    """

    reference: str
    timeframe: str = "slow"
    window: PositiveInt = 100
    recompute_every: PositiveInt | None = None

    def __post_init__(self) -> None:
        if self.timeframe not in ("fast", "slow"):
            parse_timeframe(self.timeframe)
        if self.window < 2:
            raise ValueError(f"window: expected >= 2, was {self.window}")


class MmdConfig(Config, frozen=True):
    """The component's config: the loaded reference, its version label, the window."""

    reference: MmdReference
    version: str
    timeframe: str = "slow"
    window: PositiveInt = 100
    recompute_every: PositiveInt | None = None

    def __post_init__(self) -> None:
        if self.timeframe not in ("fast", "slow"):
            parse_timeframe(self.timeframe)

    def state(self) -> npt.NDArray[np.float64]:
        """A fresh kernel state for this reference and window."""
        ref = self.reference
        refs, counts = ref.arrays()
        return mmd_init_state(refs, counts, np.array(ref.norm_mean), np.array(ref.norm_std),
                              ref.bandwidth, self.window, ref.vol_window, self.recompute_every)


class Mmd:
    """Maximum mean discrepancy of the recent slow bars to seven fitted regimes, with the
    return, volatility, momentum, shape, RSI and volume statistics beside it."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar,)

    def __init__(self, config: MmdConfig) -> None:
        self.config = config
        self.name = f"mmd.{config.timeframe}"
        self._out = np.zeros(MMD_FEATURE_COUNT, dtype=np.float64)
        self._initial = config.state()
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the window is full and every statistic is defined."""
        return self._defined

    def on_event(self, event: Event) -> Sequence[Event]:
        """Update on a bar of the configured timeframe."""
        if type(event) is not Bar or event.timeframe != self.config.timeframe:
            return ()
        out = self._out
        mmd_step_nb(self._state, event.high, event.low, event.close, event.volume, out)
        values = out.tolist()
        if values[0] != values[0]:  # nan: still warming up
            return ()
        self._defined = True
        return (MmdFeatures(event.ts_event, event.ts_init, event.instrument, event.timeframe,
                            tuple(values), self.config.version),)

    def on_chunk(self, bars: BarChunk) -> npt.NDArray[np.float64]:
        """The batch form: float64 ``(n, 23)`` in the order of ``MMD_FEATURE_NAMES``."""
        out = mmd_batch_nb(self._state, bars.high, bars.low, bars.close, bars.volume)
        if out.shape[0] and not np.isnan(out[-1, 0]):
            self._defined = True
        return out

    def reset(self) -> None:
        """Empty window, no bars (the reference stays)."""
        self._state = self._initial.copy()
        self._defined = False

    def snapshot(self) -> bytes:
        """Kernel state (the window, its kernel sums and the statistics' rings)."""
        return pack_state(self._state, int(self._defined))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        values, defined = unpack_state(state)
        if values.shape != self._initial.shape:
            raise ValueError(f"mmd snapshot: expected a state of {self._initial.shape[0]} "
                             f"values for this reference and window, was {values.shape[0]}")
        self._state, self._defined = values, bool(defined)
