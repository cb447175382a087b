"""``algospace replay-journal``: a live journal's inputs through the backtest, its signals
compared one by one (live layer).

The live daemon journals every market event it received and every signal it published
(:mod:`engine.live.journal`). :func:`replay_journal` runs those inputs through the **backtest**
pipeline, not through the live driver (that would compare the live code with itself):

1. the journal's inputs of the config's kind (a ``Bar`` of ``data.bar_interval`` on the
   instrument, or a ``Tick``) go through the backtest reader's own row validation
   (:class:`~replay.data.validate.ChunkValidator` with the config's ``data.validation``
   policies, ``duplicate`` and ``out_of_order`` as ``skip`` as the daemon applies them: see
   :func:`live_order_rules`; its "file lines" are the 1-based journal record numbers), then
   through
   :func:`engine.wiring.backtest.run_backtest` on the bus path, a
   :class:`~engine.live.live.SignalMaker` tapping the bus with the daemon's models and config id;
2. with a warm-up history (``--warmup``, as given to ``algospace live``) its validated chunks
   come first and make no signal; the journal's rows are then validated as the continuation of
   that history (a gap or a duplicate across the seam counts as in one file);
3. the signals made are compared with the journal's, every field, in order.

The first divergence gets a cause, checked in this order:

- ``config``: the live signal was made with another config id or other models;
- ``inputs``: the rows the backtest stepped differ, at or before the signal's time, from the
  rows the live driver accepted (re-derived here with its rules: type, instrument, interval,
  finite values, high and low around open and close, increasing times): a gap bar the reader
  filled, a row it repaired, a row one side dropped and the other kept;
- ``state``: same inputs, different decisions: the state before the journal differed (the
  warm-up history or a snapshot the daemon started from).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec
import numpy as np
import pyarrow as pa

from engine.core.chunks import BarChunk, TickChunk
from engine.core.config import config_id
from engine.core.errors import EngineError, JournalError
from engine.core.events import AnyEvent, Bar, Signal, Tick
from engine.live.journal import INPUT, OUTPUT, scan_journal
from engine.live.live_driver import market_reason
from engine.wiring.schema import DataConfig, LoadedConfig
from replay.data.fields import Block, Fields
from replay.data.rejects import RejectLog, RejectRow
from replay.data.timestamps import TimestampParser, format_ns
from replay.data.validate import ChunkValidator

if TYPE_CHECKING:
    from engine.live.live import SignalMaker
    from engine.wiring.artifacts import Artifacts
    from engine.wiring.schema import AppConfig

__all__ = ["EXIT_DIVERGED", "Divergence", "ReplayResult", "format_result", "replay_journal",
           "replay_journal_command"]

EXIT_DIVERGED = 1
"""Exit status of ``algospace replay-journal`` when the signals diverge (0: identical)."""

Cause = Literal["config", "inputs", "state"]
Market = Bar | Tick
Row = tuple[int, Market]  # (journal record number, event)
_BAR_FIELDS = ("ts_open", "open", "high", "low", "close", "volume")
_TICK_FIELDS = ("price", "size")


class Divergence(msgspec.Struct, frozen=True, kw_only=True):
    """The first signal on which the journal and the backtest disagree.

    ``index`` is its 0-based position in both streams (the signals before it matched);
    ``live``/``backtest`` the two signals there (``None`` for the side that has none at that
    time); ``fields`` the fields that differ when both exist; ``cause`` and ``detail`` why
    (module docstring); ``input_ts`` the first differing input time for cause ``inputs``.
    """

    index: int
    ts_event: int
    live: Signal | None
    backtest: Signal | None
    fields: tuple[str, ...]
    cause: Cause
    detail: str
    input_ts: int | None = None


class ReplayResult(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`replay_journal` found.

    ``inputs``: INPUT records of the journal; ``live_accepted``: those the live driver's rules
    accept; ``replayed``: rows the backtest stepped from the journal (after its validation,
    gap bars included); ``live``/``backtest``: signals on each side; ``matched``: equal
    signals before the divergence (all of them when there is none); ``torn_bytes``: a torn
    tail the reading stopped at.
    """

    journal: str
    inputs: int
    live_accepted: int
    replayed: int
    live: int
    backtest: int
    matched: int
    divergence: Divergence | None
    torn_bytes: int = 0

    @property
    def identical(self) -> bool:
        """Whether every signal matched and both sides made as many."""
        return self.divergence is None


class _RejectRows(RejectLog):
    """A reject log keeping the rejected and repaired rows in memory (no file)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[RejectRow] = []

    @property
    def writes_rows(self) -> bool:
        """Always: the rows name the rule that dropped or changed each journal record."""
        return True

    def write(self, rows: Iterable[RejectRow]) -> None:
        """Keep ``rows``."""
        self.rows.extend(rows)


def replay_journal(config: AppConfig, journal: str | Path, *,
                   artifacts: Artifacts | None = None, models: Sequence[str] = (),
                   warmup: Iterable[BarChunk | TickChunk] = ()) -> ReplayResult:
    """Run the journal's inputs through the backtest and compare the signals (module
    docstring).

    ``artifacts`` and ``models`` are the daemon's (``algospace live`` loads them the same
    way); ``warmup`` the validated chunks of its warm-up history, if it had one.

    Raises
    ------
    JournalError
        The journal is missing, foreign or corrupt (names the file).
    DataError
        A journal record breaks a validation rule whose policy is ``error`` (names the file
        and the record number, e.g. an out-of-order bar under the default
        ``data.validation.out_of_order = "error"``).
    """
    from engine.live.live import SignalMaker
    from engine.wiring.backtest import run_backtest

    path = Path(journal)
    inputs, signals, torn = _read(path)
    stream = _JournalStream(config, path, _market_rows(config, inputs))
    maker = SignalMaker(models, config_id(config))
    run_backtest(config, stream.chunks(warmup, maker), path="bus", artifacts=artifacts,
                 tap=maker.on_event)
    made = maker.take()
    divergence = _first_divergence(signals, made, maker, stream)
    return ReplayResult(
        journal=str(path), inputs=len(inputs), live_accepted=len(stream.live),
        replayed=len(stream.replayed), live=len(signals), backtest=len(made),
        matched=len(signals) if divergence is None else divergence.index,
        divergence=divergence, torn_bytes=torn)


# -- the journal ---------------------------------------------------------------------------


def _read(path: Path) -> tuple[list[tuple[int, AnyEvent]], list[Signal], int]:
    """INPUT events with their record numbers, OUTPUT signals, torn tail bytes."""
    if not path.is_file():
        raise JournalError(f"{path}: expected a journal file, none found")
    scan = scan_journal(path)
    inputs: list[tuple[int, AnyEvent]] = []
    signals: list[Signal] = []
    for number, record in enumerate(scan.records, start=1):
        if record.kind == INPUT:
            inputs.append((number, record.event))
        elif record.kind == OUTPUT:
            if not isinstance(record.event, Signal):
                raise JournalError(f"{path}: record {number} at byte {record.offset}: expected "
                                   f"a Signal output, was {type(record.event).__name__}")
            signals.append(record.event)
    return inputs, signals, scan.torn


def _market_rows(config: AppConfig, inputs: Sequence[tuple[int, AnyEvent]]) -> list[Row]:
    """The inputs of the config's kind, instrument and interval (the others the live driver
    rejects by type and the backtest never reads)."""
    symbol, timeframe = config.instrument_spec.symbol, config.data.bar_interval
    if config.data.kind == "ticks":
        return [(n, e) for n, e in inputs if isinstance(e, Tick) and e.instrument == symbol]
    return [(n, e) for n, e in inputs
            if isinstance(e, Bar) and e.instrument == symbol and e.timeframe == timeframe]


def live_order_rules(data: DataConfig) -> DataConfig:
    """``data`` with the ``duplicate`` and ``out_of_order`` policies the live daemon applies
    whatever the file policy says: ``skip`` (a feed cannot be refused for one late or repeated
    bar; the daemon counts and skips it, so the replay of its journal does too). The config id
    the signals are compared with stays that of the daemon's config."""
    rules = msgspec.structs.replace(data.validation, duplicate="skip", out_of_order="skip")
    return msgspec.structs.replace(data, validation=rules)


class _JournalStream:
    """The journal's market rows as the backtest reads them and as the live driver took
    them."""

    def __init__(self, config: AppConfig, path: Path, rows: list[Row]) -> None:
        self.config = config
        self.path = path
        self.rows = rows
        self.ticks = config.data.kind == "ticks"
        self.rejects = _RejectRows()
        self.replayed: list[tuple[int, tuple[float, ...]]] = []  # (ts, values) per row
        self.live: list[Row] = []
        self.live_rejected: dict[int, str] = {}  # record number -> live reason

    def chunks(self, warmup: Iterable[BarChunk | TickChunk], maker: SignalMaker
               ) -> Iterator[BarChunk | TickChunk]:
        """The warm-up chunks (no signals), then the journal's validated rows."""
        maker.active = False
        last: BarChunk | TickChunk | None = None
        for chunk in warmup:
            yield chunk
            last = chunk
        validated = self._validate(last)
        maker.active = True
        yield from validated

    def _validate(self, warmup_last: BarChunk | TickChunk | None
                  ) -> list[BarChunk | TickChunk]:
        from engine.live.feed import chunk_events

        data = live_order_rules(self.config.data)
        validator = ChunkValidator(data, "close", TimestampParser(data, None), str(self.path),
                                   self.rejects)
        last_ts: int | None = None
        if warmup_last is not None and warmup_last.rows:
            tail = warmup_last if warmup_last.rows == 1 else type(warmup_last)(
                *(column[-1:] for column in warmup_last))
            (event,) = chunk_events(tail, self.config.instrument_spec.symbol,
                                    data.bar_interval)
            assert isinstance(event, Bar | Tick)
            validator.validate(self._fields([(0, event)]))  # the seam: state of one file
            last_ts = event.ts_event
        for number, event in self.rows:
            reason = market_reason(event, last_ts)
            if reason is None:
                self.live.append((number, event))
                last_ts = event.ts_event
            else:
                self.live_rejected[number] = reason
        out: list[BarChunk | TickChunk] = []
        step = data.chunk_rows
        for start in range(0, len(self.rows), step):
            out.extend(validator.validate(self._fields(self.rows[start:start + step])))
        for chunk in out:
            self.replayed.extend(_chunk_rows(chunk))
        return out

    def _fields(self, rows: Sequence[Row]) -> Fields:
        """The rows as the validator's numbers: ``close``-labelled times, NaN missing,
        infinities unreadable, as :func:`replay.data.fields.to_fields` reads a file."""
        events = [e for _, e in rows]
        lines = np.array([n for n, _ in rows], np.int64)
        ts = np.array([e.ts_event for e in events], np.int64)
        names = ("price", "volume") if self.ticks else ("open", "high", "low", "close", "volume")
        attrs = _TICK_FIELDS if self.ticks else names
        values: dict[str, np.ndarray] = {}
        missing: dict[str, np.ndarray] = {}
        bad: dict[str, np.ndarray] = {}
        columns: dict[str, pa.Array] = {
            "timestamp": pa.array(ts, pa.timestamp("ns", tz="UTC")).cast(pa.string())}
        for name, attr in zip(names, attrs, strict=True):
            column = np.array([getattr(e, attr) for e in events], np.float64)
            infinite = np.isinf(column)
            values[name] = np.where(infinite, np.nan, column)
            missing[name] = np.isnan(column)
            bad[name] = infinite
            columns[name] = pa.array(column)

        def raw_rows(positions: np.ndarray) -> list[str]:
            return [_render(events[int(p)]) for p in positions]

        block = Block(lines, columns, raw_rows, (), len(columns))
        none = np.zeros(len(rows), bool)
        return Fields(block, ts, none, none.copy(), values, missing, bad)


def _render(event: Market) -> str:
    return msgspec.json.encode(event).decode()


def _chunk_rows(chunk: BarChunk | TickChunk) -> Iterator[tuple[int, tuple[float, ...]]]:
    if isinstance(chunk, TickChunk):
        for t, p, s in zip(chunk.ts.tolist(), chunk.price.tolist(), chunk.size.tolist(),
                           strict=True):
            yield t, (p, s)
        return
    for o, c, a, h, lo, z, v in zip(*(column.tolist() for column in chunk), strict=True):
        yield c, (o, a, h, lo, z, v)


def _event_values(event: Market) -> tuple[float, ...]:
    names = _TICK_FIELDS if isinstance(event, Tick) else _BAR_FIELDS
    return tuple(float(getattr(event, name)) for name in names)


# -- comparison ----------------------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))


def _differing(a: Signal, b: Signal) -> tuple[str, ...]:
    left, right = msgspec.structs.asdict(a), msgspec.structs.asdict(b)
    return tuple(name for name in left if not _same(left[name], right[name]))


def _first_divergence(live: Sequence[Signal], made: Sequence[Signal], maker: SignalMaker,
                      stream: _JournalStream) -> Divergence | None:
    index = 0
    while index < len(live) and index < len(made):
        a, b = live[index], made[index]
        if a.ts_event != b.ts_event:
            if a.ts_event < b.ts_event:  # the earlier one is the signal the other side lacks
                return _explain(index, a, None, (), live, maker, stream)
            return _explain(index, None, b, (), live, maker, stream)
        fields = _differing(a, b)
        if fields:
            return _explain(index, a, b, fields, live, maker, stream)
        index += 1
    if index < len(live):
        return _explain(index, live[index], None, (), live, maker, stream)
    if index < len(made):
        return _explain(index, None, made[index], (), live, maker, stream)
    return None


def _explain(index: int, a: Signal | None, b: Signal | None, fields: tuple[str, ...],
             live: Sequence[Signal], maker: SignalMaker, stream: _JournalStream) -> Divergence:
    shown = a if a is not None else b
    assert shown is not None
    ts = shown.ts_event
    probe = live[index] if index < len(live) else (live[-1] if live else None)
    if probe is not None and (probe.config_id != maker.config_hash
                              or tuple(probe.models) != maker.models):
        detail = (f"config or models changed: the live signal was made with config "
                  f"{probe.config_id} and models {list(probe.models)}, the replay runs config "
                  f"{maker.config_hash} and models {list(maker.models)}")
        return Divergence(index=index, ts_event=ts, live=a, backtest=b, fields=fields,
                          cause="config", detail=detail)
    found = _input_difference(stream, ts)
    if found is not None:
        input_ts, what = found
        return Divergence(index=index, ts_event=ts, live=a, backtest=b, fields=fields,
                          cause="inputs", detail=f"the inputs differ before it: {what}",
                          input_ts=input_ts)
    return Divergence(index=index, ts_event=ts, live=a, backtest=b, fields=fields,
                      cause="state", detail="same inputs, different decisions: the state "
                      "before the journal differed (warm-up history or snapshot)")


def _input_difference(stream: _JournalStream, until: int) -> tuple[int, str] | None:
    """The first time at or before ``until`` where the rows the live driver accepted and the
    rows the backtest stepped differ, and what differs; ``None`` when they agree."""
    live = [(e.ts_event, _event_values(e), n) for n, e in stream.live]
    replayed = stream.replayed
    rules: dict[int, list[RejectRow]] = {}
    for row in stream.rejects.rows:
        rules.setdefault(row.line, []).append(row)
    names = _TICK_FIELDS if stream.ticks else _BAR_FIELDS
    end = 2**63
    i = j = 0
    while i < len(live) or j < len(replayed):
        lt = live[i][0] if i < len(live) else end
        bt = replayed[j][0] if j < len(replayed) else end
        ts = min(lt, bt)
        if ts > until:
            return None
        when = format_ns(ts)
        if lt > bt:
            return ts, f"{when}: {_extra_row(stream, ts, replayed[j][1], rules)}"
        number = live[i][2]
        found = rules.get(number, [])
        dropped = f"record {number}: the live driver accepted it, the backtest reader dropped it"
        if lt < bt:
            return ts, f"{when}: {dropped}{_by(found)}"
        lv, bv = live[i][1], replayed[j][1]
        changed = [k for k, (x, y) in enumerate(zip(lv, bv, strict=True)) if not _same(x, y)]
        if changed:
            if any(r.action == "skip" for r in found):  # and filled its place with a flat bar
                filled = _filled(stream, ts, bv)
                return ts, f"{when}: {dropped}{_by(found)}; the backtest stepped {filled}"
            diff = ", ".join(f"{names[k]} {lv[k]:g} live, {bv[k]:g} backtest" for k in changed)
            return ts, f"{when}: record {number}: {diff}{_by(found)}"
        i += 1
        j += 1
    return None


def _rules(rows: list[RejectRow]) -> str:
    """The reader's rules on one record, e.g. ``ohlc: repair, 2510.5``."""
    return "; ".join(f"{r.rule}: {r.action}, {r.value}" for r in rows)


def _by(rows: list[RejectRow]) -> str:
    return f" ({_rules(rows)})" if rows else ""


def _extra_row(stream: _JournalStream, ts: int, values: tuple[float, ...],
               rules: dict[int, list[RejectRow]]) -> str:
    """Describe a row the backtest stepped at ``ts`` that the live driver did not accept."""
    for number, event in stream.rows:
        if event.ts_event == ts and number in stream.live_rejected:
            reason, found = stream.live_rejected[number], rules.get(number, [])
            if not any(r.action == "skip" for r in found):
                return (f"record {number}: the live driver rejected it ({reason}), the backtest "
                        f"reader kept it{_by(found)}")
            return (f"record {number}: both sides dropped it (live: {reason}; reader: "
                    f"{_rules(found)}); the backtest stepped {_filled(stream, ts, values)}")
    return f"the backtest stepped {_filled(stream, ts, values)}"


def _filled(stream: _JournalStream, ts: int, values: tuple[float, ...]) -> str:
    """Describe the flat bar the reader inserted at ``ts`` and the gap it filled."""
    after = {n for n, e in stream.rows if e.ts_event > ts}
    for row in stream.rejects.rows:
        if row.rule == "gap" and row.line in after:
            return (f"a flat bar (close {values[-2]:g}, volume 0) the live driver never had: "
                    f"the reader {row.value} before record {row.line} "
                    "(data.validation.gap = repair)")
    return "a row the live driver never had"


# -- command line --------------------------------------------------------------------------


def format_result(result: ReplayResult) -> str:
    """The report ``algospace replay-journal`` prints."""
    lines = [f"journal       {result.journal}: {result.inputs:,} inputs, "
             f"{result.live_accepted:,} accepted by the live rules, {result.replayed:,} rows "
             "stepped by the backtest"]
    if result.torn_bytes:
        lines.append(f"torn tail     {result.torn_bytes} bytes after the last whole record "
                     "(ignored)")
    lines.append(f"signals       {result.live:,} live, {result.backtest:,} backtest")
    d = result.divergence
    if d is None:
        lines.append(f"identical     all {result.live:,} signals match")
        return "\n".join(lines)
    shown = d.live if d.live is not None else d.backtest
    seq = shown.seq if shown is not None else None
    lines.append(f"diverged      at signal {d.index + 1} (seq {seq}), {format_ns(d.ts_event)}; "
                 f"{result.matched:,} matched before it")
    if d.live is None:
        lines.append("              the backtest has a signal the live run does not: "
                     f"{_brief(d.backtest)}")
    elif d.backtest is None:
        lines.append(f"              live has a signal the backtest does not: {_brief(d.live)}")
    else:
        live, made = msgspec.structs.asdict(d.live), msgspec.structs.asdict(d.backtest)
        for name in d.fields:
            lines.append(f"  {name:<16}live {live[name]!r}, backtest {made[name]!r}")
    lines.append(f"cause         {d.cause}: {d.detail}")
    return "\n".join(lines)


def _brief(signal: Signal | None) -> str:
    if signal is None:
        return ""
    return (f"seq {signal.seq} {signal.action} {signal.size} at {signal.entry:g} "
            f"({signal.tag or signal.strategy})")


def replay_journal_command(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    """``algospace replay-journal`` with the config its options name: 0 when every signal
    matches, :data:`EXIT_DIVERGED` when they diverge."""
    from engine.wiring.artifacts import Artifacts, load_artifacts
    from engine.wiring.build import learned, uses_models
    from engine.wiring.pipeline import build_replay_pipeline

    cfg = loaded.config
    artifacts = (load_artifacts(loaded, risk=True, marl=learned(cfg))
                 if uses_models(cfg) else Artifacts())
    models = [f"{r.name}/{r.version}" for r in artifacts.model_refs()]
    warmup: Iterable[BarChunk | TickChunk] = ()
    if args.warmup is not None:
        if not args.warmup.is_file():
            raise EngineError(f"--warmup: expected a history file, was {args.warmup}")
        warmup = build_replay_pipeline(cfg, args.warmup).chunks()
    result = replay_journal(cfg, args.journal, artifacts=artifacts, models=models,
                            warmup=warmup)
    print(format_result(result))
    return 0 if result.identical else EXIT_DIVERGED
