"""Gate 1 (MC-Dropout consensus) as hypothesis properties: agreement counts votes for the
setup's direction, the threshold and penalty act monotonically, a direction conflict never
passes, identical passes have zero std and zero mutual information, and the score is the
documented formula."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.decision.gate import Gate1Config, consensus

LONG, SHORT = 1, 2


def _normalise(raw):
    p = np.abs(raw) + 1e-3
    return p / p.sum(axis=-1, keepdims=True)


probs = st.integers(1, 12).flatmap(
    lambda s: arrays(np.float64, (s, 3, 3), elements=st.floats(0.0, 1.0))).map(_normalise)
directions = st.sampled_from([1, -1])


@given(p=probs, direction=directions)
def test_agreement_is_the_number_of_agents_voting_for_the_direction(p, direction):
    verdict = consensus(p, direction, Gate1Config())
    action = LONG if direction > 0 else SHORT
    assert verdict.agree == sum(1 for a in range(3) if np.argmax(p.mean(axis=0)[a]) == action)
    assert ("agreement" in verdict.reasons) == (verdict.agree < 2)
    assert verdict.passed == (not verdict.reasons)


@given(p=probs, direction=directions)
def test_the_score_is_the_weighted_confidence_minus_half_the_weighted_std(p, direction):
    config = Gate1Config()
    verdict = consensus(p, direction, config)
    action = LONG if direction > 0 else SHORT
    w = np.array(config.weights)
    confidence = w @ p.mean(axis=0)[:, action]
    assert verdict.confidence == pytest.approx(confidence, abs=1e-12)
    assert verdict.score == pytest.approx(confidence - 0.5 * (w @ p.std(axis=0)[:, action]),
                                          abs=1e-12)
    assert ("confidence" in verdict.reasons) == (not verdict.score >= 0.65)


@given(p=probs, direction=directions, low=st.floats(0, 1), high=st.floats(0, 1))
def test_a_higher_threshold_never_passes_what_a_lower_one_refuses(p, direction, low, high):
    low, high = min(low, high), max(low, high)
    lenient = consensus(p, direction, Gate1Config(threshold=low))
    strict = consensus(p, direction, Gate1Config(threshold=high))
    assert not strict.passed or lenient.passed


@given(p=probs, direction=directions, a=st.floats(0, 5), b=st.floats(0, 5))
def test_a_larger_uncertainty_penalty_never_raises_the_score(p, direction, a, b):
    small = consensus(p, direction, Gate1Config(penalty=min(a, b)))
    large = consensus(p, direction, Gate1Config(penalty=max(a, b)))
    assert large.score <= small.score + 1e-12


@given(p=probs, direction=directions)
def test_a_direction_conflict_never_passes(p, direction):
    """Every agent's vote is the opposite direction or pass: the gate refuses."""
    opposite = SHORT if direction > 0 else LONG
    mine = LONG if direction > 0 else SHORT
    q = p.copy()
    q[..., opposite] += 2.0 + q[..., mine]  # the opposite side dominates in every pass
    q /= q.sum(axis=-1, keepdims=True)
    verdict = consensus(q, direction, Gate1Config(min_agree=1, threshold=0.0))
    assert not verdict.passed and verdict.agree == 0 and "agreement" in verdict.reasons


@given(p=probs, direction=directions, samples=st.integers(1, 60))
def test_identical_passes_have_zero_std_and_zero_mutual_information(p, direction, samples):
    same = np.repeat(p[:1], samples, axis=0)
    verdict = consensus(same, direction, Gate1Config())
    assert verdict.uncertainty == 0.0 and verdict.mutual_information == 0.0
    assert all(s == 0.0 for row in verdict.std for s in row)


@given(p=probs, direction=directions)
def test_entropy_bounds(p, direction):
    verdict = consensus(p, direction, Gate1Config())
    assert 0.0 <= verdict.mutual_information <= verdict.entropy + 1e-12
    assert verdict.entropy <= np.log(3) + 1e-12


def test_bad_shapes_directions_and_settings_are_refused_by_name():
    with pytest.raises(ValueError, match=r"probs: expected shape \(samples, 3, 3\)"):
        consensus(np.ones((5, 2, 3)) / 3, 1, Gate1Config())
    with pytest.raises(ValueError, match="direction"):
        consensus(np.ones((5, 3, 3)) / 3, 0, Gate1Config())
    with pytest.raises(ValueError, match="weights"):
        Gate1Config(weights=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="min_agree"):
        Gate1Config(min_agree=4)
