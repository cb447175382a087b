"""The example strategy plugin (examples/regime_filter.py) keeps the component contract:
snapshot/restore mid-stream continues exactly as the uninterrupted run, and a decision
depends only on the events before it (changing later events never changes an earlier one).
The events are generated test inputs, not market data."""

import importlib.util
import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from engine.core.events import RegimeVector, SynergyDetected, SynergySignal, TradeClosed

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("regime_filter_example",
                                               ROOT / "examples" / "regime_filter.py")
assert _spec is not None and _spec.loader is not None
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

SIGNAL = SynergySignal(1, 1, "BTCUSD", "4h", "mlmi", 1, 1.0, 0.5)


def regime(t, norm):
    return RegimeVector(t, t, "BTCUSD", "4h", (norm,) + (0.0,) * 7, "rde/x/1")


def setup(t, direction, atr):
    return SynergyDetected(t, t, "BTCUSD", "1h", 1, direction, (SIGNAL, SIGNAL, SIGNAL), 3,
                           100.0, atr, 0.01, 1.0, None, None, None, None, None, None)


def closed(t, order_id):
    return TradeClosed(ts_event=t, ts_init=t, instrument="BTCUSD", strategy="regime_filter",
                       trade_id=order_id, order_id=order_id, direction="long", quantity=1,
                       ts_entry=t - 1, entry_price=100.0, ts_exit=t, exit_price=101.0,
                       exit_reason="target", pnl_points=1.0, gross_pnl_usd=1.0,
                       commission_usd=0.0, slippage_usd=0.0, pnl_usd=1.0, r_multiple=1.0,
                       bars_held=1, mae_points=0.0, mfe_points=1.0)


step = st.one_of(
    st.tuples(st.just("regime"), st.floats(0.0, 4.0)),
    st.tuples(st.just("setup"), st.sampled_from([1, -1]), st.floats(0.0, 50.0)),
    st.tuples(st.just("close"), st.integers(1, 6)))


def events_of(steps):
    out = []
    for t, s in enumerate(steps, 1):
        if s[0] == "regime":
            out.append(regime(t, s[1]))
        elif s[0] == "setup":
            out.append(setup(t, s[1], s[2]))
        else:
            out.append(closed(t, s[1]))
    return out


def run(strategy, events):
    return [o for e in events for o in strategy.on_event(e)]


def fresh(max_norm=2.0):
    return example.RegimeFilter(example.RegimeFilterConfig(max_norm=max_norm))


@given(st.lists(step, max_size=60), st.integers(0, 60), st.floats(0.5, 3.5))
def test_snapshot_restore_continues_exactly(steps, cut, max_norm):
    events = events_of(steps)
    cut = min(cut, len(events))
    whole = run(fresh(max_norm), events)
    first = fresh(max_norm)
    head = run(first, events[:cut])
    second = fresh(max_norm)
    second.restore(first.snapshot())
    assert head + run(second, events[cut:]) == whole
    assert second.snapshot() == _replayed(events, max_norm).snapshot()


def _replayed(events, max_norm):
    s = fresh(max_norm)
    run(s, events)
    return s


@given(st.lists(step, max_size=60), st.lists(step, max_size=20), st.integers(0, 60))
def test_a_decision_never_depends_on_later_events(steps, other_future, cut):
    events = events_of(steps)
    cut = min(cut, len(events))
    future = events_of(steps[:cut] + other_future)[cut:]
    a = run(fresh(), events)
    b = run(fresh(), events[:cut] + future)
    before = [o for o in a if o.ts_event <= cut]
    assert before == [o for o in b if o.ts_event <= cut]


def test_it_trades_only_in_a_familiar_regime():
    strategy = fresh(2.0)
    assert run(strategy, [setup(1, 1, 5.0)]) == []  # no regime yet
    assert math.isnan(strategy._norm)
    (order,) = run(strategy, [regime(2, 1.5), setup(3, 1, 5.0)])
    assert (order.action, order.stop_points, order.target_points) == ("buy", 10.0, 20.0)
    assert run(strategy, [closed(4, order.order_id), regime(5, 2.5), setup(6, -1, 5.0)]) == []
