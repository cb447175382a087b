"""A synergy setup as the M-RMS's fixed-length input vector (component layer, no torch).

:func:`setup_features` maps a :class:`~engine.core.events.SynergyDetected` to ``SETUP_FEATURES``
floats, each scale-free and bounded so that instruments of any price level look alike:

- ``pattern_1`` .. ``pattern_4``: one-hot of the pattern;
- ``direction``: +1 long, -1 short;
- ``strength_1`` .. ``strength_3``: the three signals' strengths in arrival order, [0, 1];
- ``speed``: ``bars_to_complete / window`` (how quickly the pattern formed), [0, 1];
- ``atr_pct``: ATR over price in percent, clipped to [0, 10] and divided by 10;
- ``volatility_pct``: std of the last 20 fast returns in percent, same scaling;
- ``log_volume_ratio``: ``log(volume_ratio)`` clipped to [-3, 3] and divided by 3 (0 unknown);
- ``support_atr`` / ``resistance_atr``: distance to the nearest low-volume node on each side in
  ATRs, clipped to [-5, 5] and divided by 5 (0 unknown), with ``support_known`` /
  ``resistance_known`` flags (1 or 0) and the nodes' strengths over 100, clipped to [0, 1].

Nothing here reads a bar after the setup: every value is a field of the event.
"""

from __future__ import annotations

import math

from engine.core.events import SynergyDetected

__all__ = ["SETUP_FEATURES", "setup_features"]

SETUP_FEATURES = (
    "pattern_1", "pattern_2", "pattern_3", "pattern_4", "direction", "strength_1", "strength_2",
    "strength_3", "speed", "atr_pct", "volatility_pct", "log_volume_ratio", "support_atr",
    "support_known", "support_strength", "resistance_atr", "resistance_known",
    "resistance_strength",
)


def _clip(x: float, low: float, high: float) -> float:
    return min(max(x, low), high)


def _level(distance: float | None, strength: float | None, atr: float
           ) -> tuple[float, float, float]:
    if distance is None or atr <= 0.0 or not math.isfinite(distance):
        return 0.0, 0.0, 0.0
    s = 0.0 if strength is None or not math.isfinite(strength) else _clip(strength / 100.0,
                                                                             0.0, 1.0)
    return _clip(distance / atr, -5.0, 5.0) / 5.0, 1.0, s


def setup_features(setup: SynergyDetected, window: int) -> tuple[float, ...]:
    """The setup's ``len(SETUP_FEATURES)`` features (``window``: the detector's window in
    fast bars).

    Examples
    --------
    >>> from engine.core.events import SynergySignal
    >>> sig = SynergySignal(1, 1, "ES", "mlmi", "30m", 1, 0.5, 0.25)
    >>> setup = SynergyDetected(1, 1, "ES", "5m", 1, 1, (sig, sig, sig), 10, 4000.0, 8.0,
    ...                         0.001, 2.0, 3990.0, 40.0, 10.0, None, None, None)
    >>> dict(zip(SETUP_FEATURES, setup_features(setup, 30)))["support_atr"]
    0.25
    """
    price, atr = setup.price, setup.atr
    pattern = [1.0 if setup.pattern == k else 0.0 for k in (1, 2, 3, 4)]
    strengths = [_clip(s.strength, 0.0, 1.0) for s in setup.signals]
    atr_pct = _clip(100.0 * atr / price, 0.0, 10.0) / 10.0 if price > 0 else 0.0
    vol_pct = _clip(100.0 * setup.volatility, 0.0, 10.0) / 10.0
    ratio = setup.volume_ratio
    log_ratio = (_clip(math.log(ratio), -3.0, 3.0) / 3.0
                 if ratio is not None and ratio > 0 and math.isfinite(ratio) else 0.0)
    support = _level(setup.lvn_support_distance, setup.lvn_support_strength, atr)
    resistance = _level(setup.lvn_resistance_distance, setup.lvn_resistance_strength, atr)
    return (*pattern, float(setup.direction), *strengths,
            _clip(setup.bars_to_complete / max(window, 1), 0.0, 1.0), atr_pct, vol_pct,
            log_ratio, *support, *resistance)
