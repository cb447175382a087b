"""The Python API: backtests, features and model fitting from a script or a notebook
(application layer).

>>> from engine.app import api                                        # doctest: +SKIP
>>> result = api.backtest(strategy="synergy")                     # doctest: +SKIP
>>> result.summary["sharpe"], len(result.trades)                  # doctest: +SKIP
>>> result.equity.plot()                                          # doctest: +SKIP

Every function takes the same inputs as the command line: a config file (default: the
bundled ``config/btcusd_1h.toml``), overrides (a dict ``{"dotted.key": value}`` or ``--set``
strings), data as a path or a pandas DataFrame, and a strategy as a built-in name, an import
or file path, a plugin class, or a built plugin instance (its settings become the run's
``[strategies.<key>]`` table). :func:`backtest` runs :func:`engine.app.jobs.backtest_job`, the
function ``algospace backtest`` runs, so both write the same files; a DataFrame is first
written to the run directory as the CSV the config's reader validates (rejects counted like
any file's). The live daemon's client needs none of this: ``examples/live_client.py``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec
import pandas as pd

from engine.app.common import DEFAULT_CONFIG
from engine.core.config import apply_overrides
from engine.core.errors import ConfigError
from engine.wiring.schema import LoadedConfig, load_app_config

if TYPE_CHECKING:
    from engine.app.jobs import BacktestJob
    from engine.wiring.artifacts import Artifacts
    from engine.wiring.backtest import Path_

__all__ = ["BacktestResult", "backtest", "features", "fit_models", "load_config"]

Data: TypeAlias = "str | Path | pd.DataFrame"
Overrides: TypeAlias = "Mapping[str, Any] | Sequence[str] | None"
_ROOT = Path(__file__).resolve().parents[2]


def _override_strings(overrides: Overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        out = []
        for key, value in overrides.items():
            if isinstance(value, Mapping):
                out += _override_strings({f"{key}.{k}": v for k, v in value.items()})
            else:
                out.append(f"{key}={msgspec.json.encode(_plain(value)).decode()}")
        return out
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return msgspec.to_builtins(value)


def _strategy_overrides(strategy: object) -> list[str]:
    """The overrides that select ``strategy`` (module docstring)."""
    if strategy is None:
        return []
    if isinstance(strategy, str):
        from engine.app.common import strategy_override

        return [strategy_override(strategy)]
    from engine.wiring.plugins import resolve_strategy

    cls = strategy if isinstance(strategy, type) else type(strategy)
    spec = f"{cls.__module__}:{cls.__qualname__}"
    if cls.__module__.startswith("algospace_plugin_"):
        raise ConfigError(f"strategy: {cls.__name__} was loaded from a file by the engine; "
                          "name it by its file path instead")
    plugin = resolve_strategy(spec, "strategy")
    out = [f"backtest.strategy={msgspec.json.encode(spec).decode()}"]
    if not isinstance(strategy, type):
        settings = getattr(strategy, "config", None)
        if not isinstance(settings, plugin.config_type):
            raise ConfigError(f"strategy: an instance of {cls.__name__} must keep its settings "
                              f"({plugin.config_type.__name__}) in .config")
        table = {k: v for k, v in msgspec.to_builtins(settings).items()}
        out += _override_strings({f"strategies.{plugin.key}.{k}": v for k, v in table.items()})
    return out


def load_config(config: str | Path | LoadedConfig | None = None, overrides: Overrides = None,
                strategy: object = None) -> LoadedConfig:
    """The validated config: ``config`` (a file, default the bundled BTC config, or a loaded
    config such as :func:`fit_models` returns) with ``overrides`` and the ``strategy``
    selected."""
    from engine.core.logging import configure_logging

    more = [*_override_strings(overrides), *_strategy_overrides(strategy)]
    if isinstance(config, LoadedConfig):
        loaded = LoadedConfig(apply_overrides(config.config, more), config.path)
    else:
        path = Path(config) if config is not None else _ROOT / DEFAULT_CONFIG
        loaded = load_app_config(path, more)
    configure_logging(loaded.config.logging.json, loaded.config.logging.level)  # as the CLI
    return loaded


def _data_path(loaded: LoadedConfig, data: Data | None, out: Path) -> Path:
    if data is None:
        return loaded.data_path
    if isinstance(data, pd.DataFrame):
        frame = data
        if isinstance(frame.index, pd.DatetimeIndex):
            name = loaded.config.data.columns.timestamp or "timestamp"
            frame = frame.rename_axis(name).reset_index()
        out.mkdir(parents=True, exist_ok=True)
        target = out / "input.csv"
        frame.to_csv(target, index=False)
        return target
    path = Path(data).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"data: file not found: {path}")
    return path


class BacktestResult:
    """A finished backtest: ``summary`` (a Series of the metrics), ``trades`` and ``equity``
    (DataFrames), ``comparison`` (a DataFrame, for a strategy deciding through gate 1),
    ``out_dir`` and ``manifest``; :meth:`report` is the HTML report's path."""

    def __init__(self, job: BacktestJob) -> None:
        self.job = job
        self.out_dir = job.out_dir
        self.manifest = job.manifest
        data = job.outcome.data
        self.strategy = data.strategy
        self.summary = pd.Series(msgspec.to_builtins(data.metrics), name=data.strategy)
        self.counts = dict(data.counts)
        self.trades = self._read("trades.csv")
        equity = self._read("equity.csv")
        self.equity = equity
        self.comparison = (pd.DataFrame(msgspec.to_builtins(job.comparison))
                           .set_index("strategy") if job.comparison else None)

    def _read(self, name: str) -> pd.DataFrame:
        path = self.out_dir / name
        return pd.read_csv(path) if path.is_file() and path.stat().st_size else pd.DataFrame()

    @property
    def targets_met(self) -> bool:
        """Whether every configured target passed."""
        return self.job.outcome.targets_met

    def report(self) -> Path:
        """The HTML report's path (written with the run)."""
        html = self.job.outcome.files.get("html")
        if html is None:
            raise ConfigError("report: this run wrote no HTML report (output.html = false)")
        return Path(html)

    def _figure(self, key: str, spec: str) -> str:
        value = self.summary.get(key, math.nan)
        return "n/a" if not isinstance(value, int | float) or not math.isfinite(value) \
            else spec.format(value)

    def __repr__(self) -> str:
        return (f"BacktestResult({self.strategy}: {len(self.trades)} trades, total return "
                f"{self._figure('total_return', '{:.2%}')}, Sharpe "
                f"{self._figure('sharpe', '{:.2f}')}, max drawdown "
                f"{self._figure('max_drawdown', '{:.2%}')}; {self.out_dir})")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in (
            ("strategy", self.strategy), ("trades", len(self.trades)),
            ("total return", self._figure("total_return", "{:.2%}")),
            ("Sharpe (daily)", self._figure("sharpe", "{:.2f}")),
            ("Sortino (daily)", self._figure("sortino", "{:.2f}")),
            ("max drawdown", self._figure("max_drawdown", "{:.2%}")),
            ("win rate", self._figure("win_rate", "{:.1%}")),
            ("profit factor", self._figure("profit_factor", "{:.2f}")),
            ("run directory", self.out_dir)))
        return f"<table>{rows}</table>"


def backtest(data: Data | None = None, strategy: object = None, *,
             config: str | Path | LoadedConfig | None = None, overrides: Overrides = None,
             out: str | Path | None = None, path: Path_ = "bus") -> BacktestResult:
    """Backtest ``strategy`` on ``data`` (module docstring); the run is written to ``out``
    (default: a new temporary directory) exactly as ``algospace backtest --out`` writes it."""
    from engine.app.jobs import backtest_job

    loaded = load_config(config, overrides, strategy)
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="algospace-"))
    data_path = _data_path(loaded, data, out_dir)
    return BacktestResult(backtest_job(loaded, data_path, out_dir, path=path, progress=False))


def features(data: Data | None = None, *, config: str | Path | LoadedConfig | None = None,
             overrides: Overrides = None, out: str | Path | None = None) -> pd.DataFrame:
    """Every configured indicator (and the regime features, when the config names their
    models) replayed over ``data``: the table ``algospace features`` writes, as a DataFrame
    (also written to ``out``/features.parquet)."""
    from engine.wiring.artifacts import load_artifacts
    from engine.wiring.features import write_features

    loaded = load_config(config, overrides)
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="algospace-"))
    data_path = _data_path(loaded, data, out_dir)
    artifacts = load_artifacts(loaded)
    target = out_dir / "features.parquet"
    write_features(loaded.config, data_path, target, artifacts=artifacts)
    return pd.read_parquet(target)


def fit_models(data: Data | None = None, strategy: object = None, *,
               config: str | Path | LoadedConfig | None = None, overrides: Overrides = None,
               out: str | Path | None = None, name: str = "api"
               ) -> tuple[LoadedConfig, Artifacts]:
    """Fit every model the strategy decides with on ``data``, in order (the steps of
    ``algospace train all``, :func:`engine.research.refit.fit_models`), under ``out``; return the
    config naming the new models (pass it as :func:`backtest`'s ``config``) and the loaded
    models."""
    from engine.research.refit import fit_models as refit
    from engine.wiring.dataset import load_dataset

    loaded = load_config(config, overrides, strategy)
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="algospace-"))
    data_path = _data_path(loaded, data, out_dir)
    dataset = load_dataset(loaded.config, data_path)
    fitted, artifacts = refit(loaded.config, dataset, out_dir, name)
    return LoadedConfig(fitted, loaded.path), artifacts
