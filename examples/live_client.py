"""A subscriber to the signals of ``algospace live``, with nothing but pyzmq and msgspec.

This file is standalone: it imports the standard library, ``zmq`` and ``msgspec`` only (no
engine, no torch, no numpy), so it runs in any environment with ``pip install pyzmq msgspec``.

Wire format (``engine/live/wire.py``, ``engine/core/events.py``)
-------------------------------------------------------
The daemon binds a ZeroMQ PUB socket (``--publish``). Every message has three frames:

1. topic, ASCII: ``signal.<instrument>`` for a :class:`Signal`, ``heartbeat.`` for a
   :class:`Heartbeat`; subscribe to a prefix (``--topic``) to filter;
2. schema version, ASCII decimal: ``1``;
3. payload: one msgpack map, the event's fields by name plus ``"type"``, the tag naming the
   event (``"Signal"`` or ``"Heartbeat"``). Times (``ts_event``, ``ts_init``) are integer
   nanoseconds since the UNIX epoch, UTC.

A ``Signal`` is one order a strategy decided; ``seq`` counts them from 1 with no gap and no
duplicate, across daemon restarts; ``ts_event`` is the close of the bar it was decided on and
``entry`` that bar's close (the order fills at the next bar's open). A ``Heartbeat`` comes every
``--heartbeat`` seconds (default 1), ``sequence`` counting from 1 in each daemon process.
Sends never block the daemon: a subscriber that does not keep up, or was not connected yet,
misses messages, which the sequence check below reports as a gap.

The daemon's control socket (REP, ``--control``) answers the request ``status`` with one JSON
object (counters, ``last_ts`` and ``last_ts_utc`` of the last bar, lag, paper equity and
position, readiness, models, latency).

Running it
----------
::

    algospace live --config config/btcusd_1h.toml --strategy synergy \\
        --feed tcp://127.0.0.1:5555 --publish tcp://127.0.0.1:5556 --control tcp://127.0.0.1:5557
    python examples/live_client.py --signals tcp://127.0.0.1:5556 --control tcp://127.0.0.1:5557
    algospace feed --config config/btcusd_1h.toml --publish tcp://127.0.0.1:5555

One line per signal goes to stdout (``--json``: one JSON object per line, every field, times
also in UTC ISO-8601); sequence gaps and duplicates, malformed messages and the final summary
go to stderr. Exit status: 0 after ``--count`` signals, 1 when ``--timeout`` seconds passed
with no message, the status request went unanswered or an address is invalid, 130 on Ctrl-C
(or SIGTERM), each with one line on stderr.
"""

import argparse
import json
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
import zmq

WIRE_VERSION = b"1"  # engine.live.wire.SCHEMA_VERSION
SIGNAL_SCHEMA = 1  # engine.core.events.SIGNAL_SCHEMA
REPORT_EACH = 5  # malformed messages reported one by one per reason; then only counted


class Signal(msgspec.Struct, frozen=True, kw_only=True, tag="Signal", tag_field="type"):
    """``engine.core.events.Signal``: the same fields, names, types and defaults."""

    ts_event: int
    ts_init: int
    schema: int = SIGNAL_SCHEMA
    seq: int
    instrument: str
    strategy: str
    action: Literal["buy", "sell", "close"]
    size: int
    entry: float
    stop: float | None = None
    target: float | None = None
    stop_points: float | None = None
    target_points: float | None = None
    tag: str = ""
    gate1_confidence: float | None = None
    gate1_uncertainty: float | None = None
    risk_usd: float | None = None
    models: tuple[str, ...] = ()
    config_id: str = ""


class Heartbeat(msgspec.Struct, frozen=True, tag="Heartbeat", tag_field="type"):
    """``engine.core.events.Heartbeat``."""

    ts_event: int
    ts_init: int
    source: str
    sequence: int


Message = Signal | Heartbeat
_DECODER: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)


class Malformed(Exception):
    """A message that is not one of the daemon's; ``reason`` is ``frames``, ``version``,
    ``payload``, ``topic`` or ``schema``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def utc(ns: int) -> str:
    """UNIX nanoseconds as UTC ISO-8601 (``2017-01-01T05:00:00Z``, fraction only if any)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{rest:09d}".rstrip("0") if rest else "") + "Z"


def topic_of(message: Message) -> bytes:
    """The topic the daemon sends ``message`` under."""
    if isinstance(message, Signal):
        return b"signal." + message.instrument.encode()
    return b"heartbeat."


def decode_frames(frames: Sequence[bytes]) -> Message:
    """The message in ``frames``; :class:`Malformed` when they are not one of the daemon's."""
    if len(frames) != 3:
        raise Malformed("frames", f"expected 3 frames (topic, version, payload), got "
                        f"{len(frames)}")
    topic, version, payload = (bytes(f) for f in frames)
    if version != WIRE_VERSION:
        raise Malformed("version", f"expected schema version 1, was {version[:16]!r}")
    try:
        message = _DECODER.decode(payload)
    except msgspec.MsgspecError as exc:  # not msgpack, another event type, a bad field
        raise Malformed("payload", f"{exc} (topic {topic[:40]!r})") from exc
    if topic != topic_of(message):
        raise Malformed("topic", f"expected {topic_of(message)!r}, was {topic[:40]!r}")
    if isinstance(message, Signal) and message.schema != SIGNAL_SCHEMA:
        raise Malformed("schema", f"signal schema {message.schema}, this client reads "
                        f"{SIGNAL_SCHEMA}")
    return message


def signal_line(s: Signal) -> str:
    """One readable line: ``#seq time instrument strategy action size @ entry ...``."""
    parts = [f"#{s.seq}", utc(s.ts_event), s.instrument, s.strategy, s.action, str(s.size),
             f"@ {s.entry}"]
    for name in ("stop", "target"):
        value = getattr(s, name)
        if value is not None:
            parts.append(f"{name} {value:.8g}")
    if s.tag:
        parts.append(f"tag {s.tag}")
    if s.gate1_confidence is not None:
        parts.append(f"confidence {s.gate1_confidence:.3f}")
    if s.gate1_uncertainty is not None:
        parts.append(f"uncertainty {s.gate1_uncertainty:.3f}")
    if s.risk_usd is not None:
        parts.append(f"risk ${s.risk_usd:,.2f}")
    return "  ".join(parts)


def signal_json(s: Signal) -> str:
    """Every field, plus ``ts_event_utc`` and ``ts_init_utc``."""
    record: dict[str, Any] = msgspec.to_builtins(s)
    record["ts_event_utc"], record["ts_init_utc"] = utc(s.ts_event), utc(s.ts_init)
    return json.dumps(record)


class SequenceCheck:
    """Signal ``seq`` numbers must rise by one: a jump is a gap (messages missed), a number
    not above the last a duplicate (reported and skipped). The first number seen is the
    baseline (a client that connects late has missed the earlier ones; that is not a gap)."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.gaps = 0
        self.missing = 0
        self.duplicates = 0

    def check(self, seq: int) -> str | None:
        """``None`` when ``seq`` follows the last one, else what is wrong."""
        last, problem = self.last, None
        if last is not None and seq > last + 1:
            self.gaps += 1
            self.missing += seq - last - 1
            problem = f"gap: signal #{seq} after #{last} ({seq - last - 1} missed)"
        elif last is not None and seq <= last:
            self.duplicates += 1
            return f"duplicate: signal #{seq} after #{last}"
        self.last = seq
        return problem


def request_status(ctx: zmq.Context[zmq.Socket[bytes]], address: str,
                   timeout_s: float) -> Any:
    """The daemon's answer to ``status`` (parsed JSON); ``TimeoutError`` without one."""
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(address)
        sock.send(b"status")
        if not sock.poll(int(timeout_s * 1000)):
            raise TimeoutError(f"no answer to status from {address} in {timeout_s:g} s")
        return json.loads(sock.recv())
    finally:
        sock.close()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Print the signals an `algospace live` daemon publishes (needs only "
        "pyzmq and msgspec).")
    parser.add_argument("--signals", required=True, metavar="ADDR",
                        help="the daemon's --publish address, e.g. tcp://127.0.0.1:5556")
    parser.add_argument("--control", metavar="ADDR",
                        help="the daemon's --control address: print its status reply first")
    parser.add_argument("--topic", action="append", default=[], metavar="PREFIX",
                        help="subscribe to topics starting with PREFIX (repeatable; default: "
                        "all, e.g. 'signal.BTCUSD' for one instrument's signals only)")
    parser.add_argument("--count", type=int, default=0, metavar="N",
                        help="stop after N signals (default: 0, never)")
    parser.add_argument("--timeout", type=float, default=0.0, metavar="SECONDS",
                        help="give up after SECONDS with no message at all (heartbeats "
                        "included) and wait at most that long for the status reply "
                        "(default: 0, wait forever; the status reply 10 s)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per signal (and for the status reply)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM ends the client as Ctrl-C does
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    for prefix in args.topic or [""]:
        sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
    seqs = SequenceCheck()
    malformed: Counter[str] = Counter()
    signals = heartbeats = 0
    last_beat: int | None = None

    def summary() -> str:
        bad = ", ".join(f"{k} {v}" for k, v in sorted(malformed.items())) or "none"
        return (f"{signals} signals, {heartbeats} heartbeats; {seqs.gaps} gaps "
                f"({seqs.missing} missed), {seqs.duplicates} duplicates; malformed: {bad}")

    try:
        sub.connect(args.signals)
        if args.control:
            reply = request_status(ctx, args.control, args.timeout or 10.0)
            print(json.dumps({"status": reply}) if args.json
                  else f"status  {json.dumps(reply, sort_keys=True)}", flush=True)
        silence_ms = int(args.timeout * 1000) if args.timeout > 0 else -1
        while not args.count or signals < args.count:
            if not sub.poll(silence_ms):
                print(f"timeout: no message for {args.timeout:g} s; {summary()}",
                      file=sys.stderr)
                return 1
            frames = sub.recv_multipart()
            try:
                message = decode_frames(frames)
            except Malformed as exc:
                malformed[exc.reason] += 1
                if malformed[exc.reason] <= REPORT_EACH:
                    print(f"malformed {exc}", file=sys.stderr)
                continue
            if isinstance(message, Heartbeat):
                heartbeats += 1
                if last_beat is not None and message.sequence <= last_beat:
                    print(f"daemon restarted: heartbeat {message.sequence} after {last_beat} "
                          f"at {utc(message.ts_event)}", file=sys.stderr)
                last_beat = message.sequence
                continue
            problem = seqs.check(message.seq)
            if problem:
                print(problem, file=sys.stderr)
                if problem.startswith("duplicate"):
                    continue  # seen already
            signals += 1
            print(signal_json(message) if args.json else signal_line(message), flush=True)
        print(f"done: {summary()}", file=sys.stderr)
        return 0
    except (TimeoutError, zmq.ZMQError) as exc:  # no status reply; a bad address
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {summary()}", file=sys.stderr)
        return 130
    finally:
        sub.close()
        ctx.term()


if __name__ == "__main__":
    sys.exit(main())
