"""The backtest job the command line and the Python API both run (application layer).

:func:`backtest_job` is everything ``algospace backtest`` does except printing: load the
fitted models the strategy needs (or ``backtest.start = "auto"`` reads), write the run
manifest, backtest with the report written into the run directory, and for a strategy that
decides through gate 1, the per-setup gate diagnostics and the comparison with the
baselines its plugin declares over the same period. One function, so the two front ends
produce the same files by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from engine.core.manifest import RunManifest, build_manifest, write_manifest
from engine.wiring.schema import LoadedConfig

if TYPE_CHECKING:
    from engine.wiring.artifacts import Artifacts
    from engine.wiring.backtest import Path_
    from engine.wiring.backtest_report import BacktestOutcome
    from engine.wiring.compare import CompareRow

__all__ = ["BacktestJob", "backtest_job"]


@dataclass(frozen=True)
class BacktestJob:
    """A finished backtest job: the outcome, where it was written, its manifest, and for a
    strategy deciding through gate 1 the comparison rows, the selection trials they were
    deflated by, and the gate diagnostics' summary."""

    outcome: BacktestOutcome
    out_dir: Path
    manifest: RunManifest
    comparison: list[CompareRow] | None = None
    selection_trials: int = 0
    diagnostics: dict[str, Any] | None = None


def backtest_job(loaded: LoadedConfig, data_path: Path, out_dir: Path | None = None,
                 path: Path_ = "bus", progress: bool | None = None) -> BacktestJob:
    """Run ``algospace backtest`` for ``loaded`` on ``data_path`` into ``out_dir`` (default:
    ``output.dir/<run id>``); module docstring."""
    from engine.wiring.artifacts import Artifacts, load_artifacts
    from engine.wiring.backtest_report import backtest_file
    from engine.wiring.build import learned, uses_models

    cfg = loaded.config
    gated = learned(cfg)
    artifacts = (load_artifacts(loaded, risk=True, marl=gated)
                 if uses_models(cfg) or cfg.backtest.start == "auto" else Artifacts())
    manifest = build_manifest(f"backtest {cfg.backtest.strategy} {path}", cfg, [data_path],
                              seeds={"seed": cfg.seed}, models=artifacts.model_refs())
    out = out_dir if out_dir is not None else Path(cfg.output.dir) / manifest.run_id
    write_manifest(out, manifest)
    structlog.contextvars.bind_contextvars(run_id=manifest.run_id, config_id=manifest.config_id)
    tap = _gate_tap(loaded, artifacts) if gated else None
    gate_rows: list[Any] = []  # built once, after the run, for the page and the diagnostics
    outcome = backtest_file(cfg, data_path, out, path=path, progress=progress,
                            artifacts=artifacts, tap=None if tap is None else tap.on_event,
                            page=None if tap is None else lambda: _gate_page(tap, gate_rows))
    if not gated:
        return BacktestJob(outcome, out, manifest)
    from replay.train.marl_diagnostics import write_diagnostics

    rows, tried = _compare(loaded, data_path, out, artifacts, outcome)
    assert tap is not None
    summary = write_diagnostics(out / "diagnostics", "backtest", gate_rows or tap.rows())
    html = outcome.files.get("html")
    if html is not None:  # the comparison and gate 1's funnel at the top of the report
        from engine.wiring.compare import verdict
        from replay.report.interactive import insert_section, learned_section

        page = Path(html)
        section = learned_section(msgspec.to_builtins(rows), verdict(rows), summary)
        page.write_text(insert_section(page.read_text(encoding="utf-8"), section),
                        encoding="utf-8")
    return BacktestJob(outcome, out, manifest, rows, tried, summary)


def _gate_page(tap: Any, rows: list[Any]) -> Any:
    """The gate's per-setup timeline for the report (``rows`` receives the tap's rows)."""
    from replay.report.interactive import PageExtras
    from replay.train.gate_chart import gate_timeline

    rows[:] = tap.rows()
    return PageExtras(timelines=gate_timeline(rows))


def _gate_tap(loaded: LoadedConfig, artifacts: Artifacts) -> Any:
    """The learned run's per-setup diagnostics tap, from its evaluation start."""
    from engine.wiring.artifacts import evaluation_start
    from engine.wiring.build import build_broker, build_strategy
    from replay.train.gate_tap import GateTap

    cfg = loaded.config
    start = evaluation_start(cfg, artifacts, models=True)
    return GateTap(build_broker(cfg, build_strategy(cfg).name).config,
                   -(2**63) if start is None else start)


def _compare(loaded: LoadedConfig, data_path: Path, out_dir: Path, artifacts: Artifacts,
             outcome: BacktestOutcome) -> tuple[list[CompareRow], int]:
    """The learned run beside its baselines on its period (``comparison.json``)."""
    from engine.wiring.artifacts import evaluation_start
    from engine.wiring.compare import compare_baselines, comparison_table
    from engine.wiring.plugins import selected

    cfg = loaded.config
    start = evaluation_start(cfg, artifacts, models=True)
    outcomes = {selected(cfg).key: outcome,
                **compare_baselines(cfg, data_path, out_dir / "baselines", start)}
    tried = (int(artifacts.marl.manifest.metrics.get("selection_trials", 0))
             if artifacts.marl is not None else 0)
    rows = comparison_table(outcomes, tried)
    (out_dir / "comparison.json").write_bytes(
        msgspec.json.format(msgspec.json.encode(rows), indent=2) + b"\n")
    return rows, tried
