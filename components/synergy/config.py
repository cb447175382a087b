"""The synergy detector's settings (component layer).

One frozen Struct for both synergy components (:class:`~components.synergy.signals.SynergySignals`
and :class:`~components.synergy.detector.SynergyDetector`): they are one unit split in two only
to keep each within four input types, and sharing the ATR label and the timeframes keeps them
consistent. Defaults were chosen by replaying the bundled data sets (``bench/synergy_rates.py``,
``docs/synergy.md``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from engine.core.config import Config, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from engine.core.timeframes import parse_timeframe

__all__ = ["SynergyConfig"]


class SynergyConfig(Config, frozen=True):
    """Activation thresholds, window, cooldown and context of the synergy detector.

    Timeframes are labels or ``"fast"``/``"slow"`` (resolved by :meth:`resolved`): the
    detector counts ``timeframe`` bars (the fast ones), MLMI and NW-RQK are read on
    ``slow_timeframe``, FVG mitigations on ``timeframe``. ``atr_indicator``/``atr_timeframe``
    name the ``IndicatorValue`` used as ATR (NW-RQK strength, the FVG size floor, the context);
    the context's LVN levels are the ``LvnLevels`` of ``lvn_timeframe``.

    Parameters
    ----------
    window
        A sequence must complete within this many fast bars after its first signal (a signal
        more than ``window`` bars after it starts a new sequence).
    cooldown
        After a setup at fast bar ``e`` no setup completes at bars ``e .. e + cooldown``.
    mlmi_mode
        ``"zero_cross"``: MLMI's zero cross (``MlmiValue.signal``, docs/design.md section 4).
        ``"crossover"``: a WMA 5/20 crossover stored this bar whose kNN vote agrees with it
        (``crossover * value > 0``; docs/reference/algospace_spec.md 2.4.2 (b),
        ``src/indicators/mlmi.py``).
        ``"either"``: both rules, the zero cross deciding when they disagree.
    mlmi_min_value
        Minimum ``|value|`` of the MLMI vote (-200..200) for either rule.
    mlmi_strength_scale
        ``strength = min(|value| / scale, 1)``.
    nwrqk_min_slope_atr
        Minimum ``|slope| / ATR`` at a NW-RQK change.
    nwrqk_strength_atr
        ``strength = min(|slope| / (nwrqk_strength_atr * ATR), 1)``.
    fvg_min_size_pct
        Minimum mitigated gap size in percent of price (``FvgMitigated.size_pct``; 0.1 is the
        original's 0.1 %).
    fvg_min_size_atr
        Minimum mitigated gap size in ATRs.
    fvg_strength_pct
        ``strength = min(size_pct / fvg_strength_pct, 1)`` (the original's 1 % of price).
    context_bars
        Fast bars behind the volume ratio and the return volatility of the context.
    """

    timeframe: str = "fast"
    slow_timeframe: str = "slow"
    window: PositiveInt = 30
    cooldown: NonNegativeInt = 5
    mlmi_mode: Literal["zero_cross", "crossover", "either"] = "either"
    mlmi_min_value: NonNegativeFloat = 0.0
    mlmi_strength_scale: PositiveFloat = 100.0
    nwrqk_min_slope_atr: NonNegativeFloat = 0.0
    nwrqk_strength_atr: PositiveFloat = 0.15
    fvg_min_size_pct: NonNegativeFloat = 0.0
    fvg_min_size_atr: NonNegativeFloat = 0.25
    fvg_strength_pct: PositiveFloat = 1.0
    atr_indicator: str = "atr14"
    atr_timeframe: str = "fast"
    lvn_timeframe: str = "slow"
    context_bars: PositiveInt = 20

    def __post_init__(self) -> None:
        for key in ("timeframe", "slow_timeframe", "atr_timeframe", "lvn_timeframe"):
            label = getattr(self, key)
            if label not in ("fast", "slow"):
                parse_timeframe(label)
        if self.context_bars < 2:
            raise ValueError(f"context_bars: expected >= 2, was {self.context_bars}")

    def resolved(self, fast: str, slow: str) -> SynergyConfig:
        """This config with ``"fast"``/``"slow"`` replaced by the configured labels."""
        names = {"fast": fast, "slow": slow}
        return msgspec.structs.replace(
            self, timeframe=names.get(self.timeframe, self.timeframe),
            slow_timeframe=names.get(self.slow_timeframe, self.slow_timeframe),
            atr_timeframe=names.get(self.atr_timeframe, self.atr_timeframe),
            lvn_timeframe=names.get(self.lvn_timeframe, self.lvn_timeframe))
