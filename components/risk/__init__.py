"""The M-RMS risk layer (component layer package).

:mod:`components.risk.limits` holds the deterministic hard limits, a pure function
(:func:`apply_limits`) that caps any proposed size and always wins over the learned model;
:mod:`components.risk.account` the :class:`AccountTracker` component that keeps the live
:class:`AccountState` the limits and the model read.
"""

from components.risk.account import AccountTracker, AccountTrackerConfig, session_day_of
from components.risk.limits import (
    LIMIT_NAMES,
    NO_DAY,
    AccountState,
    LimitVerdict,
    RiskLimitsConfig,
    apply_limits,
)

__all__ = [
    "LIMIT_NAMES",
    "NO_DAY",
    "AccountState",
    "AccountTracker",
    "AccountTrackerConfig",
    "LimitVerdict",
    "RiskLimitsConfig",
    "apply_limits",
    "session_day_of",
]
