"""A walk-forward's files and console table (research layer).

In the run directory: the combined out-of-sample report (``summary.json``, trades, equity,
plots and HTML, as ``algospace backtest`` writes them, from the stitched curve); ``folds.csv``
and ``folds.json`` (one row per fold: the parameters chosen on its training window with their
in-sample figure when the walk-forward selects them, its windows, rows, when its models'
fitting data ended, their names, and the test window's figures with the probabilistic Sharpe
ratio, or the error of a fold that failed every attempt); ``folds/<k>/`` with each fold's own
report and, for learned strategies, the models fitted for it (``folds/<k>/models/``, a
registry folder).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import msgspec

from engine.research.executor import TaskFailure
from engine.research.folds import Fold
from engine.research.walk_forward import FoldOutcome, WalkForward
from engine.wiring.schema import AppConfig
from replay.data.timestamps import format_ns
from replay.report import write_report
from replay.report.formatting import exact_float

__all__ = ["FoldRow", "fold_rows", "format_folds", "write_walk_forward"]


class FoldRow(msgspec.Struct, frozen=True, kw_only=True):
    """One fold in ``folds.csv``."""

    fold: int
    status: str
    params: str = ""
    in_sample: float = math.nan
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    train_rows: int = 0
    test_rows: int = 0
    fitted_until: str = ""
    models: str = ""
    trades: int = 0
    total_return: float = math.nan
    sharpe: float = math.nan
    sortino: float = math.nan
    max_drawdown: float = math.nan
    calmar: float = math.nan
    win_rate: float = math.nan
    profit_factor: float = math.nan
    psr: float = math.nan
    synergy_trades: int = 0
    synergy_return: float = math.nan
    synergy_sharpe: float = math.nan
    buy_hold_return: float = math.nan
    buy_hold_sharpe: float = math.nan
    rde_train_active_units: float = math.nan
    rde_test_active_units: float = math.nan
    rde_test_latent_gain: float = math.nan
    rde_collapsed: float = math.nan
    attempts: int = 1
    error: str = ""


def fold_rows(folds: list[Fold], results: list[FoldOutcome | TaskFailure],
              chosen: dict[int, tuple[str, float]] | None = None) -> list[FoldRow]:
    """One row per fold (windows as ISO UTC, each ``[start, end)``; ``chosen``: a fold's
    parameters chosen on its training window and their in-sample figure)."""
    rows = []
    for fold, result in zip(folds, results, strict=True):
        windows = _windows(fold)
        if chosen is not None and fold.index in chosen:
            params, value = chosen[fold.index]
            windows = msgspec.structs.replace(windows, params=params, in_sample=value)
        if isinstance(result, TaskFailure):
            rows.append(msgspec.structs.replace(windows, status="failed",
                                                attempts=result.attempts, error=result.error))
            continue
        m = result.data.metrics
        rows.append(msgspec.structs.replace(
            windows, train_rows=result.train_rows,
            test_rows=result.test_rows,
            fitted_until="" if result.fitted_until is None else format_ns(result.fitted_until),
            models=" ".join(f"{r.name}/{r.version}" for r in result.model_refs),
            trades=m.trades, total_return=m.total_return, sharpe=m.sharpe, sortino=m.sortino,
            max_drawdown=m.max_drawdown, calmar=m.calmar, win_rate=m.win_rate,
            profit_factor=m.profit_factor, psr=m.probabilistic_sharpe,
            **_yardsticks(result)))
    return rows


def _yardsticks(result: FoldOutcome) -> dict[str, float | int]:
    """The fold's baselines (learned strategies) and its RDE's latent statistics."""
    out: dict[str, float | int] = {}
    synergy, buy_hold = result.baselines.get("synergy"), result.baselines.get("buy_hold")
    if synergy is not None:
        out.update(synergy_trades=synergy.trades, synergy_return=synergy.total_return,
                   synergy_sharpe=synergy.sharpe)
    if buy_hold is not None:
        out.update(buy_hold_return=buy_hold.total_return, buy_hold_sharpe=buy_hold.sharpe)
    for key in ("train_active_units", "test_active_units", "test_latent_gain", "collapsed"):
        if key in result.rde:
            out[f"rde_{key}"] = float(result.rde[key])
    return out


def _windows(fold: Fold) -> FoldRow:
    return FoldRow(fold=fold.index, status="ok", train_start=format_ns(fold.train_start),
                   train_end=format_ns(fold.train_end), test_start=format_ns(fold.test_start),
                   test_end=format_ns(fold.test_end))


def write_walk_forward(out_dir: Path, config: AppConfig, folds: list[Fold], wf: WalkForward,
                       chosen: dict[int, tuple[str, float]] | None = None) -> dict[str, str]:
    """Write the files of the module docstring; return them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = fold_rows(folds, wf.folds, chosen)
    files: dict[str, str] = {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [f.name for f in msgspec.structs.fields(FoldRow)]
    writer.writerow(names)
    for row in rows:
        writer.writerow([exact_float(v) if isinstance(v, float) else v
                         for v in (getattr(row, n) for n in names)])
    (out_dir / "folds.csv").write_text(buffer.getvalue())
    (out_dir / "folds.json").write_bytes(msgspec.json.format(msgspec.json.encode(
        [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
          for k, v in msgspec.to_builtins(r).items()} for r in rows]), indent=2) + b"\n")
    files.update(folds_csv=str(out_dir / "folds.csv"), folds_json=str(out_dir / "folds.json"))
    for result in wf.folds:
        if isinstance(result, TaskFailure):
            continue
        fold_dir = out_dir / "folds" / str(result.fold.index)
        write_report(fold_dir, result.data, result.curve, config.backtest.report)
        for folder, payloads in (("models", result.models),
                                 ("diagnostics", result.diagnostics)):
            for relative, payload in payloads.items():
                path = fold_dir / folder / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(payload)
    if wf.combined is not None:
        written = write_report(out_dir, wf.combined, wf.curve, config.backtest.report)
        files.update({k: str(v) for k, v in written.items()})
    return files


def _fmt(value: float, spec: str) -> str:
    return "n/a" if not math.isfinite(value) else spec.format(value)


def format_folds(rows: list[FoldRow]) -> str:
    """The per-fold table for the terminal."""
    width = 35
    lines = [f"{'fold':>4}  {'test window':<{width}} {'trades':>6} {'return':>8} {'sharpe':>7} "
             f"{'sortino':>8} {'max DD':>7} {'PF':>5} {'PSR':>5}  models fitted until"]
    for r in rows:
        window = f"{r.test_start[:16]} .. {r.test_end[:16]}".replace("T", " ")
        if r.status != "ok":
            lines.append(f"{r.fold:>4}  {window:<{width}} failed after {r.attempts} attempts: "
                         f"{r.error}")
            continue
        lines.append(
            f"{r.fold:>4}  {window:<{width}} {r.trades:>6} "
            f"{_fmt(100 * r.total_return, '{:.2f}%'):>8} {_fmt(r.sharpe, '{:.2f}'):>7} "
            f"{_fmt(r.sortino, '{:.2f}'):>8} "
            f"{_fmt(100 * r.max_drawdown, '{:.2f}%'):>7} {_fmt(r.profit_factor, '{:.2f}'):>5} "
            f"{_fmt(r.psr, '{:.2f}'):>5}  {r.fitted_until[:16] or '-'}")
    learned = [r for r in rows if r.status == "ok" and math.isfinite(r.synergy_return)]
    if learned:
        lines += ["", "the learned stack beside its baselines on each test window (RDE latent: "
                  "active units train/test, latent gain on test)",
                  f"{'fold':>4}  {'learned':>8} {'sharpe':>7}  {'synergy':>8} {'sharpe':>7} "
                  f"{'trades':>6}  {'buy-hold':>8} {'sharpe':>7}  {'RDE latent':<22}"]
        for r in learned:
            latent = (f"{_fmt(r.rde_train_active_units, '{:.0f}')}/"
                      f"{_fmt(r.rde_test_active_units, '{:.0f}')} units, gain "
                      f"{_fmt(r.rde_test_latent_gain, '{:.2f}')}"
                      + (" COLLAPSED" if r.rde_collapsed == 1.0 else ""))
            lines.append(
                f"{r.fold:>4}  {_fmt(100 * r.total_return, '{:.2f}%'):>8} "
                f"{_fmt(r.sharpe, '{:.2f}'):>7}  {_fmt(100 * r.synergy_return, '{:.2f}%'):>8} "
                f"{_fmt(r.synergy_sharpe, '{:.2f}'):>7} {r.synergy_trades:>6}  "
                f"{_fmt(100 * r.buy_hold_return, '{:.2f}%'):>8} "
                f"{_fmt(r.buy_hold_sharpe, '{:.2f}'):>7}  {latent}")
        total = {k: sum(getattr(r, k) for r in learned)
                 for k in ("total_return", "synergy_return", "buy_hold_return")}
        lines.append(f" all  {_fmt(100 * total['total_return'], '{:.2f}%'):>8} {'':>7}  "
                     f"{_fmt(100 * total['synergy_return'], '{:.2f}%'):>8} {'':>7} "
                     f"{sum(r.synergy_trades for r in learned):>6}  "
                     f"{_fmt(100 * total['buy_hold_return'], '{:.2f}%'):>8}   (sum of the "
                     "folds' returns: each fold starts with the same cash)")
    for r in rows:
        if r.params:
            lines.append(f"{r.fold:>4}  chosen on its training window: {r.params} "
                         f"(in-sample {_fmt(r.in_sample, '{:.2f}')})")
    return "\n".join(lines)
