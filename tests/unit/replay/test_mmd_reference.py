"""MMD reference sets: the fit's invariants, determinism, causality, the artifact's checks and
the out-of-sample guard, on slices of the bundled real data."""

import hashlib
import json
import warnings
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from components.regime.mmd.kernels import N_SETS, mmd_vectors_batch_nb, mmd_vectors_init_state
from components.regime.mmd.reference import MmdReference
from engine.core.errors import ModelError
from engine.wiring.references import load_reference, parse_until, require_out_of_sample
from engine.wiring.schema import load_app_config
from replay.data.timestamps import format_ns
from replay.train.mmd_fit import FitParams, fit_reference
from replay.train.mmd_reference import fit_mmd_reference, save_reference

ROOT = Path(__file__).resolve().parents[3]
BTC_CSV = ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv"
SLICE_ROWS = 2400  # 600 slow 4h bars: 420 training bars, 20 blocks
HOUR_NS = 3_600_000_000_000


def _btc_rows() -> tuple[str, list[list[str]]]:
    header, *lines = BTC_CSV.read_text().splitlines()
    return header, [line.split(",") for line in lines[:SLICE_ROWS]]


HEADER, ROWS = _btc_rows()
ROW_TS = np.array([np.datetime64(r[0].rstrip("Z"), "ns").astype(np.int64) for r in ROWS])


def _write_slice(folder: Path, rows: list[list[str]]) -> Path:
    """A BTC 1h/4h config over ``rows``; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "btc.csv"
    data.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n")
    config = folder / "btc_slice.toml"
    config.write_text(f'instrument = "BTCUSD"\n[data]\npath = "{data}"\nbar_interval = "1h"\n'
                      '[timeframes]\nfast = "1h"\nslow = "4h"\n')
    return config


def _fit_and_save(config: Path, models: Path, seed: int = 0, **period):
    loaded = load_app_config(config)
    fit, procedure = fit_mmd_reference(loaded.config, loaded.data_path, FitParams(seed=seed),
                                       **period)
    return save_reference(fit, procedure, models, "btc_slice", loaded.config.data.path)


def _files(artifact) -> tuple[bytes, bytes]:
    return ((artifact.path / "reference.msgpack").read_bytes(),
            (artifact.path / "manifest.json").read_bytes())


class _Fitted(tuple):
    """(config, artifact) with a short repr for hypothesis's failure reports."""

    def __repr__(self) -> str:
        return f"<{self[1].name}/{self[1].version}>"


@pytest.fixture(scope="module")
def btc_slice(tmp_path_factory):
    folder = tmp_path_factory.mktemp("btc")
    config = _write_slice(folder, ROWS)
    return _Fitted((config, _fit_and_save(config, folder / "models")))


def test_same_data_and_seed_give_identical_files_and_another_seed_a_valid_artifact(
        btc_slice, tmp_path):
    config, first = btc_slice
    again = _fit_and_save(config, tmp_path / "again")
    assert _files(again) == _files(first)
    assert again.version == first.version == first.path.name
    other = _fit_and_save(config, tmp_path / "other", seed=7)
    assert other.version != first.version
    assert other.reference.seed == 7 and len(other.reference.sets) == N_SETS
    assert load_reference(other.path).sha256 == other.sha256


def test_fit_follows_the_procedure(btc_slice):
    _, artifact = btc_slice
    ref = artifact.reference
    manifest = artifact.manifest
    assert manifest.bars.training == 420 and manifest.bars.vectors == 400
    assert manifest.bars.blocks == 20 == sum(s.blocks for s in ref.sets)
    trends = [s.trend for s in ref.sets]
    assert trends == sorted(trends)
    assert [s.name for s in ref.sets] == [f"regime_{k}" for k in range(N_SETS)]
    # an independent 4h aggregation of the 1h rows (BTC buckets are aligned to 00:00 UTC)
    rows = np.array([[float(x) for x in r[1:5]] for r in ROWS])
    bucket = ROW_TS // (4 * HOUR_NS)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    h4 = np.maximum.reduceat(rows[:, 1], starts)
    l4 = np.minimum.reduceat(rows[:, 2], starts)
    c4 = rows[np.r_[starts[1:], len(rows)] - 1, 3]
    closes = (bucket[starts] + 1) * 4 * HOUR_NS
    assert closes[0] == ref.period_start_ns and closes[419] == ref.period_end_ns
    h4, l4, c4 = h4[:420], l4[:420], c4[:420]
    vectors = mmd_vectors_batch_nb(mmd_vectors_init_state(20), h4, l4, c4)[20:]
    np.testing.assert_allclose(ref.norm_mean, vectors.mean(0), rtol=1e-12)
    np.testing.assert_allclose(ref.norm_std, vectors.std(0), rtol=1e-12)
    normalised = (vectors - vectors.mean(0)) / vectors.std(0)
    pooled = []
    for s in ref.sets:
        points = np.asarray(s.points).reshape(s.count, 4)
        assert s.bars == 20 * s.blocks and s.count == min(s.bars, 200)
        # every point is a training vector, in time order
        index = [int(np.argmin(((normalised - p) ** 2).sum(1))) for p in points]
        np.testing.assert_allclose(normalised[index], points, rtol=0, atol=1e-9)
        assert index == sorted(index) and len(set(index)) == s.count
        np.testing.assert_allclose(s.mean, points.mean(0), rtol=1e-12, atol=1e-15)
        pooled.append(points)
    pooled = np.concatenate(pooled)
    i, j = np.triu_indices(len(pooled), 1)
    d2 = ((pooled[i] - pooled[j]) ** 2).sum(1)
    assert ref.bandwidth == pytest.approx(np.sqrt(np.median(d2)), rel=1e-12)


def _strip(artifact) -> tuple[bytes, dict]:
    """The artifact without what names the whole data file (its path and sha256, and so the
    version)."""
    ref = msgspec.structs.replace(artifact.reference, data_sha256="")
    manifest = json.loads((artifact.path / "manifest.json").read_text())
    for key in ("sha256", "version"):
        del manifest[key]
    del manifest["data"]  # its sha256, and the path of each example's own copy
    return msgspec.msgpack.encode(ref), manifest


@pytest.fixture(scope="module")
def until_baseline(btc_slice, tmp_path_factory):
    config, _ = btc_slice
    until = int(ROW_TS[1800]) // (4 * HOUR_NS) * (4 * HOUR_NS)  # a 4h bucket boundary
    artifact = _fit_and_save(config, tmp_path_factory.mktemp("until"), until_ns=until)
    assert artifact.reference.period_end_ns == until
    return _Fitted((until, artifact))


# no shrinking: an example is a replay plus a fit, and the drawn rows are already readable
@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(data=st.data())
def test_bars_after_the_cut_never_change_the_reference(btc_slice, until_baseline,
                                                       tmp_path_factory, data):
    _, by_fraction = btc_slice
    until, by_until = until_baseline
    mode = data.draw(st.sampled_from(["edit", "edit-until", "drop-until", "truncate-until"]))
    baseline = by_fraction if mode == "edit" else by_until
    after = np.flatnonzero(ROW_TS >= baseline.reference.period_end_ns)
    picked = data.draw(st.lists(st.sampled_from(after.tolist()), min_size=1, max_size=40,
                                unique=True))
    rows = [list(r) for r in ROWS]
    if mode.startswith("edit"):
        factor = data.draw(st.floats(0.5, 2.0))
        for i in picked:
            rows[i][1:5] = [repr(float(x) * factor) for x in rows[i][1:5]]
    elif mode == "drop-until":
        rows = [r for i, r in enumerate(rows) if i not in set(picked)]
    else:
        rows = rows[: min(picked)]
    config = _write_slice(tmp_path_factory.mktemp("after"), rows)
    period = {} if mode == "edit" else {"until_ns": until}
    changed = _fit_and_save(config, config.parent / "models", **period)
    assert _strip(changed) == _strip(baseline)


def test_load_round_trip_and_the_file_path(btc_slice):
    _, artifact = btc_slice
    for path in (artifact.path, artifact.path / "reference.msgpack"):
        loaded = load_reference(path)
        assert loaded.reference == artifact.reference
        assert loaded.sha256 == hashlib.sha256(
            (artifact.path / "reference.msgpack").read_bytes()).hexdigest()
        assert (loaded.version, loaded.name, loaded.path) == (
            loaded.sha256[:12], "btc_slice", artifact.path)


def _copy(artifact, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("reference.msgpack", "manifest.json"):
        (folder / name).write_bytes((artifact.path / name).read_bytes())
    return folder


def _rewrite(folder: Path, payload: bytes) -> None:
    """Replace reference.msgpack and make the manifest's sha256 and version match it."""
    (folder / "reference.msgpack").write_bytes(payload)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sha256"] = hashlib.sha256(payload).hexdigest()
    manifest["version"] = manifest["sha256"][:12]
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_corrupt_byte_is_a_sha256_mismatch_naming_the_file(btc_slice, tmp_path):
    folder = _copy(btc_slice[1], tmp_path)
    payload = bytearray((folder / "reference.msgpack").read_bytes())
    payload[len(payload) // 2] ^= 0x01
    (folder / "reference.msgpack").write_bytes(bytes(payload))
    with pytest.raises(ModelError, match="sha256: expected") as info:
        load_reference(folder)
    assert str(folder / "reference.msgpack") in str(info.value)
    assert btc_slice[1].sha256 in str(info.value)


@pytest.mark.parametrize("damage", ["missing", "not json", "wrong kind"])
def test_a_missing_or_invalid_manifest_is_refused(btc_slice, tmp_path, damage):
    folder = _copy(btc_slice[1], tmp_path)
    manifest = folder / "manifest.json"
    if damage == "missing":
        manifest.unlink()
    elif damage == "not json":
        manifest.write_text("{")
    else:
        manifest.write_text(manifest.read_text().replace('"mmd_reference"', '"rde"'))
    with pytest.raises(ModelError, match="manifest.json"):
        load_reference(folder)


def test_a_missing_reference_file_is_refused(tmp_path):
    with pytest.raises(ModelError, match="reference.msgpack: expected"):
        load_reference(tmp_path)


def test_a_truncated_file_with_a_matching_hash_is_a_decode_error(btc_slice, tmp_path):
    folder = _copy(btc_slice[1], tmp_path)
    _rewrite(folder, (folder / "reference.msgpack").read_bytes()[:-100])
    with pytest.raises(ModelError, match="expected a decodable MMD reference"):
        load_reference(folder)


def test_a_wrong_number_of_sets_is_a_validation_error(btc_slice, tmp_path):
    folder = _copy(btc_slice[1], tmp_path)
    fields = msgspec.to_builtins(btc_slice[1].reference)
    fields["sets"] = fields["sets"][:6]
    _rewrite(folder, msgspec.msgpack.encode(fields))
    with pytest.raises(ModelError, match=r"expected a valid MMD reference.*sets: expected 7, "
                                         r"was 6"):
        load_reference(folder)


def test_require_out_of_sample_refuses_evaluation_at_or_before_the_period_end(btc_slice):
    artifact = btc_slice[1]
    end = artifact.reference.period_end_ns
    for first_eval in (artifact.reference.period_start_ns, end - 1, end):
        with pytest.raises(ModelError) as info:
            require_out_of_sample(artifact, first_eval, "backtest btc_slice.toml")
        message = str(info.value)
        assert message.startswith("backtest btc_slice.toml: MMD reference btc_slice/")
        assert format_ns(end) in message and format_ns(first_eval) in message
        assert "--until" in message and "\n" not in message
    require_out_of_sample(artifact, end + 1, "backtest")
    require_out_of_sample(artifact, end + 4 * HOUR_NS, "backtest")


def test_too_short_a_period_says_how_long_it_must_be():
    loaded = load_app_config(ROOT / "config" / "es_5m_30m.toml")
    with pytest.raises(ModelError, match=r"training period: expected at least 160 slow bars .*"
                                         r"was 53 .* gives 1 block; .* at least 229 slow bars"):
        fit_mmd_reference(loaded.config, loaded.data_path, FitParams())


def test_a_constant_dimension_is_an_error_naming_it():
    n = 300
    flat = np.full(n, 100.0)
    with pytest.raises(ModelError, match="normalisation of 'return'"):
        fit_reference(np.arange(n), flat, flat, flat, instrument="X", timeframe="4h",
                      data_sha256="", params=FitParams(), source="flat.csv")


@pytest.mark.parametrize(("text", "ns"), [
    ("2019-01-01", 1_546_300_800_000_000_000),
    ("2019-01-01T00:00:00Z", 1_546_300_800_000_000_000),
    ("2019-01-01T01:00:00+01:00", 1_546_300_800_000_000_000),
    ("2019-01-01T00:00:00.000001", 1_546_300_800_000_001_000),
])
def test_parse_until(text, ns):
    assert parse_until(text) == ns


def test_parse_until_refuses_other_text():
    with pytest.raises(ModelError, match="--until: expected an ISO 8601 date or timestamp"):
        parse_until("yesterday")


@pytest.fixture(scope="module")
def committed_refits(tmp_path_factory):
    """Each committed artifact, loaded, with a refit by the command's own defaults."""
    out = {}
    for name in ("btcusd_1h", "eurusd_1h"):
        versions = sorted((ROOT / "models" / "mmd_reference" / name).iterdir())
        assert len(versions) == 1, f"expected one committed {name} version, was {versions}"
        loaded = load_app_config(ROOT / "config" / f"{name}.toml")
        fit, procedure = fit_mmd_reference(loaded.config, loaded.data_path,
                                           FitParams(seed=loaded.config.seed))
        refit = save_reference(fit, procedure, tmp_path_factory.mktemp(name), name,
                               loaded.config.data.path)
        out[name] = (load_reference(versions[0]), refit)
    return out


def _float_fields(ref: MmdReference) -> np.ndarray:
    return np.concatenate([ref.norm_mean, ref.norm_std, [ref.bandwidth],
                           *([*s.points, s.trend, s.volatility, s.autocorrelation, *s.mean,
                              *s.std] for s in ref.sets)])


@pytest.mark.parametrize("name", ["btcusd_1h", "eurusd_1h"])
def test_committed_artifacts_verify_and_a_refit_reproduces_them(committed_refits, name):
    committed, refit = committed_refits[name]
    assert committed.name == name and committed.path.name == committed.version
    a, b = committed.reference, refit.reference
    assert [s.count for s in a.sets] == [s.count for s in b.sets]
    assert (a.period_start_ns, a.period_end_ns, a.data_sha256) == (
        b.period_start_ns, b.period_end_ns, b.data_sha256)
    fa, fb = _float_fields(a), _float_fields(b)
    diff = float(np.max(np.abs(fa - fb)))
    # Byte equality is expected on the machine that fitted them. Another CPU or libm may round
    # a last digit differently (the kernel's log): then only a warning, within rtol 1e-12.
    np.testing.assert_allclose(fb, fa, rtol=1e-12, atol=0,
                               err_msg=f"refit differs, max abs difference {diff:.3g}")
    if (committed.path / "reference.msgpack").read_bytes() != (
            refit.path / "reference.msgpack").read_bytes():
        warnings.warn(f"{name}: refit bytes differ from the committed artifact, max abs "
                      f"difference {diff:.3g} (within rtol 1e-12)", stacklevel=1)
        return
    committed_manifest = json.loads((committed.path / "manifest.json").read_text())
    refit_manifest = json.loads((refit.path / "manifest.json").read_text())
    committed_manifest.pop("code_version")
    refit_manifest.pop("code_version")
    assert refit_manifest == committed_manifest


def test_btc_regimes_really_differ(committed_refits):
    ref = committed_refits["btcusd_1h"][0].reference
    assert ref.sets[0].trend < 0 < ref.sets[-1].trend
    assert len({s.volatility for s in ref.sets}) == N_SETS
    assert max(s.volatility for s in ref.sets) > 2 * min(s.volatility for s in ref.sets)
    means = np.array([s.mean for s in ref.sets])
    assert means[0, 1] < means[-1, 1]  # normalised log returns: bearish set below bullish
