"""MLMI kernels: incremental == batch at every prefix, snapshot, no look-ahead, invariants.

Warm-up/NaN policy: ``value``, ``ma_fast``, ``ma_slow``, ``x1`` and ``x2`` are ``nan`` until
defined (``value`` once ``x1`` and ``x2`` are); ``signal``, ``stored``, ``crossover`` and
``label`` are 0 until then. Comparisons are exact (``nan`` equal to ``nan``): the step and
batch kernels run one code path. The oracle comparison is in
``tests/unit/components/indicators/test_mlmi_kernels.py``.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.indicators.mlmi import (
    MLMI_COLUMNS,
    mlmi_batch_nb,
    mlmi_init_state,
    mlmi_step_nb,
)

prices = st.one_of(
    arrays(np.float64, st.integers(1, 150),
           elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)),
    arrays(np.float64, st.integers(1, 150), elements=st.integers(1, 4).map(float)),  # ties
)
params = st.one_of(
    st.just({}),  # the defaults: values from bar 39
    st.fixed_dictionaries({
        "neighbors": st.integers(1, 6), "capacity": st.integers(1, 40),
        "ma_fast_period": st.sampled_from([1, 2, 3]), "ma_slow_period": st.sampled_from([2, 4]),
        "rsi_fast_period": st.sampled_from([1, 2]), "rsi_slow_period": st.sampled_from([3, 5]),
        "feature_period": st.sampled_from([1, 3]), "grid": st.integers(1, 9),
    }),
)


@given(close=prices, p=params, cut=st.integers(0, 150))
def test_incremental_matches_batch_and_snapshot_resumes(close, p, cut):
    expected = mlmi_batch_nb(mlmi_init_state(**p), close)
    state, rows = mlmi_init_state(**p), np.zeros((close.shape[0], len(MLMI_COLUMNS)))
    cut = min(cut, close.shape[0])
    for t, x in enumerate(close):  # one bar at a time: row t is the output of prefix [:t+1]
        if t == cut:  # snapshot: continue from a copy, the original goes on elsewhere
            snapshot = state.copy()
            mlmi_batch_nb(state, close[t:] + 1.0)
            state = np.array(snapshot)
        mlmi_step_nb(state, x, rows[t])
    np.testing.assert_array_equal(rows, expected)
    assert_invariants(expected, p)


def assert_invariants(out, p):
    value, signal, stored, crossover, label = out[:, :5].T
    defined = ~np.isnan(value)
    assert np.all(np.abs(value[defined]) <= np.minimum(stored[defined], p.get("neighbors", 200)))
    assert np.all(value[defined] == np.round(value[defined]))
    before = np.concatenate([[0.0], stored[:-1]])  # a stored crossover grows a ring not full
    grew = (crossover != 0) & (before < p.get("capacity", 10_000))
    np.testing.assert_array_equal(stored - before, grew.astype(float))
    assert np.all(label[crossover == 0] == 0)
    assert set(np.unique(signal)) <= {-1.0, 0.0, 1.0}
    ups, downs = np.flatnonzero(signal == 1), np.flatnonzero(signal == -1)
    assert np.all((value[ups] > 0) & (value[ups - 1] <= 0))
    assert np.all((value[downs] < 0) & (value[downs - 1] >= 0))


@given(close=prices, p=params, t=st.integers(0, 149), bump=st.floats(-100.0, 100.0),
       reverse=st.booleans())
def test_no_look_ahead(close, p, t, bump, reverse):
    t = min(t, close.shape[0] - 1)
    changed = close.copy()
    changed[t + 1:] = changed[t + 1:][::-1] if reverse else changed[t + 1:] + bump
    a = mlmi_batch_nb(mlmi_init_state(**p), close)
    b = mlmi_batch_nb(mlmi_init_state(**p), changed)
    np.testing.assert_array_equal(a[:t + 1], b[:t + 1])
