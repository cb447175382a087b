"""The latency wrapper: the bus sees the same component (name, inputs, outputs, readiness,
snapshots), and each producing call is logged at DEBUG with its duration."""

from engine.core.events import Bar, Heartbeat
from engine.core.timing import Timed


class Echo:
    """Returns a heartbeat for every bar; counts what it saw."""

    name = "echo"
    inputs = (Bar,)

    def __init__(self):
        self.seen = 0

    @property
    def ready(self):
        return self.seen > 0

    def on_event(self, event):
        self.seen += 1
        return (Heartbeat(ts_event=event.ts_event, ts_init=event.ts_init, source="echo",
                          sequence=self.seen),) if self.seen % 2 else ()

    def reset(self):
        self.seen = 0

    def snapshot(self):
        return str(self.seen).encode()

    def restore(self, state):
        self.seen = int(state)


def bar(ts):
    return Bar(ts_event=ts, ts_init=ts, instrument="ES", timeframe="1m", ts_open=ts - 60,
               open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0)


class Recorder:
    def __init__(self):
        self.lines = []

    def debug(self, event, **fields):
        self.lines.append(("debug", event, fields))


def test_timed_is_transparent_and_logs_producing_calls(monkeypatch):
    import engine.core.timing

    recorder = Recorder()
    monkeypatch.setattr(engine.core.timing, "log", recorder)  # the log line is the contract here
    inner = Echo()
    timed = Timed(inner)
    assert (timed.name, timed.inputs, timed.ready) == ("echo", (Bar,), False)
    outs = [timed.on_event(bar(t)) for t in (1, 2, 3)]
    assert [len(o) for o in outs] == [1, 0, 1] and outs[2][0].sequence == 3
    assert len(recorder.lines) == 2 and timed.calls == 2
    assert all(level == "debug" and event == "component.latency"
               and f["component"] == "echo" and f["output"] == "Heartbeat" and f["us"] >= 0
               for level, event, f in recorder.lines)
    assert timed.ready and timed.snapshot() == b"3" and timed.seen == 3
    timed.restore(b"7")
    assert inner.seen == 7
    timed.reset()
    assert inner.seen == 0
