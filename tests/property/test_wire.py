"""ZeroMQ messages: every event survives encode/decode (hypothesis), and every kind of bad
message (garbage, truncated payload, wrong frame count, wrong schema version, a topic that
does not match the payload) is a WireError with a stable reason, never another exception."""

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.live.wire import WireError, decode_message, encode_message, topic_for

_spec = importlib.util.spec_from_file_location(
    "event_roundtrip", Path(__file__).resolve().parent / "test_event_roundtrip.py")
assert _spec is not None and _spec.loader is not None
roundtrip = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(roundtrip)


@given(roundtrip.any_event)
def test_every_event_roundtrips_with_its_topic(event):
    frames = encode_message(event)
    assert frames[0] == topic_for(event) and frames[1] == b"1"
    assert decode_message(frames) == event


@given(event=roundtrip.any_event, data=st.data())
def test_bad_messages_are_wire_errors_with_a_reason(event, data):
    topic, version, payload = encode_message(event)
    cut = data.draw(st.integers(0, len(payload) - 1))
    garbage = data.draw(st.binary(max_size=64))
    cases = {
        "frames": [topic, payload],
        "version": [topic, b"2", payload],
        "payload": [topic, version, payload[:cut]],
        "topic": [topic + b".x", version, payload],
    }
    for reason, frames in cases.items():
        with pytest.raises(WireError) as info:
            decode_message(frames)
        assert info.value.reason == reason, (reason, str(info.value))
    try:
        decode_message([topic, version, garbage])
    except WireError as exc:
        assert exc.reason in ("payload", "topic")
