"""The model registry: a saved model loads back identical with its manifest; the same weights
always give the same bytes and version; corrupt, replaced, wrong-shape and mismatched files are
refused with a message naming the file and the values."""

import io

import msgspec
import pytest
import torch

from components.regime.model import RegimeModel, RegimeModelConfig
from engine.core.errors import ModelError
from engine.wiring.registry import (
    DataRef,
    SplitBounds,
    find_artifacts,
    load_model,
    read_manifest,
    save_model,
    weights_bytes,
)

TINY = RegimeModelConfig(window=8, d_model=16, heads=2, layers=1, feedforward=32,
                         decoder_layers=1)


def fields(name="btc"):
    bounds = SplitBounds(samples=10, start_ns=1, end_ns=2, start="a", end="b")
    return {"kind": "rde", "name": name, "training": {"epochs": 3, "span": 200},
            "config_hash": "0123456789abcdef", "data": DataRef(path="d.csv", sha256="ab" * 32),
            "instrument": "BTCUSD", "timeframe": "4h",
            "splits": {"train": bounds, "validation": bounds, "test": bounds},
            "metrics": {"test_recon": 0.25}, "inputs": {"mmd_reference": "btc/0123"},
            "code_version": "abc", "seed": 7, "created": "b", "created_ns": 2}


def model(config=TINY, seed=0):
    torch.manual_seed(seed)
    return RegimeModel(config)


def test_round_trip_same_weights_same_manifest(tmp_path):
    net = model()
    saved = save_model(tmp_path, fields(), net, TINY)
    assert saved.path == tmp_path / "rde" / "btc" / saved.version
    loaded = load_model(saved.path)
    assert loaded.manifest == saved.manifest == read_manifest(saved.path)
    assert loaded.config == TINY and loaded.label == f"rde/btc/{saved.version}"
    m = loaded.manifest
    assert (m.seed, m.inputs, m.metrics, m.splits["test"].samples) == (
        7, {"mmd_reference": "btc/0123"}, {"test_recon": 0.25}, 10)
    assert m.parameters == sum(p.numel() for p in net.parameters())
    assert m.shapes["project.weight"] == [16, 26]
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    assert not loaded.model.training
    # the same weights give the same file and version, wherever they are written
    again = save_model(tmp_path / "other", fields(), model(), TINY)
    assert again.version == saved.version
    assert (again.path / "weights.pt").read_bytes() == (saved.path / "weights.pt").read_bytes()
    assert (again.path / "manifest.json").read_bytes() == (
        saved.path / "manifest.json").read_bytes()
    assert save_model(tmp_path, fields(), model(seed=1), TINY).version != saved.version
    assert find_artifacts(tmp_path) == sorted(p.parent for p in tmp_path.glob(
        "rde/btc/*/manifest.json"))


def test_corrupted_weights_refused(tmp_path):
    saved = save_model(tmp_path, fields(), model(), TINY)
    file = saved.path / "weights.pt"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"weights\.pt: sha256: expected [0-9a-f]{64} .*was "
                       r"[0-9a-f]{64}; the file is corrupt"):
        load_model(saved.path)


def rewrite_manifest(folder, **changes):
    raw = msgspec.json.decode((folder / "manifest.json").read_bytes())
    raw.update(changes)
    (folder / "manifest.json").write_bytes(msgspec.json.encode(raw))


def test_unreadable_weights_with_matching_hash_refused(tmp_path):
    import hashlib

    saved = save_model(tmp_path, fields(), model(), TINY)
    truncated = (saved.path / "weights.pt").read_bytes()[:1000]
    (saved.path / "weights.pt").write_bytes(truncated)
    sha = hashlib.sha256(truncated).hexdigest()
    rewrite_manifest(saved.path, sha256=sha, version=sha[:12])
    with pytest.raises(ModelError, match=r"weights\.pt: expected a torch state dict, could not "
                       r"read it"):
        load_model(saved.path)


def test_wrong_shape_file_refused(tmp_path):
    """Weights of another network put in place of the right ones (with a manifest updated to
    match their hash): the shapes are checked against the configured network."""
    import hashlib

    saved = save_model(tmp_path, fields(), model(), TINY)
    wider = msgspec.structs.replace(TINY, d_model=32, heads=2)
    other = weights_bytes(model(wider))
    (saved.path / "weights.pt").write_bytes(other)
    sha = hashlib.sha256(other).hexdigest()
    rewrite_manifest(saved.path, sha256=sha, version=sha[:12])
    with pytest.raises(ModelError, match=r"weights\.pt: tensor '[a-z_.0-9]+': expected shape "
                       r"\(\d+(, \d+)*\) \(from config\.json\), was \(\d+(, \d+)*\)"):
        load_model(saved.path)


def test_missing_and_extra_tensors_refused(tmp_path):
    import hashlib

    saved = save_model(tmp_path, fields(), model(), TINY)
    for edit, message in ((lambda s: s.pop("out.bias"), r"expected tensor 'out.bias'"),
                          (lambda s: s.__setitem__("extra", torch.zeros(1)),
                           r"tensor 'extra': not part of the configured network")):
        state = model().state_dict()
        edit(state)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        (saved.path / "weights.pt").write_bytes(buffer.getvalue())
        sha = hashlib.sha256(buffer.getvalue()).hexdigest()
        rewrite_manifest(saved.path, sha256=sha, version=sha[:12])
        with pytest.raises(ModelError, match=message):
            load_model(saved.path)


def test_edited_config_and_wrong_kind_refused(tmp_path):
    saved = save_model(tmp_path, fields(), model(), TINY)
    with pytest.raises(ModelError, match=r"manifest\.json: kind: expected 'mrms', was 'rde'"):
        load_model(saved.path, kind="mrms")
    config = saved.path / "config.json"
    config.write_bytes(config.read_bytes().replace(b'"d_model": 16', b'"d_model": 32'))
    with pytest.raises(ModelError, match=r"config\.json: sha256: expected"):
        load_model(saved.path)
    with pytest.raises(ModelError, match=r"manifest\.json: expected a model manifest, found"):
        load_model(tmp_path / "nowhere")


def test_bad_name_refused(tmp_path):
    with pytest.raises(ModelError, match=r"--name: expected letters"):
        save_model(tmp_path, fields("../x"), model(), TINY)
