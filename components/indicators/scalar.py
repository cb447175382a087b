"""Scalar indicators as components: SMA, WMA, EMA, RSI, ATR, rolling std (component layer).

One component per configured indicator, on one timeframe, reading either the bars' own prices or
their Heiken Ashi transform (``source``). Each closed bar of the timeframe after the warm-up
gives one ``IndicatorValue`` named e.g. ``atr14`` (none during the warm-up, so no ``nan``
travels), carrying the bar's ``ts_event``: a slow value reaches fast consumers at the slow
close, never earlier.
``on_chunk`` runs the same step kernel over a chunk (the batch path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

from components.indicators import shared_kernels as sk
from components.indicators.inputs import pack_state, price_bar, source_type, unpack_state
from components.indicators.kernels import sma_batch_nb, sma_init_state, sma_step_nb
from engine.core.chunks import BarChunk
from engine.core.config import Config, PositiveInt
from engine.core.events import Bar, Event, HeikenAshiBar, IndicatorValue
from engine.core.timeframes import parse_timeframe

__all__ = ["ScalarIndicator", "ScalarIndicatorConfig"]

Floats = npt.NDArray[np.float64]
Kind = Literal["sma", "wma", "ema", "rsi", "atr", "std"]

_CLOSE_KERNELS: dict[str, tuple[Callable[[int], Floats], Callable[..., float],
                                Callable[..., Floats]]] = {
    "sma": (sma_init_state, sma_step_nb, sma_batch_nb),
    "wma": (sk.wma_init_state, sk.wma_step_nb, sk.wma_batch_nb),
    "ema": (sk.ema_init_state, sk.ema_step_nb, sk.ema_batch_nb),
    "rsi": (sk.rsi_init_state, sk.rsi_step_nb, sk.rsi_batch_nb),
    "std": (sk.std_init_state, sk.std_step_nb, sk.std_batch_nb),
}


class ScalarIndicatorConfig(Config, frozen=True):
    """Which indicator, its period, its bars and their price source.

    ``timeframe`` is a label (``"30m"``) or ``"fast"``/``"slow"``, which the wiring resolves to
    the configured timeframes. ``name`` labels the output (default ``<indicator><period>``,
    e.g. ``rsi14``); ``source`` ``heiken_ashi`` reads ``HeikenAshiBar`` events of the timeframe
    instead of ``Bar``.
    """

    indicator: Kind
    period: PositiveInt = 14
    timeframe: str = "slow"
    source: Literal["bar", "heiken_ashi"] = "bar"
    name: str = ""

    def __post_init__(self) -> None:
        if self.timeframe not in ("fast", "slow"):
            parse_timeframe(self.timeframe)

    @property
    def label(self) -> str:
        """The output name."""
        return self.name or f"{self.indicator}{self.period}"

    @property
    def warmup(self) -> int:
        """Bars before the first defined value (RSI and ATR need a previous close)."""
        return self.period + 1 if self.indicator in ("rsi", "atr") else self.period


class ScalarIndicator:
    """One scalar indicator on the closes (or high/low/close for ATR) of one timeframe.

    Examples
    --------
    >>> sma = ScalarIndicator(ScalarIndicatorConfig(indicator="sma", period=2, timeframe="1m"))
    >>> def bar(i, c):
    ...     return Bar(ts_event=i + 1, ts_init=i + 1, instrument="ES", timeframe="1m",
    ...                ts_open=i, open=c, high=c, low=c, close=c, volume=1.0)
    >>> [e.value for i, c in enumerate([1.0, 3.0, 5.0]) for e in sma.on_event(bar(i, c))]
    [2.0, 4.0]
    """

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, HeikenAshiBar)

    def __init__(self, config: ScalarIndicatorConfig) -> None:
        self.config = config
        self.name = f"{config.label}.{config.timeframe}"
        self._want: type[Event] = source_type(config.source)
        self._label = config.label
        self._warmup = config.warmup
        self._atr = config.indicator == "atr"
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the indicator is defined."""
        return self._bars >= self._warmup

    def on_event(self, event: Event) -> Sequence[Event]:
        """Update on a bar (or Heiken Ashi bar) of the configured timeframe."""
        bar = price_bar(event, self._want, self.config.timeframe)
        if bar is None:
            return ()
        self._bars += 1
        if self._atr:
            value = sk.atr_step_nb(self._state, bar.high, bar.low, bar.close)
        else:
            value = self._step(self._state, bar.close)
        if self._bars < self._warmup:
            return ()
        return (IndicatorValue(bar.ts_event, bar.ts_init, bar.instrument, bar.timeframe,
                               self._label, value),)

    def on_chunk(self, bars: BarChunk) -> Floats:
        """The batch form over a chunk of (Heiken Ashi) bars: one value per bar (``nan`` in
        the warm-up, where :meth:`on_event` returns nothing)."""
        self._bars += bars.close.shape[0]
        if self.config.indicator == "atr":
            return sk.atr_batch_nb(self._state, bars.high, bars.low, bars.close)
        return self._batch(self._state, bars.close)

    def reset(self) -> None:
        """Fresh kernel state."""
        kind = self.config.indicator
        if kind == "atr":
            self._state = sk.atr_init_state(self.config.period)
        else:
            init, self._step, self._batch = _CLOSE_KERNELS[kind]
            self._state = init(self.config.period)
        self._bars = 0

    def snapshot(self) -> bytes:
        """Kernel state and bar count."""
        return pack_state(self._state, self._bars)

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        self._state, self._bars = unpack_state(state)
