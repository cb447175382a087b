"""Fitted artifacts a config names, loaded and verified once per run (wiring layer).

The MMD reference sets of ``[indicators.mmd]`` and the registered RDE of ``[regime]``. Each is
loaded with its sha256 checked against its manifest, and listed in the run manifest as a
:class:`ModelRef`. The RDE must have been trained on the features of the MMD reference the
config names (its manifest records which); anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ModelError
from engine.manifest import ModelRef
from engine.registry import LoadedModel, load_model
from engine.schema import LoadedConfig
from replay.data.timestamps import format_ns
from replay.mmd_reference import LoadedReference, load_reference, require_out_of_sample

__all__ = ["Artifacts", "load_artifacts"]


@dataclass(frozen=True)
class Artifacts:
    """The artifacts of one run (``None`` where the config names none)."""

    mmd: LoadedReference | None = None
    rde: LoadedModel | None = None

    def model_refs(self) -> list[ModelRef]:
        """Entries for the run manifest."""
        refs = []
        if self.mmd is not None:
            refs.append(ModelRef(name=f"mmd_reference/{self.mmd.name}",
                                 version=self.mmd.version, sha256=self.mmd.sha256))
        if self.rde is not None:
            m = self.rde.manifest
            refs.append(ModelRef(name=f"rde/{m.name}", version=m.version, sha256=m.sha256))
        return refs

    def require_out_of_sample(self, first_eval_ts_ns: int, where: str) -> None:
        """Refuse an evaluation that starts at or before the end of a fitted period (the MMD
        reference's, the RDE's training split)."""
        if self.mmd is not None:
            require_out_of_sample(self.mmd, first_eval_ts_ns, where)
        if self.rde is not None:
            train = self.rde.manifest.splits["train"]
            if train.end_ns >= first_eval_ts_ns:
                raise ModelError(
                    f"{where}: RDE {self.rde.label}: expected a training split ending before the "
                    f"evaluation start {format_ns(first_eval_ts_ns)}, was {train.start} .. "
                    f"{train.end}; start the evaluation after {train.end}")


def load_artifacts(loaded: LoadedConfig) -> Artifacts:
    """Load what ``loaded`` names, resolving paths against the config file."""
    cfg = loaded.config
    mmd = None if cfg.indicators.mmd is None else load_reference(
        loaded.resolve(cfg.indicators.mmd.reference))
    if cfg.regime is None:
        return Artifacts(mmd=mmd)
    where = f"{loaded.path}: regime.model"
    if mmd is None:
        raise ModelError(f"{where}: the RDE reads the MMD features; expected [indicators.mmd] "
                         "with the reference it was trained on, found none")
    rde = load_model(loaded.resolve(cfg.regime.model), kind="rde")
    used = rde.manifest.inputs.get("mmd_reference")
    mine = f"{mmd.name}/{mmd.version}"
    if used != mine:
        raise ModelError(f"{where}: {rde.label} was trained on the MMD features of reference "
                         f"{used}, the config names {mine}; retrain it (algospace train rde) or "
                         "name that reference")
    timeframe = cfg.timeframes.slow
    if (rde.manifest.instrument, rde.manifest.timeframe) != (cfg.instrument, timeframe):
        raise ModelError(f"{where}: {rde.label} was trained on {rde.manifest.instrument} "
                         f"{rde.manifest.timeframe} bars, this run has {cfg.instrument} "
                         f"{timeframe} bars")
    return Artifacts(mmd=mmd, rde=rde)
