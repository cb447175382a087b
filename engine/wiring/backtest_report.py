"""A backtest of a data file, end to end: replay, metrics, targets, report (wiring layer).

:func:`backtest_file` streams the configured data through
:func:`engine.wiring.backtest.run_backtest`,
feeds the equity marks of the run and of its intrabar bound into two
:class:`~replay.metrics.EquityAccumulator` s chunk by chunk, then computes the metrics, checks
the targets and writes the report files. Nothing in the summary depends on wall-clock time or
paths, so the same config, data and seed give byte-identical ``summary.json`` and trade files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np

from engine.core.chunks import BarChunk, TickChunk
from engine.core.config import config_id
from engine.core.events import Event, TradeClosed
from engine.core.progress import Progress, estimate_rows
from engine.wiring.artifacts import Artifacts, evaluation_start
from engine.wiring.backtest import BacktestRun, Path_, run_backtest
from engine.wiring.build import build_strategy, execution_timeframe, uses_models
from engine.wiring.chart import ChartRecorder, chart_indicators
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.schema import AppConfig
from replay.broker import Marks
from replay.data.timestamps import format_ns
from replay.metrics import (
    EquityAccumulator,
    Metrics,
    compute_metrics,
    days_per_year_for,
    evaluate_targets,
    trading_day,
)
from replay.report import CostTotals, EquityCurve, ReportData, write_report
from replay.report.interactive import PageExtras, PriceBars

__all__ = ["BacktestOutcome", "EquityCurves", "backtest_file", "fill_assumptions", "summarise",
           "trade_metrics"]


class BacktestOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a finished backtest produced: the report data and the files written."""

    data: ReportData
    files: dict[str, str]

    @property
    def targets_met(self) -> bool:
        """Whether every target passed."""
        return all(t.passed for t in self.data.targets)


class EquityCurves:
    """Equity accumulators for the run and its bound, plus the per-bar curves (``keep_curve``),
    from the evaluation start (``start_ns``) on."""

    def __init__(self, config: AppConfig, keep_curve: bool, start_ns: int | None = None
                 ) -> None:
        spec = config.instrument_spec
        cash = config.backtest.broker.initial_cash
        self.session = (spec.session_open, spec.session_timezone)
        self.run = EquityAccumulator(cash)
        self.bound = EquityAccumulator(cash)
        self.keep_curve = keep_curve
        self.parts: list[Marks] = []
        self.bound_parts: list[Marks] = []
        self.start_ns = start_ns

    def __call__(self, run: Marks, bound: Marks) -> None:
        if self.start_ns is not None:
            run, bound = _since(run, self.start_ns), _since(bound, self.start_ns)
        day = trading_day(run.ts, *self.session)
        self.run.update(run.ts, run.equity, run.position, day)
        self.bound.update(bound.ts, bound.equity, bound.position, day)
        if self.keep_curve and run.ts.shape[0]:
            self.parts.append(run)
            self.bound_parts.append(bound)

    def curve(self) -> EquityCurve:
        """The run's curve (empty without ``keep_curve``)."""
        return _joined(self.parts)

    def bound_curve(self) -> EquityCurve:
        """The bound's curve, on the same bars."""
        return _joined(self.bound_parts)


def _joined(parts: list[Marks]) -> EquityCurve:
    if not parts:
        empty = np.zeros(0, dtype=np.float64)
        return EquityCurve(np.zeros(0, dtype=np.int64), empty, empty)
    return EquityCurve(np.concatenate([p.ts for p in parts]),
                       np.concatenate([p.equity for p in parts]),
                       np.concatenate([p.position for p in parts]))


def _since(marks: Marks, start_ns: int) -> Marks:
    first = int(np.searchsorted(marks.ts, start_ns, side="left"))
    if first == 0:
        return marks
    return Marks(marks.ts[first:], marks.equity[first:], marks.position[first:],
                 marks.cash[first:])


def backtest_file(config: AppConfig, data_path: Path, out_dir: Path, path: Path_ = "bus",
                  progress: bool | None = None, artifacts: Artifacts | None = None,
                  start_ns: int | None = None, tap: Callable[[Event], None] | None = None,
                  page: Callable[[], PageExtras] | None = None) -> BacktestOutcome:
    """Backtest ``data_path`` with ``config``; write the report into ``out_dir``.

    ``progress`` shows a progress bar (``None``: only on a terminal). ``artifacts``: the
    fitted models the config names (a learned strategy needs them; ``backtest.start = "auto"``
    reads their periods). Trading and the metrics start at :func:`evaluation_start`, or at
    ``start_ns`` when given (a baseline measured over another run's period). ``tap`` sees
    every event the bus delivers (the learned run's diagnostics). ``report.html`` draws the
    strategy's indicators (:class:`~engine.wiring.chart.ChartRecorder`, bus path) and what
    ``page()`` returns after the run (the learned run's gate timeline).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if start_ns is None:
        start_ns = evaluation_start(config, artifacts or Artifacts(), models=uses_models(config))
    pipeline = build_replay_pipeline(config, data_path, out_dir / "rejects.csv")
    curves = EquityCurves(config, keep_curve=True, start_ns=start_ns)
    bar = Progress(estimate_rows(data_path), "backtest", enabled=progress)
    prices: list[BarChunk] = []  # the evaluated input bars, for the report's price panel
    chart = (ChartRecorder(config.instrument, start_ns, chart_indicators(build_strategy(config)))
             if config.backtest.report.html and path == "bus" else None)
    taps = [t for t in (tap, None if chart is None else chart.on_event) if t is not None]

    def advance(chunk: BarChunk | TickChunk) -> None:
        last = chunk.ts_close if isinstance(chunk, BarChunk) else chunk.ts
        bar.update(chunk.rows, int(last[-1]) if last.shape[0] else None)
        if config.backtest.report.html and isinstance(chunk, BarChunk):
            shown = chunk if start_ns is None else chunk.since(start_ns)
            if shown.rows:
                prices.append(shown)

    try:
        run = run_backtest(config, pipeline.chunks(), path=path, on_marks=curves,
                           on_chunk=advance, artifacts=artifacts, start_ns=start_ns,
                           tap=_joined_taps(taps))
    finally:
        bar.close()
        pipeline.rejects.close()
    counts = {"input_rows": run.input_rows, "rejected_rows": pipeline.rejects.total_rejected,
              "repaired_rows": pipeline.rejects.rows_repaired}
    data = summarise(run, curves.run, curves.bound, counts, start_ns, artifacts)
    extras = chart.extras() if chart is not None else PageExtras()
    if page is not None:
        extras = _merged(extras, page())
    files = write_report(out_dir, data, curves.curve(), config.backtest.report,
                         *_price_bars(prices, config), extras=extras)
    return BacktestOutcome(data=data, files={k: str(v) for k, v in files.items()})


def _joined_taps(taps: list[Callable[[Event], None]]) -> Callable[[Event], None] | None:
    if len(taps) < 2:
        return taps[0] if taps else None
    first, second = taps

    def both(event: Event) -> None:
        first(event)
        second(event)
    return both


def _merged(a: PageExtras, b: PageExtras) -> PageExtras:
    return PageExtras(lines=a.lines + b.lines, zones=a.zones + b.zones, bands=a.bands + b.bands,
                      timelines=a.timelines + b.timelines, section=a.section + b.section)


def _price_bars(chunks: list[BarChunk], config: AppConfig
                ) -> tuple[PriceBars | None, np.ndarray | None]:
    """The evaluated bars as one series, and buy-and-hold's equity at their closes (one
    contract from the first close, no costs), for the report."""
    if not chunks:
        return None, None
    bars = PriceBars(*(np.concatenate([getattr(c, f) for c in chunks])
                       for f in ("ts_close", "open", "high", "low", "close", "volume")))
    hold = (config.backtest.broker.initial_cash
            + (bars.close - bars.close[0]) * config.instrument_spec.point_value)
    return bars, hold


def summarise(run: BacktestRun, acc: EquityAccumulator, bound_acc: EquityAccumulator,
              extra_counts: dict[str, int] | None = None, start_ns: int | None = None,
              artifacts: Artifacts | None = None) -> ReportData:
    """Metrics, targets, costs, counts and assumptions of a finished run (evaluated from
    ``start_ns``, after what ``artifacts`` were fitted on)."""
    config = run.config
    bt = config.backtest
    days_per_year = days_per_year_for(config.instrument_spec.asset_class, bt.metrics)
    metrics = trade_metrics(acc, run.broker.trades, config, days_per_year)
    bound = trade_metrics(bound_acc, run.bound_trades, config, days_per_year)
    targets = evaluate_targets(metrics, acc.daily_returns(), _pnl(run.broker.trades),
                               bt.targets, bt.metrics, config.seed)
    contracts = sum(f.quantity for f in run.broker.fills)
    exchange_nfa = contracts * (bt.costs.exchange_fee_per_contract
                                + bt.costs.nfa_fee_per_contract)
    costs = CostTotals(
        commission_usd=run.broker.fees_usd - exchange_nfa,
        fees_usd=exchange_nfa,
        slippage_usd=run.broker.slippage_usd,
    )
    counts = {
        **(extra_counts or {}),
        "bars": run.bars,
        "orders": run.intents,
        "fills": len(run.broker.fills),
        "contracts_traded": contracts,
        "rejected_orders": len(run.broker.rejections),
        "trades": len(run.broker.trades),
        "ambiguous_bars": run.broker.ambiguous_bars,
        "ambiguous_bars_bound": run.bound_ambiguous_bars,
        "open_position": run.broker.position,
        **{f"setups_{key}": n for key, n in sorted(run.setups.items())},
        **_trades_by_tag(run.broker.trades),
    }
    exec_tf = execution_timeframe(config)
    return ReportData(
        title=f"{run.strategy.name} on {config.instrument} {exec_tf}",
        strategy=run.strategy.name,
        instrument=config.instrument,
        timeframe=exec_tf,
        config_id=config_id(config),
        metrics=metrics,
        bound=bound,
        intrabar=bt.broker.intrabar,
        targets=targets,
        costs=costs,
        counts=counts,
        assumptions=[*fill_assumptions(config),
                     *_period(start_ns, artifacts, uses_models(config))],
        trades=list(run.broker.trades),
    )


def _period(start_ns: int | None, artifacts: Artifacts | None, models: bool) -> list[str]:
    """The evaluation period and the models behind the decisions, for the assumptions."""
    out = []
    until = artifacts.fitted_until() if artifacts is not None else None
    if start_ns is not None:
        when = (f"after {format_ns(until)}, the end of every period the config's fitted models "
                "were trained or selected on" if until is not None and start_ns == until + 1
                else f"at {format_ns(start_ns)}")
        out.append(f"Trading and every metric start with the first bar closing {when} "
                   "(backtest.start); the bars before only warm the pipeline up.")
    refs = artifacts.model_refs() if artifacts is not None and models else []
    if refs:
        names = ", ".join(f"{r.name}/{r.version}" for r in refs)
        out.append(f"Decisions use the fitted models {names}.")
    return out


def _trades_by_tag(trades: list[TradeClosed]) -> dict[str, int]:
    """``trades_<tag>`` for tagged trades (the synergy strategy tags its pattern)."""
    counts: dict[str, int] = {}
    for t in trades:
        if t.tag:
            key = f"trades_{t.tag}_{t.direction}"
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def fill_assumptions(config: AppConfig) -> list[str]:
    """The fill rules of a run, one sentence each, as every report states them."""
    bt = config.backtest
    spec = config.instrument_spec
    costs = bt.costs
    slip = costs.slippage_ticks
    first = "stop" if bt.broker.intrabar == "pessimistic" else "target"
    other = "target" if first == "stop" else "stop"
    sentences = [
        f"Execution on {execution_timeframe(config)} bars of {spec.symbol} (tick "
        f"{spec.tick_size:g}, ${spec.point_value:,.2f} per point); an order decided at a bar "
        "close executes from the next bar's open, never on the bar that produced it.",
        f"Market, close and time-stop orders fill at the next open with {slip:g} tick(s) "
        f"({slip * spec.tick_size:g} points) of slippage against the trader; stop fills get "
        "the same slippage; limit and target fills are at their price; no fill is placed "
        "outside its bar's high-low range.",
        "A stop or target that the open gaps through fills at the open; limit and stop entries "
        "the open gaps through fill at the open.",
        f"When stop and target both lie inside one bar, the {bt.broker.intrabar} order is "
        f"assumed ({first} first); the bound reports the same run with {other} first.",
        f"Costs per contract per side: ${costs.commission_per_contract:.2f} commission, "
        f"${costs.exchange_fee_per_contract:.2f} exchange fee, "
        f"${costs.nfa_fee_per_contract:.2f} NFA fee"
        + (f", plus {costs.commission_bps:g} bps of the traded notional." if costs.commission_bps
           else "."),
        "Accounting is futures-style: cash accrues realised P&L and costs, equity is cash plus "
        "the open position marked at each bar close; a position still open at the end is "
        "marked, not closed, and is not in the trade list.",
    ]
    if bt.broker.time_stop_bars:
        sentences.append(f"Bracket positions exit at the open after {bt.broker.time_stop_bars} "
                         "bars held (time stop).")
    if bt.broker.flat_at_session_end:
        sentences.append(f"Positions are closed at the close of the last bar before the "
                         f"{spec.session_close} {spec.session_timezone} session close, and "
                         "pending orders are cancelled.")
    return sentences


def trade_metrics(acc: EquityAccumulator, trades: list[TradeClosed], config: AppConfig,
                  days_per_year: float) -> Metrics:
    """The metrics of an equity curve (``acc``) and its closed trades."""
    r = np.array([np.nan if t.r_multiple is None else t.r_multiple for t in trades],
                 dtype=np.float64)
    held = np.array([t.bars_held for t in trades], dtype=np.int64)
    return compute_metrics(acc, _pnl(trades), r, held, config.backtest.metrics, days_per_year,
                           config.seed)


def _pnl(trades: list[TradeClosed]) -> np.ndarray:
    return np.array([t.pnl_usd for t in trades], dtype=np.float64)
