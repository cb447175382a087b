"""Search spaces: lists, ranges and distributions parsed with clear errors; the grid in order;
random draws reproducible from the seed, distinct grid points when the space is a grid."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.research.search import grid_size, grid_trials, parse_param, parse_space, random_trials


def test_lists_and_ranges_are_typed_toml_values():
    assert parse_param("a=1,2,3").values == (1, 2, 3)
    assert parse_param('b="fixed","mrms"').values == ("fixed", "mrms")
    assert parse_param("c=true,false").values == (True, False)
    assert parse_param("d=5:20:5").values == (5, 10, 15, 20)
    assert parse_param("e=0.1:0.5:0.1").values == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert parse_param("f=pessimistic,optimistic").values == ("pessimistic", "optimistic")


@pytest.mark.parametrize("text, message", [
    ("a", "expected KEY=VALUES"),
    ("=1,2", "expected KEY=VALUES"),
    ("a.=1", "expected KEY=VALUES"),
    ("a=1,1", "expected distinct values"),
    ("a=5:1:1", "A <= B and STEP > 0"),
    ("a=1:5:0", "A <= B and STEP > 0"),
    ("a=uniform:2:1", "expected A < B"),
    ("a=loguniform:0:1", "A > 0"),
    ("a=randint:0.5:3", "integer bounds"),
    ("a=uniform:1", "expected uniform:A:B"),
    ("a=1:x:1", "expected a finite number"),
])
def test_bad_parameters_are_named(text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_param(text)
    assert text.split("=")[0] in str(info.value) or "KEY=VALUES" in str(info.value)


def test_a_key_given_twice_is_refused():
    with pytest.raises(ValueError, match="a given 2 times"):
        parse_space(["a=1,2", "a=3"])


def test_the_grid_varies_the_first_parameter_slowest():
    trials = grid_trials(parse_space(["x=1,2", 'y="p","q","r"']))
    assert [t.overrides for t in trials] == [
        ("x=1", 'y="p"'), ("x=1", 'y="q"'), ("x=1", 'y="r"'),
        ("x=2", 'y="p"'), ("x=2", 'y="q"'), ("x=2", 'y="r"')]
    assert [t.index for t in trials] == list(range(6))
    assert trials[4].params == {"x": "2", "y": '"q"'}


def test_a_distribution_needs_random_search():
    with pytest.raises(ValueError, match="needs random search"):
        grid_trials(parse_space(["x=uniform:0:1"]))


def test_random_draws_distinct_grid_points_or_the_whole_grid():
    space = parse_space(["x=1:10:1", "y=1:10:1"])
    trials = random_trials(space, 30, seed=7)
    assert len({t.overrides for t in trials}) == 30
    assert random_trials(space, 30, seed=7) == trials
    assert random_trials(space, 30, seed=8) != trials
    assert random_trials(space, 500, seed=7) == grid_trials(space)


@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_random_distributions_stay_in_bounds_and_repeat(n, seed):
    space = parse_space(["a=uniform:-1.5:2.5", "b=loguniform:0.001:10", "c=randint:3:9",
                         "d=1,2"])
    trials = random_trials(space, n, seed)
    assert trials == random_trials(space, n, seed)
    for t in trials:
        p = {k: float(v) for k, v in t.params.items()}
        assert -1.5 <= p["a"] <= 2.5 and 0.001 <= p["b"] <= 10
        assert p["c"] in range(3, 10) and p["d"] in (1, 2)
        assert math.isfinite(p["a"])


def test_grid_size_is_the_product():
    assert grid_size(parse_space(["a=1,2,3", "b=1:4:1"])) == 12
