"""Snapshots of a live run: the whole session state in one crash-safe file (live layer).

A :class:`LiveSnapshot` holds everything a :class:`~engine.wiring.session.TradingSession` and the
daemon around it decide with: the clock, the bus's ordering state, the bar aggregators, the
replay counters, the broker, every upstream component and the strategy (each through its own
``snapshot()``), the live driver's counters and last accepted time, the signal sequence number
and the journal position it was taken at. A restart restores it and replays only the journal
records after ``journal_offset``: the state is then that of a run that never stopped.

The file is ``b"ASSNAP01"``, the crc32 of the body (u32 little-endian) and the msgpack body;
it is written to a temporary file, fsynced and renamed over the old one, so a crash while
writing leaves the previous snapshot whole. :func:`read_snapshot` raises
:class:`~engine.core.errors.SnapshotError` naming the file for a bad header, checksum or body.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from engine.core.errors import SnapshotError
from engine.wiring.replay_driver import ReplayStats

if TYPE_CHECKING:
    from engine.wiring.session import TradingSession

__all__ = ["LiveSnapshot", "SessionState", "read_snapshot", "restore_session",
           "session_state", "write_snapshot"]

SNAPSHOT_HEADER = b"ASSNAP01"
_CRC = struct.Struct("<I")


class SessionState(msgspec.Struct, kw_only=True):
    """The state of one :class:`~engine.wiring.session.TradingSession`."""

    clock_ns: int
    bus_last_ts: int
    bus_sequence: int
    aggregators: list[tuple[str, bytes]]
    replay: ReplayStats
    broker: bytes
    upstream: list[tuple[str, bytes]]
    strategy: bytes


class LiveSnapshot(msgspec.Struct, kw_only=True):
    """One daemon's state at a journal position (module docstring)."""

    config_id: str
    models: list[str]
    journal_offset: int
    journal_records: int
    seq: int
    last_close: float
    received: int
    accepted: int
    rejected: dict[str, int]
    last_ts: int | None
    session: SessionState


def _name(component: object) -> str:
    return str(getattr(component, "name", type(component).__name__))


def session_state(session: TradingSession) -> SessionState:
    """The state of ``session`` now (between two steps)."""
    pipeline = session.pipeline
    return SessionState(
        clock_ns=pipeline.clock.timestamp_ns(),
        bus_last_ts=session.bus.last_ts, bus_sequence=session.bus.sequence,
        aggregators=[(a.timeframe, a.snapshot()) for a in pipeline.aggregators],
        replay=msgspec.structs.replace(pipeline.driver.stats,
                                       bars_by_timeframe=dict(
                                           pipeline.driver.stats.bars_by_timeframe)),
        broker=session.broker.snapshot(),
        upstream=[(_name(c), c.snapshot()) for c in session.upstream],
        strategy=session.strategy.snapshot())


def restore_session(session: TradingSession, state: SessionState, where: str) -> None:
    """Put ``session`` (freshly built from the same config and artifacts) in ``state``.

    Raises :class:`SnapshotError` naming ``where`` when the components differ."""
    pipeline = session.pipeline
    found = ([tf for tf, _ in state.aggregators], [n for n, _ in state.upstream])
    expected = ([a.timeframe for a in pipeline.aggregators], [_name(c) for c in session.upstream])
    if found != expected:
        raise SnapshotError(f"{where}: the snapshot holds aggregators and components {found}; "
                            f"this session has {expected}")
    try:
        pipeline.clock.advance_to(state.clock_ns)
        session.bus.restore_order(state.bus_last_ts, state.bus_sequence)
        for aggregator, (_, blob) in zip(pipeline.aggregators, state.aggregators, strict=True):
            aggregator.restore(blob)
        pipeline.driver.stats = state.replay
        session.broker.restore(state.broker)
        for component, (_, blob) in zip(session.upstream, state.upstream, strict=True):
            component.restore(blob)
        session.strategy.restore(state.strategy)
    except SnapshotError:
        raise
    except Exception as exc:  # a component refusing its state
        raise SnapshotError(f"{where}: restoring the session failed: {exc}") from exc


def write_snapshot(path: Path, snapshot: LiveSnapshot) -> int:
    """Write ``snapshot`` atomically to ``path``; return its size in bytes."""
    body = msgspec.msgpack.encode(snapshot)
    blob = SNAPSHOT_HEADER + _CRC.pack(zlib.crc32(body)) + body
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(blob)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return len(blob)


def read_snapshot(path: Path) -> LiveSnapshot:
    """The snapshot in ``path``; :class:`SnapshotError` naming the file when it is damaged."""
    data = path.read_bytes()
    head = len(SNAPSHOT_HEADER)
    if data[:head] != SNAPSHOT_HEADER or len(data) < head + _CRC.size:
        raise SnapshotError(f"{path}: expected a snapshot starting with {SNAPSHOT_HEADER!r}, "
                            f"found {data[:head]!r}")
    (crc,) = _CRC.unpack_from(data, head)
    body = data[head + _CRC.size:]
    if zlib.crc32(body) != crc:
        raise SnapshotError(f"{path}: checksum {zlib.crc32(body):#010x} does not match "
                            f"{crc:#010x}; the snapshot is damaged")
    try:
        return msgspec.msgpack.decode(body, type=LiveSnapshot)
    except msgspec.DecodeError as exc:
        raise SnapshotError(f"{path}: {exc}") from exc
