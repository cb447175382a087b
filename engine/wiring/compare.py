"""The learned strategy beside the rule-based one and buy-and-hold, on one period (wiring layer).

``algospace backtest --strategy marl`` runs the learned pipeline on its out-of-sample period,
then :func:`compare_baselines` runs, over exactly the same bars and start, the baselines its
plugin declares (``baselines``; the learned strategy's: the rule-based synergy strategy with
fixed 1 contract, 2 ATR stop, reward/risk 2, and buy-and-hold with 1 contract),
each with its own report under ``<run>/baselines/``. :func:`comparison_table` puts the three
side by side: trades, return, Sharpe and Sortino (daily, annualised), drawdown, win rate,
profit factor, the probabilistic Sharpe ratio and the deflated Sharpe ratio with the three
strategies and every configuration the learned model's selection tried as the trials (the
variance of the three strategies' daily Sharpe ratios; Bailey & Lopez de Prado 2014). The
verdict says whether the learned layers add value over the rule-based strategy: only when their
daily Sharpe ratio is higher **and** their DSR is at least 0.95.
"""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np

from engine.wiring.backtest_report import BacktestOutcome, backtest_file
from engine.wiring.plugins import resolve_strategy, selected
from engine.wiring.schema import AppConfig
from replay.metrics import Metrics
from replay.metrics.stats import deflated_sharpe_ratio

__all__ = ["CompareRow", "baseline_configs", "baselines", "compare_baselines",
           "comparison_table", "format_comparison", "read_comparison"]

DSR_NEEDED = 0.95


class CompareRow(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy's figures on the common period (``nan`` where undefined)."""

    strategy: str
    trades: int
    total_return: float
    sharpe: float
    sortino: float
    max_drawdown: float
    win_rate: float
    profit_factor: float
    psr: float
    dsr: float


def read_comparison(path: Path) -> list[CompareRow]:
    """The rows of a run's ``comparison.json`` (JSON's ``null`` read back as ``nan``)."""
    raw = msgspec.json.decode(path.read_bytes())
    return [msgspec.convert({k: math.nan if v is None else v for k, v in row.items()},
                            CompareRow) for row in raw]


def baselines(config: AppConfig) -> tuple[str, ...]:
    """The strategies the selected one is reported beside (its plugin's ``baselines``)."""
    return tuple(selected(config).baselines)


def baseline_configs(config: AppConfig) -> dict[str, AppConfig]:
    """``config`` running each baseline the selected strategy's plugin declares, its table
    with the declared overrides (the learned strategy's: the rule-based synergy strategy with
    fixed sizing, and buy-and-hold)."""
    out = {}
    for name, overrides in selected(config).baselines.items():
        plugin = resolve_strategy(name)
        table = {**config.strategies.get(plugin.key, {}), **overrides}
        out[name] = msgspec.structs.replace(
            config, backtest=msgspec.structs.replace(config.backtest, strategy=name),
            strategies={**config.strategies, plugin.key: table})
    return out


def compare_baselines(config: AppConfig, data_path: Path, out_dir: Path, start_ns: int | None,
                      path: str = "bus") -> dict[str, BacktestOutcome]:
    """The rule-based synergy strategy and buy-and-hold over the same data from ``start_ns``."""
    return {name: backtest_file(cfg, data_path, out_dir / name, path="bus", progress=False,
                                start_ns=start_ns)
            for name, cfg in baseline_configs(config).items()}


def _per_period(m: Metrics) -> float:
    return m.sharpe / math.sqrt(m.days_per_year) if m.days_per_year > 0 else math.nan


def comparison_table(outcomes: dict[str, BacktestOutcome], selection_trials: int = 0
                     ) -> list[CompareRow]:
    """One row per strategy; the DSR counts as trials the strategies compared plus
    ``selection_trials``, the configurations the learned model's selection tried on its
    validation split (its manifest's ``selection_trials``)."""
    metrics = {name: o.data.metrics for name, o in outcomes.items()}
    srs = np.array([_per_period(m) for m in metrics.values()], dtype=np.float64)
    finite = srs[np.isfinite(srs)]
    variance = float(finite.var(ddof=1)) if finite.size > 1 else None
    rows = []
    for name, m in metrics.items():
        dsr = (deflated_sharpe_ratio(_per_period(m), m.days, m.daily_skew, m.daily_kurtosis,
                                     len(metrics) + selection_trials, variance)
               if m.days > 1 else math.nan)
        rows.append(CompareRow(strategy=name, trades=m.trades, total_return=m.total_return,
                               sharpe=m.sharpe, sortino=m.sortino, max_drawdown=m.max_drawdown,
                               win_rate=m.win_rate, profit_factor=m.profit_factor,
                               psr=m.probabilistic_sharpe, dsr=dsr))
    return rows


def verdict(rows: list[CompareRow], learned: str | None = None, rule: str | None = None) -> str:
    """Whether the learned layers add value over the rule-based strategy (module docstring);
    default: the first row over the second (the strategy over its first baseline)."""
    by = {r.strategy: r for r in rows}
    a = by[learned] if learned is not None else rows[0]
    b = by[rule] if rule is not None else rows[1]
    rule = b.strategy
    better = math.isfinite(a.sharpe) and (not math.isfinite(b.sharpe) or a.sharpe > b.sharpe)
    significant = math.isfinite(a.dsr) and a.dsr >= DSR_NEEDED
    why = (f"Sharpe {a.sharpe:.2f} vs {b.sharpe:.2f}, DSR {a.dsr:.2f} (needs >= {DSR_NEEDED})"
           if math.isfinite(a.sharpe) else f"no Sharpe ratio ({a.trades} trades)")
    answer = "yes" if better and significant else "no"
    return f"learned layers add value over {rule}: {answer} ({why})"


def _cell(value: float, spec: str) -> str:
    return "n/a" if not math.isfinite(value) else spec.format(value)


def format_comparison(rows: list[CompareRow]) -> str:
    """The side-by-side table and the verdict, for the terminal."""
    head = (f"{'strategy':<10} {'trades':>6} {'return':>8} {'sharpe':>7} {'sortino':>8} "
            f"{'max DD':>7} {'win':>6} {'PF':>6} {'PSR':>5} {'DSR':>5}")
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.strategy:<10} {r.trades:>6} {_cell(100 * r.total_return, '{:.2f}%'):>8} "
            f"{_cell(r.sharpe, '{:.2f}'):>7} {_cell(r.sortino, '{:.2f}'):>8} "
            f"{_cell(100 * r.max_drawdown, '{:.2f}%'):>7} "
            f"{_cell(100 * r.win_rate, '{:.0f}%'):>6} {_cell(r.profit_factor, '{:.2f}'):>6} "
            f"{_cell(r.psr, '{:.2f}'):>5} {_cell(r.dsr, '{:.2f}'):>5}")
    lines.append(verdict(rows))
    return "\n".join(lines)
