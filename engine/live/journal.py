"""The live daemon's journal: an append-only, crash-safe record of inputs and outputs (wiring
layer).

A journal file starts with the 8-byte header ``b"ASJOURN1"``. Each record is

    length  u32 little-endian   bytes of kind + payload
    crc32   u32 little-endian   zlib.crc32 of kind + payload
    kind    u8                  1 input event, 2 output event
    payload                     msgpack of one event (engine.core.events.encode)

so a reader can tell a whole record from a torn one. A crash can only tear the **tail** (the
writer appends and never rewrites): :func:`read_journal` stops there and reports the offset of
the last whole record, and :class:`JournalWriter` cuts a torn tail off before appending again,
so nothing after a crash is ever written behind garbage. A bad checksum or kind *before* the
tail is corruption, not a crash, and raises :class:`~engine.core.errors.JournalError` naming the
file and the offset. (A corrupted *length* field that points past the end of the file reads
as a torn tail; the checksums guard everything else.)

Every record is handed to the operating system before ``append`` returns, so a killed process
(``kill -9``) loses nothing it appended. Durability against a power cut is the ``fsync``
policy: ``always`` (every record is on disk when ``append`` returns), ``interval`` (at most
``interval_s`` of records can be lost) or ``never`` (the OS decides).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.core.errors import JournalError
from engine.core.events import AnyEvent, Event, decode, encode

__all__ = ["HEADER", "INPUT", "OUTPUT", "JournalRecord", "JournalScan", "JournalWriter",
           "read_journal", "scan_journal"]

HEADER = b"ASJOURN1"
INPUT, OUTPUT = 1, 2
_PREFIX = struct.Struct("<II")
_KINDS = (INPUT, OUTPUT)

FsyncPolicy = Literal["always", "interval", "never"]


@dataclass(frozen=True)
class JournalRecord:
    """One record: ``kind`` (``INPUT`` or ``OUTPUT``), the event, its byte offset."""

    kind: int
    event: AnyEvent
    offset: int


@dataclass(frozen=True)
class JournalScan:
    """What :func:`scan_journal` found: the whole records, where the last one ends, and the
    bytes of a torn tail after it (0 when the file ends cleanly)."""

    records: list[JournalRecord]
    end: int
    torn: int


def _records(path: Path, data: bytes, start: int = 0
             ) -> Iterator[tuple[JournalRecord | None, int]]:
    """``(record, end offset)`` for each whole record from byte ``start`` (0: the first);
    ``(None, offset)`` at a torn tail."""
    if data[:len(HEADER)] != HEADER:
        raise JournalError(f"{path}: expected a journal starting with {HEADER!r}, found "
                           f"{data[:len(HEADER)]!r}")
    offset = max(start, len(HEADER))
    if offset > len(data):
        raise JournalError(f"{path}: offset {start} is past the end of the journal "
                           f"({len(data)} bytes)")
    size = len(data)
    while offset < size:
        if size - offset < _PREFIX.size:
            yield None, offset
            return
        length, crc = _PREFIX.unpack_from(data, offset)
        first = offset + _PREFIX.size
        if length < 1 or size - first < length:
            yield None, offset
            return
        body = data[first:first + length]
        if zlib.crc32(body) != crc:
            if first + length == size:  # the last record: torn while being written
                yield None, offset
                return
            raise JournalError(f"{path}: record at byte {offset}: checksum {zlib.crc32(body):#010x}"
                               f" does not match {crc:#010x}; the journal is corrupt")
        kind = body[0]
        if kind not in _KINDS:
            raise JournalError(f"{path}: record at byte {offset}: kind {kind} is not one of "
                               f"{_KINDS}")
        try:
            event = decode(body[1:])
        except Exception as exc:  # msgspec.DecodeError / ValidationError
            raise JournalError(f"{path}: record at byte {offset}: {exc}") from exc
        yield JournalRecord(kind, event, offset), first + length
        offset = first + length


def scan_journal(path: str | Path, start: int = 0) -> JournalScan:
    """Every whole record of ``path`` (from byte ``start``, a record boundary such as a
    :attr:`JournalWriter.offset`), and the size of a torn tail (see the module docstring)."""
    path = Path(path)
    data = path.read_bytes()
    records: list[JournalRecord] = []
    end = max(start, len(HEADER))
    for record, offset in _records(path, data, start):
        if record is None:
            return JournalScan(records, offset, len(data) - offset)
        records.append(record)
        end = offset
    return JournalScan(records, end, 0)


def read_journal(path: str | Path, start: int = 0) -> Iterator[JournalRecord]:
    """The whole records of ``path`` in order, from byte ``start`` (a torn tail is not an
    error; see :func:`scan_journal` to learn of it)."""
    yield from scan_journal(path, start).records


class JournalWriter:
    """Appends records to a journal, creating it with its header, cutting a torn tail first.

    ``clock`` returns seconds (``time.monotonic`` in the daemon) for the ``interval`` policy.
    """

    def __init__(self, path: str | Path, fsync: FsyncPolicy = "interval",
                 interval_s: float = 1.0, clock: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.interval_s = interval_s
        self._clock = clock
        self.torn_bytes = 0
        if self.path.exists() and self.path.stat().st_size > 0:
            scan = scan_journal(self.path)
            self.torn_bytes = scan.torn
            self.records = len(scan.records)
            self.offset = scan.end
            with self.path.open("r+b") as handle:
                handle.truncate(scan.end)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(HEADER)
            self.records = 0
            self.offset = len(HEADER)
        self._handle = self.path.open("ab")
        self._synced_at = clock() if clock is not None else 0.0

    def append(self, kind: int, event: Event) -> None:
        """Write one record (``INPUT`` or ``OUTPUT``), durable per the fsync policy."""
        self.append_many(kind, (event,))

    def append_many(self, kind: int, events: Sequence[Event]) -> None:
        """Write one record per event, in order, handed to the OS together."""
        if kind not in _KINDS:
            raise JournalError(f"{self.path}: kind: expected one of {_KINDS}, was {kind!r}")
        if not events:
            return
        parts = []
        for event in events:
            body = bytes((kind,)) + encode(event)
            parts.append(_PREFIX.pack(len(body), zlib.crc32(body)))
            parts.append(body)
        blob = b"".join(parts)
        self._handle.write(blob)
        self._handle.flush()  # to the OS at once: a killed process loses nothing it appended
        self.records += len(events)
        self.offset += len(blob)
        if self.fsync == "always":
            self.sync()
        elif self.fsync == "interval" and self._clock is not None:
            now = self._clock()
            if now - self._synced_at >= self.interval_s:
                self.sync()
                self._synced_at = now

    def sync(self) -> None:
        """Flush and fsync."""
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Flush, fsync, close."""
        if not self._handle.closed:
            self.sync()
            self._handle.close()
