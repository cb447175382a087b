"""Row validation, repair and gap handling for one file, chunk by chunk (data layer).

Rules run in this order for each row, each with the policy set in
:class:`~engine.wiring.schema.ValidationConfig`: ``unparsable``, ``nan``, ``non_positive``,
``negative_volume``, ``ohlc`` (bars), then against the previous accepted row ``duplicate``
(bars only: equal timestamps are legal for ticks), ``out_of_order`` and ``gap`` (bars only). A
row dropped by a rule is not checked further; a repaired row goes on with its repaired values.

Per-row rules are vectorised per chunk; the order rules and the fill of missing prices from the
previous accepted close are one sequential pass (:func:`replay.data.kernels.order_pass_nb`).
The state carried between chunks is the timestamp and close (tick price) of the last accepted
row, so output, counts and reported lines do not depend on the chunk size. With policy
``error`` the earliest offending row in the file raises :class:`~engine.core.errors.DataError`; the
rows before it have been counted and logged.

Repairs: missing prices take the previous accepted close (a row with no accepted row before it
is dropped as ``nan``) and a missing volume becomes 0; a negative volume becomes 0; ``ohlc``
widens high and low to the extremes of the four prices; ``gap`` inserts flat bars (O=H=L=C =
previous close, volume 0) when the gap is a whole number of bars and at most ``max_fill`` long.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from engine.core.chunks import BarChunk, TickChunk
from engine.core.data_config import DataConfig
from engine.core.errors import DataError
from engine.core.timeframes import parse_timeframe
from replay.data import kernels
from replay.data.fields import Fields
from replay.data.rejects import RULES, RejectLog, RejectRow
from replay.data.timestamps import TimestampParser, format_ns

__all__ = ["ChunkValidator"]

_RANK = {rule: i for i, rule in enumerate(RULES)}
_BAR_PRICES = ("open", "high", "low", "close")
_NO_TIME = kernels.NO_TIME


class _Found(NamedTuple):
    """A rule violation: where, which rule, the offending value and "expected X, was Y"."""

    line: int
    rank: int
    rule: str
    value: str
    detail: str


class _Entry(NamedTuple):
    """Rows one rule dropped or repaired in a chunk (``counts`` = bars inserted per gap)."""

    rule: str
    action: str
    lines: np.ndarray
    positions: np.ndarray | None
    counts: np.ndarray | None
    values: list[str]
    raws: list[str]


class _Work:
    """Mutable state of one chunk while the rules run."""

    def __init__(self, fields: Fields) -> None:
        n = len(fields.lines)
        self.fields = fields
        self.n = n
        self.alive = np.ones(n, bool)
        self.values = {name: array.copy() for name, array in fields.values.items()}
        self.entries: list[_Entry] = []
        self.errors: list[_Found] = []
        self.prev_ts = np.full(n, _NO_TIME, dtype=np.int64)
        self.prev_close = np.full(n, np.nan)
        self.gap_missing = np.zeros(n, dtype=np.int64)


class ChunkValidator:
    """Apply the validation rules to the converted chunks of one file, in order.

    Parameters
    ----------
    config
        Kind, bar interval, validation policies and chunk size.
    label
        Whether the file's timestamps mark the bar ``open`` or ``close``.
    parser
        The file's timestamp parser (explains unreadable timestamps).
    source
        The file as given, for messages and the rejects file.
    rejects
        Where rejected and repaired rows are counted.
    """

    def __init__(
        self,
        config: DataConfig,
        label: str,
        parser: TimestampParser,
        source: str,
        rejects: RejectLog,
    ) -> None:
        self._bars = config.kind == "bars"
        self._policy = config.validation
        self._interval = parse_timeframe(config.bar_interval)
        self._max_fill = parse_timeframe(config.validation.max_fill) // self._interval
        self._offset = self._interval if label == "close" else 0
        self._chunk_rows = config.chunk_rows
        self._parser = parser
        self._source = source
        self._rejects = rejects
        self._prices = _BAR_PRICES if self._bars else ("price",)
        self._last_ts = _NO_TIME
        self._last_close = np.nan

    def validate(self, fields: Fields) -> list[BarChunk] | list[TickChunk]:
        """Check one chunk; return its accepted rows, split to at most ``chunk_rows`` each.

        Raises
        ------
        DataError
            At the first row that breaks a rule whose policy is ``error``.
        """
        work = _Work(fields)
        policy = self._policy
        values = work.values
        self._malformed(work)
        self._apply(
            work, "unparsable", fields.ts_bad | _any(fields.bad.values()), policy.unparsable
        )
        pending = self._nan(work)
        self._apply(
            work, "non_positive", _any(values[p] <= 0 for p in self._prices), policy.non_positive
        )
        hit = self._apply(work, "negative_volume", values["volume"] < 0, policy.negative_volume)
        if policy.negative_volume == "repair":
            values["volume"][hit] = 0.0
        if self._bars:
            self._ohlc(work, _ohlc_bad(values) & ~pending)
        self._order(work, pending)
        filled = self._gaps(work) if self._bars else None
        self._finish(work)
        return self._output(work, filled)

    # -- rules on one row ------------------------------------------------------------------

    def _apply(self, work: _Work, rule: str, mask: np.ndarray, policy: str) -> np.ndarray:
        """Act by ``policy`` on the live rows in ``mask``; return their positions."""
        hit = np.flatnonzero(mask & work.alive)
        if hit.size == 0:
            return hit
        if policy == "error":
            work.errors.append(self._found(work, rule, int(hit[0])))
            work.alive[hit] = False
        elif policy == "skip":
            work.alive[hit] = False
            self._entry(work, rule, "skip", hit)
        else:
            self._entry(work, rule, "repair", hit)
        return hit

    def _entry(
        self,
        work: _Work,
        rule: str,
        action: str,
        hit: np.ndarray,
        counts: np.ndarray | None = None,
    ) -> None:
        values: list[str] = []
        raws: list[str] = []
        if self._rejects.writes_rows:
            if counts is not None:
                values = [f"filled {int(k)} bars" for k in counts]
            else:
                values = [self._found(work, rule, int(p)).value for p in hit]
            raws = work.fields.block.raw_rows(hit)
        lines = work.fields.lines[hit]
        work.entries.append(_Entry(rule, action, lines, hit, counts, values, raws))

    def _malformed(self, work: _Work) -> None:
        """Lines with the wrong number of fields are ``unparsable``."""
        block = work.fields.block
        if not block.malformed:
            return
        if self._policy.unparsable == "error":
            bad = block.malformed[0]
            detail = f"expected {block.expected_fields} fields, was {bad.fields}"
            work.errors.append(_Found(bad.line, 0, "unparsable", bad.text, detail))
            return
        lines = np.array([m.line for m in block.malformed], dtype=np.int64)
        texts = [m.text for m in block.malformed] if self._rejects.writes_rows else []
        work.entries.append(_Entry("unparsable", "skip", lines, None, None, texts, texts))

    def _nan(self, work: _Work) -> np.ndarray:
        """Apply ``nan``; return the rows whose missing prices await the previous close."""
        fields = work.fields
        missing_price = _any(fields.missing[p] for p in self._prices)
        missing_volume = fields.missing["volume"]
        if self._policy.nan != "repair":
            mask = fields.ts_missing | missing_price | missing_volume
            self._apply(work, "nan", mask, self._policy.nan)
            return np.zeros(work.n, bool)
        self._apply(work, "nan", fields.ts_missing, "skip")  # a time cannot be made up
        self._apply(work, "nan", missing_volume & ~missing_price, "repair")
        work.values["volume"][missing_volume] = 0.0
        return missing_price & work.alive

    def _ohlc(self, work: _Work, mask: np.ndarray) -> None:
        hit = self._apply(work, "ohlc", mask, self._policy.ohlc)
        if self._policy.ohlc == "repair" and hit.size:
            values = work.values
            stacked = np.vstack([values[p][hit] for p in _BAR_PRICES])
            values["high"][hit] = stacked.max(axis=0)
            values["low"][hit] = stacked.min(axis=0)

    # -- rules against earlier rows ------------------------------------------------------------

    def _order(self, work: _Work, pending: np.ndarray) -> None:
        """Fill pending prices, then apply ``ohlc`` to them and the order rules to all."""
        fields = work.fields
        policy = self._policy
        prices = np.column_stack([work.values[p] for p in self._prices])
        missing = np.column_stack([fields.missing[p] for p in self._prices])
        status = np.empty(work.n, dtype=np.int8)
        kernels.order_pass_nb(
            fields.ts,
            prices,
            missing,
            pending,
            work.alive,
            self._bars and policy.ohlc != "repair",
            not self._bars,
            self._last_ts,
            self._last_close,
            status,
            work.prev_ts,
            work.prev_close,
        )
        for j, name in enumerate(self._prices):
            work.values[name] = prices[:, j].copy()
        self._apply(work, "nan", status == kernels.UNREPAIRABLE, "skip")
        if self._bars:
            self._ohlc(work, status == kernels.OHLC)
            if policy.ohlc == "repair":
                self._ohlc(work, pending & _ohlc_bad(work.values))
        self._apply(work, "nan", pending, "repair")
        if self._bars:
            self._apply(work, "duplicate", status == kernels.DUPLICATE, policy.duplicate)
        self._apply(work, "out_of_order", status == kernels.OUT_OF_ORDER, policy.out_of_order)

    def _gaps(self, work: _Work) -> tuple[np.ndarray, np.ndarray] | None:
        """Find gaps before accepted bars; return (rows after a filled gap, bars to insert)."""
        ts, prev = work.fields.ts, work.prev_ts
        gap = work.alive & (prev != _NO_TIME) & (ts - prev > self._interval)
        if not gap.any():
            return None
        rows = np.flatnonzero(gap)
        delta = ts[rows] - prev[rows]
        missing = (delta - 1) // self._interval
        work.gap_missing[rows] = missing
        if self._policy.gap == "error":
            work.errors.append(self._found(work, "gap", int(rows[0])))
            return None
        fill = (missing <= self._max_fill) & (delta % self._interval == 0)
        if self._policy.gap == "skip" or not fill.any():
            return None
        self._entry(work, "gap", "repair", rows[fill], counts=missing[fill])
        return rows[fill], missing[fill]

    # -- results -------------------------------------------------------------------------------

    def _finish(self, work: _Work) -> None:
        """Count and log what happened up to the first error, then raise that error."""
        first = min(work.errors, key=lambda f: (f.line, f.rank)) if work.errors else None
        lines = work.fields.lines
        before = np.ones(work.n, bool) if first is None else lines < first.line
        rejects = self._rejects
        rows: list[RejectRow] = []
        repaired = np.zeros(work.n, bool)
        for entry in work.entries:
            keep = np.ones(len(entry.lines), bool) if first is None else entry.lines < first.line
            if entry.action == "repair" and entry.positions is not None:
                keep &= work.alive[entry.positions]
                if entry.counts is None:
                    repaired[entry.positions[keep]] = True
            count = int(keep.sum()) if entry.counts is None else int(entry.counts[keep].sum())
            rejects.count(entry.rule, entry.action, count)  # type: ignore[arg-type]
            if entry.values:
                rows.extend(self._rows(entry, keep))
        rejects.add_repaired_rows(int((repaired & before).sum()))
        if rows:
            rows.sort(key=lambda row: (row.line, _RANK[row.rule]))
            rejects.write(rows)
        gaps = np.flatnonzero((work.gap_missing > 0) & before)
        if gaps.size:
            ts = work.fields.ts
            rejects.record_gaps(lines[gaps], work.prev_ts[gaps], ts[gaps], work.gap_missing[gaps])
        if first is not None:
            raise DataError(self._source, first.line, first.rule, first.value, first.detail)

    def _rows(self, entry: _Entry, keep: np.ndarray) -> Iterable[RejectRow]:
        for line, value, raw, kept in zip(entry.lines, entry.values, entry.raws, keep, strict=True):
            if kept:
                yield RejectRow(self._source, int(line), entry.rule, entry.action, value, raw)

    def _output(
        self, work: _Work, filled: tuple[np.ndarray, np.ndarray] | None
    ) -> list[BarChunk] | list[TickChunk]:
        accepted = np.flatnonzero(work.alive)
        if accepted.size == 0:
            return []
        values = work.values
        ts = work.fields.ts[accepted]
        if not self._bars:
            price, size = values["price"][accepted], values["volume"][accepted]
            self._last_ts, self._last_close = int(ts[-1]), float(price[-1])
            return [TickChunk(*parts) for parts in self._split(ts, price, size)]
        columns = [values[name][accepted] for name in (*_BAR_PRICES, "volume")]
        self._last_ts, self._last_close = int(ts[-1]), float(columns[3][-1])
        if filled is not None:
            ts, columns = self._insert_flat_bars(work, accepted, ts, columns, *filled)
        ts_open = ts - self._offset
        ts_close = ts_open + self._interval
        return [BarChunk(*parts) for parts in self._split(ts_open, ts_close, *columns)]

    def _insert_flat_bars(
        self,
        work: _Work,
        accepted: np.ndarray,
        ts: np.ndarray,
        columns: list[np.ndarray],
        rows: np.ndarray,
        counts: np.ndarray,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Insert ``counts[i]`` flat bars before accepted row ``rows[i]``."""
        k = np.zeros(accepted.size, dtype=np.int64)
        k[np.searchsorted(accepted, rows)] = counts
        total = int(k.sum())
        position = np.arange(accepted.size) + np.cumsum(k)
        owner = np.repeat(np.arange(accepted.size), k)
        within = np.arange(total) - np.repeat(np.cumsum(k) - k, k)
        filler = position[owner] - k[owner] + within
        out_ts = np.empty(accepted.size + total, dtype=np.int64)
        out_ts[position] = ts
        out_ts[filler] = work.prev_ts[accepted][owner] + (within + 1) * self._interval
        flat = work.prev_close[accepted][owner]
        out: list[np.ndarray] = []
        for i, column in enumerate(columns):
            merged = np.empty(out_ts.size, dtype=np.float64)
            merged[position] = column
            merged[filler] = 0.0 if i == 4 else flat
            out.append(merged)
        return out_ts, out

    def _split(self, *arrays: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        n, step = len(arrays[0]), self._chunk_rows
        if n <= step:
            return [arrays]
        return [tuple(a[i : i + step] for a in arrays) for i in range(0, n, step)]

    # -- messages ------------------------------------------------------------------------------

    def _found(self, work: _Work, rule: str, p: int) -> _Found:
        """Describe row ``p``'s breach of ``rule``: the offending value and "expected X, was Y"."""
        fields = work.fields
        raw = fields.raw_value
        line = int(fields.lines[p])
        rank = _RANK[rule]
        if rule == "unparsable":
            if fields.ts_bad[p]:
                value = raw("timestamp", p)
                return _Found(line, rank, rule, value, self._parser.explain(value))
            name = next(n for n, bad in fields.bad.items() if bad[p])
            value = raw(name, p)
            return _Found(line, rank, rule, value, f"{name}: expected a number, was {value!r}")
        if rule == "nan":
            name = (
                "timestamp"
                if fields.ts_missing[p]
                else next(n for n, missing in fields.missing.items() if missing[p])
            )
            value = raw(name, p)
            return _Found(line, rank, rule, value, f"{name}: expected a value, was {value!r}")
        if rule == "non_positive":
            name = next(n for n in self._prices if work.values[n][p] <= 0)
            value = raw(name, p)
            return _Found(line, rank, rule, value, f"{name}: expected a price > 0, was {value}")
        if rule == "negative_volume":
            value = raw("volume", p)
            return _Found(line, rank, rule, value, f"volume: expected >= 0, was {value}")
        if rule == "ohlc":
            o, h, low, c = (float(work.values[n][p]) for n in _BAR_PRICES)
            name = "high" if h < max(o, c) or h < low else "low"
            value = raw(name, p) or f"{work.values[name][p]:g}"
            detail = (
                "expected low <= min(open, close) and high >= max(open, close), "
                f"was open={o:g} high={h:g} low={low:g} close={c:g}"
            )
            return _Found(line, rank, rule, value, detail)
        value = raw("timestamp", p)
        ts, before = int(fields.ts[p]), int(work.prev_ts[p])
        if rule == "gap":
            detail = (
                f"expected the next bar at {format_ns(before + self._interval)}, "
                f"was {format_ns(ts)} ({int(work.gap_missing[p])} missing bars)"
            )
            return _Found(line, rank, rule, value, detail)
        was = "the same time" if rule == "duplicate" else format_ns(ts)
        detail = f"expected a time after the previous row's {format_ns(before)}, was {was}"
        return _Found(line, rank, rule, value, detail)


def _any(masks: Iterable[np.ndarray]) -> np.ndarray:
    result: np.ndarray | None = None
    for mask in masks:
        result = mask.copy() if result is None else result | mask
    assert result is not None
    return result


def _ohlc_bad(values: dict[str, np.ndarray]) -> np.ndarray:
    o, h, low, c = (values[n] for n in _BAR_PRICES)
    bad: np.ndarray = (h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low)
    return bad
