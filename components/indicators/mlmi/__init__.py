"""MLMI, the kNN momentum index: kernels (kernel layer) re-exported for components."""

from components.indicators.mlmi.component import Mlmi, MlmiConfig
from components.indicators.mlmi.kernels import (
    MLMI_COLUMNS,
    mlmi_batch_nb,
    mlmi_init_state,
    mlmi_step_nb,
)

__all__ = ["MLMI_COLUMNS", "Mlmi", "MlmiConfig", "mlmi_batch_nb", "mlmi_init_state",
           "mlmi_step_nb"]
