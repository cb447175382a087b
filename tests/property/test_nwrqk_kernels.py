"""NW-RQK kernels: incremental == batch at every prefix, snapshot, no look-ahead, exact window.

Warm-up/NaN policy: ``yhat1``/``yhat2`` are ``nan`` before bar ``x0`` and ``slope`` before
``x0 + 1``; the flags and ``signal`` are 0 until defined (crosses from ``x0 + 1``, changes from
``x0 + 2``). Every comparison here is exact (``nan`` equal to ``nan``): the step and batch kernels
share one code path, and the estimates read only the last ``window`` inputs.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from components.indicators.nwrqk import (
    nwrqk_batch_nb,
    nwrqk_init_state,
    nwrqk_step_nb,
)

series = arrays(np.float64, st.integers(1, 300),
                elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False))
params = st.fixed_dictionaries({
    "h": st.sampled_from([1.0, 3.0, 8.0]),
    "r": st.sampled_from([0.5, 8.0]),
    "x0": st.integers(0, 30),
    "lag": st.sampled_from([0.0, 0.25, 0.75]),  # a fraction of h
    "window": st.integers(1, 60),
}).map(lambda p: {**p, "lag": p["lag"] * p["h"]})
defaults = st.just({})  # h 8, r 8, x0 25, lag 2, window 500


@given(xs=series, kwargs=st.one_of(params, defaults))
def test_nwrqk_incremental_matches_batch(xs, kwargs):
    out = nwrqk_batch_nb(nwrqk_init_state(**kwargs), xs)
    state, rows = nwrqk_init_state(**kwargs), np.zeros_like(out)
    for t in range(xs.shape[0]):
        nwrqk_step_nb(state, xs[t], rows[t])
    np.testing.assert_array_equal(rows, out)  # row t is the output after the prefix xs[:t+1]


@given(xs=series, kwargs=st.one_of(params, defaults), cut=st.integers(0, 300))
def test_nwrqk_snapshot_resumes_exactly(xs, kwargs, cut):
    out = nwrqk_batch_nb(nwrqk_init_state(**kwargs), xs)
    cut = min(cut, xs.shape[0])
    first = nwrqk_init_state(**kwargs)
    head = nwrqk_batch_nb(first, xs[:cut])
    snapshot = first.copy()
    nwrqk_batch_nb(first, xs[cut:] + 1.0)  # the original goes on elsewhere: no shared buffers
    rest = nwrqk_batch_nb(snapshot, xs[cut:])
    np.testing.assert_array_equal(np.concatenate([head, rest]), out)


@given(xs=series, kwargs=st.one_of(params, defaults), t=st.integers(0, 299),
       tail=st.floats(-1e6, 1e6))
def test_nwrqk_has_no_look_ahead(xs, kwargs, t, tail):
    t = min(t, xs.shape[0] - 1)
    changed = xs.copy()
    changed[t + 1:] = tail
    a = nwrqk_batch_nb(nwrqk_init_state(**kwargs), xs)
    b = nwrqk_batch_nb(nwrqk_init_state(**kwargs), changed)
    np.testing.assert_array_equal(a[:t + 1], b[:t + 1])


@given(xs=series, kwargs=params, k=st.integers(1, 300), old=st.floats(-1e6, 1e6))
def test_nwrqk_window_truncation_is_exact(xs, kwargs, k, old):
    """Inputs before bar k change: estimates from bar k + window on, slope and crosses from
    k + window + 1 and changes from k + window + 2 (all columns) are bit for bit the same."""
    k = min(k, xs.shape[0])
    window = kwargs["window"]
    changed = xs.copy()
    changed[:k] = old
    a = nwrqk_batch_nb(nwrqk_init_state(**kwargs), xs)
    b = nwrqk_batch_nb(nwrqk_init_state(**kwargs), changed)
    np.testing.assert_array_equal(a[k + window:, :2], b[k + window:, :2])
    np.testing.assert_array_equal(a[k + window + 2:], b[k + window + 2:])
