"""The Regime Detection Engine on the bus: regime matrix in, regime vector out (component layer).

:class:`RegimeDetector` owns a :class:`~components.assemblers.RegimeAssembler` (the same class
that built the training windows, so serving sees exactly the training matrix) and the trained
:class:`~components.regime.model.RegimeModel` in eval mode. A slow bar opens its row; the bar's
``MmdFeatures`` and ``LvnLevels`` fill it. When both have arrived and the matrix is ready
(a full window of complete rows), the detector encodes the matrix under
``torch.inference_mode`` and returns one :class:`~engine.core.events.RegimeVector` (``mu``, 8
floats,
and the model's ``rde/<name>/<version>``) with the bar's timestamps; never more than one per
bar. The weights come in the config as the bytes of the registered ``weights.pt`` (the wiring
loads and verifies the artifact; the component reads no file and keeps no clock; latency is
logged by the wiring).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec
import numpy as np
import torch

from components.assemblers import RegimeAssembler, RegimeAssemblerConfig
from components.assemblers.regime import REGIME_COLUMNS
from components.regime.model import RegimeModel
from components.regime.model_config import RegimeModelConfig
from components.weights import load_network
from engine.core.config import Config
from engine.core.events import REGIME_VECTOR_SIZE, Bar, Event, LvnLevels, MmdFeatures, RegimeVector

__all__ = ["RegimeDetector", "RegimeDetectorConfig", "encode_window"]

_MMD, _LVN = 1, 2


class RegimeDetectorConfig(Config, frozen=True):
    """The network's shapes, its weights (``weights.pt`` bytes), its label, the matrix."""

    model: RegimeModelConfig
    weights: bytes
    version: str
    assembler: RegimeAssemblerConfig = RegimeAssemblerConfig()

    def __post_init__(self) -> None:
        m, a = self.model, self.assembler
        if m.window != a.window:
            raise ValueError(f"model.window: expected the assembler's window ({a.window}), "
                             f"was {m.window}")
        if m.features != len(REGIME_COLUMNS):
            raise ValueError(f"model.features: expected {len(REGIME_COLUMNS)} (the regime "
                             f"matrix), was {m.features}")
        if m.latent != REGIME_VECTOR_SIZE:
            raise ValueError(f"model.latent: expected {REGIME_VECTOR_SIZE} (RegimeVector), "
                             f"was {m.latent}")


class _State(msgspec.Struct, array_like=True):
    assembler: bytes
    seen: int
    bar_ts: int
    emitted_ts: int


def encode_window(model: RegimeModel, matrix: np.ndarray) -> tuple[float, ...]:
    """``mu`` of one ``(window, features)`` matrix as floats, under ``inference_mode`` (the
    computation the detector runs; training-side parity checks call it too)."""
    with torch.inference_mode():
        mu, _ = model.encode(torch.from_numpy(matrix).unsqueeze(0))  # (1, latent)
    return tuple(mu[0].tolist())


class RegimeDetector:
    """Emits the regime vector of each slow bar once the regime matrix is ready."""

    inputs: ClassVar[tuple[type[Event], ...]] = (Bar, MmdFeatures, LvnLevels)
    _assembler: RegimeAssembler
    _seen: int
    _bar_ts: int
    _emitted_ts: int

    def __init__(self, config: RegimeDetectorConfig) -> None:
        self.config = config
        self.name = f"regime_detector.{config.assembler.timeframe}"
        self.model = load_network(lambda: RegimeModel(config.model), config.weights)
        self.reset()

    @property
    def ready(self) -> bool:
        """True once the regime matrix holds a full window of complete rows."""
        return self._assembler.ready

    @property
    def assembler(self) -> RegimeAssembler:
        """The regime matrix the detector reads (do not feed it events directly)."""
        return self._assembler

    def on_event(self, event: Event) -> Sequence[Event]:
        """Feed the matrix; on the last input of a ready slow bar, return its RegimeVector."""
        tf = self.config.assembler.timeframe
        self._assembler.on_event(event)
        kind = type(event)
        if kind is Bar:
            assert isinstance(event, Bar)
            if event.timeframe == tf:
                self._seen, self._bar_ts = 0, event.ts_event
            return ()
        if getattr(event, "timeframe", None) != tf or event.ts_event != self._bar_ts:
            return ()
        self._seen |= _MMD if kind is MmdFeatures else _LVN
        if self._seen != _MMD | _LVN or self._emitted_ts == self._bar_ts or not self.ready:
            return ()
        self._emitted_ts = self._bar_ts
        assert isinstance(event, MmdFeatures | LvnLevels)
        mu = encode_window(self.model, self._assembler.matrix())
        return (RegimeVector(event.ts_event, event.ts_init, event.instrument, tf, mu,
                             self.config.version),)

    def reset(self) -> None:
        """An empty matrix, nothing seen."""
        self._assembler = RegimeAssembler(self.config.assembler)
        self._seen, self._bar_ts, self._emitted_ts = 0, -1, -1

    def snapshot(self) -> bytes:
        """The matrix's state and which inputs of the current bar arrived."""
        return msgspec.msgpack.encode(_State(self._assembler.snapshot(), self._seen,
                                             self._bar_ts, self._emitted_ts))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self._assembler.restore(s.assembler)
        self._seen, self._bar_ts, self._emitted_ts = s.seen, s.bar_ts, s.emitted_ts
