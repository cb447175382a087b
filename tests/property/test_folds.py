"""Walk-forward folds: whatever the settings, no fold trains on data at or after its test
window; test windows tile the end of the data back to back; a data set cut to a training
window holds no row outside it."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.core.chunks import BarChunk, TickChunk
from engine.research.folds import make_folds, parse_duration
from engine.wiring.dataset import Dataset, row_times

HOUR = 3_600 * 10**9
DAY = 24 * HOUR


@st.composite
def fold_settings(draw):
    first = draw(st.integers(0, 10**18))
    span = draw(st.integers(2 * HOUR, 2_000 * DAY))
    folds = draw(st.integers(1, 12))
    train = draw(st.integers(HOUR, span))
    gap = draw(st.sampled_from([0, 0, HOUR, DAY]))
    test = draw(st.one_of(st.none(), st.integers(HOUR, max(HOUR, span // folds))))
    mode = draw(st.sampled_from(["rolling", "anchored"]))
    return first, first + span, folds, train, test, mode, gap


@given(fold_settings())
def test_no_fold_trains_at_or_after_its_test_window(s):
    first, last, n, train, test, mode, gap = s
    try:
        folds = make_folds(first, last, n, train, test, mode, gap)
    except ValueError as exc:
        assert "--folds" in str(exc) or "--train" in str(exc)
        return
    assert len(folds) == n
    assert folds[-1].test_end > last  # the last row is tested
    for k, f in enumerate(folds):
        assert f.index == k
        assert first <= f.train_start < f.train_end <= f.test_start < f.test_end
        assert f.test_start - f.train_end == gap
        if mode == "rolling":
            assert f.train_end - f.train_start == train
        else:
            assert f.train_start == first and f.train_end - f.train_start >= train
        if k:
            assert f.test_start == folds[k - 1].test_end  # back to back, no overlap
            assert f.test_end - f.test_start == folds[0].test_end - folds[0].test_start


@given(st.integers(0, 10**6), st.integers(48, 20_000), st.integers(1, 8),
       st.integers(1, 2_000), st.sampled_from([0, 1, 24]),
       st.sampled_from(["rolling", "anchored"]))
def test_windows_start_and_end_on_bar_boundaries(first_bar, bars, n, train_bars, gap_bars,
                                                 mode):
    """Hourly bars (closes on the hour) and --train/--gap in hours: every window boundary is a
    bar boundary, and the last test window ends at the first one after the last bar."""
    first, last = first_bar * HOUR, (first_bar + bars) * HOUR
    try:
        folds = make_folds(first, last, n, train_bars * HOUR, None, mode, gap_bars * HOUR,
                           step_ns=HOUR)
    except ValueError:
        return
    assert folds[-1].test_end == last + HOUR
    for f in folds:
        assert all(t % HOUR == 0 for t in (f.train_start, f.train_end, f.test_start,
                                           f.test_end)), f


@st.composite
def datasets(draw):
    n = draw(st.integers(1, 300))
    steps = draw(st.lists(st.integers(1, 5 * HOUR), min_size=n, max_size=n))
    times = np.cumsum(np.array(steps, dtype=np.int64)) + 10**15
    cuts = sorted(set(draw(st.lists(st.integers(1, n - 1), max_size=6)))) if n > 1 else []
    ticks = draw(st.booleans())
    chunks = []
    for part in np.split(np.arange(n), cuts):
        t = times[part]
        price = np.full(t.shape[0], 100.0)
        chunks.append(TickChunk(t, price, price) if ticks else
                      BarChunk(t - HOUR, t, price, price, price, price, price))
    return Dataset("x.csv", "0" * 64, tuple(chunks)), times


@given(datasets(), st.data())
@settings(max_examples=100)
def test_a_window_holds_exactly_its_rows(data_times, draw):
    data, times = data_times
    lo = draw.draw(st.integers(int(times[0]) - DAY, int(times[-1]) + DAY))
    hi = draw.draw(st.integers(lo, int(times[-1]) + 2 * DAY))
    cut = data.between(lo, hi)
    got = np.concatenate([row_times(c) for c in cut.chunks]) if cut.chunks else np.zeros(0)
    assert np.array_equal(got, times[(times >= lo) & (times < hi)])
    assert all(c.rows for c in cut.chunks)
    assert (cut.start_ns, cut.end_ns) == (lo, hi)
    assert cut.sha256 != data.sha256 and cut.file_sha256 == data.file_sha256


@given(datasets(), fold_settings())
@settings(max_examples=100)
def test_a_folds_training_data_ends_before_its_test_window(data_times, s):
    data, times = data_times
    _, _, n, train, test, mode, gap = s
    assume(times[-1] > times[0])
    try:
        folds = make_folds(int(times[0]), int(times[-1]), n, train, test, mode, gap)
    except ValueError:
        return
    for f in folds:
        part = data.between(f.train_start, f.train_end)
        if part.chunks:
            assert part.last_ns < f.test_start and part.first_ns >= f.train_start


def test_durations():
    assert parse_duration("36h", "--train") == 36 * HOUR
    assert parse_duration("1.5d", "--train") == 36 * HOUR
    assert parse_duration("2w", "--test") == 14 * DAY
    for bad in ("90", "3m", "-2d", "0d", "d"):
        with pytest.raises(ValueError, match="--test"):
            parse_duration(bad, "--test")


def test_folds_that_do_not_fit_are_refused_with_the_numbers():
    with pytest.raises(ValueError, match=r"train \+ gap \+ folds x test <= the data span"):
        make_folds(0, 100 * DAY, 4, 60 * DAY, 20 * DAY)
    with pytest.raises(ValueError, match="leave no room for 4 test windows"):
        make_folds(0, 10 * DAY, 4, 10 * DAY)
