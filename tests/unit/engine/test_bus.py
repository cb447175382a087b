"""Bus behaviour: routing by type, derived events after their cause, errors not swallowed."""

import pytest
from structlog.testing import capture_logs

from engine.core.bus import Bus
from engine.core.errors import EngineError, OrderingError
from engine.core.events import Bar, Heartbeat, Tick


def tick(ts):
    return Tick(ts_event=ts, ts_init=ts, instrument="ES", price=100.0, size=1.0)


class Doubler:
    """Emits one heartbeat per tick, at the tick's ts_event."""

    name = "doubler"
    inputs = (Tick,)
    ready = True

    def on_event(self, event):
        return [Heartbeat(ts_event=event.ts_event, ts_init=event.ts_init, source="d",
                          sequence=0)]

    def reset(self):
        pass

    def snapshot(self):
        return b""

    def restore(self, state):
        pass


def test_routes_by_exact_type_only():
    bus = Bus()
    seen = []
    bus.subscribe_handler(Tick, lambda e: seen.append("tick") or (), "t")
    bus.subscribe_handler(Bar, lambda e: seen.append("bar") or (), "b")
    bus.publish(tick(1))
    bus.publish(Heartbeat(ts_event=2, ts_init=2, source="x", sequence=1))
    assert seen == ["tick"]


def test_input_reaches_every_subscriber_before_derived_events():
    bus = Bus()
    order = []
    bus.subscribe_handler(Tick, lambda e: order.append("first") or (), "first")
    bus.subscribe(Doubler())
    bus.subscribe_handler(Tick, lambda e: order.append("last") or (), "last")
    bus.subscribe_handler(Heartbeat, lambda e: order.append("heartbeat") or (), "hb")
    bus.publish(tick(5))
    assert order == ["first", "last", "heartbeat"]
    assert bus.sequence == 2


def test_derived_event_with_another_timestamp_is_refused_naming_the_component():
    class Liar(Doubler):
        name = "liar"

        def on_event(self, event):
            return [Heartbeat(ts_event=event.ts_event + 1, ts_init=0, source="l", sequence=0)]

    bus = Bus()
    bus.subscribe(Liar())
    with pytest.raises(OrderingError, match="liar"):
        bus.publish(tick(1))


def test_out_of_order_input_is_refused():
    bus = Bus()
    bus.publish(tick(10))
    bus.publish(tick(10))
    with pytest.raises(OrderingError, match="expected ts_event >= 10, was 9"):
        bus.publish(tick(9))


def test_component_failure_is_logged_and_reraised():
    def boom(event):
        raise RuntimeError("kaput")

    bus = Bus()
    bus.subscribe_handler(Tick, boom, "exploder")
    with capture_logs() as logs, pytest.raises(RuntimeError, match="kaput"):
        bus.publish(tick(3))
    assert logs[0]["event"] == "component.failed"
    assert logs[0]["component"] == "exploder"
    assert logs[0]["ts_event"] == 3


def test_unsubscribe_stops_delivery():
    bus = Bus()
    doubler = Doubler()
    bus.subscribe(doubler)
    bus.unsubscribe(doubler)
    bus.publish(tick(1))
    assert bus.sequence == 1
    assert bus.components == ()


def test_subscribe_requires_declared_inputs():
    class NoInputs(Doubler):
        inputs = ()

    with pytest.raises(EngineError, match="declare inputs"):
        Bus().subscribe(NoInputs())
