"""Stateful model of the bus: delivery is ordered by (ts_event, sequence), nothing goes back
in time, every derived event follows its cause, and nothing is lost or duplicated."""

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.core.bus import Bus
from engine.core.errors import OrderingError
from engine.core.events import Bar, Heartbeat, Tick


class Echo:
    """Turns a Tick into `fanout` Heartbeats stamped with the tick's ts_event."""

    inputs = (Tick,)
    ready = True

    def __init__(self, name, fanout):
        self.name = name
        self.fanout = fanout

    def on_event(self, event):
        return [Heartbeat(ts_event=event.ts_event, ts_init=event.ts_init, source=self.name,
                          sequence=i) for i in range(self.fanout)]

    def reset(self):
        pass

    def snapshot(self):
        return b""

    def restore(self, state):
        pass


class BusMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.bus = Bus()
        self.delivered = []  # (handler, ts_event, bus sequence)
        self.expected_total = 0
        self.now = 0
        self.bus.add_tap(lambda e: self.delivered.append(("tap", e.ts_event, self.bus.sequence)))
        self.handler_log = {}
        for name in ("a", "b"):
            self.handler_log[name] = []
            for etype in (Bar, Tick, Heartbeat):
                self.bus.subscribe_handler(etype, self._recorder(name), name)
        self.echo_fanout = 0

    def _recorder(self, name):
        def handle(event):
            self.handler_log[name].append((event.ts_event, self.bus.sequence))
            return ()
        return handle

    @precondition(lambda self: self.echo_fanout == 0)
    @rule(fanout=st.integers(1, 3))
    def add_echo(self, fanout):
        self.echo_fanout = fanout
        self.bus.subscribe(Echo("echo", fanout))

    @rule(step=st.integers(0, 5), kind=st.sampled_from(["bar", "tick"]))
    def publish(self, step, kind):
        self.now += step
        if kind == "bar":
            event = Bar(ts_event=self.now, ts_init=self.now, instrument="ES", timeframe="1m",
                        ts_open=self.now - 1, open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0)
            self.expected_total += 1
        else:
            event = Tick(ts_event=self.now, ts_init=self.now, instrument="ES", price=1.0,
                         size=1.0)
            self.expected_total += 1 + self.echo_fanout
        self.bus.publish(event)

    @precondition(lambda self: self.now > 0)
    @rule(back=st.integers(1, 5))
    def publishing_the_past_is_refused(self, back):
        before = self.bus.sequence
        try:
            self.bus.publish(Tick(ts_event=max(self.now - back, 0) - 1, ts_init=0,
                                  instrument="ES", price=1.0, size=1.0))
        except OrderingError:
            pass
        else:
            raise AssertionError("bus accepted an event older than the last one")
        assert self.bus.sequence == before

    @invariant()
    def ordered_by_ts_then_sequence(self):
        keys = [(ts, seq) for _, ts, seq in self.delivered]
        assert keys == sorted(keys)
        assert [seq for _, _, seq in self.delivered] == list(range(1, len(keys) + 1))

    @invariant()
    def no_handler_sees_the_past(self):
        for log in self.handler_log.values():
            assert log == sorted(log)

    @invariant()
    def nothing_lost_or_duplicated(self):
        assert len(self.delivered) == self.expected_total == self.bus.sequence
        for log in self.handler_log.values():
            assert len(log) == self.expected_total


TestBusOrdering = BusMachine.TestCase
