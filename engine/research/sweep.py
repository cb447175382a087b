"""Parameter sweeps: one backtest per trial over one data set, the results table and the
deflated Sharpe ratio of the best trial (research layer).

Trials come from :mod:`engine.research.search` (a grid or a random draw); each is the base config
with
the trial's ``--set`` overrides, validated up front in this process (a trial whose values the
config refuses, say ``fast >= slow``, is listed as ``invalid`` with the reason and never run).
The trials run on a :mod:`engine.research.executor` backend over the data set read once; fitted
models are loaded once per distinct set and shipped with the data. A trial that fails every
attempt is listed as ``failed`` with its error.

Selection bias: the best of many trials looks better than it is. :func:`significance` states
its significance honestly with the deflated Sharpe ratio (Bailey & Lopez de Prado 2014): the
probability that its true daily Sharpe ratio exceeds the expected maximum of ``N`` unskilled
trials, where ``N`` is the number of trials actually run (failed ones included: they were
tried) and the variance is that of the daily Sharpe ratios the finished trials measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from engine.core.config import config_id
from engine.core.errors import ConfigError, EngineError
from engine.core.progress import TaskProgress
from engine.research.executor import Backend, TaskFailure
from engine.research.search import Trial
from engine.research.trials import SweepShared, SweepTask, daily_sharpe, run_sweep_trial
from engine.wiring.artifacts import Artifacts, evaluation_start, load_artifacts
from engine.wiring.backtest import Path_
from engine.wiring.build import learned, uses_models
from engine.wiring.dataset import Dataset
from engine.wiring.schema import LoadedConfig, load_app_config
from replay.metrics.stats import deflated_sharpe_ratio, expected_max_sharpe
from replay.report import ReportData

__all__ = ["SweepRow", "SweepSummary", "plan_sweep", "run_sweep", "significance"]

Status = str  # "ok" | "failed" | "invalid"


class SweepRow(msgspec.Struct, frozen=True, kw_only=True):
    """One trial's parameters, status and figures (``nan`` where undefined or not run)."""

    trial: int
    params: dict[str, str]
    status: str
    attempts: int = 0
    error: str = ""
    config_id: str = ""
    trades: int = 0
    total_return: float = math.nan
    annual_return: float = math.nan
    sharpe: float = math.nan
    sortino: float = math.nan
    max_drawdown: float = math.nan
    calmar: float = math.nan
    win_rate: float = math.nan
    profit_factor: float = math.nan
    days: int = 0
    sharpe_daily: float = math.nan
    daily_skew: float = math.nan
    daily_kurtosis: float = math.nan
    psr: float = math.nan
    dsr: float = math.nan
    targets_passed: bool = False


class SweepSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The sweep's counts and the best trial's significance."""

    trials: int
    run: int
    ok: int
    failed: int
    invalid: int
    sharpe_variance_daily: float
    expected_max_sharpe_daily: float
    best_trial: int | None
    best_params: dict[str, str]
    best_sharpe: float
    best_psr: float
    best_dsr: float


@dataclass(frozen=True)
class SweepPlan:
    """The trials to run (tasks), the shared data and models, and the invalid trials."""

    tasks: list[SweepTask]
    trials: dict[int, Trial]
    shared: SweepShared
    invalid: list[SweepRow]


def _artifacts_key(artifacts: Artifacts) -> str:
    return "|".join(f"{r.name}/{r.version}/{r.sha256}" for r in artifacts.model_refs())


def _load(loaded: LoadedConfig, loads: dict[bytes, Artifacts]) -> Artifacts:
    """The config's models, loaded and checked once per distinct set of what the loading reads
    (the model paths, the synergy settings they were trained on, instrument and timeframes)."""
    cfg = loaded.config
    marl = learned(cfg)
    key = msgspec.json.encode([
        str(loaded.path), cfg.indicators.mmd, cfg.regime, cfg.risk,
        None if cfg.marl is None else cfg.marl.model, cfg.synergy, cfg.instrument,
        cfg.timeframes, marl])
    if key not in loads:
        loads[key] = load_artifacts(loaded, risk=True, marl=marl)
    return loads[key]


def _without_path(message: str, path: Path) -> str:
    """The first line of an error without the config file's path in front (the results
    hold no path: the same sweep writes the same bytes from any directory)."""
    line = message.splitlines()[0]
    for prefix in (f"{path}: ", f"{Path(path).resolve()}: "):
        if line.startswith(prefix):
            line = line[len(prefix):]
    return line[:500]


def plan_sweep(loaded: LoadedConfig, overrides: Sequence[str], trials: Sequence[Trial],
               data: Dataset, path: Path_ = "bus") -> SweepPlan:
    """Validate every trial's config and load its models (once per distinct set); the trials
    run on the backtest's ``path`` (``batch``: strategies with a batch form)."""
    tasks: list[SweepTask] = []
    invalid: list[SweepRow] = []
    by_key: dict[str, Artifacts] = {}
    loads: dict[bytes, Artifacts] = {}
    for trial in trials:
        for o in trial.overrides:
            if o.split("=", 1)[0].strip().split(".")[0] == "data":
                raise ConfigError(f"--grid {o}: the data set is read once for every trial; "
                                  "sweep it with separate runs (or --data)")
        try:
            trial_loaded = load_app_config(loaded.path, [*overrides, *trial.overrides])
            cfg = trial_loaded.config
            artifacts = Artifacts()
            if uses_models(cfg) or cfg.backtest.start == "auto":
                artifacts = _load(trial_loaded, loads)
            start = evaluation_start(cfg, artifacts, models=uses_models(cfg))
        except EngineError as exc:
            invalid.append(SweepRow(trial=trial.index, params=trial.params, status="invalid",
                                    error=_without_path(str(exc), loaded.path)))
            continue
        key = _artifacts_key(artifacts)
        by_key.setdefault(key, artifacts)
        tasks.append(SweepTask(trial.index, cfg, start, key, path))
    return SweepPlan(tasks, {t.index: t for t in trials}, SweepShared(data, by_key), invalid)


def run_sweep(plan: SweepPlan, backend: Backend, retries: int = 1,
              progress: bool | None = None) -> tuple[list[SweepRow], SweepSummary]:
    """Run the plan's trials; the rows (in trial order) and the summary."""
    bar = TaskProgress(len(plan.tasks), "sweep", "trials", enabled=progress)
    try:
        results = backend.map(run_sweep_trial, plan.shared, plan.tasks, retries=retries,
                              progress=bar)
    finally:
        bar.close()
    rows = list(plan.invalid)
    for task, result, attempts in zip(plan.tasks, results, backend.attempts, strict=True):
        params = plan.trials[task.index].params
        if isinstance(result, TaskFailure):
            rows.append(SweepRow(trial=task.index, params=params, status="failed",
                                 attempts=result.attempts, error=result.error,
                                 config_id=config_id(task.config)))
        else:
            rows.append(_row(task, params, result, attempts))
    rows.sort(key=lambda r: r.trial)
    return significance(rows)


def _row(task: SweepTask, params: dict[str, str], data: ReportData, attempts: int
         ) -> SweepRow:
    m = data.metrics
    return SweepRow(
        trial=task.index, params=params, status="ok", attempts=attempts,
        config_id=data.config_id,
        trades=m.trades, total_return=m.total_return, annual_return=m.annual_return,
        sharpe=m.sharpe, sortino=m.sortino, max_drawdown=m.max_drawdown, calmar=m.calmar,
        win_rate=m.win_rate, profit_factor=m.profit_factor, days=m.days,
        sharpe_daily=daily_sharpe(m.sharpe, m.days_per_year), daily_skew=m.daily_skew,
        daily_kurtosis=m.daily_kurtosis, psr=m.probabilistic_sharpe,
        targets_passed=all(t.passed for t in data.targets))


def significance(rows: list[SweepRow]) -> tuple[list[SweepRow], SweepSummary]:
    """Each finished trial's DSR against ``N`` = the trials run and the variance of their
    daily Sharpe ratios; the summary names the best trial (highest Sharpe ratio)."""
    run = [r for r in rows if r.status in ("ok", "failed")]
    ok = [r for r in rows if r.status == "ok"]
    srs = np.array([r.sharpe_daily for r in ok], dtype=np.float64)
    finite = srs[np.isfinite(srs)]
    variance = float(finite.var(ddof=1)) if finite.size > 1 else math.nan
    n = len(run)
    out = []
    for r in rows:
        if r.status == "ok" and math.isfinite(r.sharpe_daily) and r.days > 1:
            dsr = deflated_sharpe_ratio(r.sharpe_daily, r.days, r.daily_skew,
                                        r.daily_kurtosis, n,
                                        variance if math.isfinite(variance) else None)
            r = msgspec.structs.replace(r, dsr=dsr)
        out.append(r)
    ranked = [r for r in out if r.status == "ok" and math.isfinite(r.sharpe)]
    best = max(ranked, key=lambda r: (r.sharpe, -r.trial)) if ranked else None
    summary = SweepSummary(
        trials=len(rows), run=n, ok=len(ok), failed=n - len(ok), invalid=len(rows) - n,
        sharpe_variance_daily=variance,
        expected_max_sharpe_daily=(expected_max_sharpe(n, variance)
                                   if n >= 1 and math.isfinite(variance) else math.nan),
        best_trial=None if best is None else best.trial,
        best_params={} if best is None else best.params,
        best_sharpe=math.nan if best is None else best.sharpe,
        best_psr=math.nan if best is None else best.psr,
        best_dsr=math.nan if best is None else best.dsr)
    return out, summary
