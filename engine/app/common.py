"""What every command of the ``algospace`` command line shares: loading the config its options
name, the default config, the run directory (application layer)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from engine.core.errors import EngineError
from engine.core.logging import configure_logging

if TYPE_CHECKING:  # the schema imports every component; building the parser does not
    from engine.wiring.schema import AppConfig, LoadedConfig

__all__ = ["DEFAULT_CONFIG", "default_config", "default_models_dir", "load_args", "run_dir",
           "strategy_override"]

DEFAULT_CONFIG = "config/btcusd_1h.toml"


def strategy_override(spec: str) -> str:
    """The override ``--strategy SPEC`` means (a relative file path: the working directory's)."""
    from engine.wiring.plugins import absolute_spec

    text = absolute_spec(spec, Path.cwd())
    return f"backtest.strategy={msgspec.json.encode(text).decode()}"


def load_args(args: argparse.Namespace) -> tuple[LoadedConfig, Path]:
    """The config of a command's ``--config``/``--set``/``--strategy`` options, logging
    configured from it, and the data file (``--data`` or ``data.path``), which must exist."""
    from engine.wiring.schema import load_app_config

    path = args.config or default_config()
    overrides = list(args.overrides)
    if getattr(args, "strategy", None):
        overrides.append(strategy_override(args.strategy))
    loaded = load_app_config(path, overrides)
    cfg = loaded.config
    configure_logging(cfg.logging.json, cfg.logging.level)
    data_path = args.data.resolve() if args.data else loaded.data_path
    if not data_path.is_file():
        raise EngineError(f"{loaded.path}: data.path: expected an existing file, was {data_path}")
    return loaded, data_path


def default_models_dir() -> Path:
    """``models`` of the working directory when there is one, else of this checkout."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / "models"
        if candidate.is_dir():
            return candidate
    return Path.cwd() / "models"


def default_config() -> Path:
    """``config/btcusd_1h.toml`` of the working directory, else of this checkout."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / DEFAULT_CONFIG
        if candidate.is_file():
            return candidate
    raise EngineError(f"--config: expected a config file, none given and {DEFAULT_CONFIG} "
                      "not found")


def run_dir(args: argparse.Namespace, cfg: AppConfig, run_id: str) -> Path:
    """``--out``, else ``output.dir/<run id>``."""
    return args.out if args.out is not None else Path(cfg.output.dir) / run_id
