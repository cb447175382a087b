"""The fitted MMD reference sets: a pure data Struct the component is built from.

Fitted by ``replay/train/mmd_reference.py`` (``algospace train mmd-reference``) from the slow bars
of a
training period and saved as a versioned artifact (``reference.msgpack`` + ``manifest.json``);
see docs/regime.md for the procedure. Nothing here reads files.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from components.regime.mmd.kernels import MMD_VECTOR_NAMES, N_SETS

__all__ = ["REFERENCE_FORMAT", "MmdReference", "RegimeSet"]

REFERENCE_FORMAT = 1


class RegimeSet(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One reference set: the normalised per-bar vectors of one regime of the training period.

    ``points`` is row-major ``count x 4`` (``MMD_VECTOR_NAMES``), normalised with the reference's
    ``norm_mean`` / ``norm_std``, in time order. ``blocks`` and ``bars`` count the training
    blocks and bars assigned to the regime (``count`` of those bars were kept). ``trend``,
    ``volatility`` and ``autocorrelation`` are the regime's centroid in the block descriptors
    (mean log return per bar, std of log returns, lag-1 autocorrelation); ``mean`` and ``std``
    describe ``points`` per dimension.
    """

    name: str
    count: int
    points: list[float]
    blocks: int
    bars: int
    trend: float
    volatility: float
    autocorrelation: float
    mean: list[float]
    std: list[float]


class MmdReference(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seven reference sets with their normalisation and kernel bandwidth, and where they came
    from (instrument, slow timeframe, the first and last bar used, the data's sha256, the
    procedure's parameters and seed)."""

    format: int
    vector_names: list[str]
    vol_window: int
    norm_mean: list[float]
    norm_std: list[float]
    bandwidth: float
    sets: list[RegimeSet]
    instrument: str
    timeframe: str
    period_start_ns: int
    period_end_ns: int
    data_sha256: str
    block_bars: int
    set_size: int
    seed: int

    def __post_init__(self) -> None:
        if self.format != REFERENCE_FORMAT:
            raise ValueError(f"format: expected {REFERENCE_FORMAT}, was {self.format}")
        if tuple(self.vector_names) != MMD_VECTOR_NAMES:
            raise ValueError(f"vector_names: expected {list(MMD_VECTOR_NAMES)}, "
                             f"was {self.vector_names}")
        if len(self.sets) != N_SETS:
            raise ValueError(f"sets: expected {N_SETS}, was {len(self.sets)}")
        for i, s in enumerate(self.sets):
            if s.count < 2 or len(s.points) != 4 * s.count:
                raise ValueError(f"sets[{i}] ({s.name}): expected count >= 2 and 4 * count "
                                 f"points, was count {s.count} with {len(s.points)} values")
        if len(self.norm_mean) != 4 or len(self.norm_std) != 4:
            raise ValueError("norm_mean, norm_std: expected 4 values each")
        if not all(x > 0 for x in self.norm_std):
            raise ValueError(f"norm_std: expected positive values, was {self.norm_std}")
        if not self.bandwidth > 0:
            raise ValueError(f"bandwidth: expected > 0, was {self.bandwidth}")

    def arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """The sets as the kernel takes them: points ``(7, M, 4)`` padded with zeros to the
        largest set, and the counts."""
        m = max(s.count for s in self.sets)
        refs = np.zeros((len(self.sets), m, 4))
        for i, s in enumerate(self.sets):
            refs[i, : s.count] = np.asarray(s.points, dtype=np.float64).reshape(s.count, 4)
        return refs, np.array([s.count for s in self.sets], dtype=np.int64)
