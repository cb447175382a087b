"""The live signal daemon: ZeroMQ in, the backtest's session, ZeroMQ signals out (wiring layer).

``algospace live`` runs a :class:`LiveDaemon`:

- **feed** (SUB, connected): bars or ticks as our three-frame messages (:mod:`engine.wire`);
  a message that does not decode is counted by its wire reason and skipped;
- the decoded events go through a :class:`~engine.live_driver.LiveDriver` over the config's
  :class:`~engine.session.TradingSession` (the backtest's components, in its order);
- **publish** (PUB, bound): each order decided becomes a :class:`~engine.events.Signal` with the
  next sequence number; a ``Heartbeat`` every ``heartbeat_s``; publishing never blocks (a slow
  or absent subscriber loses messages, the daemon does not wait);
- **control** (REP, bound): ``status`` (counters, last bar, readiness, models, lag), ``snapshot``
  (makes the journal durable now and says how many records it holds) and ``stop``;
- **journal**: every decoded input and every signal, appended (:mod:`engine.journal`). On
  start the daemon replays the journal's inputs through a fresh session: the state is then
  exactly that of a run that never stopped, and a signal the crash kept from being sent is
  sent now, with its own sequence number; none is sent twice.

``stop`` on the control socket and SIGTERM/SIGINT finish the current message, sync the
journal and return exit status 0.
"""

from __future__ import annotations

import json
import signal
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import zmq

from engine.config import config_id
from engine.events import Bar, ConsensusReached, Event, Heartbeat, OrderIntent, RiskProposal
from engine.events import Signal as SignalEvent
from engine.journal import INPUT, OUTPUT, FsyncPolicy, JournalWriter, read_journal
from engine.live_driver import LiveDriver
from engine.session import TradingSession
from engine.wire import WireError, decode_message, encode_message

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


class SignalMaker:
    """Turns a decision sequence into signals: each ``OrderIntent`` becomes a ``Signal`` with the
    next ``seq``, enriched by the consensus and proposal that preceded it for the same time."""

    def __init__(self, models: Sequence[str], config_hash: str, seq: int = 0) -> None:
        self.models = tuple(models)
        self.config_hash = config_hash
        self.seq = seq
        self.last_close: float = float("nan")

    def on_bar(self, event: Event) -> None:
        """Bus tap: the last bar close (the signals' entry reference)."""
        if type(event) is Bar:
            assert isinstance(event, Bar)
            self.last_close = event.close

    def signals(self, decisions: Sequence[Event]) -> list[SignalEvent]:
        """The signals of ``decisions`` (in order)."""
        out = []
        consensus: ConsensusReached | None = None
        proposal: RiskProposal | None = None
        for d in decisions:
            if type(d) is ConsensusReached:
                assert isinstance(d, ConsensusReached)
                consensus = d
            elif type(d) is RiskProposal:
                assert isinstance(d, RiskProposal)
                proposal = d
            elif type(d) is OrderIntent:
                assert isinstance(d, OrderIntent)
                self.seq += 1
                side = 1.0 if d.action == "buy" else -1.0
                entry = self.last_close
                stop = None if not d.stop_points else entry - side * d.stop_points
                target = None if not d.target_points else entry + side * d.target_points
                out.append(SignalEvent(
                    ts_event=d.ts_event, ts_init=d.ts_init, seq=self.seq,
                    instrument=d.instrument, strategy=d.strategy, action=d.action,
                    size=d.quantity, entry=entry, stop=stop, target=target,
                    stop_points=d.stop_points, target_points=d.target_points, tag=d.tag,
                    gate1_confidence=None if consensus is None else consensus.confidence,
                    gate1_uncertainty=None if consensus is None else consensus.uncertainty,
                    risk_usd=None if proposal is None else proposal.risk_usd,
                    models=self.models, config_id=self.config_hash))
        return out


class LiveDaemon:
    """One live run (module docstring)."""

    def __init__(self, session: TradingSession, settings: LiveSettings,
                 models: Sequence[str] = ()) -> None:
        self.session = session
        self.settings = settings
        self.driver = LiveDriver(session)
        self.maker = SignalMaker(models, config_id(session.config))
        session.bus.add_tap(self.maker.on_bar)
        self.wire_rejected: dict[str, int] = {}
        self.published = 0
        self.heartbeats = 0
        self.replayed = 0
        self._latency: deque[int] = deque(maxlen=100_000)
        self._span = [0, 0]  # first receipt, last message done (perf_counter ns)
        self._stop = False
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()

    def _replay_journal(self) -> list[SignalEvent]:
        """Replay the journal's inputs; return the signals they produce that the journal does
        not hold (decided before a crash, never sent)."""
        path = self.settings.journal
        if not path.exists():
            return []
        sent = 0
        produced: list[SignalEvent] = []
        for record in read_journal(path):
            if record.kind == INPUT:
                self.replayed += 1
                produced += self.maker.signals(self.driver.on_event(record.event))
            elif record.kind == OUTPUT:
                sent += 1
        unsent = [s for s in produced if s.seq > sent]
        if unsent:
            log.warning("live.unsent_signals", count=len(unsent), first_seq=unsent[0].seq)
        return unsent

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        """Stop after the current message (SIGTERM/SIGINT and the control ``stop``)."""
        self._stop = True

    def status(self) -> dict[str, Any]:
        """What the control socket's ``status`` answers."""
        stats = self.driver.stats
        now = time.time_ns()
        return {"received": stats.received, "accepted": stats.accepted,
                "rejected": stats.rejected, "wire_rejected": self.wire_rejected,
                "last_ts": stats.last_ts,
                "lag_ms": None if stats.last_ts is None else (now - stats.last_ts) / 1e6,
                "signals": self.maker.seq, "published": self.published,
                "heartbeats": self.heartbeats, "replayed": self.replayed,
                "ready": {getattr(c, "name", type(c).__name__): bool(getattr(c, "ready", True))
                          for c in self.session.upstream},
                "models": list(self.maker.models), "config_id": self.maker.config_hash,
                "latency_us": self._percentiles(),
                "busy_s": (self._span[1] - self._span[0]) / 1e9}

    def _percentiles(self) -> dict[str, float] | None:
        """Per feed message, from its receipt to its signals published (or its verdict that
        there is none): p50, p99 and max in microseconds over the last 100,000."""
        if not self._latency:
            return None
        ordered = sorted(self._latency)
        n = len(ordered)
        return {"p50": ordered[n // 2] / 1e3, "p99": ordered[min(n - 1, (99 * n) // 100)] / 1e3,
                "max": ordered[-1] / 1e3, "messages": n}

    def run(self) -> int:
        """Serve until stopped; 0 on a graceful stop."""
        unsent = self._replay_journal()
        journal = JournalWriter(self.settings.journal, fsync=self.settings.fsync,
                                clock=time.monotonic)
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
        next_beat = time.monotonic() + self.settings.heartbeat_s
        for message in unsent:
            journal.append(OUTPUT, message)
            self._send(pub, message)
            self.published += 1
        log.info("live.started", replayed=self.replayed, signals=self.maker.seq)
        try:
            while not self._stop:
                ready = dict(poller.poll(self.settings.poll_ms))
                if feed in ready:
                    self._on_feed(feed, pub, journal)
                if control in ready:
                    self._on_control(control, journal)
                now = time.monotonic()
                if now >= next_beat:
                    self.heartbeats += 1
                    t = time.time_ns()
                    self._send(pub, Heartbeat(t, t, "live", self.heartbeats))
                    next_beat = now + self.settings.heartbeat_s
        finally:
            journal.close()
            for sock in (feed, pub, control):
                sock.close(linger=0)
            log.info("live.stopped", **self.status())
        return 0

    def _send(self, pub: zmq.Socket[bytes], event: Event) -> None:
        try:
            pub.send_multipart(encode_message(event), flags=zmq.NOBLOCK)
        except zmq.Again:  # a full queue: the subscriber is too slow; never block
            self.wire_rejected["publish_dropped"] = self.wire_rejected.get(
                "publish_dropped", 0) + 1

    def _on_feed(self, feed: zmq.Socket[bytes], pub: zmq.Socket[bytes],
                 journal: JournalWriter) -> None:
        while True:
            try:
                frames = feed.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            received = time.perf_counter_ns()
            try:
                event = decode_message(frames)
            except WireError as exc:
                self.wire_rejected[exc.reason] = self.wire_rejected.get(exc.reason, 0) + 1
                log.warning("live.bad_message", reason=exc.reason, detail=str(exc)[:200])
                continue
            journal.append(INPUT, event)
            for message in self.maker.signals(self.driver.on_event(event)):
                journal.append(OUTPUT, message)
                self._send(pub, message)
                self.published += 1
            done = time.perf_counter_ns()
            self._latency.append(done - received)
            self._span[0] = self._span[0] or received
            self._span[1] = done
            if self._stop:
                return

    def _on_control(self, control: zmq.Socket[bytes], journal: JournalWriter) -> None:
        request = control.recv().decode(errors="replace").strip()
        if request == "status":
            reply: dict[str, Any] = self.status()
        elif request == "snapshot":
            journal.sync()
            reply = {"journal": str(self.settings.journal), "records": journal.records,
                     "note": "the journal is synced; a restart replays it to this state"}
        elif request == "stop":
            reply = {"stopping": True}
            self._stop = True
        else:
            reply = {"error": f"unknown request {request[:40]!r}; expected status, snapshot "
                              "or stop"}
        control.send(json.dumps(reply).encode())
