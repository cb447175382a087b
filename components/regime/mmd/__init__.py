"""MMD regime features: kernels (kernel layer), the fitted reference Struct and the component.

``MMD_FEATURE_NAMES`` is the order of ``MmdFeatures.values`` everywhere (feature table,
assemblers, models).
"""

from components.regime.mmd.component import Mmd, MmdConfig, MmdSettings
from components.regime.mmd.kernels import (
    MMD_FEATURE_NAMES,
    MMD_STAT_NAMES,
    MMD_VECTOR_NAMES,
    N_SETS,
    mmd_batch_nb,
    mmd_init_state,
    mmd_step_nb,
)
from components.regime.mmd.reference import MmdReference, RegimeSet

__all__ = ["MMD_FEATURE_NAMES", "MMD_STAT_NAMES", "MMD_VECTOR_NAMES", "N_SETS", "Mmd",
           "MmdConfig", "MmdReference", "MmdSettings", "RegimeSet", "mmd_batch_nb",
           "mmd_init_state", "mmd_step_nb"]
