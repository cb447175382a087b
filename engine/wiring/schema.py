"""The application config schema: one root ``AppConfig`` with a Struct per concern.

Defaults live here only. ``config/*.toml`` override them. Relative paths in a config file are
resolved against the directory of that file (see :func:`load_app_config`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from components.bars.heiken_ashi import HeikenAshiConfig
from components.decision.settings import MarlSettings
from components.indicators.fvg.component import FvgConfig
from components.indicators.lvn.component import LvnConfig
from components.indicators.mlmi.component import MlmiConfig
from components.indicators.nwrqk.component import NwrqkConfig
from components.indicators.scalar import ScalarIndicatorConfig
from components.regime.mmd.component import MmdSettings
from components.regime.model_config import RegimeSettings
from components.risk.model_config import RiskSettings
from components.synergy.config import SynergyConfig
from engine.core.backtest_config import BacktestConfig
from engine.core.config import Config, load_toml
from engine.core.data_config import ColumnsConfig, DataConfig, ValidationConfig
from engine.core.errors import ConfigError
from engine.core.instruments import BUILTIN_INSTRUMENTS, Instrument
from engine.core.timeframes import parse_timeframe
from engine.wiring.plugins import absolute_spec, check_plugins, is_file_spec
from replay.train_config import TrainConfig

__all__ = [
    "AppConfig",
    "ColumnsConfig",
    "DataConfig",
    "IndicatorsConfig",
    "LoadedConfig",
    "LoggingConfig",
    "OutputConfig",
    "PluginsConfig",
    "TimeframesConfig",
    "ValidationConfig",
    "load_app_config",
]


class TimeframesConfig(Config, frozen=True):
    """The two bar sizes the strategy consumes. ``fast`` must divide ``slow``."""

    fast: str = "5m"
    slow: str = "30m"
    publish_input: bool = True

    def __post_init__(self) -> None:
        fast, slow = parse_timeframe(self.fast), parse_timeframe(self.slow)
        if slow % fast:
            raise ValueError(f"slow: expected a multiple of fast ({self.fast}), was {self.slow}")


class LoggingConfig(Config, frozen=True):
    """Log level and format (``json = None`` picks JSON when stderr is not a terminal)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    json: bool | None = None


class OutputConfig(Config, frozen=True):
    """Where runs write their outputs (relative to the working directory)."""

    dir: str = "runs"


def _default_scalars() -> list[ScalarIndicatorConfig]:
    return [
        ScalarIndicatorConfig(indicator="atr", period=14, timeframe="fast"),
        ScalarIndicatorConfig(indicator="atr", period=14, timeframe="slow"),
        ScalarIndicatorConfig(indicator="rsi", period=14, timeframe="slow"),
        ScalarIndicatorConfig(indicator="std", period=20, timeframe="slow"),
    ]


class IndicatorsConfig(Config, frozen=True):
    """The indicator components every replay runs (``algospace features`` writes them all).

    ``timeframe = "fast"``/``"slow"`` in an entry follows ``[timeframes]``. ``mmd`` is off
    unless a fitted reference artifact is named (``algospace train mmd-reference``).
    """

    heiken_ashi: HeikenAshiConfig | None = HeikenAshiConfig()
    mlmi: MlmiConfig | None = MlmiConfig()
    nwrqk: NwrqkConfig | None = NwrqkConfig()
    lvn: LvnConfig | None = LvnConfig()
    fvg: FvgConfig | None = FvgConfig()
    mmd: MmdSettings | None = None
    scalars: list[ScalarIndicatorConfig] = msgspec.field(default_factory=_default_scalars)

    def __post_init__(self) -> None:
        for key, part in (("mlmi", self.mlmi), ("nwrqk", self.nwrqk)):
            if part is not None and part.source == "heiken_ashi" and (
                    self.heiken_ashi is None or self.heiken_ashi.timeframe != part.timeframe):
                raise ValueError(f"{key}.source: 'heiken_ashi' needs heiken_ashi on the same "
                                 f"timeframe ({part.timeframe})")
        labels = [(s.label, s.timeframe) for s in self.scalars]
        duplicates = sorted({f"{name}@{tf}" for name, tf in labels if labels.count((name, tf)) > 1})
        if duplicates:
            raise ValueError(f"scalars: expected distinct name per timeframe, {duplicates} "
                             "repeat (set name = ...)")


class PluginsConfig(Config, frozen=True):
    """``[plugins]``, each ``package.module:Class`` or ``path/file.py:Class``:

    - ``strategies``: strategy plugins known besides the built-ins and the selected one, so
      their ``[strategies.<key>]`` tables are validated and ``backtest.strategy`` may name
      them by key;
    - ``components``: user components (a custom indicator), built upstream of a strategy that
      needs what they produce, after the built-in producers, in this order; their settings
      are ``[components.<key>]``;
    - ``events``: user event types to register (those a component produces are registered
      with it), so they travel on the journal and the wire.
    """

    strategies: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    events: tuple[str, ...] = ()


class AppConfig(Config, frozen=True):
    """Root configuration of every command."""

    data: DataConfig
    mode: Literal["replay", "live"] = "replay"
    seed: int = 0
    instrument: str = "ES"
    instruments: dict[str, Instrument] = {}
    timeframes: TimeframesConfig = TimeframesConfig()
    logging: LoggingConfig = LoggingConfig()
    output: OutputConfig = OutputConfig()
    backtest: BacktestConfig = BacktestConfig()
    plugins: PluginsConfig = PluginsConfig()
    strategies: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    indicators: IndicatorsConfig = IndicatorsConfig()
    synergy: SynergyConfig = SynergyConfig()
    regime: RegimeSettings | None = None
    risk: RiskSettings | None = None
    marl: MarlSettings | None = None
    train: TrainConfig = TrainConfig()

    def resolve_timeframe(self, label: str) -> str:
        """``"fast"``/``"slow"`` to the configured timeframe; any other label unchanged."""
        return {"fast": self.timeframes.fast, "slow": self.timeframes.slow}.get(label, label)

    def __post_init__(self) -> None:
        if self.instrument not in self.instruments and self.instrument not in BUILTIN_INSTRUMENTS:
            known = sorted({*BUILTIN_INSTRUMENTS, *self.instruments})
            raise ValueError(f"instrument: expected one of {known}, was {self.instrument!r}")
        interval = parse_timeframe(self.data.bar_interval)
        fast = parse_timeframe(self.timeframes.fast)
        if self.data.kind == "bars" and fast % interval:
            raise ValueError(
                f"timeframes.fast: expected a multiple of data.bar_interval "
                f"({self.data.bar_interval}), was {self.timeframes.fast}"
            )
        execution = self.backtest.broker.execution_timeframe
        if execution is not None:
            if self.data.kind == "bars" and parse_timeframe(execution) % interval:
                raise ValueError(
                    f"backtest.broker.execution_timeframe: expected a multiple of "
                    f"data.bar_interval ({self.data.bar_interval}), was {execution}")
            if fast % parse_timeframe(execution):
                raise ValueError(
                    f"backtest.broker.execution_timeframe: expected a divisor of "
                    f"timeframes.fast ({self.timeframes.fast}), was {execution}")
        if self.backtest.broker.flat_at_session_end and self.instrument_spec.session_close is None:
            raise ValueError(
                f"backtest.broker.flat_at_session_end: expected an instrument with a "
                f"session_close; {self.instrument} has none (set instruments.{self.instrument}"
                f".session_close or leave flat_at_session_end false)")
        # each [strategies.<key>] table is its plugin's settings Struct (engine.wiring.plugins)
        check_plugins(self)

    @property
    def instrument_spec(self) -> Instrument:
        """The selected instrument (config table first, then built-ins)."""
        return self.instruments.get(self.instrument) or BUILTIN_INSTRUMENTS[self.instrument]


class LoadedConfig:
    """An AppConfig with the file it came from, for resolving relative paths."""

    __slots__ = ("config", "path")

    def __init__(self, config: AppConfig, path: Path) -> None:
        self.config = config
        self.path = path

    def resolve(self, relative: str) -> Path:
        """Resolve a path written in the config file against the file's directory."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else (self.path.parent / candidate).resolve()

    @property
    def data_path(self) -> Path:
        """Absolute path of the configured data file."""
        return self.resolve(self.config.data.path)


def load_app_config(path: str | Path, overrides: Sequence[str] = ()) -> LoadedConfig:
    """Load and validate an application config file, with ``key=value`` overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return LoadedConfig(load_toml(path, AppConfig, [*_plugin_paths(path), *overrides]),
                        path.resolve())


def _plugin_paths(path: Path) -> list[str]:
    """Overrides making the file's relative plugin file paths absolute against its directory
    (applied before the caller's overrides, whose relative paths mean the working directory)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # load_toml reports it
    base = path.resolve().parent
    out = []
    backtest = raw.get("backtest")
    spec = backtest.get("strategy") if isinstance(backtest, dict) else None
    if isinstance(spec, str) and is_file_spec(spec):
        out.append(f"backtest.strategy={_toml_string(absolute_spec(spec, base))}")
    plugins = raw.get("plugins")
    for kind in ("strategies", "components", "events"):
        listed = plugins.get(kind) if isinstance(plugins, dict) else None
        if isinstance(listed, list) and any(isinstance(s, str) and is_file_spec(s)
                                            for s in listed):
            fixed = [absolute_spec(s, base) if isinstance(s, str) else s for s in listed]
            out.append(f"plugins.{kind}={msgspec.json.encode(fixed).decode()}")
    return out


def _toml_string(text: str) -> str:
    return msgspec.json.encode(text).decode()
