"""Contract checks run over every registered component (river `checks` style).

Register each new component in ``REGISTRY`` with a factory built from its config defaults and
an event stream of real data it reacts to. Every check runs against every entry.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.bars import BarAggregator, BarAggregatorConfig
from engine.component import Component
from engine.events import Bar, Heartbeat

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60 * 10**9


def es_bars(limit=400):
    frame = pd.read_csv(ROOT / "data" / "es_1min_2013-09.csv").iloc[:limit]
    stamps = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns")
    ts = stamps.astype("int64").to_numpy(np.int64)
    return [Bar(ts_event=int(t) + MINUTE, ts_init=int(t) + MINUTE, instrument="ES",
                timeframe="1m", ts_open=int(t), open=o, high=h, low=lo, close=c, volume=v)
            for t, o, h, lo, c, v in zip(ts, frame["open"], frame["high"], frame["low"],
                                         frame["close"], frame["volume"], strict=True)]


REGISTRY = {
    "bar_aggregator_5m": (
        lambda: BarAggregator(BarAggregatorConfig(instrument="ES", timeframe="5m",
                                                  input_timeframe="1m")),
        es_bars,
    ),
    "bar_aggregator_30m_session": (
        lambda: BarAggregator(BarAggregatorConfig(instrument="ES", timeframe="30m",
                                                  input_timeframe="1m", session_open="17:00",
                                                  session_timezone="America/Chicago")),
        es_bars,
    ),
}

params = pytest.mark.parametrize("name", sorted(REGISTRY))


def run(component, events):
    return [out for event in events for out in component.on_event(event)]


@params
def test_satisfies_the_protocol_and_is_documented(name):
    component = REGISTRY[name][0]()
    assert isinstance(component, Component)
    assert type(component).__doc__ and type(component).__doc__.strip()
    assert isinstance(component.name, str) and component.name
    assert 1 <= len(component.inputs) <= 4


@params
def test_produces_output_on_real_data(name):
    factory, stream = REGISTRY[name]
    component = factory()
    assert not component.ready
    assert run(component, stream())
    assert component.ready


@params
def test_does_not_mutate_its_input(name):
    factory, stream = REGISTRY[name]
    events = stream()
    copies = [type(e)(**{f: getattr(e, f) for f in e.__struct_fields__}) for e in events]
    run(factory(), events)
    assert events == copies


@params
def test_reset_returns_to_fresh_state(name):
    factory, stream = REGISTRY[name]
    used = factory()
    run(used, stream()[:150])
    used.reset()
    assert run(used, stream()) == run(factory(), stream())


@params
def test_snapshot_restore_continues_identically(name):
    factory, stream = REGISTRY[name]
    events = stream()
    whole = run(factory(), events)
    for split in (1, 77, len(events) // 2):
        first = factory()
        head = run(first, events[:split])
        second = factory()
        second.restore(first.snapshot())
        assert head + run(second, events[split:]) == whole


@params
def test_same_config_gives_same_outputs(name):
    factory, stream = REGISTRY[name]
    assert run(factory(), stream()) == run(factory(), stream())


@params
def test_outputs_carry_the_trigger_timestamp_or_earlier(name):
    factory, stream = REGISTRY[name]
    component = factory()
    for event in stream():
        for out in component.on_event(event):
            assert out.ts_event <= event.ts_event
            assert out.ts_init == event.ts_init


@params
def test_ignores_undeclared_event_types(name):
    component = REGISTRY[name][0]()
    before = component.snapshot()
    assert list(component.on_event(Heartbeat(ts_event=1, ts_init=1, source="x", sequence=1))) == []
    assert component.snapshot() == before
