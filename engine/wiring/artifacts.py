"""Fitted artifacts a config names, loaded and verified once per run (wiring layer).

The MMD reference sets of ``[indicators.mmd]``, the registered RDE of ``[regime]`` and the
registered M-RMS of ``[risk]``. Each is loaded with its sha256 checked against its manifest,
and listed in the run manifest as a :class:`ModelRef`. Each model must have been trained on
exactly what this run would feed it (its manifest records which MMD reference, RDE, synergy
settings, instrument and timeframe); anything else is refused.

Evaluations must not touch what the artifacts were fitted on or selected with:
:meth:`Artifacts.fitted_until` is the last bar close of any training or validation period
(the MMD reference's period, the RDE's and the M-RMS's training and validation splits), and
:meth:`Artifacts.require_out_of_sample` refuses an evaluation starting at or before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.core.config import config_id
from engine.core.errors import ModelError
from engine.core.manifest import ModelRef
from engine.core.timeframes import parse_instant
from engine.wiring.references import LoadedReference, load_reference, require_out_of_sample
from engine.wiring.schema import AppConfig, LoadedConfig
from replay.data.timestamps import format_ns

if TYPE_CHECKING:  # the registry imports torch; a run without models does not
    from engine.wiring.registry import LoadedModel

__all__ = ["Artifacts", "evaluation_start", "load_artifacts"]


@dataclass(frozen=True)
class Artifacts:
    """The artifacts of one run (``None`` where the config names none)."""

    mmd: LoadedReference | None = None
    rde: LoadedModel | None = None
    mrms: LoadedModel | None = None
    marl: LoadedModel | None = None

    def model_refs(self) -> list[ModelRef]:
        """Entries for the run manifest."""
        refs = []
        if self.mmd is not None:
            refs.append(ModelRef(name=f"mmd_reference/{self.mmd.name}",
                                 version=self.mmd.version, sha256=self.mmd.sha256))
        for model in (self.rde, self.mrms, self.marl):
            if model is not None:
                m = model.manifest
                refs.append(ModelRef(name=f"{m.kind}/{m.name}", version=m.version,
                                     sha256=m.sha256))
        return refs

    def _fitted(self) -> list[tuple[int, str]]:
        periods = []
        if self.mmd is not None:
            ref = self.mmd.reference
            periods.append((ref.period_end_ns, f"MMD reference {self.mmd.name}/"
                            f"{self.mmd.version}: fitted on "
                            f"{format_ns(ref.period_start_ns)} .. {format_ns(ref.period_end_ns)}"))
        for model in (self.rde, self.mrms, self.marl):
            if model is None:
                continue
            for split in ("train", "validation"):
                bounds = model.manifest.splits.get(split)
                if bounds is not None and bounds.samples:
                    periods.append((bounds.end_ns, f"{model.label}: {split} split "
                                    f"{bounds.start} .. {bounds.end}"))
        return periods

    def fitted_until(self) -> int | None:
        """The last bar close any artifact was fitted or selected on (``None``: none loaded)."""
        periods = self._fitted()
        return max(end for end, _ in periods) if periods else None

    def require_out_of_sample(self, first_eval_ts_ns: int, where: str) -> None:
        """Refuse an evaluation that starts at or before the end of a fitted period (the MMD
        reference's; the RDE's and the M-RMS's training and validation splits)."""
        if self.mmd is not None:
            require_out_of_sample(self.mmd, first_eval_ts_ns, where)
        for end, what in self._fitted():
            if end >= first_eval_ts_ns:
                raise ModelError(
                    f"{where}: {what}: expected it to end before the evaluation start "
                    f"{format_ns(first_eval_ts_ns)}; start the evaluation after "
                    f"{format_ns(end)} (backtest.start = \"auto\" does)")


def load_artifacts(loaded: LoadedConfig, *, risk: bool = False, marl: bool = False
                   ) -> Artifacts:
    """Load what ``loaded`` names, resolving paths against the config file; the M-RMS of
    ``[risk]`` only with ``risk`` (the commands that size trades with it), the MARL core of
    ``[marl]`` only with ``marl`` (which needs ``risk``)."""
    from engine.wiring.registry import load_model

    cfg = loaded.config
    mmd = None if cfg.indicators.mmd is None else load_reference(
        loaded.resolve(cfg.indicators.mmd.reference))
    if cfg.regime is None:
        if risk and cfg.risk is not None:
            raise ModelError(f"{loaded.path}: risk.model: the M-RMS reads the regime vector; "
                             "expected [regime] naming the RDE it was trained with, found none")
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
    mrms = _load_mrms(loaded, rde) if risk and cfg.risk is not None else None
    if not marl or cfg.marl is None:
        return Artifacts(mmd=mmd, rde=rde, mrms=mrms)
    if mrms is None:
        raise ModelError(f"{loaded.path}: marl.model: the MARL core's trades are sized by the "
                         "M-RMS it was trained with; expected [risk] naming it, found none")
    return Artifacts(mmd=mmd, rde=rde, mrms=mrms, marl=_load_marl(loaded, rde, mrms))


def _load_marl(loaded: LoadedConfig, rde: LoadedModel, mrms: LoadedModel) -> LoadedModel:
    from engine.wiring.registry import load_model

    cfg = loaded.config
    assert cfg.marl is not None
    where = f"{loaded.path}: marl.model"
    marl = load_model(loaded.resolve(cfg.marl.model), kind="marl")
    m = marl.manifest
    for key, mine in (("rde", rde.label), ("mrms", mrms.label),
                      ("synergy", config_id(cfg.synergy))):
        if m.inputs.get(key) != mine:
            raise ModelError(f"{where}: {marl.label} was trained with {key} {m.inputs.get(key)}, "
                             f"this config has {mine}; retrain it (algospace train marl) or "
                             "restore that input")
    if (m.instrument, m.timeframe) != (cfg.instrument, cfg.timeframes.fast):
        raise ModelError(f"{where}: {marl.label} was trained on {m.instrument} {m.timeframe} "
                         f"bars, this run has {cfg.instrument} {cfg.timeframes.fast} bars")
    return marl


def _load_mrms(loaded: LoadedConfig, rde: LoadedModel) -> LoadedModel:
    cfg = loaded.config
    assert cfg.risk is not None
    from engine.wiring.registry import load_model

    where = f"{loaded.path}: risk.model"
    mrms = load_model(loaded.resolve(cfg.risk.model), kind="mrms")
    m = mrms.manifest
    if m.inputs.get("rde") != rde.label:
        raise ModelError(f"{where}: {mrms.label} was trained on the regime vectors of "
                         f"{m.inputs.get('rde')}, the config names {rde.label}; retrain it "
                         "(algospace train mrms) or name that RDE")
    synergy = config_id(cfg.synergy)
    if m.inputs.get("synergy") != synergy:
        raise ModelError(f"{where}: {mrms.label} was trained on the setups of synergy settings "
                         f"{m.inputs.get('synergy')}, this config's [synergy] is {synergy}; "
                         "retrain it (algospace train mrms) or restore those settings")
    if (m.instrument, m.timeframe) != (cfg.instrument, cfg.timeframes.fast):
        raise ModelError(f"{where}: {mrms.label} was trained on {m.instrument} {m.timeframe} "
                         f"bars, this run has {cfg.instrument} {cfg.timeframes.fast} bars")
    return mrms


def evaluation_start(config: AppConfig, artifacts: Artifacts, *, models: bool = False
                     ) -> int | None:
    """The first bar close ``backtest.start`` lets trade (``None``: from the first bar).

    ``"auto"`` is the instant after :meth:`Artifacts.fitted_until` (``None`` when nothing
    fitted is loaded); a date or timestamp is parsed (UTC unless it names a zone) and must lie
    after every fitted period. ``models``: the strategy decides with the artifacts, so an unset
    start means ``"auto"``: a learned strategy is never evaluated where it was fitted.
    """
    start = config.backtest.start
    if start is None and models:
        start = "auto"
    if start is None:
        return None
    if start == "auto":
        until = artifacts.fitted_until()
        return None if until is None else until + 1
    ts = parse_instant(start, "backtest.start")  # checked when the config loaded
    artifacts.require_out_of_sample(ts, f"backtest.start = {start!r}")
    return ts
