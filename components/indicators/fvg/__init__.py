"""Fair value gaps, FVG: numba kernels (component layer package; see ``kernels``)."""

from components.indicators.fvg.component import Fvg, FvgConfig
from components.indicators.fvg.kernels import (
    FVG_COLUMNS,
    FVG_N_OUT,
    fvg_batch_nb,
    fvg_init_state,
    fvg_step_nb,
)

__all__ = ["FVG_COLUMNS", "FVG_N_OUT", "Fvg", "FvgConfig", "fvg_batch_nb", "fvg_init_state",
           "fvg_step_nb"]
