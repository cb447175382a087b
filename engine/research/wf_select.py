"""Walk-forward optimisation: each fold's parameters chosen on its training window (wiring
layer).

With ``algospace walk-forward --grid ...`` every trial of the grid (or random draw) is
backtested on every fold's training window (one task per fold and trial, on the same backend
as the folds); each fold then trades its test window with the trial that scored best on its
training window by the chosen metric (ties: the lowest trial number; trials whose metric is
undefined, say without trades, are never chosen). The choice sees nothing of the test window,
so the stitched out-of-sample result carries the selection's bias only in-sample: its PSR is
the honest figure. ``selection.csv`` lists every fold's trials with their in-sample figures
and the one chosen.

Learned strategies are refitted per fold instead; choosing their parameters here would need a
fit per trial and is refused.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import msgspec

from engine.core.progress import TaskProgress
from engine.research.executor import Backend, TaskFailure
from engine.research.folds import SELECT_METRICS, Fold
from engine.research.trials import evaluate
from engine.wiring.dataset import Dataset
from engine.wiring.schema import AppConfig
from replay.metrics import Metrics
from replay.report.formatting import exact_float

__all__ = ["Candidate", "SelectTask", "SelectionRow", "run_selection_trial",
           "select_per_fold", "write_selection"]



@dataclass(frozen=True)
class Candidate:
    """One trial: its number, parameters and config."""

    trial: int
    params: dict[str, str]
    config: AppConfig


@dataclass(frozen=True)
class SelectTask:
    """One trial on one fold's training window."""

    fold: Fold
    candidate: Candidate


def run_selection_trial(data: Dataset, task: SelectTask) -> Metrics:
    """The trial's figures over the fold's training window alone."""
    fold = task.fold
    window = data.between(fold.train_start, fold.train_end)
    return evaluate(task.candidate.config, window, None).data.metrics


class SelectionRow(msgspec.Struct, frozen=True, kw_only=True):
    """One trial on one fold's training window."""

    fold: int
    trial: int
    params: str
    status: str
    chosen: bool = False
    trades: int = 0
    sharpe: float = math.nan
    sortino: float = math.nan
    total_return: float = math.nan
    max_drawdown: float = math.nan
    calmar: float = math.nan
    profit_factor: float = math.nan
    error: str = ""


def _text(params: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def select_per_fold(data: Dataset, folds: list[Fold], candidates: list[Candidate],
                    metric: str, backend: Backend, retries: int = 1,
                    progress: bool | None = None
                    ) -> tuple[dict[int, Candidate | str], list[SelectionRow]]:
    """Every candidate on every fold's training window; per fold the chosen candidate (or why
    none could be) and the rows of ``selection.csv``."""
    if metric not in SELECT_METRICS:
        raise ValueError(f"--select: expected one of {', '.join(SELECT_METRICS)}, was "
                         f"{metric!r}")
    tasks = [SelectTask(f, c) for f in folds for c in candidates]
    bar = TaskProgress(len(tasks), "selection", "trials", enabled=progress)
    try:
        results = backend.map(run_selection_trial, data, tasks, retries=retries, progress=bar)
    finally:
        bar.close()
    rows: list[SelectionRow] = []
    best: dict[int, tuple[float, int]] = {}
    for task, result in zip(tasks, results, strict=True):
        f, c = task.fold.index, task.candidate
        if isinstance(result, TaskFailure):
            rows.append(SelectionRow(fold=f, trial=c.trial, params=_text(c.params),
                                     status="failed", error=result.error))
            continue
        value = float(getattr(result, metric))
        if math.isfinite(value) and (f not in best or value > best[f][0]):
            best[f] = (value, c.trial)
        rows.append(SelectionRow(
            fold=f, trial=c.trial, params=_text(c.params), status="ok", trades=result.trades,
            sharpe=result.sharpe, sortino=result.sortino, total_return=result.total_return,
            max_drawdown=result.max_drawdown, calmar=result.calmar,
            profit_factor=result.profit_factor))
    by_trial = {c.trial: c for c in candidates}
    chosen: dict[int, Candidate | str] = {}
    for fold in folds:
        if fold.index in best:
            chosen[fold.index] = by_trial[best[fold.index][1]]
        else:
            chosen[fold.index] = (f"no trial has a finite {metric} on the training window "
                                  f"{fold.index} (too few trades?)")
    rows = [msgspec.structs.replace(r, chosen=isinstance(chosen.get(r.fold), Candidate)
                                    and chosen[r.fold].trial == r.trial)  # type: ignore[union-attr]
            for r in rows]
    return chosen, rows


def write_selection(path: Path, rows: list[SelectionRow]) -> None:
    """``selection.csv``: one row per fold and trial."""
    names = [f.name for f in msgspec.structs.fields(SelectionRow)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([exact_float(v) if isinstance(v, float) else
                         ("true" if v is True else "false" if v is False else v)
                         for v in (getattr(row, n) for n in names)])
    path.write_text(buffer.getvalue())
