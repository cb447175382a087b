"""Strategy plugins: from ``backtest.strategy`` to a class, and its settings (wiring layer).

``backtest.strategy`` names a strategy three ways:

- a built-in name (``sma_cross``, ``synergy``, ``marl``, ``buy_hold``: the table in
  ``strategies/__init__.py``, import paths like any plugin's);
- an import path ``package.module:Class`` (the module must be importable: installed, or on
  ``PYTHONPATH``);
- a file path ``path/to/file.py:Class`` (in a config file relative to the file's directory,
  on the command line relative to the working directory).

A plugin named in ``plugins.strategies`` may also be selected by its key. Each plugin's
settings are its ``[strategies.<key>]`` table, validated against its ``config_type`` when the
config is loaded; a table no known plugin owns is an error (with "did you mean"). The plugin
contract is :mod:`engine.core.strategy`.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from engine.core.config import Config, explain
from engine.core.errors import ConfigError
from engine.core.strategy import StrategyContext

if TYPE_CHECKING:
    from engine.core.events import Event
    from engine.core.strategy import Strategy
    from engine.wiring.schema import AppConfig

__all__ = ["ComponentPlugin", "StrategyPlugin", "absolute_spec", "builtin_names",
           "check_plugins", "component_plugins", "is_file_spec", "register_events",
           "resolve_component", "resolve_strategy", "selected"]

_METHODS = ("on_event", "snapshot", "restore")


def builtin_names() -> dict[str, str]:
    """The built-in strategies: name -> import path."""
    from strategies import BUILTIN_STRATEGIES

    return dict(BUILTIN_STRATEGIES)


@dataclass(frozen=True)
class StrategyPlugin:
    """A resolved strategy plugin: how it was named, its table key, class and settings type."""

    spec: str
    key: str
    cls: type
    config_type: type[Config]

    def settings(self, config: AppConfig) -> Config:
        """Its ``[strategies.<key>]`` table of ``config``, validated (defaults where absent)."""
        return _settings(self, config.strategies.get(self.key, {}))

    def build(self, config: AppConfig) -> Strategy:
        """A fresh instance for ``config`` (``from_config(settings, context)`` when defined)."""
        settings = self.settings(config)
        from_config = getattr(self.cls, "from_config", None)
        if from_config is None:
            strategy: Strategy = self.cls(settings)
        else:
            strategy = from_config(settings, _context(config))
        return strategy

    def needs(self, strategy: object) -> tuple[type[Event], ...]:
        """The event types ``strategy`` (an instance of this plugin) needs produced upstream."""
        needs = getattr(strategy, "needs", None)
        return tuple(needs if needs is not None else getattr(strategy, "inputs", ()))

    @property
    def baselines(self) -> dict[str, dict[str, Any]]:
        """The strategies it is reported beside, with their tables' overrides (may be empty)."""
        return dict(getattr(self.cls, "baselines", {}) or {})


def _context(config: AppConfig) -> StrategyContext:
    execution = config.backtest.broker.execution_timeframe or config.timeframes.fast
    return StrategyContext(fast=config.timeframes.fast, slow=config.timeframes.slow,
                           execution=execution, instrument=config.instrument)


@dataclass(frozen=True)
class ComponentPlugin:
    """A resolved user component (a custom indicator, say): how it was named, its
    ``[components.<key>]`` table key, class, settings type, the event types it produces and
    those it needs produced upstream (default: its ``inputs``)."""

    spec: str
    key: str
    cls: type
    config_type: type[Config]
    produces: tuple[type[Event], ...]
    needs: tuple[type[Event], ...]

    def settings(self, config: AppConfig) -> Config:
        """Its ``[components.<key>]`` table of ``config``, validated (defaults where absent)."""
        return _settings(self, config.components.get(self.key, {}), "components")

    def build(self, config: AppConfig) -> Any:
        """A fresh instance for ``config`` (``from_config(settings, context)`` when defined)."""
        settings = self.settings(config)
        from_config = getattr(self.cls, "from_config", None)
        return self.cls(settings) if from_config is None else from_config(settings,
                                                                            _context(config))


@lru_cache(maxsize=64)
def resolve_component(spec: str, where: str) -> ComponentPlugin:
    """The user component ``spec`` names (``package.module:Class`` or ``file.py:Class``):
    a class with ``config_type``, ``inputs``, ``produces`` (its output event types, each
    registered so it travels on the journal and the wire), optional ``needs`` and ``key``,
    and the component methods; ConfigError naming ``where`` otherwise."""
    from engine.core.events import Event, register_event

    cls, attr = _load_class(spec, where, spec)
    config_type = getattr(cls, "config_type", None)
    if not (isinstance(config_type, type) and issubclass(config_type, Config)):
        raise ConfigError(f"{where}: {spec!r}: {attr} is not a component plugin: it needs a "
                          "class attribute config_type, a subclass of engine.config.Config "
                          "(docs/strategies.md)")
    missing = [m for m in (*_METHODS, "reset") if not callable(getattr(cls, m, None))]
    for name in ("inputs", "produces"):
        kinds = getattr(cls, name, None)
        if not (isinstance(kinds, tuple) and kinds
                and all(isinstance(k, type) and issubclass(k, Event) for k in kinds)):
            missing.append(f"{name} (a tuple of event types)")
    if missing:
        raise ConfigError(f"{where}: {spec!r}: {attr} is not a component plugin: it lacks "
                          f"{', '.join(missing)} (docs/strategies.md)")
    produces: tuple[type[Event], ...] = getattr(cls, "produces")  # noqa: B009 (checked above)
    inputs: tuple[type[Event], ...] = getattr(cls, "inputs")  # noqa: B009
    for kind in produces:
        try:
            register_event(kind)
        except TypeError as exc:
            raise ConfigError(f"{where}: {spec!r}: produces {exc}") from exc
    key = getattr(cls, "key", None) or _snake(attr)
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ConfigError(f"{where}: {spec!r}: key: expected a table name, was {key!r}")
    needs = tuple(getattr(cls, "needs", None) or inputs)
    return ComponentPlugin(spec=spec, key=key, cls=cls, config_type=config_type,
                           produces=tuple(produces), needs=needs)


def component_plugins(config: AppConfig) -> list[ComponentPlugin]:
    """The user components ``plugins.components`` lists, in that order."""
    return [resolve_component(spec, f"plugins.components[{i}]")
            for i, spec in enumerate(config.plugins.components)]


def register_events(config: AppConfig) -> None:
    """Register the user event types ``plugins.events`` lists (``module:Class`` or
    ``file.py:Class``), so they travel on the journal and the wire."""
    from engine.core.events import register_event

    for index, spec in enumerate(config.plugins.events):
        where = f"plugins.events[{index}]"
        kind, _ = _load_class(spec, where, spec)
        try:
            register_event(kind)
        except TypeError as exc:
            raise ConfigError(f"{where}: {spec!r}: {exc}") from exc


def _settings(plugin: StrategyPlugin | ComponentPlugin, table: object,
              section: str = "strategies") -> Config:
    if not isinstance(table, dict):
        raise ConfigError(f"{section}.{plugin.key}: expected a table, was {table!r}")
    try:
        return msgspec.convert(table, type=plugin.config_type)
    except msgspec.ValidationError as exc:
        key, reason, _ = explain(exc, plugin.config_type)
        at = f"{section}.{plugin.key}" + (f".{key}" if key else "")
        raise ConfigError(f"{at}: {reason}") from exc


def is_file_spec(spec: str) -> bool:
    """Whether ``spec`` names a class in a Python file (``path/file.py:Class``)."""
    path, sep, _ = spec.rpartition(":")
    return bool(sep) and path.endswith(".py")


def absolute_spec(spec: str, base: Path) -> str:
    """``spec`` with a relative file path made absolute against ``base``; others unchanged."""
    if not is_file_spec(spec):
        return spec
    path, _, name = spec.rpartition(":")
    file = Path(path).expanduser()
    return spec if file.is_absolute() else f"{(base / file).resolve()}:{name}"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _load_class(target: str, where: str, spec: str) -> tuple[type, str]:
    """The class ``module:Class`` or ``file.py:Class`` names, and its name."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{where}: {spec!r}: expected 'package.module:Class' or "
                          "'path/to/file.py:Class'")
    module = _import(module_name, where, spec)
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ConfigError(f"{where}: {spec!r}: module {module_name!r} has no class {attr!r}")
    return cls, attr


@lru_cache(maxsize=64)
def resolve_strategy(spec: str, where: str = "backtest.strategy") -> StrategyPlugin:
    """The plugin ``spec`` names (module docstring); ConfigError naming ``where`` and the spec
    when it names nothing usable."""
    builtins = builtin_names()
    target = builtins.get(spec, spec)
    if ":" not in target:
        hint = difflib.get_close_matches(spec, list(builtins), n=1)
        did = f"did you mean {hint[0]!r}? " if hint else ""
        raise ConfigError(
            f"{where}: no built-in strategy named {spec!r}; {did}built-ins: {sorted(builtins)}; "
            "a plugin is named 'package.module:Class' or 'path/to/file.py:Class'")
    cls, attr = _load_class(target, where, spec)
    config_type = getattr(cls, "config_type", None)
    if not (isinstance(config_type, type) and issubclass(config_type, msgspec.Struct)):
        raise ConfigError(f"{where}: {spec!r}: {attr} is not a strategy plugin: it needs a "
                          "class attribute config_type, its frozen settings Struct "
                          "(engine.core.config.Config; docs/strategies.md)")
    missing = [m for m in _METHODS if not callable(getattr(cls, m, None))]
    if missing or not isinstance(getattr(cls, "inputs", None), tuple):
        missing += [] if isinstance(getattr(cls, "inputs", None), tuple) else ["inputs"]
        raise ConfigError(f"{where}: {spec!r}: {attr} is not a strategy plugin: it lacks "
                          f"{', '.join(missing)} (docs/strategies.md)")
    key = getattr(cls, "key", None) or _snake(attr)
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ConfigError(f"{where}: {spec!r}: key: expected a table name, was {key!r}")
    for name, path in builtins.items():
        if key == name and path != target:
            raise ConfigError(f"{where}: {spec!r}: key {key!r} is a built-in strategy's; "
                              "give the plugin another key")
    if not issubclass(config_type, Config):
        raise ConfigError(f"{where}: {spec!r}: {attr}.config_type: expected a subclass of "
                          f"engine.core.config.Config (frozen, unknown keys refused), was "
                          f"{config_type.__name__}")
    return StrategyPlugin(spec=spec, key=key, cls=cls, config_type=config_type)


def _import(module_name: str, where: str, spec: str) -> Any:
    if module_name.endswith(".py"):
        path = Path(module_name).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"{where}: {spec!r}: file not found: {path}")
        # one module per file, named by its path: a file loaded twice is the same module
        name = "algospace_plugin_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
        if name in sys.modules:
            return sys.modules[name]
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ConfigError(f"{where}: {spec!r}: cannot load {path} as a Python module")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise ConfigError(f"{where}: {spec!r}: {path} failed to import: "
                              f"{type(exc).__name__}: {exc}") from exc
        return module
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: {spec!r}: cannot import module {module_name!r}: "
                          f"{exc}") from exc


def selected(config: AppConfig) -> StrategyPlugin:
    """The plugin ``backtest.strategy`` selects (by built-in name, by the key of a plugin in
    ``plugins.strategies``, or by its import or file path)."""
    spec = config.backtest.strategy
    if spec not in builtin_names() and ":" not in spec:
        for index, listed in enumerate(config.plugins.strategies):
            plugin = resolve_strategy(listed, f"plugins.strategies[{index}]")
            if plugin.key == spec:
                return plugin
    return resolve_strategy(spec)


def check_plugins(config: AppConfig) -> None:
    """Resolve the selected strategy plugin and the listed strategy, component and event
    plugins, and validate every ``[strategies.<key>]`` and ``[components.<key>]`` table
    against its owner's settings Struct."""
    register_events(config)
    components: dict[str, ComponentPlugin] = {}
    for plugin in component_plugins(config):
        if plugin.key in components:
            raise ConfigError(f"plugins.components: two components have the key "
                              f"{plugin.key!r} ({components[plugin.key].spec}, {plugin.spec})")
        components[plugin.key] = plugin
    for key, table in config.components.items():
        owner = components.get(key)
        if owner is None:
            hint = difflib.get_close_matches(key, list(components), n=1)
            did = f"did you mean {hint[0]!r}? " if hint else ""
            raise ConfigError(f"components.{key}: no component in plugins.components owns "
                              f"this table; {did}known: {sorted(components)}")
        _settings(owner, table, "components")
    _check_strategy_tables(config)


def _check_strategy_tables(config: AppConfig) -> None:
    owners = {name: resolve_strategy(name) for name in builtin_names()}
    for index, listed in enumerate(config.plugins.strategies):
        plugin = resolve_strategy(listed, f"plugins.strategies[{index}]")
        owners[plugin.key] = plugin
    chosen = selected(config)
    owners[chosen.key] = chosen
    for key, table in config.strategies.items():
        owner = owners.get(key)
        if owner is None:
            hint = difflib.get_close_matches(key, list(owners), n=1)
            did = f"did you mean {hint[0]!r}? " if hint else ""
            raise ConfigError(
                f"strategies.{key}: no strategy plugin owns this table; {did}known: "
                f"{sorted(owners)} (list a plugin in plugins.strategies to configure it "
                "without selecting it)")
        _settings(owner, table)
