"""The replay driver: historical data through the bus at full speed (wiring layer).

The driver pulls validated chunks from a source (any iterable of ``BarChunk``/``TickChunk``; the
readers in ``replay.data`` stream files), runs the bar aggregators over each chunk with their
batch kernels, merges input rows and completed bars into one stream ordered by
``(ts_event, rank)``, advances the :class:`~engine.core.clock.TestClock` and publishes each event.

Ordering within one timestamp: bars that a gap closed late come first (fast before slow), then
the input row, then bars the input row completed (fast before slow). So a 30-minute bar is
published only at its close, after the 1-minute and 5-minute bars that end with it, and never
earlier: the slow-to-fast look-ahead of the original system cannot occur.

Memory is flat in the number of rows: only the current chunk and its derived events exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

import msgspec
import numpy as np
import structlog

from engine.core.bus import Bus
from engine.core.chunks import BarChunk, TickChunk
from engine.core.clock import TestClock
from engine.core.events import Bar, Tick

__all__ = ["AggregatedColumns", "ChunkAggregator", "ReplayDriver", "ReplayStats"]

log = structlog.get_logger(__name__)


class AggregatedColumns(Protocol):
    """Columns of completed bars produced by an aggregator for one chunk."""

    @property
    def ts_open(self) -> np.ndarray: ...
    @property
    def ts_close(self) -> np.ndarray: ...
    @property
    def open(self) -> np.ndarray: ...
    @property
    def high(self) -> np.ndarray: ...
    @property
    def low(self) -> np.ndarray: ...
    @property
    def close(self) -> np.ndarray: ...
    @property
    def volume(self) -> np.ndarray: ...
    @property
    def before_trigger(self) -> np.ndarray: ...


class ChunkAggregator(Protocol):
    """What the driver needs of a bar aggregator (``components.bars.BarAggregator``)."""

    @property
    def timeframe(self) -> str: ...

    def on_chunk(self, chunk: BarChunk | TickChunk) -> AggregatedColumns: ...

    def flush(self) -> AggregatedColumns: ...


class ReplayStats(msgspec.Struct, kw_only=True):
    """Counters of one replay run."""

    chunks: int = 0
    input_rows: int = 0
    events_published: int = 0
    bars_by_timeframe: dict[str, int] = {}
    first_ts: int | None = None
    last_ts: int | None = None


class _Block(NamedTuple):
    ts_event: np.ndarray
    rank: np.ndarray
    ts_open: np.ndarray
    values: tuple[np.ndarray, ...]  # bars: o, h, l, c, v; ticks: price, size
    source: np.ndarray  # index into the driver's source labels (-1 = tick)


class ReplayDriver:
    """Stream market data through the bus in time order.

    Parameters
    ----------
    bus, clock
        The bus to publish on and the simulated clock it runs under.
    instrument
        Symbol stamped on every event.
    input_timeframe
        Label of the input bars (``"1m"``), or ``None`` when the input is ticks.
    aggregators
        Bar aggregators (fast first, then slow); their completed bars are published.
    publish_input
        Also publish the input rows themselves (1-minute bars or ticks).
    """

    def __init__(
        self,
        bus: Bus,
        clock: TestClock,
        instrument: str,
        input_timeframe: str | None,
        aggregators: Sequence[ChunkAggregator] = (),
        publish_input: bool = True,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._instrument = instrument
        self._input_timeframe = input_timeframe
        self._aggregators = tuple(aggregators)
        self._publish_input = publish_input
        self.stats = ReplayStats()
        labels = [a.timeframe for a in self._aggregators]
        if input_timeframe is not None and publish_input:
            labels.insert(0, input_timeframe)
        self.stats.bars_by_timeframe = dict.fromkeys(labels, 0)

    def run(self, chunks: Iterable[BarChunk | TickChunk], flush: bool = False) -> ReplayStats:
        """Replay every chunk; with ``flush`` also publish the final partial bars."""
        for chunk in chunks:
            self.step_chunk(chunk)
        if flush:
            blocks = [
                self._aggregated_block(agg.flush(), k) for k, agg in enumerate(self._aggregators)
            ]
            self._publish_blocks(blocks)
        log.info("replay.finished", **msgspec.to_builtins(self.stats))
        return self.stats

    def step_chunk(self, chunk: BarChunk | TickChunk) -> None:
        """Aggregate and publish one chunk."""
        self.stats.chunks += 1
        self.stats.input_rows += chunk.rows
        blocks = []
        if self._publish_input:
            blocks.append(self._input_block(chunk))
        for k, agg in enumerate(self._aggregators):
            blocks.append(self._aggregated_block(agg.on_chunk(chunk), k))
        self._publish_blocks(blocks)

    def _input_block(self, chunk: BarChunk | TickChunk) -> _Block:
        if isinstance(chunk, TickChunk):
            n = chunk.rows
            return _Block(chunk.ts, np.zeros(n, np.int64), chunk.ts, (chunk.price, chunk.size),
                          np.full(n, -1, np.int64))
        n = chunk.rows
        values = (chunk.open, chunk.high, chunk.low, chunk.close, chunk.volume)
        return _Block(chunk.ts_close, np.zeros(n, np.int64), chunk.ts_open, values,
                      np.zeros(n, np.int64))

    def _aggregated_block(self, bars: AggregatedColumns, k: int) -> _Block:
        n_aggs = len(self._aggregators)
        late = np.asarray(bars.before_trigger, dtype=bool)
        rank = np.where(late, k - n_aggs, k + 1).astype(np.int64)
        values = (bars.open, bars.high, bars.low, bars.close, bars.volume)
        return _Block(bars.ts_close, rank, bars.ts_open, values,
                      np.full(rank.shape[0], k + 1, np.int64))

    def _publish_blocks(self, blocks: list[_Block]) -> None:
        blocks = [b for b in blocks if b.ts_event.shape[0]]
        if not blocks:
            return
        ts = np.concatenate([b.ts_event for b in blocks])
        order = np.lexsort((np.concatenate([b.rank for b in blocks]), ts))
        ts_list = ts[order].tolist()
        ts_open = np.concatenate([b.ts_open for b in blocks])[order].tolist()
        source = np.concatenate([b.source for b in blocks])[order].tolist()
        padded = [_five(b) for b in blocks]
        columns = [np.concatenate([p[i] for p in padded])[order].tolist() for i in range(5)]
        labels = [self._input_timeframe or "", *(a.timeframe for a in self._aggregators)]
        counts = [0] * len(labels)
        instrument = self._instrument
        advance = self._clock.advance_to
        publish = self._bus.publish
        for t, t_open, src, o, h, lo, c, v in zip(ts_list, ts_open, source, *columns,
                                                  strict=True):
            advance(t)
            if src < 0:
                publish(Tick(ts_event=t, ts_init=t, instrument=instrument, price=c, size=v))
                continue
            publish(Bar(ts_event=t, ts_init=t, instrument=instrument, timeframe=labels[src],
                        ts_open=t_open, open=o, high=h, low=lo, close=c, volume=v))
            counts[src] += 1
        self._count(ts_list, labels, counts)

    def _count(self, ts_list: list[int], labels: list[str], counts: list[int]) -> None:
        stats = self.stats
        stats.events_published += len(ts_list)
        if stats.first_ts is None:
            stats.first_ts = ts_list[0]
        stats.last_ts = ts_list[-1]
        for label, count in zip(labels, counts, strict=True):
            if label and count:
                stats.bars_by_timeframe[label] = stats.bars_by_timeframe.get(label, 0) + count


def _five(block: _Block) -> tuple[np.ndarray, ...]:
    """Bar blocks carry o, h, l, c, v; tick blocks price, size: pad ticks to the same five."""
    if len(block.values) == 5:
        return block.values
    price, size = block.values
    return (price, price, price, price, size)
