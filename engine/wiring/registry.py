"""The model registry: trained networks as verified, versioned artifacts (wiring layer).

A registered model is a folder ``<models dir>/<kind>/<name>/<version>/`` (beside the MMD
references, ``<models dir>/mmd_reference/<name>/<version>/``) holding:

- ``weights.pt``: the ``state_dict``, written by ``torch.save`` into memory first so the bytes
  depend only on the tensors (the same weights always give the same file); loaded with
  ``weights_only=True`` (no pickled code runs);
- ``config.json``: the network's config Struct (its exact shapes);
- ``manifest.json`` (sorted keys): kind, name, version, the sha256 of both files, every tensor's
  shape, the parameter count, the training config and its hash, the data file's sha256, the
  instrument and timeframe, the split bounds, the metrics, the input artifacts it depends on
  (e.g. the MMD reference whose features it reads), the code version, the seed, the torch
  version, and ``created``: the close of the last training bar (the data clock, never the wall
  clock, so retraining the same code on the same data gives byte-identical files).

``version`` is the first 12 hex digits of the weights' sha256. :func:`load_model` checks both
hashes, decodes the config, loads the tensors and compares every key and shape with a freshly
built network before ``load_state_dict(strict=True)``; any mismatch or corrupt file is a
:class:`~engine.core.errors.ModelError` naming the file, the tensor and both values.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import torch
from torch import nn

from components.decision.model import MarlModel, MarlModelConfig
from components.regime.model import RegimeModel, RegimeModelConfig
from components.risk.model import RiskModel, RiskModelConfig
from engine.core.config import Config
from engine.core.errors import ModelError

__all__ = ["KINDS", "DataRef", "LoadedModel", "ModelManifest", "SplitBounds", "find_artifacts",
           "load_model", "read_manifest", "save_model", "weights_bytes"]

WEIGHTS_FILE = "weights.pt"
CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"
FORMAT = 1

# kind -> (config Struct, network built from it)
KINDS: dict[str, tuple[type[Config], Callable[[Any], nn.Module]]] = {
    "rde": (RegimeModelConfig, RegimeModel),
    "mrms": (RiskModelConfig, RiskModel),
    "marl": (MarlModelConfig, MarlModel),
}


class SplitBounds(msgspec.Struct, frozen=True, kw_only=True):
    """One split: how many samples, and the closes of its first and last bars."""

    samples: int
    start_ns: int
    end_ns: int
    start: str
    end: str


class DataRef(msgspec.Struct, frozen=True, kw_only=True):
    """The data file a model was trained on."""

    path: str
    sha256: str


class ModelManifest(msgspec.Struct, frozen=True, kw_only=True):
    """``manifest.json`` of a registered model."""

    kind: str
    format: int
    name: str
    version: str
    sha256: str
    config_sha256: str
    parameters: int
    shapes: dict[str, list[int]]
    training: dict[str, Any]
    config_hash: str
    data: DataRef
    instrument: str
    timeframe: str
    splits: dict[str, SplitBounds]
    metrics: dict[str, float]
    inputs: dict[str, str]
    code_version: str
    seed: int
    torch: str
    created: str
    created_ns: int


@dataclass(frozen=True)
class LoadedModel:
    """A verified model in eval mode; ``path`` is its version folder and ``weights`` the bytes
    of ``weights.pt`` (what an inference component is configured with)."""

    model: nn.Module
    config: Config
    manifest: ModelManifest
    weights: bytes
    path: Path

    @property
    def version(self) -> str:
        """The first 12 hex digits of the weights' sha256."""
        return self.manifest.version

    @property
    def label(self) -> str:
        """``kind/name/version``."""
        m = self.manifest
        return f"{m.kind}/{m.name}/{m.version}"


def weights_bytes(model: nn.Module) -> bytes:
    """The ``state_dict`` as ``torch.save`` bytes, independent of any file name."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _encode(value: Any) -> bytes:
    return msgspec.json.format(msgspec.json.encode(value, order="sorted"), indent=2) + b"\n"


def save_model(models_dir: Path, manifest_fields: dict[str, Any], model: nn.Module,
               config: Config) -> LoadedModel:
    """Write ``<models_dir>/<kind>/<name>/<version>/`` and return it, loaded back and verified.

    ``manifest_fields`` holds every :class:`ModelManifest` field except those computed here
    (``format``, ``version``, ``sha256``, ``config_sha256``, ``parameters``, ``shapes``,
    ``torch``).
    """
    kind, name = manifest_fields["kind"], manifest_fields["name"]
    if kind not in KINDS:
        raise ModelError(f"kind: expected one of {sorted(KINDS)}, was {kind!r}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
        raise ModelError(f"--name: expected letters, digits, '_', '-' and '.', was {name!r}")
    weights = weights_bytes(model)
    config_json = _encode(config)
    sha = hashlib.sha256(weights).hexdigest()
    manifest = ModelManifest(
        **manifest_fields, format=FORMAT, version=sha[:12], sha256=sha,
        config_sha256=hashlib.sha256(config_json).hexdigest(),
        parameters=sum(p.numel() for p in model.parameters()),
        shapes={k: list(v.shape) for k, v in model.state_dict().items()},
        torch=torch.__version__.split("+")[0])
    out = models_dir / kind / name / manifest.version
    out.mkdir(parents=True, exist_ok=True)
    (out / WEIGHTS_FILE).write_bytes(weights)
    (out / CONFIG_FILE).write_bytes(config_json)
    (out / MANIFEST_FILE).write_bytes(_encode(manifest))
    return load_model(out)


def read_manifest(folder: Path) -> ModelManifest:
    """Decode ``folder/manifest.json`` (no other check)."""
    file = folder / MANIFEST_FILE
    if not file.is_file():
        raise ModelError(f"{file}: expected a model manifest, found none")
    try:
        return msgspec.json.decode(file.read_bytes(), type=ModelManifest)
    except msgspec.DecodeError as exc:
        raise ModelError(f"{file}: expected a model manifest, {exc}") from exc


def load_model(path: Path, kind: str | None = None) -> LoadedModel:
    """Load and verify a registered model (its version folder or its ``weights.pt``).

    ``kind`` (e.g. ``"rde"``), when given, must match the manifest's.
    """
    path = Path(path)
    folder = path.parent if path.name == WEIGHTS_FILE else path
    weights_file, config_file = folder / WEIGHTS_FILE, folder / CONFIG_FILE
    manifest = read_manifest(folder)
    if kind is not None and manifest.kind != kind:
        raise ModelError(f"{folder / MANIFEST_FILE}: kind: expected {kind!r}, "
                         f"was {manifest.kind!r}")
    if manifest.kind not in KINDS:
        raise ModelError(f"{folder / MANIFEST_FILE}: kind: expected one of {sorted(KINDS)}, "
                         f"was {manifest.kind!r}")
    for required in (weights_file, config_file):
        if not required.is_file():
            raise ModelError(f"{required}: expected a model file, found none")
    weights = weights_file.read_bytes()
    actual = hashlib.sha256(weights).hexdigest()
    if actual != manifest.sha256:
        raise ModelError(f"{weights_file}: sha256: expected {manifest.sha256} (from "
                         f"{MANIFEST_FILE}), was {actual}; the file is corrupt or was replaced")
    if manifest.version != actual[:12]:
        raise ModelError(f"{folder / MANIFEST_FILE}: version: expected {actual[:12]} (the "
                         f"weights' sha256), was {manifest.version}")
    config_bytes = config_file.read_bytes()
    config_sha = hashlib.sha256(config_bytes).hexdigest()
    if config_sha != manifest.config_sha256:
        raise ModelError(f"{config_file}: sha256: expected {manifest.config_sha256} (from "
                         f"{MANIFEST_FILE}), was {config_sha}")
    config_type, build = KINDS[manifest.kind]
    try:
        config = msgspec.json.decode(config_bytes, type=config_type)
    except (msgspec.DecodeError, ValueError) as exc:
        raise ModelError(f"{config_file}: expected a {config_type.__name__}, {exc}") from exc
    try:
        state = torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise ModelError(f"{weights_file}: expected a torch state dict, could not read it "
                         f"({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ModelError(f"{weights_file}: expected a state dict of named tensors, was "
                         f"{type(state).__name__}")
    model = build(config)
    _check_shapes(weights_file, model.state_dict(), state, manifest)
    model.load_state_dict(state, strict=True)
    model.eval()
    return LoadedModel(model=model, config=config, manifest=manifest, weights=weights,
                       path=folder)


def _check_shapes(file: Path, expected: dict[str, torch.Tensor], actual: dict[str, Any],
                  manifest: ModelManifest) -> None:
    missing = [k for k in expected if k not in actual]
    if missing:
        raise ModelError(f"{file}: expected tensor {missing[0]!r} (and {len(missing) - 1} "
                         f"more missing) for the configured network, found none")
    unexpected = [k for k in actual if k not in expected]
    if unexpected:
        raise ModelError(f"{file}: tensor {unexpected[0]!r}: not part of the configured "
                         f"network ({len(unexpected)} unexpected)")
    for key, tensor in expected.items():
        got = tuple(actual[key].shape)
        if got != tuple(tensor.shape):
            raise ModelError(f"{file}: tensor {key!r}: expected shape {tuple(tensor.shape)} "
                             f"(from {CONFIG_FILE}), was {got}")
        if actual[key].dtype != tensor.dtype:
            raise ModelError(f"{file}: tensor {key!r}: expected dtype {tensor.dtype}, was "
                             f"{actual[key].dtype}")
        listed = manifest.shapes.get(key)
        if listed is not None and tuple(listed) != got:
            raise ModelError(f"{file}: tensor {key!r}: shape {got} differs from "
                             f"{MANIFEST_FILE} ({tuple(listed)})")


def find_artifacts(models_dir: Path) -> list[Path]:
    """Every artifact version folder under ``models_dir`` (``<kind>/<name>/<version>``), sorted."""
    if not models_dir.is_dir():
        return []
    return sorted(p.parent for p in models_dir.glob(f"*/*/*/{MANIFEST_FILE}"))
