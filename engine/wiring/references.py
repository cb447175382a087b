"""MMD reference artifacts: their manifest, loading with verification, the out-of-sample
check (wiring layer). Fitting and saving them is training (``replay/train/mmd_reference.py``,
``algospace train mmd-reference``); every run that computes MMD features loads them here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np

from components.regime.mmd.reference import MmdReference
from engine.core.errors import ModelError
from engine.core.timeframes import parse_instant
from replay.data.timestamps import format_ns

__all__ = ["KIND", "MANIFEST_FILE", "REFERENCE_FILE", "LoadedReference", "ReferenceBars",
           "ReferenceData", "ReferenceManifest", "ReferencePeriod", "ReferenceProcedure",
           "ReferenceSet", "format_fit", "load_reference", "parse_until",
           "require_out_of_sample"]

KIND = "mmd_reference"
REFERENCE_FILE = "reference.msgpack"
MANIFEST_FILE = "manifest.json"


class ReferenceProcedure(msgspec.Struct, frozen=True, kw_only=True):
    """The procedure's parameters as run (``train_fraction`` or ``until``, the other null)."""

    train_fraction: float | None
    until: str | None
    until_ns: int | None
    block_bars: int
    set_size: int
    vol_window: int
    k: int
    n_init: int
    seed: int


class ReferenceData(msgspec.Struct, frozen=True, kw_only=True):
    path: str  # as given in the config (or --data)
    sha256: str


class ReferencePeriod(msgspec.Struct, frozen=True, kw_only=True):
    start_ns: int
    end_ns: int
    start: str
    end: str


class ReferenceBars(msgspec.Struct, frozen=True, kw_only=True):
    training: int
    vectors: int
    blocks: int


class ReferenceSet(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    count: int
    blocks: int
    bars: int
    trend: float
    volatility: float
    autocorrelation: float


class ReferenceManifest(msgspec.Struct, frozen=True, kw_only=True):
    """``manifest.json`` of a reference artifact."""

    kind: Literal["mmd_reference"]
    format: int
    name: str
    version: str
    sha256: str
    data: ReferenceData
    instrument: str
    timeframe: str
    period: ReferencePeriod
    bars: ReferenceBars
    procedure: ReferenceProcedure
    sets: list[ReferenceSet]
    bandwidth: float
    code_version: str


@dataclass(frozen=True, slots=True)
class LoadedReference:
    """A verified reference artifact: ``path`` is its version directory."""

    reference: MmdReference
    manifest: ReferenceManifest
    sha256: str
    version: str
    name: str
    path: Path


def parse_until(text: str) -> int:
    """``--until`` as UTC ns (ISO 8601; no zone means UTC).

    Examples
    --------
    >>> parse_until("2019-01-01T00:00:00Z") == parse_until("2019-01-01") == 1_546_300_800 * 10**9
    True
    """
    try:
        return parse_instant(text, "--until")
    except ValueError as exc:
        raise ModelError(str(exc)) from exc


def load_reference(path: Path) -> LoadedReference:
    """Load and verify a reference artifact: its version directory or ``reference.msgpack``."""
    path = Path(path)
    folder = path.parent if path.name == REFERENCE_FILE else path
    file, manifest_file = folder / REFERENCE_FILE, folder / MANIFEST_FILE
    for required in (file, manifest_file):
        if not required.is_file():
            raise ModelError(f"{required}: expected an MMD reference artifact file, found none")
    try:
        manifest = msgspec.json.decode(manifest_file.read_bytes(), type=ReferenceManifest)
    except msgspec.DecodeError as exc:
        raise ModelError(f"{manifest_file}: expected an MMD reference manifest, {exc}") from exc
    payload = file.read_bytes()
    actual = hashlib.sha256(payload).hexdigest()
    if actual != manifest.sha256:
        raise ModelError(f"{file}: sha256: expected {manifest.sha256} (from {MANIFEST_FILE}), "
                         f"was {actual}")
    if manifest.version != actual[:12]:
        raise ModelError(f"{manifest_file}: version: expected {actual[:12]} (the file's sha256), "
                         f"was {manifest.version}")
    try:
        reference = msgspec.msgpack.decode(payload, type=MmdReference)
    except msgspec.ValidationError as exc:
        raise ModelError(f"{file}: expected a valid MMD reference, {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ModelError(f"{file}: expected a decodable MMD reference, {exc}") from exc
    for s in reference.sets:
        if not np.isfinite(s.points).all():
            raise ModelError(f"{file}: sets ({s.name}): expected finite points, was non-finite")
    return LoadedReference(reference=reference, manifest=manifest, sha256=actual,
                           version=manifest.version, name=manifest.name, path=folder)


def require_out_of_sample(loaded: LoadedReference, first_eval_ts_ns: int, where: str) -> None:
    """Refuse a reference whose training period reaches the first evaluated bar."""
    end = loaded.reference.period_end_ns
    if end >= first_eval_ts_ns:
        raise ModelError(
            f"{where}: MMD reference {loaded.name}/{loaded.version}: expected a training period "
            f"ending before the evaluation start {format_ns(first_eval_ts_ns)}, was "
            f"{format_ns(loaded.reference.period_start_ns)} .. {format_ns(end)}; refit with "
            f"'algospace train mmd-reference --until' before {format_ns(first_eval_ts_ns)} or "
            f"start the evaluation after {format_ns(end)}")


def format_fit(loaded: LoadedReference) -> str:
    """A short summary of a saved reference for the terminal."""
    m, ref = loaded.manifest, loaded.reference
    fraction = m.procedure.train_fraction
    cut = (f"first {fraction:g} of the slow bars" if fraction is not None
           else f"until {m.procedure.until}")
    lines = [
        f"mmd reference {m.name}/{m.version} ({m.instrument} {m.timeframe})",
        f"period        {m.period.start} .. {m.period.end} ({cut})",
        f"bars          {m.bars.training:,} training, {m.bars.vectors:,} vectors, "
        f"{m.bars.blocks} blocks of {ref.block_bars}",
        "sets          name      count blocks    trend/bar  volatility  autocorr",
        *(f"              {s.name:<9} {s.count:>5} {s.blocks:>6} {s.trend:>12.6f} "
          f"{s.volatility:>11.6f} {s.autocorrelation:>9.3f}" for s in ref.sets),
        f"bandwidth     {ref.bandwidth:.6g} (normalised units)",
        f"written to    {loaded.path}",
    ]
    return "\n".join(lines)
