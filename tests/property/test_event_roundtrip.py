"""Every event survives msgpack encode/decode unchanged, alone and as a log."""

import io
import typing

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.events import (
    EVENT_TYPES,
    AnyEvent,
    Bar,
    ConsensusReached,
    Fill,
    FvgMitigated,
    FvgState,
    Heartbeat,
    HeikenAshiBar,
    IndicatorValue,
    LvnLevels,
    MlmiValue,
    MmdFeatures,
    NwrqkValue,
    OrderIntent,
    OrderRejected,
    RegimeVector,
    RiskProposal,
    Signal,
    SynergyDetected,
    SynergySignal,
    Tick,
    TradeClosed,
    TradeRejected,
    decode,
    decode_many,
    encode,
)
from engine.wiring.recorder import EventRecorder, read_event_log

ns = st.integers(min_value=0, max_value=2**63 - 1)
price = st.floats(allow_nan=False, allow_infinity=False, width=64)
text = st.text(min_size=1, max_size=12)

bars = st.builds(Bar, ts_event=ns, ts_init=ns, instrument=text, timeframe=st.sampled_from(
    ["1m", "5m", "30m", "1h"]), ts_open=ns, open=price, high=price, low=price, close=price,
    volume=price)
ticks = st.builds(Tick, ts_event=ns, ts_init=ns, instrument=text, price=price, size=price)
heartbeats = st.builds(Heartbeat, ts_event=ns, ts_init=ns, source=text,
                       sequence=st.integers(0, 2**63 - 1))
int64 = st.integers(-(2**63), 2**63 - 1)


def _field(annotation):
    """A strategy for one field type: int64 ints, finite floats, text, literals, optionals,
    fixed-length tuples and nested Structs."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:  # a fixed-length float vector
        (meta,) = [m for m in annotation.__metadata__ if isinstance(m, msgspec.Meta)]
        return st.lists(price, min_size=meta.min_length,
                        max_size=meta.max_length).map(tuple)
    if typing.get_origin(annotation) is typing.Literal:
        return st.sampled_from(args)
    if typing.get_origin(annotation) is tuple and args[-1:] == (Ellipsis,):  # variable length
        return st.lists(_field(args[0]), max_size=4).map(tuple)
    if typing.get_origin(annotation) is tuple:  # fixed length, e.g. three nested signals
        return st.tuples(*(_field(a) for a in args))
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return built(annotation)
    if type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return st.none() | _field(inner)
    return {int: int64, float: price, str: st.text(max_size=12), bool: st.booleans()}[annotation]


def built(event_type):
    """``st.builds`` of an event type from its field annotations."""
    hints = typing.get_type_hints(event_type, include_extras=True)
    return st.builds(event_type, **{name: _field(hints[name])
                                    for name in event_type.__struct_fields__})


trading_events = st.one_of([built(t) for t in (OrderIntent, Fill, TradeClosed, OrderRejected,
                                                 HeikenAshiBar, IndicatorValue, NwrqkValue,
                                                 LvnLevels, FvgState, FvgMitigated, MlmiValue,
                                                 MmdFeatures, RegimeVector, SynergySignal,
                                                 SynergyDetected, RiskProposal,
                                                 TradeRejected, ConsensusReached,
                                                 Signal)])
any_event = st.one_of(bars, ticks, heartbeats, trading_events)


@given(any_event)
def test_event_roundtrips_through_msgpack(event):
    decoded = decode(encode(event))
    assert type(decoded) is type(event)
    assert decoded == event


@given(st.lists(any_event, max_size=20))
def test_event_list_and_log_roundtrip(events):
    assert decode_many(encode(events)) == events
    sink = io.BytesIO()
    recorder = EventRecorder(sink)
    for event in events:
        recorder(event)
    assert list(read_event_log(io.BytesIO(sink.getvalue()))) == events


def test_every_event_type_is_in_the_union():
    assert {Bar, Tick, Heartbeat, HeikenAshiBar, IndicatorValue, MlmiValue, NwrqkValue, LvnLevels,
            FvgState, FvgMitigated, MmdFeatures, RegimeVector, SynergySignal, SynergyDetected,
            OrderIntent,
            Fill, TradeClosed, OrderRejected, RiskProposal, TradeRejected,
            ConsensusReached, Signal} == set(EVENT_TYPES)
    assert set(typing.get_args(AnyEvent)) == set(EVENT_TYPES)


def test_events_are_frozen():
    bar = Bar(ts_event=2, ts_init=2, instrument="ES", timeframe="1m", ts_open=1, open=1.0,
              high=1.0, low=1.0, close=1.0, volume=0.0)
    with pytest.raises(AttributeError):
        bar.close = 2.0  # type: ignore[misc]


def test_decode_rejects_wrong_field_type_naming_the_field():
    good = msgspec.msgpack.decode(encode(Tick(ts_event=1, ts_init=1, instrument="ES",
                                              price=1.0, size=1.0)))
    good["price"] = "abc"
    with pytest.raises(msgspec.ValidationError, match=r"price"):
        decode(msgspec.msgpack.encode(good))


def test_regime_vector_has_exactly_eight_values():
    good = RegimeVector(ts_event=1, ts_init=1, instrument="BTCUSD", timeframe="4h",
                        mu=(0.5,) * 8, model="rde/btcusd_1h/0123456789ab")
    raw = msgspec.msgpack.decode(encode(good))
    raw["mu"] = [0.5] * 7
    with pytest.raises(msgspec.ValidationError, match=r"mu"):
        decode(msgspec.msgpack.encode(raw))


def test_decode_rejects_unknown_tag():
    with pytest.raises(msgspec.ValidationError, match="type"):
        decode(msgspec.msgpack.encode({"type": "Nope", "ts_event": 1, "ts_init": 1}))
