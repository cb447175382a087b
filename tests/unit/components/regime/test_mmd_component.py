"""The MMD component: events, batch form, warm-up, snapshot checks, the event's wire form."""

from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest

from components.regime.mmd import (
    MMD_FEATURE_NAMES,
    MMD_VECTOR_NAMES,
    Mmd,
    MmdConfig,
    MmdReference,
    RegimeSet,
)
from components.regime.mmd.kernels import mmd_vectors_batch_nb, mmd_vectors_init_state
from engine.core.chunks import BarChunk
from engine.core.events import Bar, MmdFeatures, decode, encode

ROOT = Path(__file__).resolve().parents[4]
HOUR = 3600 * 10**9


def btc(n=600):
    frame = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv").iloc[:n]
    ts = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ns").astype("int64")
    cols = [frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")]
    ts_open = ts.to_numpy(np.int64)
    return BarChunk(ts_open, ts_open + HOUR, *cols)


def events(chunk):
    return [Bar(int(tc), int(tc), "BTCUSD", "1h", int(to), o, h, lo, c, v)
            for to, tc, o, h, lo, c, v in zip(*(col.tolist() for col in chunk), strict=True)]


def reference_from(chunk, per_set=12):
    """A test reference: 7 consecutive chunks of the real vectors (not the fitting procedure,
    which replay/train/mmd_reference.py implements and tests)."""
    vectors = mmd_vectors_batch_nb(mmd_vectors_init_state(20), chunk.high, chunk.low,
                                   chunk.close)
    vectors = vectors[~np.isnan(vectors[:, 0])]
    mean, std = vectors.mean(0), vectors.std(0)
    norm = (vectors - mean) / std
    sets = [RegimeSet(name=f"regime_{k}", count=per_set,
                      points=norm[k * per_set:(k + 1) * per_set].ravel().tolist(), blocks=1,
                      bars=per_set, trend=0.0, volatility=0.0, autocorrelation=0.0,
                      mean=[0.0] * 4, std=[1.0] * 4) for k in range(7)]
    return MmdReference(format=1, vector_names=list(MMD_VECTOR_NAMES), vol_window=20,
                        norm_mean=mean.tolist(), norm_std=std.tolist(), bandwidth=1.5,
                        sets=sets, instrument="BTCUSD", timeframe="1h", period_start_ns=0,
                        period_end_ns=0, data_sha256="0" * 64, block_bars=20, set_size=per_set,
                        seed=0)


@pytest.fixture(scope="module")
def config():
    return MmdConfig(reference=reference_from(btc(400)), version="test", timeframe="1h",
                     window=30)


def test_emits_23_named_values_once_defined_and_equals_the_batch_form(config):
    chunk = btc()
    again = Mmd(config)
    out = [e for bar in events(chunk) for e in again.on_event(bar)]
    component = Mmd(config)
    emitted = [e for bar in events(chunk) for e in component.on_event(bar)]
    assert len(MMD_FEATURE_NAMES) == 23
    assert all(type(e) is MmdFeatures and len(e.values) == 23 for e in emitted)
    assert all(np.isfinite(e.values).all() and e.reference == "test" for e in emitted)
    assert component.ready
    batch = Mmd(config).on_chunk(chunk)
    first = 100  # the 100-return volatility ratio binds: 20 + 30 - 1 < 100
    assert np.isnan(batch[:first]).all() and np.isfinite(batch[first:]).all()
    assert len(emitted) == len(chunk.close) - first
    np.testing.assert_array_equal(np.array([e.values for e in emitted]), batch[first:])
    assert emitted[0].ts_event == int(chunk.ts_close[first])
    assert out == emitted  # a fresh instance repeats itself


def test_ignores_other_timeframes_and_types(config):
    bar = events(btc(2))[0]
    component = Mmd(config)
    assert component.on_event(msgspec.structs.replace(bar, timeframe="4h")) == ()
    assert not component.ready


def test_a_snapshot_of_another_shape_is_refused(config):
    other = Mmd(msgspec.structs.replace(config, window=10))
    with pytest.raises(ValueError, match="mmd snapshot: expected a state of"):
        Mmd(config).restore(other.snapshot())


def test_the_event_round_trips_and_a_wrong_length_is_refused():
    event = MmdFeatures(1, 2, "BTCUSD", "4h", tuple(float(i) for i in range(23)), "abc")
    assert decode(encode(event)) == event
    short = msgspec.msgpack.encode({"type": "MmdFeatures", "ts_event": 1, "ts_init": 2,
                                    "instrument": "BTCUSD", "timeframe": "4h",
                                    "values": [0.0] * 7, "reference": "abc"})
    with pytest.raises(msgspec.ValidationError, match=r"length >= 23 - at `\$.values`"):
        decode(short)
