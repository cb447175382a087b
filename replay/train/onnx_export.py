"""ONNX export of the RDE inference graph, checked against torch (training layer).

``export_onnx(model, path)`` writes the graph of :meth:`RegimeModel.encode` in eval mode (no
dropout): one input ``window`` ``(batch, window, features)`` float32 with a dynamic batch
dimension, two outputs ``mu`` (the regime vector) and ``log_var``, each ``(batch, latent)``.
The decoder is not part of the graph. ``check_onnx(model, path, windows)`` runs the file with
onnxruntime on the first window alone and on the whole batch, compares with ``model.encode``
under ``torch.inference_mode`` and returns the largest absolute difference of ``mu``.

Exporter. torch 2.13's ``torch.onnx.export`` defaults to ``dynamo=True`` (``torch.export``
plus onnxscript's translation and optimiser); this module uses it, with ``dynamic_shapes``
for the batch and ``external_data=False`` so the weights live in the one ``.onnx`` file. The
legacy TorchScript exporter (``dynamo=False``) still runs in 2.13 but is deprecated (it warns
on every call), traces ``RegimeModel._check`` with a ``TracerWarning``, and fails with
"``aten::_transformer_encoder_layer_fwd`` is not supported" when called under ``no_grad``,
where the Transformer takes torch's fused fast path; the dynamo exporter gives the same graph
under ``no_grad`` and with grad enabled. Both exporters matched torch to ~3e-7 on the default
model. The price is time: a dynamo export takes about 6 s warm and 9-15 s cold (imports,
torchlib registry, decompositions) on 2 CPU cores, against well under 2 s for the legacy one.

Determinism. The dynamo exporter annotates every node with its Python stack trace (absolute
source paths and line numbers) and, with the default ``external_data=True``, names the
sidecar weight file inside the model, so its raw bytes depend on where the checkout lives and
what the file is called. Both are removed here (node metadata is cleared; the weights are
embedded). With that, the same weights give byte-identical files: verified across processes,
working directories, target file names and grad modes (torch 2.13.0+cpu, onnxscript 0.7.2,
onnx 1.23.2). A different torch or onnxscript version may produce different (equally valid)
bytes.

Needs the ``onnx`` extra (``onnx``, ``onnxscript``, ``onnxruntime``), imported only inside the
functions, so this module imports without it; without it both functions raise
:class:`~engine.core.errors.ModelError` saying how to install it.
"""

from __future__ import annotations

import copy
import importlib
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from components.regime.model import RegimeModel
from engine.core.errors import ModelError

__all__ = ["INPUT_NAME", "OUTPUT_NAMES", "check_onnx", "export_onnx"]

INPUT_NAME = "window"
OUTPUT_NAMES = ("mu", "log_var")

_INSTALL_HINT = "pip install 'algospace-engine[onnx]' (or '.[onnx]' from a checkout)"
# Example batch for tracing: torch.export specialises sizes 0 and 1, so a dynamic batch needs
# an example of at least 2.
_EXAMPLE_BATCH = 2
# torch's exporter logs this once per missing optional op family on every export; the ops
# (torchvision::nms and the like) are not in this graph.
_REGISTRY_LOGGER = "torch.onnx._internal.exporter._registration"


def _require(*names: str) -> list[ModuleType]:
    """Import ``names`` or raise :class:`ModelError` naming the missing ones and the fix."""
    modules: list[ModuleType] = []
    missing: list[str] = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            missing.append(name)
    if missing:
        raise ModelError(f"ONNX support: expected the package(s) {', '.join(missing)}, "
                         f"was not installed; {_INSTALL_HINT}")
    return modules


class _Encoder(nn.Module):
    """``RegimeModel.encode`` as a module's ``forward`` (the graph the exporter traces)."""

    def __init__(self, model: RegimeModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, window: Tensor) -> tuple[Tensor, Tensor]:  # window: (batch, T, F)
        return self.model.encode(window)  # mu, log_var: (batch, latent) each


class _DropMissingTorchvision(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "torchvision is not installed" not in record.getMessage()


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Drop two known, harmless messages of torch 2.13's exporter, nothing else.

    - ``FutureWarning: isinstance(treespec, LeafSpec) is deprecated``: torch.export calls its
      own deprecated pytree API (raised from ``copyreg``); nothing a caller can change.
    - ``torchvision is not installed. Skipping torchvision::nms`` (and three more ops): the
      exporter's registry logs it at WARNING on every export; the graph uses no torchvision op.
    """
    logger = logging.getLogger(_REGISTRY_LOGGER)
    drop = _DropMissingTorchvision()
    logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec\)` is deprecated",
                                    category=FutureWarning)
            yield
    finally:
        logger.removeFilter(drop)


def export_onnx(model: RegimeModel, path: Path, opset: int | None = None) -> None:
    """Write the inference graph of ``model`` (``mu`` and ``log_var``) to an ONNX file.

    Parameters
    ----------
    model
        The regime model. It is copied and the copy put in eval mode, so ``model`` itself
        (its training flag included) is left as it was.
    path
        The ``.onnx`` file to write (parent folders are created). Written to a temporary
        name and renamed, so a failed export leaves no partial file. The weights are
        embedded; no sidecar file is written.
    opset
        The ONNX (``ai.onnx``) opset version; ``None`` takes torch's default (20 in 2.13).
        torch implements 18 and above; 17 goes through ONNX's version converter (torch logs
        a warning); below 17 the conversion fails (``LayerNormalization`` is opset 17).

    Raises
    ------
    ModelError
        The ``onnx`` extra is not installed, the exporter failed (the message names the
        file and the exporter's error), or the file would not have the requested opset.

    Notes
    -----
    Input ``window`` ``(batch, window, features)`` float32 with a symbolic ``batch``;
    outputs ``mu`` and ``log_var`` ``(batch, latent)``. Same weights, same opset and the
    same package versions give the same bytes (see the module docstring).
    """
    _require("onnx", "onnxscript")
    c = model.config
    encoder = _Encoder(copy.deepcopy(model)).eval()
    example = torch.zeros(_EXAMPLE_BATCH, c.window, c.features)  # (batch, T, F)
    batch = torch.export.Dim("batch")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                encoder, (example,), dynamo=True, opset_version=opset, verbose=False,
                input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                dynamic_shapes={"window": {0: batch}})
        if program is None:  # only the legacy exporter returns None
            raise RuntimeError("torch.onnx.export returned no ONNXProgram")
        got = program.model.opset_imports.get("")
        if opset is not None and got != opset:
            # torch keeps its lowest implemented opset (18) when conversion fails
            raise ModelError(f"{path}: ONNX export: expected opset {opset}, was {got} "
                             f"(version conversion failed; use opset >= 17)")
        # stack traces with absolute paths and line numbers; see the module docstring
        for node in program.model.graph.all_nodes():
            node.metadata_props.clear()
        program.save(partial, external_data=False)
        os.replace(partial, path)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{path}: ONNX export (opset {opset if opset else 'default'}) "
                         f"failed: {type(exc).__name__}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)  # gone after a successful rename


def check_onnx(model: RegimeModel, path: Path, windows: npt.ArrayLike,
               atol: float = 1e-4) -> float:
    """Compare the ONNX file at ``path`` (run by onnxruntime) with ``model.encode``.

    Both are run on ``windows[:1]`` (batch size 1) and on all of ``windows``; torch runs an
    eval-mode copy of ``model`` under ``torch.inference_mode``.

    Parameters
    ----------
    model
        The model the file was exported from (left in the mode it was in).
    path
        The ``.onnx`` file written by :func:`export_onnx`.
    windows
        Finite regime windows ``(batch, window, features)``, ``batch >= 1``; cast to float32.
    atol
        The largest absolute difference allowed, for ``mu`` and for ``log_var``.

    Returns
    -------
    float
        The largest absolute difference of ``mu`` over both runs.

    Raises
    ------
    ModelError
        The ``onnx`` extra is not installed; ``windows`` has the wrong shape or is not
        finite; the file is missing or onnxruntime cannot load or run it; or the difference
        of ``mu`` or ``log_var`` exceeds ``atol`` (the message names the file, the output,
        the difference and ``atol``).
    """
    (ort,) = _require("onnxruntime")
    c = model.config
    x = np.ascontiguousarray(windows, dtype=np.float32)  # (batch, T, F)
    if x.ndim != 3 or x.shape[0] < 1 or x.shape[1:] != (c.window, c.features):
        raise ModelError(f"check_onnx windows: expected (batch >= 1, {c.window}, "
                         f"{c.features}), was {x.shape}")
    if not np.isfinite(x).all():
        raise ModelError(f"check_onnx windows: expected finite values, was "
                         f"{int(np.size(x) - np.isfinite(x).sum())} non-finite")
    if not path.is_file():
        raise ModelError(f"{path}: expected an ONNX file, was missing")
    reference = copy.deepcopy(model).eval()
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"{path}: onnxruntime cannot load it: {exc}") from exc

    worst = {name: 0.0 for name in OUTPUT_NAMES}
    for batch in (x[:1], x):
        try:
            got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch})
        except Exception as exc:
            raise ModelError(f"{path}: onnxruntime failed on input {batch.shape}: "
                             f"{exc}") from exc
        with torch.inference_mode():
            expected = reference.encode(torch.from_numpy(batch))  # mu, log_var: (batch, latent)
        for name, out, ref in zip(OUTPUT_NAMES, got, expected, strict=True):
            ref_np = ref.numpy()
            if out.shape != ref_np.shape:
                raise ModelError(f"{path}: output {name} for input {batch.shape}: expected "
                                 f"shape {ref_np.shape}, was {out.shape}")
            diff = float(np.max(np.abs(out.astype(np.float64) - ref_np.astype(np.float64))))
            worst[name] = float(np.maximum(worst[name], diff))  # NaN propagates
    for name, diff in worst.items():
        if not diff <= atol:
            raise ModelError(f"{path}: ONNX {name} vs torch: expected max abs difference "
                             f"<= {atol:g}, was {diff:.3g}")
    return worst["mu"]
