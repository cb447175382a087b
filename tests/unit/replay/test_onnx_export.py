"""ONNX export of the RDE: the file reproduces torch's mu and log_var (batch 1 and 5), has a
dynamic batch, rejects a wrong window shape at onnxruntime, comes from eval mode without
touching the model's mode, and a missing ``onnx`` extra is named with the install command.

One export (a few seconds with torch's dynamo exporter) is shared by the module.
"""

import copy
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

from components.regime.model import RegimeModel, RegimeModelConfig
from engine.core.errors import ModelError
from replay.train.onnx_export import INPUT_NAME, OUTPUT_NAMES, check_onnx, export_onnx

TINY = RegimeModelConfig(window=24, d_model=16, heads=2, layers=1, feedforward=32,
                         decoder_layers=1)
ATOL = 1e-4


def perturbed_model(seed):
    """A seeded tiny model whose weights (LayerNorm and zero biases included) are moved off
    their initial values, so every part of the graph changes the outputs."""
    torch.manual_seed(seed)
    model = RegimeModel(TINY)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model


def windows(n, seed=2):
    return np.random.default_rng(seed).standard_normal((n, TINY.window, TINY.features)
                                                       ).astype(np.float32)


@pytest.fixture(scope="module", autouse=True)
def deterministic_torch():
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


@pytest.fixture(scope="module")
def model():
    # left in training mode (dropout 0.1): the export must still be the eval-mode graph
    return perturbed_model(seed=0).train()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "rde.onnx"
    export_onnx(model, path)
    return path


def torch_encode(model, x):
    reference = copy.deepcopy(model).eval()
    with torch.inference_mode():
        mu, log_var = reference.encode(torch.from_numpy(x))
    return mu.numpy(), log_var.numpy()


@pytest.mark.parametrize("n", [1, 5])
def test_onnx_mu_and_log_var_match_torch(model, exported, n):
    x = windows(n)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    mu, log_var = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
    want_mu, want_log_var = torch_encode(model, x)
    assert mu.shape == log_var.shape == (n, TINY.latent)
    np.testing.assert_allclose(mu, want_mu, rtol=0, atol=ATOL)
    np.testing.assert_allclose(log_var, want_log_var, rtol=0, atol=ATOL)
    # non-trivial outputs: the comparison is not between two near-zero vectors
    assert np.abs(want_mu).max() > 0.1 and np.abs(want_log_var).max() > 0.1
    if n > 1:
        assert want_mu.std(axis=0).min() > 1e-3


def test_check_onnx_returns_the_mu_difference_and_leaves_the_model_mode(model, exported):
    diff = check_onnx(model, exported, windows(5))
    assert 0.0 <= diff < ATOL
    assert model.training  # neither export nor check switched it to eval


def test_exported_graph_has_named_io_a_dynamic_batch_and_no_sidecar(exported):
    graph = onnx.load(str(exported)).graph
    assert [i.name for i in graph.input] == [INPUT_NAME]
    assert [o.name for o in graph.output] == list(OUTPUT_NAMES)
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [TINY.window, TINY.features]
    assert not any(n.metadata_props for n in graph.node)  # no stack traces with local paths
    assert [p.name for p in exported.parent.iterdir()] == [exported.name]  # weights embedded
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    for n in (3, 7):  # the export example had batch 2
        mu, log_var = session.run(None, {INPUT_NAME: windows(n)})
        assert mu.shape == log_var.shape == (n, TINY.latent)


def test_wrong_window_shape_fails_at_onnxruntime(exported):
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    bad = np.zeros((1, TINY.window - 1, TINY.features), dtype=np.float32)
    with pytest.raises(InvalidArgument, match=r"(?s)input: window.*index: 1 Got: 23 Expected: 24"):
        session.run(None, {INPUT_NAME: bad})


def test_check_onnx_names_the_file_and_the_difference_of_another_model(exported):
    other = perturbed_model(seed=7)
    with pytest.raises(ModelError, match=rf"{exported.name}: ONNX mu vs torch: expected max abs "
                                         r"difference <= 0\.0001, was \d"):
        check_onnx(other, exported, windows(2))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 24, 25)), r"expected \(batch >= 1, 24, 26\), was \(2, 24, 25\)"),
    (np.zeros((0, 24, 26)), r"expected \(batch >= 1, 24, 26\), was \(0, 24, 26\)"),
    (np.full((1, 24, 26), np.nan), r"expected finite values, was 624 non-finite"),
])
def test_check_onnx_refuses_bad_windows(model, exported, bad, message):
    with pytest.raises(ModelError, match=message):
        check_onnx(model, exported, bad)


@pytest.mark.parametrize("missing, call", [
    ("onnxscript", lambda m, p: export_onnx(m, p)),
    ("onnx", lambda m, p: export_onnx(m, p)),
    ("onnxruntime", lambda m, p: check_onnx(m, p, windows(1))),
])
def test_missing_onnx_packages_name_the_extra(monkeypatch, model, tmp_path, missing, call):
    monkeypatch.setitem(sys.modules, missing, None)  # makes ``import missing`` fail
    path = tmp_path / "rde.onnx"
    with pytest.raises(ModelError, match=rf"{missing}, was not installed; "
                                         r"pip install 'algospace-engine\[onnx\]' "
                                         r"\(or '\.\[onnx\]' from a checkout\)"):
        call(model, path)
    assert not path.exists()
