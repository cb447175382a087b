"""Walk-forward evaluation: refit on each fold's training window, trade its test window, stitch
the out-of-sample results (research layer).

Folds come from :func:`engine.research.folds.make_folds` (rolling or anchored, by time). Each fold
is
one task (:func:`run_fold`), run serially or on Ray (:mod:`engine.research.executor`) over the data
set
read once (:mod:`engine.wiring.dataset`):

1. **fit**: when the strategy decides with fitted models (the ``marl`` strategy; ``synergy``
   sized by the M-RMS), :func:`engine.research.refit.fit_models` fits the MMD reference, the RDE,
   the
   M-RMS and the MARL core on the rows of the training window only (``Dataset.between``), and
   the fold refuses models fitted at or after its test start. Rule-based strategies have
   nothing to fit.
2. **test**: a backtest replays the training window (warming the indicators up, deciding
   nothing) and trades the test window: the strategy sees no event before the test start, the
   metrics start there, and the data stops at the test end. For the learned stack (a MARL
   core), the rule-based synergy strategy and buy-and-hold trade the same test window
   (:func:`engine.wiring.compare.baseline_configs`), and the fold records its RDE's latent
   statistics
   (active units, latent gain, collapse flag: docs/rde.md).

The test windows tile the end of the data, so their equity curves join end to end. The
stitched curve adds each fold's P&L to the equity the previous folds ended with (futures
accounting: each fold starts flat with the configured cash; a position still open at a fold's
end is marked there, not carried). The combined metrics, targets and report are computed from
the stitched curve and every fold's trades, as for one backtest; each fold also gets its own
report with its probabilistic Sharpe ratio.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np

from engine.core.chunks import BarChunk
from engine.core.config import config_id
from engine.core.manifest import ModelRef
from engine.core.progress import TaskProgress
from engine.research.executor import Backend, TaskFailure
from engine.research.folds import Fold
from engine.research.refit import fit_models
from engine.research.trials import evaluate, torch_threads
from engine.wiring.backtest_report import fill_assumptions, trade_metrics
from engine.wiring.build import uses_models
from engine.wiring.compare import baseline_configs
from engine.wiring.dataset import Dataset
from engine.wiring.schema import AppConfig
from replay.data.timestamps import format_ns
from replay.metrics import (
    EquityAccumulator,
    Metrics,
    days_per_year_for,
    evaluate_targets,
    trading_day,
)
from replay.report import CostTotals, EquityCurve, ReportData
from replay.report.interactive import PageExtras, PriceBars

__all__ = ["FoldOutcome", "FoldTask", "WalkForward", "run_fold", "stitch", "walk_forward"]


@dataclass(frozen=True)
class FoldTask:
    """One fold: its windows, the config and the name its models are registered under."""

    fold: Fold
    config: AppConfig
    name: str


@dataclass(frozen=True)
class FoldOutcome:
    """A finished fold: the test run's report data and curves, the models fitted for it (their
    files, relative to the models folder), when their fitting data ended, the MARL
    trainer's diagnostics of the fold (gate statistics and the baselines per split; files
    relative to its ``diagnostics`` folder), and the input bars of its test window (for the
    report's price panel; ``None`` for ticks or without ``backtest.report.html``) with the
    strategy's indicators over it (``chart``)."""

    fold: Fold
    data: ReportData
    curve: EquityCurve
    bound_curve: EquityCurve
    models: dict[str, bytes]
    model_refs: list[ModelRef]
    fitted_until: int | None
    train_rows: int
    test_rows: int
    diagnostics: dict[str, bytes] = field(default_factory=dict)
    baselines: dict[str, Metrics] = field(default_factory=dict)
    rde: dict[str, float] = field(default_factory=dict)
    prices: PriceBars | None = None
    chart: PageExtras | None = None


def run_fold(data: Dataset, task: FoldTask) -> FoldOutcome:
    """Fit on the fold's training window, backtest its test window (module docstring)."""
    fold = task.fold
    train = data.between(fold.train_start, fold.train_end)
    config = task.config
    models: dict[str, bytes] = {}
    diagnostics: dict[str, bytes] = {}
    artifacts = None
    fitted_until = None
    if uses_models(config):
        with tempfile.TemporaryDirectory(prefix="algospace-fold-") as tmp, torch_threads(True):
            config, artifacts = fit_models(config, train, Path(tmp), task.name)
            models = _files(Path(tmp) / "models")
            diagnostics = _files(Path(tmp) / "marl" / "diagnostics")
        fitted_until = artifacts.fitted_until()
        artifacts.require_out_of_sample(fold.test_start, f"fold {fold.index}")
    test = data.between(fold.train_start, fold.test_end)
    out = evaluate(config, test, fold.test_start, artifacts, keep_curve=True,
                   chart=config.backtest.report.html)
    assert out.curve is not None and out.bound_curve is not None
    baselines, rde = {}, {}
    if artifacts is not None and artifacts.marl is not None:  # the learned stack's yardsticks
        baselines = {name: evaluate(cfg, test, fold.test_start, artifacts).data.metrics
                     for name, cfg in baseline_configs(config).items()}
    if artifacts is not None and artifacts.rde is not None:
        rde = {k: v for k, v in artifacts.rde.manifest.metrics.items()
               if k.endswith(("_active_units", "_latent_gain")) or k in ("stride", "collapsed")}
    refs = artifacts.model_refs() if artifacts is not None else []
    # the walk-forward's config: the fold's names its models by a temporary path
    report = msgspec.structs.replace(out.data, config_id=config_id(task.config))
    prices = (_bars(data.between(fold.test_start, fold.test_end))
              if config.backtest.report.html else None)
    return FoldOutcome(fold, report, out.curve, out.bound_curve, models, refs, fitted_until,
                       train.rows, test.rows - train.rows, diagnostics, baselines, rde, prices,
                       out.chart)


def _bars(window: Dataset) -> PriceBars | None:
    """The window's input bars as one series (the bars a backtest's report shows); ``None``
    for ticks."""
    chunks = [c for c in window.chunks if isinstance(c, BarChunk) and c.rows]
    if not chunks:
        return None
    return PriceBars(*(np.concatenate([getattr(c, f) for c in chunks])
                       for f in ("ts_close", "open", "high", "low", "close", "volume")))


def _files(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class WalkForward:
    """The outcome: every fold (or its failure) and the stitched out-of-sample run."""

    folds: list[FoldOutcome | TaskFailure]
    combined: ReportData | None
    curve: EquityCurve

    @property
    def failed(self) -> list[TaskFailure]:
        """Folds that failed every attempt."""
        return [f for f in self.folds if isinstance(f, TaskFailure)]


def walk_forward(config: AppConfig, data: Dataset, folds: list[Fold], name: str,
                 backend: Backend, retries: int = 1, progress: bool | None = None,
                 configs: dict[int, AppConfig | str] | None = None) -> WalkForward:
    """Run every fold on ``backend``; stitch the finished ones when none failed.

    ``configs``: a fold's own config (its parameters chosen on its training window,
    :mod:`engine.research.wf_select`), or why it has none (the fold fails without running)."""
    tasks = []
    results: list[FoldOutcome | TaskFailure | None] = [None] * len(folds)
    for k, f in enumerate(folds):
        own = config if configs is None else configs.get(f.index, config)
        if isinstance(own, str):
            results[k] = TaskFailure(index=f.index, attempts=0, error=own)
        else:
            tasks.append((k, FoldTask(f, own, f"{name}-fold{f.index}")))
    bar = TaskProgress(len(tasks), "walk-forward", "folds", enabled=progress)
    try:
        ran = backend.map(run_fold, data, [t for _, t in tasks], retries=retries,
                          progress=bar)
    finally:
        bar.close()
    for (k, _), result in zip(tasks, ran, strict=True):
        results[k] = result
    finished = [r for r in results if r is not None]
    done = [r for r in finished if isinstance(r, FoldOutcome)]
    if len(done) < len(folds):
        return WalkForward(finished, None, _empty_curve())
    combined, curve = stitch(config, done, len(folds))
    return WalkForward(finished, combined, curve)


def _empty_curve() -> EquityCurve:
    empty = np.zeros(0, dtype=np.float64)
    return EquityCurve(np.zeros(0, dtype=np.int64), empty, empty)


def _stitched(curves: list[EquityCurve], cash: float) -> EquityCurve:
    parts_equity = []
    offset = 0.0
    for curve in curves:
        parts_equity.append(curve.equity + offset)
        if curve.equity.shape[0]:
            offset += float(curve.equity[-1]) - cash
    if not curves:
        return _empty_curve()
    return EquityCurve(np.concatenate([c.ts for c in curves]), np.concatenate(parts_equity),
                       np.concatenate([c.position for c in curves]))


def _accumulate(config: AppConfig, curve: EquityCurve) -> EquityAccumulator:
    spec = config.instrument_spec
    acc = EquityAccumulator(config.backtest.broker.initial_cash)
    if curve.ts.shape[0]:
        day = trading_day(curve.ts, spec.session_open, spec.session_timezone)
        acc.update(curve.ts, curve.equity, curve.position, day)
    return acc


def stitch(config: AppConfig, folds: list[FoldOutcome], planned: int
           ) -> tuple[ReportData, EquityCurve]:
    """The combined out-of-sample report of ``folds`` (in time order) and its stitched curve."""
    cash = config.backtest.broker.initial_cash
    bt = config.backtest
    curve = _stitched([f.curve for f in folds], cash)
    bound_curve = _stitched([f.bound_curve for f in folds], cash)
    trades = [t for f in folds for t in f.data.trades]
    days_per_year = days_per_year_for(config.instrument_spec.asset_class, bt.metrics)
    acc = _accumulate(config, curve)
    metrics = trade_metrics(acc, trades, config, days_per_year)
    bound_trades = trades  # the bound's trades are not kept per fold; its curve is
    bound = trade_metrics(_accumulate(config, bound_curve), bound_trades, config,
                          days_per_year)
    pnl = np.array([t.pnl_usd for t in trades], dtype=np.float64)
    targets = evaluate_targets(metrics, acc.daily_returns(), pnl, bt.targets, bt.metrics,
                               config.seed)
    counts: dict[str, int] = {"folds": len(folds)}
    for f in folds:
        for key, value in f.data.counts.items():
            if key in ("rejected_rows", "repaired_rows"):
                counts[key] = value  # the data set's, the same in every fold
            elif key in ("bars", "input_rows"):  # each fold replays its training window too
                counts[f"{key}_replayed"] = counts.get(f"{key}_replayed", 0) + value
            elif key != "open_position":
                counts[key] = counts.get(key, 0) + value
    costs = CostTotals(commission_usd=sum(f.data.costs.commission_usd for f in folds),
                       fees_usd=sum(f.data.costs.fees_usd for f in folds),
                       slippage_usd=sum(f.data.costs.slippage_usd for f in folds))
    first, last = folds[0].fold, folds[-1].fold
    sentences = [
        f"Walk-forward over {len(folds)} of {planned} folds: test windows "
        f"{format_ns(first.test_start)} .. {format_ns(last.test_end)} back to back, each "
        "traded by a run that saw no data after it and, for learned strategies, models fitted "
        "only on that fold's training window.",
        "The equity curve is stitched from the folds' out-of-sample curves: each fold starts "
        "flat with the configured cash and adds its P&L to the equity the previous folds ended "
        "with; a position open at a fold's end is marked there, not carried into the next.",
        "The intrabar bound is stitched the same way from the folds' bound curves; its trade "
        "statistics are those of the run.",
    ]
    data = ReportData(
        title=f"walk-forward {folds[0].data.strategy} on {config.instrument} "
              f"{folds[0].data.timeframe} ({len(folds)} folds)",
        strategy=folds[0].data.strategy, instrument=config.instrument,
        timeframe=folds[0].data.timeframe, config_id=config_id(config),
        metrics=metrics, bound=bound, intrabar=bt.broker.intrabar, targets=targets,
        costs=costs, counts=counts, assumptions=[*sentences, *fill_assumptions(config)],
        trades=trades)
    return data, curve

