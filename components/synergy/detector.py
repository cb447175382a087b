"""The synergy detector's sequence state machine (component layer).

Reads the ``SynergySignal`` events of :class:`~components.synergy.signals.SynergySignals` and
emits ``SynergyDetected`` when three kinds line up in one direction
(docs/reference/algospace_spec.md 2.6, docs/design.md section
4). Time is counted in fast bars: the detector's clock is the ``Bar`` of ``timeframe``, and a
signal belongs to the last fast bar it has seen (a fast bar is delivered before anything derived
from it, and a slow bar closes with the fast bar of the same ``ts_event``, so a signal of either
timeframe lands on the fast bar that closed with it).

Rules, on a signal of kind ``k`` and direction ``d`` at fast bar ``b`` (IDLE -> BUILDING ->
setup; the cooldown runs beside them):

1. Before :attr:`SynergyDetector.ready` signals are ignored.
2. If a sequence is building and ``d`` differs from its direction, or ``b`` is more than
   ``window`` bars after its first signal's bar, it is dropped (reset).
3. An empty sequence starts with the signal, unless it is an FVG: an FVG-first order is no
   pattern (docs/reference/algospace_spec.md 2.6), so an FVG never opens a sequence and is dropped.
   Checking the prefix at
   the start rather than at completion keeps the MLMI and NW-RQK signals that follow usable.
4. A kind already in the sequence is ignored (the first one of a kind counts).
5. The third kind completes the sequence; the order names the pattern (``PATTERN_NAMES``:
   1 MLMI>NWRQK>FVG, 2 MLMI>FVG>NWRQK, 3 NWRQK>FVG>MLMI, 4 NWRQK>MLMI>FVG) and the sequence
   resets. After a setup at bar ``e`` a pattern completing at bars ``e .. e + cooldown`` is
   discarded (spec: "no new synergy for 5 bars"); signals keep building sequences during the
   cooldown, so one that completes after it is a setup.

Signals at one ``ts_event`` are taken in bus delivery order, which is deterministic: at a fast
close the bullish then the bearish FVG mitigation, and, when a slow bar closes at the same time,
then MLMI and then NW-RQK (the slow bar is published after the fast one, and MLMI is subscribed
before NW-RQK). So an MLMI and an NW-RQK change on one slow bar order as MLMI first.

Context (the ``SynergyDetected`` fields): ``price`` is the last fast close, ``atr`` the latest
configured ``IndicatorValue``, ``volatility`` the population standard deviation of the last
``context_bars`` fast close-to-close returns, ``volume_ratio`` the last fast volume over the
mean of the last ``context_bars`` (``None`` when that mean is 0), and the LVN fields come from
the latest ``LvnLevels`` of ``lvn_timeframe`` (``None`` before one or when a side has no node),
distances measured from ``price``. Volatility and volume ratio are computed here from the fast
bars rather than read from ``MmdFeatures``: the MMD statistics are slow-bar figures, need a
fitted artifact, and would be a fifth input type; the regime vector carries them downstream.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import ClassVar, Literal

import msgspec

from components.synergy.config import SynergyConfig
from engine.core.events import (
    Bar,
    Event,
    IndicatorValue,
    LvnLevels,
    SynergyDetected,
    SynergySignal,
)

__all__ = ["PATTERNS", "SynergyDetector"]

PATTERNS: dict[tuple[str, str, str], Literal[1, 2, 3, 4]] = {
    ("mlmi", "nwrqk", "fvg"): 1,
    ("mlmi", "fvg", "nwrqk"): 2,
    ("nwrqk", "fvg", "mlmi"): 3,
    ("nwrqk", "mlmi", "fvg"): 4,
}
"""Signal kinds in arrival order to the pattern number (the orders not listed start with FVG)."""


class _State(msgspec.Struct, array_like=True):
    bars: int
    closes: list[float]
    volumes: list[float]
    atr: float | None
    lvn: LvnLevels | None
    sequence: list[SynergySignal]
    sequence_bars: list[int]
    last_setup_bar: int | None


class SynergyDetector:
    """Detect MLMI, NW-RQK and FVG signals lining up in one direction within a window of fast
    bars, name the pattern by their order, and attach the market context (module docstring).

    Inputs are the fast ``Bar`` (clock and context), ``SynergySignal`` (from
    :class:`~components.synergy.signals.SynergySignals`), the ATR ``IndicatorValue`` and
    ``LvnLevels``. Subscribe it after the indicators and the signal component.
    """

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, SynergySignal, IndicatorValue, LvnLevels)
    _atr: float | None
    _lvn: LvnLevels | None
    _last_setup_bar: int | None

    def __init__(self, config: SynergyConfig) -> None:
        self.config = config
        self.name = f"synergy.detector.{config.timeframe}"
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the ATR is known and ``context_bars + 1`` fast bars were seen (LVN is
        optional)."""
        return self._atr is not None and len(self._closes) > self.config.context_bars

    @property
    def building(self) -> tuple[SynergySignal, ...]:
        """The signals of the sequence being built (empty when idle)."""
        return tuple(self._sequence)

    def on_event(self, event: Event) -> Sequence[Event]:
        """Advance the clock on a fast bar, update the context, or take a signal."""
        cfg = self.config
        match event:
            case SynergySignal():
                return self._on_signal(event)
            case Bar() if event.timeframe == cfg.timeframe:
                self._bars += 1
                self._closes.append(event.close)
                self._volumes.append(event.volume)
            case IndicatorValue() if (event.indicator == cfg.atr_indicator
                                      and event.timeframe == cfg.atr_timeframe):
                self._atr = event.value
            case LvnLevels() if event.timeframe == cfg.lvn_timeframe:
                self._lvn = event
        return ()

    def reset(self) -> None:
        """No bars, no context, no sequence, no cooldown."""
        n = self.config.context_bars
        self._bars = 0
        self._closes: deque[float] = deque(maxlen=n + 1)
        self._volumes: deque[float] = deque(maxlen=n)
        self._atr = None
        self._lvn = None
        self._sequence: list[SynergySignal] = []
        self._sequence_bars: list[int] = []
        self._last_setup_bar = None

    def snapshot(self) -> bytes:
        """Bar count, context windows, latest ATR and LVN, the sequence and the last setup."""
        return msgspec.msgpack.encode(_State(
            self._bars, list(self._closes), list(self._volumes), self._atr, self._lvn,
            list(self._sequence), list(self._sequence_bars), self._last_setup_bar))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self.reset()
        self._bars = s.bars
        self._closes.extend(s.closes)
        self._volumes.extend(s.volumes)
        self._atr, self._lvn = s.atr, s.lvn
        self._sequence, self._sequence_bars = s.sequence, s.sequence_bars
        self._last_setup_bar = s.last_setup_bar

    def _on_signal(self, signal: SynergySignal) -> Sequence[Event]:
        if not self.ready:
            return ()
        bar = self._bars
        seq = self._sequence
        if seq and (signal.direction != seq[0].direction
                    or bar - self._sequence_bars[0] > self.config.window):
            seq.clear()
            self._sequence_bars.clear()
        if not seq:
            if signal.kind != "fvg":
                seq.append(signal)
                self._sequence_bars.append(bar)
            return ()
        if any(s.kind == signal.kind for s in seq):
            return ()
        if len(seq) < 2:
            seq.append(signal)
            self._sequence_bars.append(bar)
            return ()
        first, second = seq
        first_bar = self._sequence_bars[0]
        seq.clear()
        self._sequence_bars.clear()
        last = self._last_setup_bar
        if last is not None and bar - last <= self.config.cooldown:
            return ()
        self._last_setup_bar = bar
        return (self._setup(signal, (first, second, signal), bar - first_bar + 1),)

    def _setup(self, trigger: SynergySignal, signals: tuple[SynergySignal, SynergySignal,
                                                            SynergySignal],
               bars_to_complete: int) -> SynergyDetected:
        pattern = PATTERNS[(signals[0].kind, signals[1].kind, signals[2].kind)]
        closes = self._closes
        price = closes[-1]
        returns = [c / p - 1.0 if p != 0.0 else 0.0
                   for p, c in zip(list(closes)[:-1], list(closes)[1:], strict=True)]
        mean = math.fsum(returns) / len(returns)
        volatility = math.sqrt(math.fsum((r - mean) ** 2 for r in returns) / len(returns))
        volumes = self._volumes
        mean_volume = math.fsum(volumes) / len(volumes)
        volume_ratio = volumes[-1] / mean_volume if mean_volume > 0.0 else None
        lvn = self._lvn
        s_price = s_strength = s_distance = r_price = r_strength = r_distance = None
        if lvn is not None:
            if lvn.support_price is not None:
                s_price, s_strength = lvn.support_price, lvn.support_strength
                s_distance = price - s_price
            if lvn.resistance_price is not None:
                r_price, r_strength = lvn.resistance_price, lvn.resistance_strength
                r_distance = r_price - price
        assert self._atr is not None
        return SynergyDetected(
            trigger.ts_event, trigger.ts_init, trigger.instrument, self.config.timeframe,
            pattern, signals[0].direction, signals, bars_to_complete, price, self._atr,
            volatility, volume_ratio, s_price, s_strength, s_distance, r_price, r_strength,
            r_distance)
