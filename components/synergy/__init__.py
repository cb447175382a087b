"""The synergy detector: a deterministic pre-filter for setups (component layer package).

Two components form it, subscribed after the indicators in this order:
:class:`SynergySignals` turns MLMI, NW-RQK and FVG-mitigation events into ``SynergySignal``
events by the activation rules, and :class:`SynergyDetector` runs the sequence state machine on
them and emits ``SynergyDetected`` with the market context. Both take one
:class:`SynergyConfig` (resolve ``"fast"``/``"slow"`` with :meth:`SynergyConfig.resolved`).
Rules, defaults and measured rates: ``docs/synergy.md``.
"""

from components.synergy.config import SynergyConfig
from components.synergy.detector import PATTERNS, SynergyDetector
from components.synergy.signals import SynergySignals
from engine.core.component import Component
from engine.core.events import PATTERN_NAMES

__all__ = ["PATTERNS", "PATTERN_NAMES", "SynergyConfig", "SynergyDetector", "SynergySignals",
           "build_synergy"]


def build_synergy(config: SynergyConfig, fast: str, slow: str) -> list[Component]:
    """Both synergy components for ``config`` with the timeframes resolved, in subscription
    order (after the indicators)."""
    resolved = config.resolved(fast, slow)
    return [SynergySignals(resolved), SynergyDetector(resolved)]
