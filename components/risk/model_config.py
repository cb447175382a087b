"""The M-RMS network's shapes and action ranges, importable without torch."""

from __future__ import annotations

from components.risk.limits import RiskLimitsConfig
from engine.core.config import Config, PositiveFloat, PositiveInt, Probability

__all__ = ["RiskModelConfig", "RiskSettings"]


class RiskModelConfig(Config, frozen=True):
    """Input widths (setup features, regime vector, account state), hidden width, and the
    action ranges: size 0..``max_contracts`` (categorical), stop distance in ATRs in
    [``stop_min``, ``stop_max``], target as reward/risk in [``rr_min``, ``rr_max``]."""

    setup: PositiveInt = 18
    regime: PositiveInt = 8
    account: PositiveInt = 7
    hidden: PositiveInt = 64
    max_contracts: PositiveInt = 5
    stop_min: PositiveFloat = 0.5
    stop_max: PositiveFloat = 3.0
    rr_min: PositiveFloat = 1.0
    rr_max: PositiveFloat = 5.0
    dropout: Probability = 0.0

    def __post_init__(self) -> None:
        if self.stop_min >= self.stop_max:
            raise ValueError(f"stop_max: expected more than stop_min ({self.stop_min}), was "
                             f"{self.stop_max}")
        if self.rr_min >= self.rr_max:
            raise ValueError(f"rr_max: expected more than rr_min ({self.rr_min}), was "
                             f"{self.rr_max}")

    @property
    def inputs(self) -> int:
        """Width of the concatenated input."""
        return self.setup + self.regime + self.account


class RiskSettings(Config, frozen=True):
    """``[risk]``: the registered M-RMS the pipeline runs (a version folder written by
    ``algospace train mrms``, relative to the config file), and the live account it sizes.

    ``start_equity`` and ``limits`` default to the account the model was trained on (its
    manifest records them); set them to run the same model over another account. The limits
    are deterministic and always win over the model.
    """

    model: str
    start_equity: PositiveFloat | None = None
    limits: RiskLimitsConfig | None = None
