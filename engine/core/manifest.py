"""Run manifests: what produced a run's outputs (core layer).

Every command that writes outputs writes ``manifest.json`` beside them: the code version
(``git describe`` of the checkout, or the package version when not in a checkout), the config and
its ``config_id``, the sha256 of every data file read, the seeds, the model artifacts used, and the
versions of Python and the libraries that affect results. Two runs with equal manifests (less
``created_utc`` and ``run_id``) must produce byte-identical results.
"""

from __future__ import annotations

import hashlib
import platform
import re
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import msgspec

from engine.core.config import Config, config_id

__all__ = [
    "DataFile",
    "ModelRef",
    "RunManifest",
    "build_manifest",
    "code_version",
    "file_sha256",
    "write_manifest",
]

_LIBRARIES = ("numpy", "pandas", "numba", "msgspec", "torch", "pyarrow", "pyzmq", "structlog")


class DataFile(msgspec.Struct, frozen=True, kw_only=True):
    """A data file read by the run."""

    path: str
    sha256: str
    bytes: int


class ModelRef(msgspec.Struct, frozen=True, kw_only=True):
    """A model artifact loaded by the run."""

    name: str
    version: str
    sha256: str


class RunManifest(msgspec.Struct, frozen=True, kw_only=True):
    """Provenance of one run."""

    run_id: str
    command: str
    created_utc: str
    code_version: str
    package_version: str
    config_id: str
    config: dict[str, object]
    data: list[DataFile]
    seeds: dict[str, int]
    models: list[ModelRef] = []
    python: str = ""
    platform: str = ""
    libraries: dict[str, str] = {}


def file_sha256(path: Path, block_bytes: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in blocks (flat memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(block_bytes):
            digest.update(block)
    return digest.hexdigest()


def package_version() -> str:
    """Installed version of this project, or ``unknown``."""
    try:
        return metadata.version("algospace-engine")
    except metadata.PackageNotFoundError:
        return "unknown"


def code_version() -> str:
    """``git describe --always --dirty`` of the source checkout, else the package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root, capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return package_version()
    return out.stdout.strip() or package_version()


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build_manifest(
    command: str,
    config: Config,
    data_paths: list[Path],
    seeds: dict[str, int],
    models: list[ModelRef] | None = None,
) -> RunManifest:
    """Collect the provenance of a run about to start."""
    now = datetime.now(UTC)
    cid = config_id(config)
    return RunManifest(
        run_id=f"{_slug(command)}-{now:%Y%m%dT%H%M%SZ}-{cid[:8]}",
        command=command,
        created_utc=now.isoformat(),
        code_version=code_version(),
        package_version=package_version(),
        config_id=cid,
        config=msgspec.to_builtins(config),
        data=[
            DataFile(path=str(p), sha256=file_sha256(p), bytes=p.stat().st_size)
            for p in data_paths
        ],
        seeds=seeds,
        models=models or [],
        python=platform.python_version(),
        platform=platform.platform(),
        libraries=_library_versions(),
    )


#: run directories this process created (by writing their manifest), oldest first: the
#: command line removes them when a command is interrupted before it finishes
CREATED_RUN_DIRS: list[Path] = []


def write_manifest(out_dir: Path, manifest: RunManifest) -> Path:
    """Write ``manifest.json`` into ``out_dir`` (created if needed) and return its path."""
    if not out_dir.exists():
        CREATED_RUN_DIRS.append(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "manifest.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n")
    return path


def _slug(command: str) -> str:
    """``command`` up to its first ``--option``, as a directory-name part: letters, digits,
    ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", command.split(" --")[0]).strip("-")
