"""NW-RQK, Nadaraya-Watson regression with rational-quadratic weights (component layer)."""

from components.indicators.nwrqk.component import Nwrqk, NwrqkConfig
from components.indicators.nwrqk.kernels import (
    NWRQK_COLUMNS,
    nwrqk_batch_nb,
    nwrqk_init_state,
    nwrqk_step_nb,
)

__all__ = ["NWRQK_COLUMNS", "Nwrqk", "NwrqkConfig", "nwrqk_batch_nb", "nwrqk_init_state",
           "nwrqk_step_nb"]
