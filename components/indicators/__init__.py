"""Indicator kernels and components (component layer)."""

from components.indicators.kernels import sma_batch_nb, sma_init_state, sma_step_nb

__all__ = ["sma_batch_nb", "sma_init_state", "sma_step_nb"]
