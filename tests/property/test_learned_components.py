"""The learned components on real BTC streams: snapshot/restore at any cut continues exactly as
the uninterrupted run (hypothesis over the cut), and the risk manager's and the MARL decider's
decisions up to a cut of the data do not depend on the bars after it."""

import importlib.util
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location(
    "contract_streams", Path(__file__).resolve().parents[1] / "contract" / "test_components.py")
assert _spec is not None and _spec.loader is not None
contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contract)

CASES = {"regime_detector": (contract.regime_detector_btc, contract._btc_regime_inputs),
         "risk_manager": (contract.risk_manager_btc, contract._btc_risk_inputs),
         "marl_decider": (contract.marl_decider_btc, contract._btc_marl_inputs)}


def run(component, events):
    return [out for event in events for out in component.on_event(event)]


def check_cut(name, fraction):
    factory, stream = CASES[name]
    events = list(stream())
    whole = run(factory(), events)
    assert whole
    cut = int(fraction * len(events))
    first = factory()
    out = run(first, events[:cut])
    second = factory()
    second.restore(first.snapshot())
    assert out + run(second, events[cut:]) == whole


@settings(max_examples=12, deadline=None)
@given(st.floats(0.0, 1.0))
def test_regime_detector_snapshot_at_any_cut(fraction):
    check_cut("regime_detector", fraction)


@settings(max_examples=12, deadline=None)
@given(st.floats(0.0, 1.0))
def test_risk_manager_snapshot_at_any_cut(fraction):
    check_cut("risk_manager", fraction)


def test_risk_manager_decisions_before_a_cut_ignore_later_bars():
    full = run(contract.risk_manager_btc(), contract._btc_risk_inputs(4000))
    short_events = contract._btc_risk_inputs(3000)
    short = run(contract.risk_manager_btc(), short_events)
    last = short_events[-1].ts_event
    assert len(short) > 5
    assert short == [e for e in full if e.ts_event <= last][:len(short)]


@settings(max_examples=12, deadline=None)
@given(st.floats(0.0, 1.0))
def test_marl_decider_snapshot_at_any_cut(fraction):
    check_cut("marl_decider", fraction)


def test_marl_decider_answers_every_setup_and_ignores_later_bars():
    from engine.core.events import ConsensusReached, SynergyDetected, TradeRejected

    events = contract._btc_marl_inputs(4000)
    full = run(contract.marl_decider_btc(), events)
    assert len(full) == sum(1 for e in events if type(e) is SynergyDetected)
    assert {type(e) for e in full} == {ConsensusReached, TradeRejected}  # both answers occur
    short_events = contract._btc_marl_inputs(3000)
    short = run(contract.marl_decider_btc(), short_events)
    last = short_events[-1].ts_event
    assert short and short == [e for e in full if e.ts_event <= last][:len(short)]
