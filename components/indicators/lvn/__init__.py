"""Low-volume nodes of a rolling volume profile: numba kernels (kernel layer)."""

from components.indicators.lvn.component import Lvn, LvnConfig
from components.indicators.lvn.kernels import (
    LVN_COLUMNS,
    LVN_N_OUT,
    lvn_batch_nb,
    lvn_init_state,
    lvn_step_nb,
)

__all__ = ["LVN_COLUMNS", "LVN_N_OUT", "Lvn", "LvnConfig", "lvn_batch_nb", "lvn_init_state",
           "lvn_step_nb"]
