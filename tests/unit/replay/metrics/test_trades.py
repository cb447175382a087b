"""Trade statistics by hand and against a plain-Python oracle."""

import math
from statistics import fmean

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.metrics import trade_statistics


def test_by_hand():
    s = trade_statistics(np.array([200.0, -100.0, 0.0, 50.0, -25.0]),
                         np.array([2.0, -1.0, np.nan, 0.5, np.nan]),
                         np.array([3, 5, 1, 2, 4]))
    assert (s.trades, s.wins, s.losses) == (5, 2, 2)
    assert s.win_rate == 0.4  # break-even counts in the denominator
    assert s.profit_factor == 250 / 125
    assert s.expectancy_usd == 25.0
    assert (s.avg_win_usd, s.avg_loss_usd) == (125.0, -62.5)
    assert (s.largest_win_usd, s.largest_loss_usd) == (200.0, -100.0)
    assert s.avg_r == pytest.approx(0.5)  # over the three trades with a stop
    assert s.avg_bars_held == 3.0


def test_no_trades_gives_nan_figures():
    s = trade_statistics(np.array([]), np.array([]), np.array([]))
    assert s.trades == 0
    for name in ("win_rate", "profit_factor", "expectancy_usd", "avg_win_usd", "avg_loss_usd",
                 "largest_win_usd", "largest_loss_usd", "avg_r", "avg_bars_held"):
        assert math.isnan(getattr(s, name)), name


def test_only_winners_and_no_stops():
    s = trade_statistics(np.array([10.0, 30.0]), np.array([np.nan, np.nan]), np.array([1, 1]))
    assert s.profit_factor == math.inf and s.win_rate == 1.0
    assert math.isnan(s.avg_loss_usd) and math.isnan(s.largest_loss_usd) and math.isnan(s.avg_r)


def test_unequal_lengths_raise():
    with pytest.raises(ValueError, match="equal length"):
        trade_statistics(np.array([1.0]), np.array([]), np.array([1]))


@st.composite
def trade_lists(draw):
    """Hypothesis draws the length, seed and mix; a seeded generator draws the values."""
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    win_share, flat_share, stop_share = draw(st.tuples(*[st.sampled_from([0.0, 0.3, 1.0])] * 3))
    u = rng.random(n)
    pnl = np.where(u < flat_share / 3, 0.0,
                   np.where(rng.random(n) < win_share, 1.0, -1.0) * rng.lognormal(4, 1.5, n))
    r = np.where(rng.random(n) < stop_share, rng.normal(0.2, 1.5, n), math.nan)
    return pnl.tolist(), r.tolist(), rng.integers(1, 500, n).tolist()


@given(trade_lists())
def test_matches_a_plain_python_oracle(trades):
    pnl, r, held = trades
    s = trade_statistics(np.array(pnl), np.array(r), np.array(held))
    wins, losses = [p for p in pnl if p > 0], [p for p in pnl if p < 0]
    stops = [x for x in r if not math.isnan(x)]

    def mean(xs):
        return fmean(xs) if xs else math.nan

    assert (s.trades, s.wins, s.losses) == (len(pnl), len(wins), len(losses))
    assert s.win_rate == len(wins) / len(pnl)
    np.testing.assert_allclose(
        [s.expectancy_usd, s.avg_win_usd, s.avg_loss_usd, s.avg_r, s.avg_bars_held],
        [mean(pnl), mean(wins), mean(losses), mean(stops), mean(held)], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal([s.largest_win_usd, s.largest_loss_usd],
                                  [max(wins, default=math.nan), min(losses, default=math.nan)])
    if losses:
        assert s.profit_factor == pytest.approx(math.fsum(wins) / -math.fsum(losses))
