"""What the backtest report draws besides prices and trades: the strategy's indicators, read
off the bus as the run produced them (wiring layer).

:class:`ChartRecorder` is a bus tap. From the evaluation start on, it keeps

- the strategy's own price indicators: a strategy may declare ``chart_indicators()``, a list
  of :class:`~components.indicators.scalar.ScalarIndicatorConfig` on concrete timeframes (the
  SMA crossover declares its two averages); the recorder runs those components on the bus's
  bars, the warm-up included, so a line is defined from the first evaluated bar;
- NW-RQK's two estimates (``NwrqkValue.yhat1``/``yhat2``) where the pipeline computes them;
- LVN support, resistance and the point of control (``LvnLevels``; a missing level is a gap);
- fair value gaps as zones (``FvgState`` creates one; it ends on the bar that mitigates it,
  ``FvgMitigated``, or on the bar it expires, when the state's active count drops below the
  zones still open: the oldest expire first); the page draws the tallest 2,000;
- the RDE's regime vector (``RegimeVector.mu``) as a timeline panel.

Only events of the run's instrument are kept. Everything comes from the events the decisions
saw, so the chart cannot disagree with them. The batch path has no bus and no recorder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from components.indicators.scalar import ScalarIndicator, ScalarIndicatorConfig
from engine.core.events import (
    Bar,
    Event,
    FvgMitigated,
    FvgState,
    IndicatorValue,
    LvnLevels,
    NwrqkValue,
    RegimeVector,
)
from replay.report.interactive import Line, PageExtras, Timeline, Zone

__all__ = ["ChartRecorder", "chart_indicators"]

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f")


def chart_indicators(strategy: object) -> list[ScalarIndicatorConfig]:
    """The indicators ``strategy`` asks the report to draw (none when it declares none)."""
    declared = getattr(strategy, "chart_indicators", None)
    return list(declared()) if callable(declared) else []


@dataclass
class _Series:
    ts: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, ts: int, value: float | None) -> None:
        self.ts.append(ts)
        self.values.append(math.nan if value is None else value)

    def line(self, name: str, color: str, dash: str = "solid") -> Line:
        return Line(name, np.array(self.ts, dtype=np.int64),
                    np.array(self.values, dtype=np.float64), color, dash)


@dataclass
class _Gap:
    index: int
    start: int
    bottom: float
    top: float
    end: int | None = None


@dataclass
class _Gaps:
    """One timeframe's fair value gaps, from the FVG component's events of each bar: its
    ``FvgState`` (the new gap; the active counts after expiry and mitigation) and then its
    ``FvgMitigated``. The gaps a bar mitigates are named by ``FvgMitigated`` (the largest's age;
    the others of a wide bar are those a returning price meets first); once both events of the
    bar are in, the zones still open beyond the state's count expired, the oldest first."""

    bars: int = 0
    open: dict[int, list[_Gap]] = field(default_factory=lambda: {1: [], -1: []})
    closed: list[tuple[int, _Gap]] = field(default_factory=list)
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)  # side: (count, ts)

    def bar(self) -> None:
        self._expire()
        self.bars += 1

    def mitigated(self, event: FvgMitigated) -> None:
        now = self.bars - 1
        gaps = self.open[event.side]
        older = [g for g in gaps if g.index < now]
        named = [g for g in older if g.index == now - event.age]
        rest = sorted((g for g in older if g not in named),
                      key=lambda g: -g.top if event.side > 0 else g.bottom)
        for gap in (named + rest)[:event.count]:
            self._close(event.side, gap, event.ts_event)

    def state(self, event: FvgState) -> None:
        now = self.bars - 1
        if event.bullish_new or event.bearish_new:
            assert event.new_bottom is not None and event.new_top is not None
            side = 1 if event.bullish_new else -1
            self.open[side].append(_Gap(now, event.ts_event, event.new_bottom, event.new_top))
        self.counts = {1: (event.bullish_count, event.ts_event),
                       -1: (event.bearish_count, event.ts_event)}

    def _expire(self) -> None:
        for side, (count, ts) in self.counts.items():
            while len(self.open[side]) > count:
                self._close(side, self.open[side][0], ts)
        self.counts = {}

    def _close(self, side: int, gap: _Gap, ts: int) -> None:
        self.open[side].remove(gap)
        gap.end = ts
        self.closed.append((side, gap))

    def zones(self, tf: str, start_ns: int, last_ns: int) -> list[Zone]:
        self._expire()
        out = []
        for side, gap in [*self.closed, *((s, g) for s in (1, -1) for g in self.open[s])]:
            end = last_ns if gap.end is None else gap.end
            if end < start_ns:
                continue
            out.append(Zone(f"FVG {tf} {'bullish' if side > 0 else 'bearish'}",
                            max(gap.start, start_ns), end, gap.bottom, gap.top,
                            "#26a69a" if side > 0 else "#ef5350"))
        return out


class ChartRecorder:
    """The tap of the module docstring, for ``instrument`` from ``start_ns`` on."""

    def __init__(self, instrument: str, start_ns: int | None,
                 indicators: Sequence[ScalarIndicatorConfig] = ()) -> None:
        self.instrument = instrument
        self.start_ns = -(2**63) if start_ns is None else start_ns
        self._own = [ScalarIndicator(c) for c in indicators]
        self._lines: dict[tuple[str, str], _Series] = {}
        self._gaps: dict[str, _Gaps] = {}
        self._regime: list[tuple[int, tuple[float, ...]]] = []
        self._last = self.start_ns

    def _series(self, name: str, dash: str = "solid") -> _Series:
        return self._lines.setdefault((name, dash), _Series())

    def on_event(self, event: Event) -> None:
        """Record ``event`` (a bus tap)."""
        if getattr(event, "instrument", self.instrument) != self.instrument:
            return
        match event:
            case Bar():
                self._last = max(self._last, event.ts_event)
                gaps = self._gaps.get(event.timeframe)
                if gaps is not None:
                    gaps.bar()
                for own in self._own:
                    for out in own.on_event(event):
                        if isinstance(out, IndicatorValue) and out.ts_event >= self.start_ns:
                            self._series(f"{out.indicator} {out.timeframe}").add(
                                out.ts_event, out.value)
            case FvgState():
                self._gaps_of(event.timeframe).state(event)
            case FvgMitigated():
                self._gaps_of(event.timeframe).mitigated(event)
            case _ if event.ts_event < self.start_ns:
                return
            case NwrqkValue():
                self._series(f"NW-RQK {event.timeframe}").add(event.ts_event, event.yhat1)
                self._series(f"NW-RQK lag {event.timeframe}", "dashed").add(event.ts_event,
                                                                             event.yhat2)
            case LvnLevels():
                tf = event.timeframe
                self._series(f"LVN support {tf}", "dotted").add(event.ts_event,
                                                                event.support_price)
                self._series(f"LVN resistance {tf}", "dotted").add(event.ts_event,
                                                                   event.resistance_price)
                self._series(f"POC {tf}", "dotdash").add(event.ts_event, event.poc_price)
            case RegimeVector():
                self._regime.append((event.ts_event, tuple(event.mu)))

    def _gaps_of(self, timeframe: str) -> _Gaps:
        gaps = self._gaps.get(timeframe)
        if gaps is None:  # the first FVG event of this timeframe: its bar was just seen
            gaps = self._gaps[timeframe] = _Gaps(bars=1)
        return gaps

    def extras(self) -> PageExtras:
        """What was recorded, for :func:`replay.report.interactive.render_interactive`."""
        lines = [series.line(name, _PALETTE[k % len(_PALETTE)], dash)
                 for k, ((name, dash), series) in enumerate(self._lines.items())
                 if series.ts]
        zones = [z for tf, gaps in self._gaps.items()
                 for z in gaps.zones(tf, self.start_ns, self._last)]
        timelines = []
        if self._regime:
            ts = np.array([t for t, _ in self._regime], dtype=np.int64)
            mu = np.array([m for _, m in self._regime], dtype=np.float64)
            timelines.append(Timeline(
                "regime vector (the RDE's latent mean, one line per dimension)", "mu",
                [Line(f"mu{d}", ts, mu[:, d], _PALETTE[d % len(_PALETTE)])
                 for d in range(mu.shape[1])]))
        return PageExtras(lines=lines, zones=zones, timelines=timelines)
