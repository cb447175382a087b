"""One backtest over a data set in memory, as a sweep trial or a fold's test runs it (wiring
layer).

:func:`evaluate` is :func:`engine.wiring.backtest_report.backtest_file` without the files: the same
:func:`~engine.wiring.backtest.run_backtest`, equity accumulators and
:func:`~engine.wiring.backtest_report.summarise`, over :class:`~engine.wiring.dataset.Dataset`
chunks, so a
trial's metrics are exactly those ``algospace backtest`` reports for the same config and
period (tested). :func:`run_sweep_trial` is the task a sweep sends to a worker.

Torch runs on ``TORCH_THREADS`` intra-op threads in every task, whatever the backend: results
must not depend on how many threads a worker happens to have.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import msgspec
import numpy as np

from engine.wiring.artifacts import Artifacts
from engine.wiring.backtest import Path_, run_backtest
from engine.wiring.backtest_report import EquityCurves, summarise
from engine.wiring.build import build_strategy, uses_models
from engine.wiring.chart import ChartRecorder, chart_indicators
from engine.wiring.dataset import Dataset
from engine.wiring.schema import AppConfig
from replay.report import EquityCurve, ReportData
from replay.report.interactive import PageExtras

__all__ = ["TORCH_THREADS", "Evaluation", "SweepShared", "SweepTask", "evaluate",
           "run_sweep_trial", "torch_threads"]

TORCH_THREADS = 1


@contextmanager
def torch_threads(active: bool, threads: int = TORCH_THREADS) -> Iterator[None]:
    """Torch on ``threads`` intra-op threads while active (restored after)."""
    if not active:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class Evaluation:
    """A finished backtest: the report data and, when kept, the per-bar equity curves of the
    run and of its intrabar bound."""

    data: ReportData
    curve: EquityCurve | None
    bound_curve: EquityCurve | None
    chart: PageExtras | None = None


def evaluate(config: AppConfig, data: Dataset, start_ns: int | None,
             artifacts: Artifacts | None = None, keep_curve: bool = False,
             path: Path_ = "bus", chart: bool = False) -> Evaluation:
    """Backtest ``config`` over ``data`` on ``path``, trading and measuring from
    ``start_ns``; with ``chart`` (bus path), the strategy's indicators for the report
    (:class:`~engine.wiring.chart.ChartRecorder`)."""
    curves = EquityCurves(config, keep_curve=keep_curve, start_ns=start_ns)
    recorder = (ChartRecorder(config.instrument, start_ns,
                              chart_indicators(build_strategy(config)))
                if chart and path == "bus" else None)
    with torch_threads(uses_models(config)):
        run = run_backtest(config, data.chunks, path=path, on_marks=curves,
                           artifacts=artifacts, start_ns=start_ns,
                           tap=None if recorder is None else recorder.on_event)
    counts = {"input_rows": run.input_rows, "rejected_rows": data.rejected,
              "repaired_rows": data.repaired}
    report = summarise(run, curves.run, curves.bound, counts, start_ns, artifacts)
    if not keep_curve:
        return Evaluation(report, None, None)
    return Evaluation(report, curves.curve(), curves.bound_curve(),
                      None if recorder is None else recorder.extras())


@dataclass(frozen=True)
class SweepShared:
    """What every trial of a sweep reads: the data set and the fitted models by key."""

    data: Dataset
    artifacts: dict[str, Artifacts]


@dataclass(frozen=True)
class SweepTask:
    """One trial: its config (the trial's overrides applied), evaluation start and models."""

    index: int
    config: AppConfig
    start_ns: int | None
    artifacts: str
    path: Path_ = "bus"


def run_sweep_trial(shared: SweepShared, task: SweepTask) -> ReportData:
    """The report data of one trial (no trade list: a sweep keeps the metrics)."""
    artifacts = shared.artifacts.get(task.artifacts)
    out = evaluate(task.config, shared.data, task.start_ns, artifacts, path=task.path)
    return msgspec.structs.replace(out.data, trades=[])


def daily_sharpe(sharpe: float, days_per_year: float) -> float:
    """An annualised daily Sharpe ratio back to one day's (``nan`` when undefined)."""
    return float(sharpe / np.sqrt(days_per_year)) if days_per_year > 0 else float("nan")
