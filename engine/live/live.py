"""The live signal daemon: ZeroMQ in, the backtest's session, ZeroMQ signals out (live layer).

``algospace live`` runs a :class:`LiveDaemon`:

- **feed** (SUB, connected): bars or ticks as our three-frame messages (:mod:`engine.live.wire`);
  a message that does not decode is counted by its wire reason and skipped;
- the decoded events go through a :class:`~engine.live.live_driver.LiveDriver` over the config's
  :class:`~engine.wiring.session.TradingSession` (the backtest's components, in its order);
- **publish** (PUB, bound): each order decided becomes a :class:`~engine.core.events.Signal` with
the
  next sequence number; a ``Heartbeat`` every ``heartbeat_s``; publishing never blocks (a slow
  or absent subscriber loses messages, the daemon does not wait);
- **control** (REP, bound): ``status`` (counters, last bar, readiness, models, lag, latency),
  ``snapshot`` (writes one now) and ``stop``;
- **journal**: every decoded input and every signal, appended (:mod:`engine.live.journal`);
- **snapshot** (:mod:`engine.live.live_state`): the whole session state, the counters, the signal
  sequence number and the journal position, written atomically every ``snapshot_s``, on
  request and on a graceful stop.

What the feed delivers while the daemon is busy waits on the socket (never dropped) and is
stepped as one chunk (at most ``batch`` messages): the replay is chunk-size invariant, so the
decisions are those of one bar at a time, at a fraction of the per-bar overhead.

Start (:meth:`LiveDaemon.recover`): a valid snapshot is restored and only the journal records
after it are replayed; without one, the warm-up history (``--warmup``, nothing published for
it) and then the whole journal. Either way the state is exactly that of a run that never
stopped, and a signal a crash kept from being sent is sent now with its own sequence number;
none is sent twice. A damaged snapshot is reported and the daemon rebuilds from the history and
the whole journal; a snapshot of another config or other models is refused. Before the first
live bar every kernel is run once on a throwaway copy of the session (:meth:`_precompile`), so
the first bar does not pay for compiling or loading them.

``stop`` on the control socket and SIGTERM/SIGINT finish the current batch, write the snapshot,
sync the journal and return exit status 0.
"""

from __future__ import annotations

import json
import math
import signal
import time
import typing
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import zmq

from engine.core.clock import LiveClock
from engine.core.config import config_id
from engine.core.errors import SnapshotError
from engine.core.events import (
    Bar,
    ConsensusReached,
    Event,
    Heartbeat,
    OrderIntent,
    RiskProposal,
    Tick,
)
from engine.core.events import Signal as SignalEvent
from engine.core.timeframes import parse_timeframe
from engine.live.journal import INPUT, OUTPUT, FsyncPolicy, JournalWriter, read_journal
from engine.live.live_driver import LiveDriver, events_chunk
from engine.live.live_state import (
    LiveSnapshot,
    read_snapshot,
    restore_session,
    session_state,
    write_snapshot,
)
from engine.live.wire import WireError, decode_message, encode_message
from engine.wiring.session import TradingSession

__all__ = ["LiveDaemon", "LiveSettings", "SignalMaker"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LiveSettings:
    """Addresses, journal and timing of one daemon."""

    feed: str
    publish: str
    control: str
    journal: Path
    heartbeat_s: float = 1.0
    fsync: FsyncPolicy = "interval"
    poll_ms: int = 50
    snapshot: Path | None = None
    snapshot_s: float = 60.0
    batch: int = 4096


class SignalMaker:
    """A bus tap turning decisions into signals: each ``OrderIntent`` becomes a ``Signal`` with
    the next ``seq``, its entry the last bar close, enriched by the consensus and proposal
    published before it for the same bar. :meth:`take` hands over the signals made so far.
    While ``active`` is false (warm-up on history) intents make no signal and use no number."""

    def __init__(self, models: Sequence[str], config_hash: str, seq: int = 0) -> None:
        self.models = tuple(models)
        self.config_hash = config_hash
        self.seq = seq
        self.last_close: float = float("nan")
        self.active = True
        self._consensus: ConsensusReached | None = None
        self._proposal: RiskProposal | None = None
        self._pending: list[SignalEvent] = []

    def on_event(self, event: Event) -> None:
        """Bus tap (every delivered event, in order)."""
        kind = type(event)
        if kind is Bar:
            self.last_close = typing.cast(Bar, event).close
        elif kind is ConsensusReached:
            self._consensus = typing.cast(ConsensusReached, event)
        elif kind is RiskProposal:
            self._proposal = typing.cast(RiskProposal, event)
        elif kind is OrderIntent and self.active:
            self._pending.append(self._signal(typing.cast(OrderIntent, event)))

    def take(self) -> list[SignalEvent]:
        """The signals made since the last call, in order."""
        out, self._pending = self._pending, []
        return out

    def _signal(self, d: OrderIntent) -> SignalEvent:
        self.seq += 1
        side = 1.0 if d.action == "buy" else -1.0
        entry = self.last_close
        stop = None if not d.stop_points else entry - side * d.stop_points
        target = None if not d.target_points else entry + side * d.target_points
        consensus = self._consensus
        if consensus is not None and consensus.ts_event != d.ts_event:
            consensus = None
        proposal = self._proposal
        if proposal is not None and proposal.ts_event != d.ts_event:
            proposal = None
        return SignalEvent(
            ts_event=d.ts_event, ts_init=d.ts_init, seq=self.seq,
            instrument=d.instrument, strategy=d.strategy, action=d.action,
            size=d.quantity, entry=entry, stop=stop, target=target,
            stop_points=d.stop_points, target_points=d.target_points, tag=d.tag,
            gate1_confidence=None if consensus is None else consensus.confidence,
            gate1_uncertainty=None if consensus is None else consensus.uncertainty,
            risk_usd=None if proposal is None else proposal.risk_usd,
            models=self.models, config_id=self.config_hash)


class LiveDaemon:
    """One live run (module docstring)."""

    def __init__(self, session: TradingSession, settings: LiveSettings,
                 models: Sequence[str] = (), clock: LiveClock | None = None) -> None:
        self.session = session
        self.settings = settings
        self.driver = LiveDriver(session)
        self.maker = SignalMaker(models, config_id(session.config))
        session.bus.add_tap(self.maker.on_event)
        self.clock = clock or LiveClock()  # wall time: heartbeats and lag; decisions run on
        # the session's simulated clock, advanced by the data's own timestamps
        self.wire_rejected: dict[str, int] = {}
        self.published = 0
        self.heartbeats = 0
        self.replayed = 0
        self.warmed = 0
        self.restored_from: str | None = None
        self.snapshots = 0
        self._latency: deque[int] = deque(maxlen=100_000)
        self._span = [0, 0]  # first receipt, last message done (perf_counter ns)
        self._stop = False
        self._journal: JournalWriter | None = None
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()

    @property
    def snapshot_path(self) -> Path:
        """Where the snapshot is written (``settings.snapshot`` or beside the journal)."""
        return self.settings.snapshot or self.settings.journal.with_suffix(".snapshot")

    # -- start: snapshot, warm-up, journal tail ------------------------------------------------

    def recover(self, warmup: Iterable[Sequence[object]] = ()) -> list[SignalEvent]:
        """Bring the session to where the last run stopped: the snapshot when there is a valid
        one, else the warm-up history (batches of events, nothing published); then the journal
        records after that point. Return the signals the journal tail decided that it does not
        hold (decided before a crash, never sent)."""
        start, sent = self._restore_snapshot()
        if self.restored_from is None:
            self.warm_up(warmup)
        produced: list[SignalEvent] = []
        journal = self.settings.journal
        if journal.exists():
            for record in read_journal(journal, start):
                if record.kind == INPUT:
                    self.replayed += 1
                    self.driver.on_event(record.event)
                    produced += self.maker.take()
                elif record.kind == OUTPUT:
                    sent += 1
        unsent = [s for s in produced if s.seq > sent]
        if unsent:
            log.warning("live.unsent_signals", count=len(unsent), first_seq=unsent[0].seq)
        return unsent

    def _restore_snapshot(self) -> tuple[int, int]:
        """Restore the snapshot if there is a valid one; ``(journal offset, signals sent)``."""
        path = self.snapshot_path
        if not path.exists():
            return 0, 0
        try:
            snap = read_snapshot(path)
        except SnapshotError as exc:  # damaged: rebuild from the warm-up and the whole journal
            log.error("live.snapshot_unreadable", error=str(exc))
            return 0, 0
        if snap.config_id != self.maker.config_hash or tuple(snap.models) != self.maker.models:
            raise SnapshotError(
                f"{path}: taken with config {snap.config_id} and models {snap.models}; this "
                f"daemon runs config {self.maker.config_hash} and models "
                f"{list(self.maker.models)}. Start it with the journal and snapshot of its own "
                "config (--journal), or remove both to start afresh")
        restore_session(self.session, snap.session, str(path))
        stats = self.driver.stats
        stats.received, stats.accepted = snap.received, snap.accepted
        stats.rejected, stats.last_ts = dict(snap.rejected), snap.last_ts
        self.maker.seq, self.maker.last_close = snap.seq, snap.last_close
        self.restored_from = str(path)
        log.info("live.snapshot_restored", path=str(path), journal_offset=snap.journal_offset,
                 seq=snap.seq)
        return snap.journal_offset, snap.seq

    def warm_up(self, batches: Iterable[Sequence[object]]) -> None:
        """Step history through the session without making signals."""
        self.maker.active = False
        try:
            for batch in batches:
                self.warmed += len(batch)
                self.driver.on_events(batch)
        finally:
            self.maker.active = True
        if self.warmed:
            log.info("live.warmed_up", events=self.warmed, last_ts=self.driver.stats.last_ts)

    def snapshot(self) -> dict[str, Any]:
        """Write the snapshot now (between two messages); what was written."""
        journal = self._journal
        if journal is not None:
            journal.sync()
        stats = self.driver.stats
        snap = LiveSnapshot(
            config_id=self.maker.config_hash, models=list(self.maker.models),
            journal_offset=journal.offset if journal is not None else 0,
            journal_records=journal.records if journal is not None else 0,
            seq=self.maker.seq, last_close=self.maker.last_close, received=stats.received,
            accepted=stats.accepted, rejected=dict(stats.rejected), last_ts=stats.last_ts,
            session=session_state(self.session))
        size = write_snapshot(self.snapshot_path, snap)
        self.snapshots += 1
        return {"snapshot": str(self.snapshot_path), "bytes": size,
                "journal_offset": snap.journal_offset, "journal_records": snap.journal_records,
                "seq": snap.seq}

    # -- serving -------------------------------------------------------------------------------

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        """Stop after the current message (SIGTERM/SIGINT and the control ``stop``)."""
        self._stop = True

    def status(self) -> dict[str, Any]:
        """What the control socket's ``status`` answers: valid JSON (a non-finite number is
        ``null``), each nanosecond time also in UTC ISO-8601 (``last_ts_utc``)."""
        from datetime import UTC, datetime

        def utc(ns: int | None) -> str | None:
            if ns is None:
                return None
            seconds, rest = divmod(ns, 1_000_000_000)
            text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            return text + (f".{rest:09d}".rstrip("0") if rest else "") + "Z"

        def finite(value: Any) -> Any:
            if isinstance(value, float):
                return value if math.isfinite(value) else None
            if isinstance(value, dict):
                return {k: finite(v) for k, v in value.items()}
            return value

        stats = self.driver.stats
        now = self.clock.timestamp_ns()
        reply = {"received": stats.received, "accepted": stats.accepted,
                 "rejected": stats.rejected, "wire_rejected": self.wire_rejected,
                 "last_ts": stats.last_ts, "last_ts_utc": utc(stats.last_ts),
                 "lag_ms": None if stats.last_ts is None else (now - stats.last_ts) / 1e6,
                 "signals": self.maker.seq, "published": self.published,
                 "heartbeats": self.heartbeats, "replayed": self.replayed,
                 "warmed_up": self.warmed, "restored_from": self.restored_from,
                 "snapshots": self.snapshots,
                 "equity": self.driver.equity, "position": self.driver.position,
                 "ready": {getattr(c, "name", type(c).__name__): bool(getattr(c, "ready", True))
                           for c in self.session.upstream},
                 "models": list(self.maker.models), "config_id": self.maker.config_hash,
                 "latency_us": self._percentiles(),
                 "busy_s": (self._span[1] - self._span[0]) / 1e9}
        return {k: finite(v) for k, v in reply.items()}

    def _percentiles(self) -> dict[str, float] | None:
        """Per feed message, from its receipt to its signals published (or its verdict that
        there is none): p50, p99 and max in microseconds over the last 100,000."""
        if not self._latency:
            return None
        ordered = sorted(self._latency)
        n = len(ordered)
        return {"p50": ordered[n // 2] / 1e3, "p99": ordered[min(n - 1, (99 * n) // 100)] / 1e3,
                "max": ordered[-1] / 1e3, "messages": n}

    def run(self, warmup: Iterable[Sequence[object]] = ()) -> int:
        """Recover (:meth:`recover`), serve until stopped; 0 on a graceful stop."""
        unsent = self.recover(warmup)
        journal = JournalWriter(self.settings.journal, fsync=self.settings.fsync,
                                clock=time.monotonic)
        self._journal = journal
        if self.restored_from is None and self.warmed:
            self.snapshot()  # a restart needs neither the history file nor its replay
        self._precompile()
        ctx = self._context
        feed = ctx.socket(zmq.SUB)
        feed.setsockopt(zmq.RCVHWM, 0)  # a burst waits here, in order, instead of being dropped
        feed.setsockopt(zmq.SUBSCRIBE, b"")
        feed.connect(self.settings.feed)
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.SNDHWM, 100_000)
        pub.bind(self.settings.publish)
        control = ctx.socket(zmq.REP)
        control.bind(self.settings.control)
        poller = zmq.Poller()
        poller.register(feed, zmq.POLLIN)
        poller.register(control, zmq.POLLIN)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.request_stop)
        now = time.monotonic()
        next_beat = now + self.settings.heartbeat_s
        every = self.settings.snapshot_s
        next_snapshot = now + every if every > 0 else float("inf")
        journal.append_many(OUTPUT, unsent)
        for message in unsent:
            self._send(pub, message)
        log.info("live.started", replayed=self.replayed, warmed_up=self.warmed,
                 restored_from=self.restored_from, signals=self.maker.seq)
        clean = False
        try:
            while not self._stop:
                ready = dict(poller.poll(self.settings.poll_ms))
                if feed in ready:
                    self._on_feed(feed, pub, journal)
                if control in ready:
                    self._on_control(control)
                now = time.monotonic()
                if now >= next_beat:
                    self.heartbeats += 1
                    t = self.clock.timestamp_ns()
                    self._send(pub, Heartbeat(t, t, "live", self.heartbeats), count=False)
                    next_beat = now + self.settings.heartbeat_s
                if now >= next_snapshot:
                    self.snapshot()
                    next_snapshot = now + every
            clean = True
        finally:
            if clean:
                self.snapshot()
            journal.close()
            self._journal = None
            for sock in (feed, pub, control):
                sock.close(linger=0)
            log.info("live.stopped", **self.status())
        return 0

    def _precompile(self) -> None:
        """Run every kernel the live path calls once, so the first live bar does not pay for
        loading or compiling them: a throwaway session restored to this one's state steps a
        copy of the last bar one interval later (or a tick 1 ns later). The live session is
        not touched. Without history there is nothing to copy and the first live bar pays."""
        last = self.driver.stats.last_ts
        close = self.maker.last_close
        if last is None or not math.isfinite(close):
            return
        started = time.perf_counter()
        probe = TradingSession(self.session.config, self.session.artifacts,
                               self.session.start_ns)
        restore_session(probe, session_state(self.session), "precompile")
        if self.driver.ticks:
            event: Bar | Tick = Tick(ts_event=last + 1, ts_init=last + 1,
                                     instrument=self.driver.instrument, price=close, size=0.0)
        else:
            ts = last + parse_timeframe(self.driver.timeframe)
            event = Bar(ts_event=ts, ts_init=ts, instrument=self.driver.instrument,
                        timeframe=self.driver.timeframe, ts_open=last, open=close, high=close,
                        low=close, close=close, volume=0.0)
        probe.step(events_chunk([event], self.driver.ticks))
        log.info("live.precompiled", ms=round((time.perf_counter() - started) * 1e3, 1))

    def _send(self, pub: zmq.Socket[bytes], event: Event, count: bool = True) -> None:
        try:
            pub.send_multipart(encode_message(event), flags=zmq.NOBLOCK)
        except zmq.Again:  # a full queue: the subscriber is too slow; never block
            self.wire_rejected["publish_dropped"] = self.wire_rejected.get(
                "publish_dropped", 0) + 1
            return
        if count:
            self.published += 1

    def _on_feed(self, feed: zmq.Socket[bytes], pub: zmq.Socket[bytes],
                 journal: JournalWriter) -> None:
        """Everything waiting on the feed, in batches of at most ``settings.batch``."""
        limit = self.settings.batch
        while not self._stop:
            events: list[Event] = []
            received: list[int] = []
            while len(received) < limit:
                try:
                    frames = feed.recv_multipart(flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                received.append(time.perf_counter_ns())
                try:
                    events.append(decode_message(frames))
                except WireError as exc:
                    self.wire_rejected[exc.reason] = self.wire_rejected.get(exc.reason, 0) + 1
                    log.warning("live.bad_message", reason=exc.reason, detail=str(exc)[:200])
            if not received:
                return
            journal.append_many(INPUT, events)
            self.driver.on_events(events)
            signals = self.maker.take()
            journal.append_many(OUTPUT, signals)
            for message in signals:
                self._send(pub, message)
            done = time.perf_counter_ns()
            self._latency.extend(done - r for r in received)
            self._span[0] = self._span[0] or received[0]
            self._span[1] = done

    def _on_control(self, control: zmq.Socket[bytes]) -> None:
        request = control.recv().decode(errors="replace").strip()
        if request == "status":
            reply: dict[str, Any] = self.status()
        elif request == "snapshot":
            reply = self.snapshot()
        elif request == "stop":
            reply = {"stopping": True}
            self._stop = True
        else:
            reply = {"error": f"unknown request {request[:40]!r}; expected status, snapshot "
                              "or stop"}
        control.send(json.dumps(reply).encode())
