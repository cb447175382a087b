"""``[marl]``: the registered MARL decision core a run uses (component layer, no torch)."""

from __future__ import annotations

from components.decision.gate import Gate1Config
from engine.core.config import Config

__all__ = ["MarlSettings"]


class MarlSettings(Config, frozen=True):
    """The registered model (a version folder written by ``algospace train marl``, relative
    to the config file) and, optionally, another gate 1 than the one it was trained and
    selected with (its manifest records that one, which is the default)."""

    model: str
    gate: Gate1Config | None = None
