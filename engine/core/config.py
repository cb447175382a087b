"""Typed configuration: base Struct, TOML loading, canonical hashing (core layer).

Configs are frozen msgspec Structs that forbid unknown fields. Defaults live in the Structs only;
TOML files in ``config/`` override them and never restate them. A bad key or value raises
:class:`~engine.core.errors.ConfigError` naming the file, the key path and the expected type.
"""

from __future__ import annotations

import datetime
import difflib
import hashlib
import re
import tomllib
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec

from engine.core.errors import ConfigError

__all__ = [
    "Config",
    "NonNegativeFloat",
    "NonNegativeInt",
    "PositiveFloat",
    "PositiveInt",
    "Probability",
    "apply_overrides",
    "config_id",
    "decode_config",
    "explain",
    "load_toml",
]

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]

C = TypeVar("C", bound="Config")


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every configuration Struct."""


def decode_config(
    data: bytes, config_type: type[C], source: str, overrides: Sequence[str] = ()
) -> C:
    """Decode TOML bytes into ``config_type``; raise ConfigError naming ``source``.

    ``overrides`` are ``dotted.key=value`` strings applied on top of the file (the value is read
    as a TOML value, else as a string), as given on the command line with ``--set``. TOML dates
    and times (``start = 2019-08-01``) become their ISO 8601 text: config fields hold instants
    as strings.

    Examples
    --------
    >>> class Small(Config, frozen=True):
    ...     size: int = 1
    ...     name: str = "a"
    >>> decode_config(b'name = "b"', Small, "x.toml", ["size=5"])
    Small(size=5, name='b')
    """
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    for override in overrides:
        _apply_override(raw, override)
    try:
        return msgspec.convert(_iso_instants(raw), type=config_type)
    except msgspec.ValidationError as exc:
        # msgspec says e.g. "Expected `int`, got `str` - at `$.data.chunk_rows`"
        raise ConfigError(f"{source}: {_describe(exc, config_type)}") from exc


def _iso_instants(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _iso_instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso_instants(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    return value


def load_toml(path: str | Path, config_type: type[C], overrides: Sequence[str] = ()) -> C:
    """Read a TOML file into ``config_type``, with optional ``--set`` style overrides."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    return decode_config(data, config_type, str(path), overrides)


def apply_overrides(config: C, overrides: Sequence[str]) -> C:
    """``config`` with ``--set`` style overrides applied, validated as when it was loaded.

    >>> class Small(Config, frozen=True):
    ...     size: int = 1
    >>> apply_overrides(Small(), ["size=3"])
    Small(size=3)
    """
    raw = msgspec.to_builtins(config)
    for override in overrides:
        _apply_override(raw, override)
    try:
        return msgspec.convert(raw, type=type(config))
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{', '.join(overrides)}: {_describe(exc, type(config))}") from exc


def _apply_override(raw: dict[str, Any], override: str) -> None:
    key, sep, text = override.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(f"--set: expected KEY=VALUE such as data.chunk_rows=5000, "
                          f"was {override!r}")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word: a string
    table = raw
    for part in parts[:-1]:
        nested = table.get(part)
        if nested is None:  # absent, or an optional section unset in a decoded config
            nested = table[part] = {}
        if not isinstance(nested, dict):
            raise ConfigError(f"--set {key}: expected {part!r} to be a table, was {nested!r}")
        table = nested
    table[parts[-1]] = value


def config_id(config: Config) -> str:
    """Return a stable 16-hex-digit hash of the config's canonical JSON.

    Two configs with equal values have the same id whatever file or key order they came from.
    """
    canonical = msgspec.json.encode(msgspec.to_builtins(config), order="sorted")
    return hashlib.sha256(canonical).hexdigest()[:16]


def explain(exc: msgspec.ValidationError, config_type: type) -> tuple[str, str, bool]:
    """What a ValidationError of ``config_type`` says: the dotted key (with an unknown key's
    own name), the reason (an unknown key's names the closest known one), and whether the key
    was unknown."""
    text = str(exc)
    head, sep, where = text.rpartition(" - at `")
    if not sep:
        head, where = text, "$`"
    key = where.rstrip("`").removeprefix("$").lstrip(".")
    unknown = re.match(r"Object contains unknown field `(.+)`", head)
    if not unknown:
        return key, head, False
    name = unknown.group(1)
    known = _fields_at(config_type, key)
    hint = difflib.get_close_matches(name, known, n=1)
    expected = f"did you mean {hint[0]!r}?" if hint else f"expected one of {sorted(known)}"
    return (f"{key}.{name}" if key else name), f"unknown key; {expected}", True


def _describe(exc: msgspec.ValidationError, config_type: type) -> str:
    key, head, unknown = explain(exc, config_type)
    if unknown:
        return f"key {key!r}: {head}"
    if not key and re.match(r"[a-z_][\w.\[\]]*: ", head):
        return head  # a whole-config check already names its key (``backtest.strategy: ...``)
    return f"key {key or '<root>'!r}: {head}"


def _fields_at(config_type: type, key: str) -> list[str]:
    """Return the field names of the Struct reached by the dotted ``key`` path."""
    current: object = config_type
    for part in [p for p in key.split(".") if p]:
        if not (isinstance(current, type) and issubclass(current, msgspec.Struct)):
            return []
        hints = typing.get_type_hints(current)
        current = hints.get(part)
        # unwrap Optional / unions of one Struct
        for arg in typing.get_args(current) or ():
            if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
                current = arg
    if isinstance(current, type) and issubclass(current, msgspec.Struct):
        return list(current.__struct_fields__)
    return []
