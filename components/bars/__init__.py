"""Bars: session-aligned aggregation of ticks or short bars into longer bars (component layer)."""

from components.bars.aggregate import AggregatedBars, BarAggregator, BarAggregatorConfig
from components.bars.kernels import (
    aggregate_batch_nb,
    aggregate_flush_nb,
    aggregate_init_state,
    aggregate_step_nb,
)
from components.bars.sessions import SessionBuckets, bucket_bounds

__all__ = [
    "AggregatedBars",
    "BarAggregator",
    "BarAggregatorConfig",
    "SessionBuckets",
    "aggregate_batch_nb",
    "aggregate_flush_nb",
    "aggregate_init_state",
    "aggregate_step_nb",
    "bucket_bounds",
]
