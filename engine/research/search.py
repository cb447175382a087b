"""Parameter search spaces and the trials drawn from them (pure).

A parameter is a dotted config key (as ``--set`` takes it) with its values:

- ``KEY=V1,V2,...``: a list of TOML values (``10,20,30``, ``"fixed","mrms"``, ``true,false``);
- ``KEY=A:B:STEP``: the numbers ``A, A+STEP, ...`` up to ``B`` inclusive (integers when all
  three are);
- random search only: ``KEY=uniform:A:B``, ``KEY=loguniform:A:B`` (``0 < A``), ``KEY=randint:A:B``
  (``A..B`` inclusive).

:func:`grid_trials` is the cartesian product, the first parameter varying slowest.
:func:`random_trials` draws ``n`` trials with numpy's PCG64 seeded by ``seed``: when every
parameter is a list or range, ``n`` distinct grid points (all of them when ``n`` is the grid's
size or more); otherwise each parameter independently, a list or range uniformly, a
distribution as named. The same space, ``n`` and ``seed`` always give the same trials. Each
trial is a tuple of ``KEY=VALUE`` overrides.

>>> space = parse_space(["a=1,2", "b=0.5:1.0:0.25"])
>>> [t.overrides for t in grid_trials(space)][:4]
[('a=1', 'b=0.5'), ('a=1', 'b=0.75'), ('a=1', 'b=1.0'), ('a=2', 'b=0.5')]
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Sequence
from typing import Literal

import msgspec
import numpy as np

__all__ = ["Param", "Trial", "grid_trials", "parse_space", "random_trials"]

Scalar = bool | int | float | str
Kind = Literal["values", "uniform", "loguniform", "randint"]
_DISTRIBUTIONS = ("uniform", "loguniform", "randint")
MAX_GRID = 100_000


class Param(msgspec.Struct, frozen=True):
    """One searched parameter: ``values`` for a list or range, ``low``/``high`` for a
    distribution."""

    key: str
    kind: Kind
    values: tuple[Scalar, ...] = ()
    low: float = 0.0
    high: float = 0.0


class Trial(msgspec.Struct, frozen=True):
    """One point of the space: its number and its overrides."""

    index: int
    overrides: tuple[str, ...]

    @property
    def params(self) -> dict[str, str]:
        """``{key: value text}``."""
        return dict(o.split("=", 1) for o in self.overrides)


def _value(text: str, where: str) -> Scalar:
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word: a string, as --set reads it
    if not isinstance(value, bool | int | float | str):
        raise ValueError(f"{where}: expected numbers, strings or booleans, was {text!r}")
    return value


def _number(text: str, where: str) -> int | float:
    value = _value(text, where)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, was {text!r}")
    return value


def _range(parts: list[str], where: str) -> tuple[Scalar, ...]:
    a, b, step = (_number(p, where) for p in parts)
    if step <= 0 or b < a:
        raise ValueError(f"{where}: expected A:B:STEP with A <= B and STEP > 0, was "
                         f"{':'.join(parts)}")
    count = int(math.floor((b - a) / step + 1e-9)) + 1
    if count > MAX_GRID:
        raise ValueError(f"{where}: {count} values; expected at most {MAX_GRID}")
    if all(isinstance(v, int) for v in (a, b, step)):
        return tuple(int(a + i * step) for i in range(count))
    # rounded to the step's decimals, so 0.1 steps give 0.3, not 0.30000000000000004
    decimals = max(0, -math.floor(math.log10(abs(float(step))))) + 6
    return tuple(round(a + i * step, decimals) for i in range(count))


def parse_param(text: str) -> Param:
    """One ``--grid`` argument (module docstring)."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    where = f"--grid {text}"
    if not sep or not key or not all(key.split(".")) or not spec.strip():
        raise ValueError(f"--grid: expected KEY=VALUES such as strategies.sma_cross.fast=5,10,20, "
                         f"was {text!r}")
    parts = spec.split(":")
    if parts[0].strip() in _DISTRIBUTIONS:
        kind = parts[0].strip()
        if len(parts) != 3:
            raise ValueError(f"{where}: expected {kind}:A:B, was {spec!r}")
        low, high = _number(parts[1], where), _number(parts[2], where)
        if high <= low or (kind == "loguniform" and low <= 0):
            raise ValueError(f"{where}: expected A < B" + (" and A > 0" if kind == "loguniform"
                                                          else "") + f", was {spec!r}")
        if kind == "randint" and not (float(low).is_integer() and float(high).is_integer()):
            raise ValueError(f"{where}: expected integer bounds, was {spec!r}")
        return Param(key, kind, low=float(low), high=float(high))  # type: ignore[arg-type]
    if len(parts) == 3 and "," not in spec and not spec.strip().startswith(('"', "'")):
        return Param(key, "values", _range(parts, where))
    values = tuple(_value(v, where) for v in spec.split(","))
    if len(set(values)) != len(values):
        raise ValueError(f"{where}: expected distinct values, was {spec!r}")
    return Param(key, "values", values)


def parse_space(texts: Sequence[str]) -> list[Param]:
    """Every ``--grid`` argument; a key given twice is an error."""
    params = [parse_param(t) for t in texts]
    keys = [p.key for p in params]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"--grid: {key} given {keys.count(key)} times; expected once")
    if not params:
        raise ValueError("--grid: expected at least one KEY=VALUES")
    return params


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()  # a TOML basic string
    return repr(value)


def grid_size(space: Sequence[Param]) -> int:
    """Trials of the full grid."""
    return math.prod(len(p.values) for p in space)


def grid_trials(space: Sequence[Param]) -> list[Trial]:
    """Every combination, the first parameter varying slowest."""
    for p in space:
        if p.kind != "values":
            raise ValueError(f"--grid {p.key}: a {p.kind} distribution needs random search "
                             "(--random N); a grid needs a list or A:B:STEP")
    size = grid_size(space)
    if size > MAX_GRID:
        raise ValueError(f"--grid: {size:,} combinations; expected at most {MAX_GRID:,} (use "
                         "--random N to sample them)")
    combos = itertools.product(*(p.values for p in space))
    return [Trial(i, tuple(f"{p.key}={_text(v)}" for p, v in zip(space, combo, strict=True)))
            for i, combo in enumerate(combos)]


def random_trials(space: Sequence[Param], n: int, seed: int) -> list[Trial]:
    """``n`` trials drawn independently (module docstring)."""
    if n < 1:
        raise ValueError(f"--random: expected at least 1 trial, was {n}")
    rng = np.random.Generator(np.random.PCG64(seed))
    if all(p.kind == "values" for p in space) and grid_size(space) <= MAX_GRID:
        grid = grid_trials(space)
        if n >= len(grid):
            return grid
        picked = np.sort(rng.choice(len(grid), size=n, replace=False))
        return [Trial(i, grid[int(j)].overrides) for i, j in enumerate(picked)]
    trials = []
    for i in range(n):
        overrides = []
        for p in space:
            value: Scalar
            if p.kind == "values":
                value = p.values[int(rng.integers(len(p.values)))]
            elif p.kind == "uniform":
                value = float(rng.uniform(p.low, p.high))
            elif p.kind == "loguniform":
                value = float(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
            else:
                value = int(rng.integers(int(p.low), int(p.high) + 1))
            overrides.append(f"{p.key}={_text(value)}")
        trials.append(Trial(i, tuple(overrides)))
    return trials
