"""``algospace data inspect``: validate a data file and replay it through the bus (wiring layer).

One pass: the streaming reader validates rows (rejects to ``rejects.csv``), a chunk observer
collects range and spacing, and the replay driver aggregates the fast and slow bars and
publishes everything on the bus, so the report shows exactly what a backtest would see.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from engine.core.config import config_id
from engine.core.logging import set_log_clock
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.replay_driver import ReplayStats
from engine.wiring.schema import AppConfig
from replay.data import ChunkObserver, DataReport, format_report

__all__ = ["InspectReport", "inspect_replay"]


class InspectReport(msgspec.Struct, frozen=True, kw_only=True):
    """Data validation summary plus what the replay published."""

    config_id: str
    instrument: str
    fast: str
    slow: str
    data: DataReport
    replay: ReplayStats

    def render(self) -> str:
        """Readable multi-line summary for the terminal."""
        bars = ", ".join(f"{tf}={n}" for tf, n in self.replay.bars_by_timeframe.items())
        return "\n".join([
            f"instrument    {self.instrument} (fast {self.fast}, slow {self.slow}); "
            f"config {self.config_id}",
            format_report(self.data),
            f"replayed      {self.replay.events_published} events on the bus in "
            f"{self.replay.chunks} chunks; bars: {bars}",
        ])


def inspect_replay(config: AppConfig, data_path: Path, out_dir: Path) -> InspectReport:
    """Validate and replay ``data_path``; write rejects into ``out_dir``."""
    pipeline = build_replay_pipeline(config, data_path, out_dir / "rejects.csv")
    observer = ChunkObserver()
    set_log_clock(pipeline.clock)
    try:
        stats = pipeline.driver.run(observer.wrap(pipeline.chunks()))
    finally:
        pipeline.rejects.close()
    return InspectReport(
        config_id=config_id(config),
        instrument=config.instrument,
        fast=config.timeframes.fast,
        slow=config.timeframes.slow,
        data=observer.report(data_path, config.data, pipeline.rejects),
        replay=stats,
    )
