"""The live journal: what was appended reads back in order (hypothesis over event lists); a
tail torn at any byte is reported, never an error, and the next writer cuts it off and
continues cleanly; a bad checksum before the tail, an unknown kind or a foreign file is an error
naming the offset; the fsync policies all write the same bytes."""

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.errors import JournalError
from engine.live.journal import HEADER, INPUT, OUTPUT, JournalWriter, read_journal, scan_journal

_spec = importlib.util.spec_from_file_location(
    "event_roundtrip", Path(__file__).resolve().parent / "test_event_roundtrip.py")
assert _spec is not None and _spec.loader is not None
roundtrip = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(roundtrip)

records = st.lists(st.tuples(st.sampled_from([INPUT, OUTPUT]), roundtrip.any_event),
                   max_size=12)


def write(path, items, fsync="never"):
    writer = JournalWriter(path, fsync=fsync, clock=lambda: 0.0)
    for kind, event in items:
        writer.append(kind, event)
    writer.close()


@settings(max_examples=50, deadline=None)
@given(items=records)
def test_appended_records_read_back_in_order(tmp_path_factory, items):
    path = tmp_path_factory.mktemp("j") / "journal.bin"
    write(path, items)
    assert [(r.kind, r.event) for r in read_journal(path)] == items
    assert scan_journal(path).torn == 0


@settings(max_examples=50, deadline=None)
@given(items=records.filter(bool), cut=st.integers(0, 10_000), more=records)
def test_a_torn_tail_is_reported_and_cut_before_appending(tmp_path_factory, items, cut, more):
    path = tmp_path_factory.mktemp("j") / "journal.bin"
    write(path, items)
    data = path.read_bytes()
    cut = len(HEADER) + cut % (len(data) - len(HEADER) + 1)
    path.write_bytes(data[:cut])
    scan = scan_journal(path)
    whole = [(r.kind, r.event) for r in scan.records]
    assert whole == items[:len(whole)]
    assert scan.end + scan.torn == cut
    writer = JournalWriter(path, fsync="never")
    assert writer.torn_bytes == scan.torn and writer.records == len(whole)
    for kind, event in more:
        writer.append(kind, event)
    writer.close()
    assert [(r.kind, r.event) for r in read_journal(path)] == whole + more


def test_corruption_before_the_tail_and_foreign_files_are_errors_naming_the_offset(tmp_path):
    event = roundtrip.Bar(ts_event=1, ts_init=1, instrument="ES", timeframe="1m", ts_open=0,
                          open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0)
    path = tmp_path / "journal.bin"
    write(path, [(INPUT, event), (OUTPUT, event)])
    data = bytearray(path.read_bytes())
    data[len(HEADER) + 9] ^= 0xFF  # inside the first record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match=rf"record at byte {len(HEADER)}: checksum"):
        scan_journal(path)
    path.write_bytes(b"NOTAJOUR" + bytes(data[len(HEADER):]))
    with pytest.raises(JournalError, match="expected a journal starting with"):
        scan_journal(path)
    with pytest.raises(JournalError, match="kind"):
        JournalWriter(tmp_path / "other.bin").append(7, event)


@pytest.mark.parametrize("fsync", ["always", "interval", "never"])
def test_every_fsync_policy_writes_the_same_bytes(tmp_path, fsync):
    event = roundtrip.Bar(ts_event=1, ts_init=1, instrument="ES", timeframe="1m", ts_open=0,
                          open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0)
    write(tmp_path / "a.bin", [(INPUT, event)] * 3, fsync=fsync)
    write(tmp_path / "b.bin", [(INPUT, event)] * 3, fsync="never")
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


@settings(max_examples=50, deadline=None)
@given(first=records, rest=records, batched=st.booleans())
def test_the_tail_after_a_writers_offset_reads_back_alone(tmp_path_factory, first, rest,
                                                        batched):
    """What a snapshot relies on: ``offset`` after some records (written one by one or in
    one batch) is where exactly the later ones start."""
    path = tmp_path_factory.mktemp("j") / "journal.bin"
    writer = JournalWriter(path, fsync="never")
    for kind, event in first:
        writer.append(kind, event)
    offset, count = writer.offset, writer.records
    for kind, event in rest:
        if batched:
            writer.append_many(kind, [event])
        else:
            writer.append(kind, event)
    writer.close()
    assert count == len(first)
    assert [(r.kind, r.event) for r in read_journal(path, offset)] == rest
    reopened = JournalWriter(path, fsync="never")
    assert (reopened.offset, reopened.records) == (path.stat().st_size, len(first) + len(rest))
    reopened.close()
    with pytest.raises(JournalError, match="past the end"):
        list(read_journal(path, path.stat().st_size + 1))
