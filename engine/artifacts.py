"""Fitted artifacts a config names, loaded and verified once per run (wiring layer).

Today: the MMD reference sets of ``[indicators.mmd]``. Each is loaded with its sha256 checked
against its manifest, and listed in the run manifest as a :class:`ModelRef`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.manifest import ModelRef
from engine.schema import LoadedConfig
from replay.mmd_reference import LoadedReference, load_reference, require_out_of_sample

__all__ = ["Artifacts", "load_artifacts"]


@dataclass(frozen=True)
class Artifacts:
    """The artifacts of one run (``None`` where the config names none)."""

    mmd: LoadedReference | None = None

    def model_refs(self) -> list[ModelRef]:
        """Entries for the run manifest."""
        refs = []
        if self.mmd is not None:
            refs.append(ModelRef(name=f"mmd_reference/{self.mmd.name}",
                                 version=self.mmd.version, sha256=self.mmd.sha256))
        return refs

    def require_out_of_sample(self, first_eval_ts_ns: int, where: str) -> None:
        """Refuse an evaluation that starts at or before the end of a fitted period."""
        if self.mmd is not None:
            require_out_of_sample(self.mmd, first_eval_ts_ns, where)


def load_artifacts(loaded: LoadedConfig) -> Artifacts:
    """Load what ``loaded`` names, resolving paths against the config file."""
    mmd = loaded.config.indicators.mmd
    if mmd is None:
        return Artifacts()
    return Artifacts(mmd=load_reference(loaded.resolve(mmd.reference)))
