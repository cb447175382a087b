"""EquityAccumulator on hand-computed curves: drawdown spells, days across chunks, validation.

Chunking invariance against an array oracle is the property test in
``tests/property/test_metrics_streaming.py``.
"""

import math

import numpy as np
import pytest

from replay.metrics import EquityAccumulator, sharpe_ratio, sortino_ratio

MIN = 60 * 10**9


def feed(acc, equity, ts=None, position=None, day=None):
    equity = np.asarray(equity, dtype=float)
    n = equity.size
    acc.update(np.arange(1, n + 1) * MIN if ts is None else np.asarray(ts),
               equity, np.zeros(n) if position is None else np.asarray(position, dtype=float),
               np.zeros(n, dtype=np.int64) if day is None else np.asarray(day))
    return acc


def test_drawdown_spell_from_peak_bar_to_recovery_bar():
    #         bar: 0    1    2    3    4    5    6
    acc = feed(EquityAccumulator(100.0), [110, 100, 88, 105, 110, 120, 119])
    assert acc.max_drawdown == pytest.approx(0.2)  # 110 -> 88
    assert acc.max_drawdown_usd == pytest.approx(22.0)
    assert acc.max_drawdown_bars == 4  # peak at bar 0, back to 110 at bar 4
    assert acc.max_drawdown_ns == 4 * MIN


def test_unrecovered_drawdown_runs_to_the_last_bar():
    acc = feed(EquityAccumulator(100.0), [101, 102, 99, 101, 100, 90])
    assert acc.max_drawdown_bars == 4  # peak at bar 1, still under at bar 5
    assert acc.max_drawdown_ns == 4 * MIN
    assert acc.max_drawdown == pytest.approx(12 / 102)


def test_initial_equity_is_the_first_peak():
    acc = feed(EquityAccumulator(100.0), [95, 97, 100])
    assert acc.max_drawdown == pytest.approx(0.05)
    # the spell starts before the first bar (index -1) but at the first bar's time
    assert acc.max_drawdown_bars == 3
    assert acc.max_drawdown_ns == 2 * MIN


def test_no_drawdown_and_no_bars():
    acc = feed(EquityAccumulator(100.0), [100, 101, 101, 102])
    assert (acc.max_drawdown, acc.max_drawdown_usd, acc.max_drawdown_bars) == (0.0, 0.0, 0)
    empty = EquityAccumulator(50.0)
    empty.update(np.array([], dtype=np.int64), np.array([]), np.array([]),
                 np.array([], dtype=np.int64))
    assert (empty.bars, empty.days, empty.first_ts, empty.final_equity) == (0, 0, None, 50.0)
    assert math.isnan(empty.exposure) and math.isnan(empty.bar_return_mean)
    assert empty.daily_returns().shape == (0,)


def test_a_day_split_across_chunks_keeps_its_last_equity():
    acc = EquityAccumulator(100.0)
    feed(acc, [101, 102], ts=[1, 2], day=[5, 5])
    feed(acc, [103], ts=[3], day=[5])
    feed(acc, [99, 98], ts=[4, 5], day=[5, 7])
    np.testing.assert_array_equal(acc.day_ids(), [5, 7])
    np.testing.assert_array_equal(acc.daily_equity(), [99.0, 98.0])
    np.testing.assert_allclose(acc.daily_returns(), [-0.01, 98 / 99 - 1])
    assert (acc.first_ts, acc.last_ts, acc.bars, acc.days) == (1, 5, 5, 2)


def test_bar_moments_and_ratios_match_the_array_functions():
    equity = np.array([101.0, 99.0, 102.0, 102.0, 100.0, 104.0])
    acc = EquityAccumulator(100.0)
    for part in np.split(np.arange(6), [1, 4]):
        feed(acc, equity[part], ts=part + 1)
    r = equity / np.r_[100.0, equity[:-1]] - 1
    assert acc.bar_return_count == 6
    assert acc.bar_return_mean == pytest.approx(r.mean(), rel=1e-12)
    assert acc.bar_return_std == pytest.approx(r.std(ddof=1), rel=1e-12)
    assert acc.bar_downside_sum_squares == pytest.approx(np.sum(np.minimum(r, 0) ** 2))
    assert acc.bar_sharpe(1000.0, 0.001) == pytest.approx(sharpe_ratio(r, 1000.0, 0.001))
    assert acc.bar_sortino(1000.0) == pytest.approx(sortino_ratio(r, 1000.0))


def test_flat_equity_has_undefined_bar_ratios():
    acc = feed(EquityAccumulator(100.0), [100.0, 100.0, 100.0])
    assert acc.bar_return_std == 0.0
    assert math.isnan(acc.bar_sharpe(252.0)) and math.isnan(acc.bar_sortino(252.0))


def test_exposure_counts_bars_with_an_open_position():
    acc = feed(EquityAccumulator(100.0), [100, 100, 100, 100], position=[0, 2, -1, 0])
    assert (acc.exposure_bars, acc.exposure) == (2, 0.5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ts": [2, 1]}, "ts"),
    ({"day": [1, 0]}, "day"),
    ({"equity": [100.0, math.nan]}, "finite"),
    ({"position": [0.0]}, "equal length"),
])
def test_invalid_chunks_raise(kwargs, message):
    acc = EquityAccumulator(100.0)
    args = {"ts": [1, 2], "equity": [100.0, 101.0], "position": [0.0, 0.0], "day": [0, 0]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        acc.update(*(np.asarray(args[k]) for k in ("ts", "equity", "position", "day")))


def test_times_and_days_must_not_go_back_across_chunks():
    acc = feed(EquityAccumulator(100.0), [100.0], ts=[10], day=[3])
    with pytest.raises(ValueError, match="ts"):
        feed(acc, [100.0], ts=[9], day=[3])
    with pytest.raises(ValueError, match="day"):
        feed(acc, [100.0], ts=[11], day=[2])
    with pytest.raises(ValueError, match="initial_equity"):
        EquityAccumulator(0.0)
