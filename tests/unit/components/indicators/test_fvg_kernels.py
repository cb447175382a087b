"""FVG kernels on hand-built bars: body window, warm-up, mitigation, expiry, eviction, ties.

Each scenario's expected values are worked out by hand in the comments (bars are
``(open, high, low, close)``). Warm-up policy: no gap before bar ``body_lookback + 1``; values
are ``nan`` and flags/counts 0 when there is nothing to report.
"""

import re

import numpy as np
import pytest

from components.indicators.fvg import FVG_COLUMNS, FVG_N_OUT, fvg_batch_nb, fvg_init_state

DESIGN = {"body_multiplier": 1.5, "body_lookback": 10, "max_age": 50, "capacity": 64,
          "fill_fraction": 0.0}
QUIET = (100.0, 101.0, 99.5, 100.5)  # body 0.5, high 101
BIG_UP = (100.5, 104.0, 100.5, 104.0)  # body 3.5 > 1.5 x 0.5
GAP_UP = (104.0, 106.0, 102.0, 105.0)  # low 102 > 101: bullish zone (101, 102)


def run(bars, **overrides):
    o, h, lo, c = (np.array(x, dtype=np.float64) for x in zip(*bars, strict=True))
    out = fvg_batch_nb(fvg_init_state(**dict(DESIGN, **overrides)), o, h, lo, c)
    assert out.shape == (len(bars), FVG_N_OUT)
    return dict(zip(FVG_COLUMNS, out.T, strict=True))


def test_columns_are_unique_snake_case():
    assert len(FVG_COLUMNS) == FVG_N_OUT == len(set(FVG_COLUMNS))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in FVG_COLUMNS)
    empty = np.empty(0)
    assert fvg_batch_nb(fvg_init_state(**DESIGN), empty, empty, empty, empty).shape == (
        0, FVG_N_OUT)


def test_first_gap_needs_the_lookback_bodies_before_the_middle_bar():
    # 10 quiet bars, then middle (bar 10) and gap bar (bar 11): the first bar that can gap
    col = run([QUIET] * 10 + [BIG_UP, GAP_UP])
    assert col["bullish_new"].tolist() == [0.0] * 11 + [1.0]
    assert (col["new_bottom"][11], col["new_top"][11], col["new_size"][11]) == (101, 102, 1)
    assert col["new_size_pct"][11] == 100.0 / 105.0
    assert np.isnan(col["new_bottom"][:11]).all()
    # one quiet bar less: the mean of 10 bodies before the middle bar is not defined yet
    col = run([QUIET] * 9 + [BIG_UP, GAP_UP])
    assert col["bullish_new"].sum() == 0 and col["bullish_count"].sum() == 0
    assert (col["nearest_side"] == 0).all() and np.isnan(col["nearest_level"]).all()


def test_body_mean_covers_exactly_the_bars_before_the_middle_bar():
    middle = (100.5, 103.0, 100.5, 101.5)  # body 1.0 passes 1.5 x 0.5 but not 1.5 x 0.7
    gap = (102.5, 104.0, 102.0, 103.5)
    wide_body = (98.5, 101.0, 98.5, 101.0)  # body 2.5: a mean of ten with it is 0.7
    # the gap bar is i = 12; the window is bars i-11 .. i-2 = 1 .. 10
    for wide_at, expected in ((0, 1.0), (1, 0.0), (10, 0.0)):
        bars = [QUIET] * 11 + [middle, gap]
        bars[wide_at] = wide_body
        assert run(bars)["bullish_new"].tolist() == [0.0] * 12 + [expected], wide_at


def test_size_pct_is_relative_to_the_absolute_close():
    bars = [QUIET] * 10 + [BIG_UP, GAP_UP]
    for shift, pct in ((-105.0, np.nan), (-110.0, 100.0 / 5.0)):  # creating close 0, then -5
        col = run([tuple(x + shift for x in bar) for bar in bars])
        assert col["new_size"][11] == 1.0 and col["nearest_size"][11] == 1.0
        np.testing.assert_array_equal(col["new_size_pct"][11], pct)
        np.testing.assert_array_equal(col["nearest_size_pct"][11], pct)


def test_gap_must_be_strict():
    touching_up = (104.0, 106.0, 101.0, 105.0)  # low == high[i-2]
    touching_down = (98.0, 99.5, 97.0, 98.0)  # high == low[i-2]
    big_down = (100.5, 100.5, 97.0, 97.0)
    assert run([QUIET] * 10 + [BIG_UP, touching_up])["bullish_new"][-1] == 0.0
    assert run([QUIET] * 10 + [big_down, touching_down])["bearish_new"][-1] == 0.0
    assert run([QUIET] * 10 + [big_down, (98.0, 99.25, 97.0, 98.0)])["bearish_new"][-1] == 1.0


def test_body_filter_is_strict():
    at_threshold = (100.5, 101.5, 100.5, 101.25)  # body 0.75 == 1.5 x 0.5
    above = (100.5, 101.5, 100.5, 101.5)  # body 1.0
    gap = (102.0, 103.0, 102.0, 102.5)  # low 102 > high[i-2] 101
    assert run([QUIET] * 10 + [at_threshold, gap])["bullish_new"][-1] == 0.0
    assert run([QUIET] * 10 + [above, gap])["bullish_new"][-1] == 1.0


@pytest.mark.parametrize(("fill_fraction", "first_mitigating_low"),
                         [(0.0, 102.0), (0.5, 101.5), (1.0, 101.0)])
def test_bullish_gap_is_mitigated_at_the_first_bar_reaching_the_fill_level(
        fill_fraction, first_mitigating_low):
    bars = [QUIET] * 10 + [BIG_UP, GAP_UP]  # the gap bar's own low equals the top
    for low in (102.25, 102.0, 101.75, 101.5, 101.25, 101.0):
        bars.append((105.0, 106.0, low, 105.0))
    col = run(bars, fill_fraction=fill_fraction)
    first = 12 + [102.25, 102.0, 101.75, 101.5, 101.25, 101.0].index(first_mitigating_low)
    expected = np.zeros(len(bars))
    expected[first] = 1.0
    np.testing.assert_array_equal(col["bullish_mitigated"], expected)
    assert col["bullish_mitigated_count"][first] == 1
    assert col["bullish_mitigated_size"][first] == 1.0
    assert col["bullish_mitigated_size_pct"][first] == 100.0 / 105.0
    assert col["bullish_mitigated_age"][first] == first - 11
    np.testing.assert_array_equal(col["bullish_count"][11:], (np.arange(11, len(bars)) < first))
    assert col["bearish_mitigated"].sum() == 0 and np.isnan(col["bearish_mitigated_size"]).all()


def test_bearish_gap_mirrors_the_bullish_one():
    big_down = (100.5, 100.5, 97.0, 97.0)  # body 3.5
    gap_down = (96.0, 98.5, 95.0, 96.5)  # high 98.5 < low[i-2] 99.5: zone (98.5, 99.5)
    col = run([QUIET] * 10 + [big_down, gap_down, (96.0, 98.25, 95.0, 96.0),
                              (96.0, 98.5, 95.0, 96.0)])
    assert col["bearish_new"].tolist()[10:] == [0.0, 1.0, 0.0, 0.0]
    assert (col["new_bottom"][11], col["new_top"][11]) == (98.5, 99.5)
    assert (col["nearest_side"][11], col["nearest_level"][11]) == (-1.0, 98.5)
    assert col["nearest_distance"][11] == 2.0 and col["nearest_age"][11] == 0.0
    assert col["bearish_mitigated"].tolist()[10:] == [0.0, 0.0, 0.0, 1.0]  # high reaches 98.5
    assert col["bearish_mitigated_age"][13] == 2.0 and col["bearish_count"][13] == 0.0


def test_gap_expires_after_max_age_bars():
    above = (105.0, 106.0, 103.0, 105.0)
    touch = (105.0, 106.0, 102.0, 105.0)
    col = run([QUIET] * 10 + [BIG_UP, GAP_UP] + [above] * 3 + [touch], max_age=3)
    # ages 1..3 active, age 4 expired: the touch at age 4 mitigates nothing
    assert col["bullish_count"].tolist()[11:] == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert col["nearest_age"][14] == 3.0 and col["bullish_mitigated"].sum() == 0
    col = run([QUIET] * 10 + [BIG_UP, GAP_UP] + [above] * 2 + [touch], max_age=3)
    assert col["bullish_mitigated"][14] == 1.0 and col["bullish_mitigated_age"][14] == 3.0


def staircase():
    """Lows 100, 110, 119, 127, 134, 140 (high = low + 2): a bullish gap on bars 2..5 of
    sizes 17, 15, 13, 11 (with body_lookback 1 and multiplier 0), then a drop through them."""
    bars = [(low, low + 2.0, low, low + 1.0) for low in (100.0, 110.0, 119.0, 127.0, 134.0, 140.0)]
    return bars + [(141.0, 142.0, 50.0, 51.0)]


def test_one_bar_mitigates_several_gaps_and_reports_the_largest():
    col = run(staircase(), body_multiplier=0.0, body_lookback=1)
    assert col["bullish_new"].tolist() == [0, 0, 1, 1, 1, 1, 0]
    assert col["new_size"][2:6].tolist() == [17.0, 15.0, 13.0, 11.0]
    assert col["bullish_count"].tolist() == [0, 0, 1, 2, 3, 4, 0]
    assert col["bullish_mitigated_count"][6] == 4
    assert (col["bullish_mitigated_size"][6], col["bullish_mitigated_age"][6]) == (17.0, 4.0)


def test_equal_mitigated_sizes_report_the_younger_gap():
    bars = [(low, low + 2.0, low, low + 1.0) for low in (100.0, 110.0, 120.0, 130.0)]
    col = run(bars + [(131.0, 132.0, 50.0, 51.0)], body_multiplier=0.0, body_lookback=1)
    assert col["new_size"][2:4].tolist() == [18.0, 18.0]
    assert col["bullish_mitigated_count"][4] == 2 and col["bullish_mitigated_age"][4] == 1.0


def test_full_side_evicts_its_oldest_gap():
    col = run(staircase(), body_multiplier=0.0, body_lookback=1, capacity=2)
    assert col["bullish_count"].tolist() == [0, 0, 1, 2, 2, 2, 0]
    # gaps of bars 4 and 5 were left: the largest mitigated is bar 4's (size 13, age 2)
    assert col["bullish_mitigated_count"][6] == 2
    assert (col["bullish_mitigated_size"][6], col["bullish_mitigated_age"][6]) == (13.0, 2.0)


def test_equidistant_edges_of_two_gaps_go_to_the_younger_gap():
    bars = [(100.0, 101.0, 99.0, 100.5), (100.5, 104.0, 100.5, 103.5),
            (104.0, 106.0, 103.0, 105.0),  # bullish (101, 103) at bar 2
            (105.0, 115.0, 104.0, 114.0), (114.0, 115.0, 105.5, 106.0),
            (103.5, 103.5, 103.25, 103.25)]  # bearish (103.5, 104) at bar 5; close 0.25 from both
    col = run(bars, body_multiplier=0.0, body_lookback=1)
    assert col["bullish_new"][2] == 1.0 and col["bearish_new"][5] == 1.0
    assert col["bullish_count"][5] == 1.0 and col["bearish_count"][5] == 1.0
    assert (col["nearest_side"][5], col["nearest_level"][5], col["nearest_distance"][5]) == (
        -1.0, 103.5, 0.25)
    assert (col["nearest_bottom"][5], col["nearest_top"][5], col["nearest_age"][5]) == (
        103.5, 104.0, 0.0)


@pytest.mark.parametrize("bullish", [True, False])
def test_close_in_the_middle_of_a_gap_picks_its_entry_edge(bullish):
    bars = [QUIET] * 10 + [BIG_UP, (104.0, 106.0, 103.0, 105.0),  # bullish (101, 103)
                           (103.0, 104.0, 101.5, 102.0)]  # inside, 1 from both edges
    if not bullish:  # mirror prices around 100: bearish (97, 99), close 98
        bars = [(200.0 - o, 200.0 - lo, 200.0 - h, 200.0 - c) for o, h, lo, c in bars]
    col = run(bars, fill_fraction=1.0)
    assert col["nearest_distance"][12] == 1.0 and col["nearest_age"][12] == 1.0
    assert col["nearest_level"][12] == (103.0 if bullish else 97.0)
    assert col["nearest_side"][12] == (1.0 if bullish else -1.0)


@pytest.mark.parametrize(("name", "value"), [
    ("body_multiplier", -0.5), ("body_multiplier", float("nan")), ("body_lookback", 0),
    ("max_age", 0), ("capacity", 0), ("fill_fraction", 1.5), ("fill_fraction", -0.1)])
def test_init_state_refuses_bad_parameters(name, value):
    with pytest.raises(ValueError, match=f"fvg {name}: expected"):
        fvg_init_state(**dict(DESIGN, **{name: value}))
