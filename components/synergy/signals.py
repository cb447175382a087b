"""Synergy signal activation: indicator events to ``SynergySignal`` (component layer).

The first half of the synergy detector (docs/reference/algospace_spec.md 2.6, adapted to this
engine's scales; the
original compared a -200..200 MLMI to a 0..100 threshold and a ~1e-4 relative NW-RQK slope to
0.3, so two of its three legs never fired, spec section 7 item 14). Each rule reads one event
and returns at most one :class:`~engine.core.events.SynergySignal` with the event's ``ts_event``:

- **MLMI** (slow ``MlmiValue``), by ``mlmi_mode``: ``zero_cross`` fires on ``signal != 0``
  with ``direction = signal``; ``crossover`` fires on a stored WMA 5/20 crossover whose vote
  agrees (``crossover * value > 0``) with ``direction = crossover``; ``either`` fires on both
  (one signal per bar; the zero cross decides the direction if they disagree). All need
  ``|value| >= mlmi_min_value``. ``value`` = the vote, ``strength = min(|value| /
  mlmi_strength_scale, 1)``.
- **NW-RQK** (slow ``NwrqkValue``): ``signal != 0`` (the estimate's slope turned: +1 up, -1
  down) and ``|slope| >= nwrqk_min_slope_atr * ATR``; ``direction = signal``, ``value =
  slope`` (price units per slow bar), ``strength = min(|slope| / (nwrqk_strength_atr * ATR),
  1)``. ATR, not price, normalises the slope: at a change it is about 0.04 ATR on every
  bundled data set, while in percent of price it differs tenfold between them.
- **FVG** (fast ``FvgMitigated``): ``size_pct >= fvg_min_size_pct`` and ``size >=
  fvg_min_size_atr * ATR``; ``direction = side`` (+1 a bullish gap was mitigated, -1 a
  bearish one, docs/reference/algospace_spec.md 2.6), ``value = size_pct``, ``strength =
  min(size_pct /
  fvg_strength_pct, 1)``.

ATR is the latest ``IndicatorValue`` named ``atr_indicator`` on ``atr_timeframe`` delivered
before the event (with ``build_indicators``' order, FVG runs before the scalars, so the FVG
floor at a fast close uses the previous fast bar's ATR). The component is ready once it has
one; before that NW-RQK and FVG events are ignored (their rules need it) while MLMI ones still
pass. When one bar mitigates gaps of both sides, the bullish event comes first (the FVG
component's order) and both become signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec

from components.synergy.config import SynergyConfig
from engine.core.events import (
    Event,
    FvgMitigated,
    IndicatorValue,
    MlmiValue,
    NwrqkValue,
    SynergySignal,
)

__all__ = ["SynergySignals"]


class SynergySignals:
    """Turn MLMI, NW-RQK and FVG-mitigation events into synergy signals by the activation rules
    of :class:`SynergyConfig` (module docstring)."""

    inputs: ClassVar[tuple[type[Event], ...]] = (MlmiValue, NwrqkValue, FvgMitigated,
                                                 IndicatorValue)
    _atr: float | None

    def __init__(self, config: SynergyConfig) -> None:
        self.config = config
        self.name = f"synergy.signals.{config.timeframe}"
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the configured ATR has been seen."""
        return self._atr is not None

    def on_event(self, event: Event) -> Sequence[Event]:
        """Return the signal ``event`` activates, if any."""
        cfg = self.config
        signal: SynergySignal | None = None
        match event:
            case MlmiValue() if event.timeframe == cfg.slow_timeframe:
                signal = self._mlmi(event)
            case NwrqkValue() if event.timeframe == cfg.slow_timeframe:
                signal = self._nwrqk(event)
            case FvgMitigated() if event.timeframe == cfg.timeframe:
                signal = self._fvg(event)
            case IndicatorValue() if (event.indicator == cfg.atr_indicator
                                      and event.timeframe == cfg.atr_timeframe):
                self._atr = event.value
        return () if signal is None else (signal,)

    def reset(self) -> None:
        """Forget the ATR."""
        self._atr = None

    def snapshot(self) -> bytes:
        """The latest ATR."""
        return msgspec.msgpack.encode(self._atr)

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        self._atr = msgspec.msgpack.decode(state, type=float | None)

    def _mlmi(self, e: MlmiValue) -> SynergySignal | None:
        cfg = self.config
        mode = cfg.mlmi_mode
        direction = 0
        if e.signal != 0 and mode != "crossover":
            direction = e.signal
        elif e.crossover != 0 and e.crossover * e.value > 0.0 and mode != "zero_cross":
            direction = e.crossover
        if direction == 0 or abs(e.value) < cfg.mlmi_min_value:
            return None
        strength = min(abs(e.value) / cfg.mlmi_strength_scale, 1.0)
        return SynergySignal(e.ts_event, e.ts_init, e.instrument, e.timeframe, "mlmi",
                             1 if direction > 0 else -1, e.value, strength)

    def _nwrqk(self, e: NwrqkValue) -> SynergySignal | None:
        atr = self._atr
        if e.signal == 0 or atr is None:
            return None
        cfg = self.config
        slope = abs(e.slope)
        if slope < cfg.nwrqk_min_slope_atr * atr:
            return None
        scale = cfg.nwrqk_strength_atr * atr
        strength = min(slope / scale, 1.0) if scale > 0.0 else float(slope > 0.0)
        return SynergySignal(e.ts_event, e.ts_init, e.instrument, e.timeframe, "nwrqk",
                             1 if e.signal > 0 else -1, e.slope, strength)

    def _fvg(self, e: FvgMitigated) -> SynergySignal | None:
        atr = self._atr
        cfg = self.config
        if atr is None or e.size_pct < cfg.fvg_min_size_pct or e.size < cfg.fvg_min_size_atr * atr:
            return None
        strength = min(e.size_pct / cfg.fvg_strength_pct, 1.0)
        return SynergySignal(e.ts_event, e.ts_init, e.instrument, e.timeframe, "fvg",
                             1 if e.side > 0 else -1, e.size_pct, strength)
