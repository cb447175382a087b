"""Indicator wiring and the per-bar feature table (wiring layer).

:func:`build_indicators` turns ``[indicators]`` into components (``"fast"``/``"slow"`` resolved
to the configured timeframes); every replay subscribes them after the bar aggregators.
:func:`write_features` replays a data set and writes one row per fast or slow bar with the bar
and every indicator output it produced (``algospace features``), the table a researcher
inspects and the reference later parity checks compare against.

Columns: ``ts_event`` (bar close, int ns), ``ts_open``, ``timeframe``, the bar's ``open``,
``high``, ``low``, ``close``, ``volume``; ``ha_open``.. ``ha_close`` on Heiken Ashi bars;
``mlmi_<column>`` for every MLMI output;
``nwrqk_<column>`` for every NW-RQK output (flags as 0/1); ``lvn_<column>`` for the LVN levels
(null when there is no node on a side); ``fvg_<field>`` for the FVG state (flags as 0/1) and
``fvg_<side>_mitigated`` (0/1), ``_count``, ``_size``, ``_size_pct``, ``_age`` for mitigations at
the bar; one column per scalar indicator, named ``<label>`` (``atr14``); ``mmd_<name>`` for
the 23 MMD regime features (``MMD_FEATURE_NAMES``: ``mmd_0`` .. ``mmd_6``, ``mmd_return`` ..
``mmd_nearest``) when ``[indicators.mmd]`` names a reference; ``rde_0`` .. ``rde_7``, the
regime vector, when ``[regime]`` names a registered RDE. A value belongs to the row of the
bar that produced it, so a slow value appears on slow rows only, at the slow close. Undefined
values (warm-up, other timeframe) are null.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from components.assemblers import RegimeAssemblerConfig
from components.bars.heiken_ashi import HeikenAshi
from components.indicators.fvg import Fvg
from components.indicators.lvn import Lvn
from components.indicators.mlmi import MLMI_COLUMNS, Mlmi
from components.indicators.nwrqk import NWRQK_COLUMNS, Nwrqk
from components.indicators.scalar import ScalarIndicator
from components.regime.mmd import MMD_FEATURE_NAMES, Mmd, MmdConfig
from components.regime.model_config import RegimeModelConfig
from engine.core.component import Component
from engine.core.errors import ConfigError
from engine.core.events import (
    REGIME_VECTOR_SIZE,
    Bar,
    Event,
    FvgMitigated,
    FvgState,
    HeikenAshiBar,
    IndicatorValue,
    LvnLevels,
    MlmiValue,
    MmdFeatures,
    NwrqkValue,
    RegimeVector,
)
from engine.core.timing import Timed
from engine.wiring.artifacts import Artifacts
from engine.wiring.pipeline import build_replay_pipeline
from engine.wiring.replay_driver import ReplayStats
from engine.wiring.schema import AppConfig

if TYPE_CHECKING:
    from components.regime.detector import RegimeDetector

__all__ = ["FeaturesReport", "build_indicators", "feature_columns", "write_features"]

_BAR_COLUMNS = ("open", "high", "low", "close", "volume")
_HA_COLUMNS = ("ha_open", "ha_high", "ha_low", "ha_close")
_NWRQK_COLUMNS = tuple(f"nwrqk_{c}" for c in NWRQK_COLUMNS)
_MLMI_COLUMNS = tuple(f"mlmi_{c}" for c in MLMI_COLUMNS)
_LVN_FIELDS = ("support_price", "support_strength", "support_distance", "resistance_price",
               "resistance_strength", "resistance_distance", "poc_price", "poc_volume",
               "lvn_count")
_LVN_COLUMNS = tuple(name if name.startswith("lvn_") else f"lvn_{name}" for name in _LVN_FIELDS)
_FVG_FIELDS = tuple(f for f in FvgState.__struct_fields__
                    if f not in ("ts_event", "ts_init", "instrument", "timeframe"))
_FVG_MITIGATION = ("mitigated", "mitigated_count", "mitigated_size", "mitigated_size_pct",
                   "mitigated_age")
_FVG_COLUMNS = (*(f"fvg_{f}" for f in _FVG_FIELDS),
                *(f"fvg_{side}_{f}" for side in ("bullish", "bearish") for f in _FVG_MITIGATION))
_MMD_COLUMNS = tuple(n if n.startswith("mmd_") else f"mmd_{n}" for n in MMD_FEATURE_NAMES)
_RDE_COLUMNS = tuple(f"rde_{i}" for i in range(REGIME_VECTOR_SIZE))
_FLUSH_ROWS = 50_000


class FeaturesReport(msgspec.Struct, frozen=True, kw_only=True):
    """What ``write_features`` wrote."""

    path: str
    rows: int
    rows_by_timeframe: dict[str, int]
    columns: list[str]
    replay: ReplayStats


def build_indicators(config: AppConfig, artifacts: Artifacts | None = None) -> list[Component]:
    """The configured indicator components, in subscription order (Heiken Ashi first).

    ``artifacts`` holds the fitted references the config names (:func:`load_artifacts`).
    """
    ind = config.indicators
    components: list[Component] = []
    if ind.heiken_ashi is not None:
        tf = config.resolve_timeframe(ind.heiken_ashi.timeframe)
        components.append(HeikenAshi(msgspec.structs.replace(ind.heiken_ashi, timeframe=tf)))
    if ind.mlmi is not None:
        tf = config.resolve_timeframe(ind.mlmi.timeframe)
        components.append(Mlmi(msgspec.structs.replace(ind.mlmi, timeframe=tf)))
    if ind.nwrqk is not None:
        tf = config.resolve_timeframe(ind.nwrqk.timeframe)
        components.append(Nwrqk(msgspec.structs.replace(ind.nwrqk, timeframe=tf)))
    if ind.fvg is not None:
        tf = config.resolve_timeframe(ind.fvg.timeframe)
        components.append(Fvg(msgspec.structs.replace(ind.fvg, timeframe=tf)))
    if ind.lvn is not None:
        tf = config.resolve_timeframe(ind.lvn.timeframe)
        tick = ind.lvn.tick_size or config.instrument_spec.tick_size
        components.append(Lvn(msgspec.structs.replace(ind.lvn, timeframe=tf, tick_size=tick)))
    for scalar in ind.scalars:
        tf = config.resolve_timeframe(scalar.timeframe)
        components.append(ScalarIndicator(msgspec.structs.replace(scalar, timeframe=tf)))
    if ind.mmd is not None:
        loaded = artifacts.mmd if artifacts is not None else None
        if loaded is None:
            raise ConfigError(f"indicators.mmd.reference: {ind.mmd.reference} is configured "
                              "but was not loaded (engine.wiring.artifacts.load_artifacts)")
        tf = config.resolve_timeframe(ind.mmd.timeframe)
        ref = loaded.reference
        if (ref.timeframe, ref.instrument) != (tf, config.instrument):
            raise ConfigError(
                f"indicators.mmd.reference: {ind.mmd.reference} was fitted on {ref.instrument} "
                f"{ref.timeframe} bars, this run computes MMD on {config.instrument} {tf} bars "
                "(fit one for them with algospace train mmd-reference)")
        components.append(Mmd(MmdConfig(
            reference=ref, version=loaded.version, timeframe=tf, window=ind.mmd.window,
            recompute_every=ind.mmd.recompute_every)))
    if config.regime is not None:
        components.append(Timed(build_detector(config, artifacts)))
    return components


def build_detector(config: AppConfig, artifacts: Artifacts | None) -> RegimeDetector:
    """The :class:`RegimeDetector` of the registered RDE ``[regime]`` names, with the regime
    matrix it was trained on (its window and span, from the model's manifest)."""
    from components.regime.detector import RegimeDetector, RegimeDetectorConfig  # torch
    from engine.core.threads import use_inference_threads

    use_inference_threads()

    loaded = artifacts.rde if artifacts is not None else None
    if loaded is None or config.regime is None:
        raise ConfigError("regime.model: configured but not loaded "
                          "(engine.wiring.artifacts.load_artifacts)")
    model = loaded.config
    assert isinstance(model, RegimeModelConfig)
    span = int(loaded.manifest.training.get("span", RegimeAssemblerConfig.span))
    return RegimeDetector(RegimeDetectorConfig(
        model=model, weights=loaded.weights, version=loaded.label,
        assembler=RegimeAssemblerConfig(timeframe=config.timeframes.slow, window=model.window,
                                        span=span)))


def feature_columns(config: AppConfig) -> list[str]:
    """The table's columns for ``config``, in order."""
    columns = ["ts_event", "ts_open", "timeframe", *_BAR_COLUMNS]
    if config.indicators.heiken_ashi is not None:
        columns += _HA_COLUMNS
    if config.indicators.mlmi is not None:
        columns += _MLMI_COLUMNS
    if config.indicators.nwrqk is not None:
        columns += _NWRQK_COLUMNS
    if config.indicators.lvn is not None:
        columns += _LVN_COLUMNS
    if config.indicators.fvg is not None:
        columns += _FVG_COLUMNS
    for scalar in config.indicators.scalars:
        if scalar.label not in columns:
            columns.append(scalar.label)
    if config.indicators.mmd is not None:
        columns += _MMD_COLUMNS
    if config.regime is not None:
        columns += _RDE_COLUMNS
    return columns


class _Rows:
    """Collect one row per fast/slow bar from the bus and stream them to Parquet."""

    def __init__(self, columns: list[str], timeframes: set[str], path: Path) -> None:
        self.columns = columns
        self.timeframes = timeframes
        self.path = path
        self.open: dict[str, dict[str, object]] = {}
        self.done: list[dict[str, object]] = []
        self.rows = 0
        self.by_timeframe = dict.fromkeys(sorted(timeframes), 0)
        self.schema = pa.schema([(c, pa.int64() if c.startswith("ts_") else
                                  pa.string() if c == "timeframe" else pa.float64())
                                 for c in columns])
        self.writer: pq.ParquetWriter | None = None

    def on_bar(self, bar: Bar) -> list[Event]:
        # every event derived from earlier bars has been delivered by now: their rows are done,
        # and closing them here keeps the rows in publication order
        for tf in list(self.open):
            self._close(tf)
        if bar.timeframe in self.timeframes:
            self.open[bar.timeframe] = {
                "ts_event": bar.ts_event, "ts_open": bar.ts_open, "timeframe": bar.timeframe,
                "open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close,
                "volume": bar.volume}
        return []

    def on_heiken_ashi(self, ha: HeikenAshiBar) -> list[Event]:
        row = self._row(ha.timeframe, ha.ts_event)
        if row is not None:
            row.update(ha_open=ha.open, ha_high=ha.high, ha_low=ha.low, ha_close=ha.close)
        return []

    def on_mlmi(self, value: MlmiValue) -> list[Event]:
        row = self._row(value.timeframe, value.ts_event)
        if row is not None:
            for column, name in zip(_MLMI_COLUMNS, MLMI_COLUMNS, strict=True):
                row[column] = float(getattr(value, name))
        return []

    def on_nwrqk(self, value: NwrqkValue) -> list[Event]:
        row = self._row(value.timeframe, value.ts_event)
        if row is not None:
            for column, name in zip(_NWRQK_COLUMNS, NWRQK_COLUMNS, strict=True):
                row[column] = float(getattr(value, name))
        return []

    def on_lvn(self, value: LvnLevels) -> list[Event]:
        row = self._row(value.timeframe, value.ts_event)
        if row is not None:
            for column, name in zip(_LVN_COLUMNS, _LVN_FIELDS, strict=True):
                row[column] = getattr(value, name)
        return []

    def on_fvg(self, value: FvgState) -> list[Event]:
        row = self._row(value.timeframe, value.ts_event)
        if row is not None:
            for name in _FVG_FIELDS:
                x = getattr(value, name)
                row[f"fvg_{name}"] = float(x) if isinstance(x, bool) else x
            for side in ("bullish", "bearish"):
                row[f"fvg_{side}_mitigated"] = 0.0
        return []

    def on_fvg_mitigated(self, value: FvgMitigated) -> list[Event]:
        row = self._row(value.timeframe, value.ts_event)
        if row is not None:
            side = "bullish" if value.side > 0 else "bearish"
            row[f"fvg_{side}_mitigated"] = 1.0
            row[f"fvg_{side}_mitigated_count"] = value.count
            row[f"fvg_{side}_mitigated_size"] = value.size
            row[f"fvg_{side}_mitigated_size_pct"] = value.size_pct
            row[f"fvg_{side}_mitigated_age"] = value.age
        return []

    def on_mmd(self, value: MmdFeatures) -> list[Event]:
        row = self._row(value.timeframe, value.ts_event)
        if row is not None:
            row.update(zip(_MMD_COLUMNS, value.values, strict=True))
        return []

    def on_regime(self, value: RegimeVector) -> list[Event]:
        row = self._row(value.timeframe, value.ts_event)
        if row is not None:
            row.update(zip(_RDE_COLUMNS, value.mu, strict=True))
        return []

    def on_value(self, value: IndicatorValue) -> list[Event]:
        row = self._row(value.timeframe, value.ts_event)
        if row is not None:
            row[value.indicator] = value.value
        return []

    def finish(self) -> None:
        for tf in list(self.open):
            self._close(tf)
        self._flush()
        if self.writer is None:
            pq.write_table(self.schema.empty_table(), self.path)
        else:
            self.writer.close()

    def _row(self, timeframe: str, ts_event: int) -> dict[str, object] | None:
        row = self.open.get(timeframe)
        return row if row is not None and row["ts_event"] == ts_event else None

    def _close(self, timeframe: str) -> None:
        row = self.open.pop(timeframe, None)
        if row is None:
            return
        self.done.append(row)
        self.rows += 1
        self.by_timeframe[timeframe] += 1
        if len(self.done) >= _FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self.done:
            return
        table = pa.Table.from_pylist(self.done, schema=self.schema)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.write_table(table)
        self.done = []


def write_features(config: AppConfig, data_path: Path, out_path: Path,
                   rejects_path: Path | None = None,
                   artifacts: Artifacts | None = None) -> FeaturesReport:
    """Replay ``data_path`` with every configured indicator; write the table to ``out_path``."""
    pipeline = build_replay_pipeline(config, data_path, rejects_path)
    for component in build_indicators(config, artifacts):
        pipeline.bus.subscribe(component)
    columns = feature_columns(config)
    timeframes = {config.timeframes.fast, config.timeframes.slow}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rows = _Rows(columns, timeframes, out_path)
    pipeline.bus.subscribe_handler(Bar, rows.on_bar, "features.rows")
    pipeline.bus.subscribe_handler(HeikenAshiBar, rows.on_heiken_ashi, "features.rows")
    pipeline.bus.subscribe_handler(IndicatorValue, rows.on_value, "features.rows")
    pipeline.bus.subscribe_handler(NwrqkValue, rows.on_nwrqk, "features.rows")
    pipeline.bus.subscribe_handler(MlmiValue, rows.on_mlmi, "features.rows")
    pipeline.bus.subscribe_handler(LvnLevels, rows.on_lvn, "features.rows")
    pipeline.bus.subscribe_handler(FvgState, rows.on_fvg, "features.rows")
    pipeline.bus.subscribe_handler(FvgMitigated, rows.on_fvg_mitigated, "features.rows")
    pipeline.bus.subscribe_handler(MmdFeatures, rows.on_mmd, "features.rows")
    pipeline.bus.subscribe_handler(RegimeVector, rows.on_regime, "features.rows")
    stats = pipeline.run()
    rows.finish()
    return FeaturesReport(path=str(out_path), rows=rows.rows, rows_by_timeframe=rows.by_timeframe,
                          columns=columns, replay=stats)
