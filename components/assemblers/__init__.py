"""Matrix assemblers: rolling float32 windows of normalised features (component layer).

Slow ``48 x 13`` and regime ``96 x 26`` (one row per slow bar), fast ``60 x 8`` (one row per
fast bar); column names ``SLOW_COLUMNS``, ``FAST_COLUMNS``, ``REGIME_COLUMNS``;
normalisations in docs/assemblers.md. They return no events: the decision components that own
them forward the events they receive and read ``matrix()``.
"""

from components.assemblers.fast import FAST_COLUMNS, FastAssembler, FastAssemblerConfig
from components.assemblers.regime import REGIME_COLUMNS, RegimeAssembler, RegimeAssemblerConfig
from components.assemblers.slow import SLOW_COLUMNS, SlowAssembler, SlowAssemblerConfig

__all__ = ["FAST_COLUMNS", "REGIME_COLUMNS", "SLOW_COLUMNS", "FastAssembler",
           "FastAssemblerConfig", "RegimeAssembler", "RegimeAssemblerConfig", "SlowAssembler",
           "SlowAssemblerConfig"]
