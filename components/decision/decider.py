"""Gate 1 on the bus: the three MARL agents' MC-Dropout consensus on each setup (component layer).

:class:`MarlDecider` owns the slow and fast matrix assemblers (the same classes the trainer
reads) and the last ``RegimeVector``. On each ``SynergyDetected`` it builds the observation
(slow matrix, fast matrix, regime vector, setup features), runs ``gate.samples`` stochastic
passes of the network as **one batched forward** with dropout masks drawn from a generator
seeded by the config's seed and the setup's time (so the verdict depends on nothing but the
setup's inputs: reproducible, restorable, no look-ahead), and applies
:func:`~components.decision.gate.consensus`:

- passed: a ``ConsensusReached`` (the setup, the confidences, the uncertainty figures);
- refused: a ``TradeRejected`` at stage ``gate1`` naming ``agreement`` and/or ``confidence``
  (with the failed consensus figures as its ``verdict``), or ``not_ready`` while a matrix is
  not full or no regime vector has arrived.

It declares 8 input types, a documented exception to the ~4 of docs/style.md: the two matrices it
owns
must be fed in bus order, the same order the trainer replayed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import ClassVar, Literal

import msgspec
import numpy as np
import torch

from components.assemblers import (
    FastAssembler,
    FastAssemblerConfig,
    SlowAssembler,
    SlowAssemblerConfig,
)
from components.decision.gate import Gate1Config, Gate1Verdict, consensus
from components.decision.model import MarlModel
from components.decision.model_config import MarlModelConfig
from components.risk.setup_features import setup_features
from components.weights import load_network
from engine.core.config import Config, PositiveInt
from engine.core.events import (
    REGIME_VECTOR_SIZE,
    Bar,
    ConsensusReached,
    Event,
    FvgMitigated,
    FvgState,
    LvnLevels,
    MlmiValue,
    NwrqkValue,
    RegimeVector,
    SynergyDetected,
    TradeRejected,
)

__all__ = ["MarlDecider", "MarlDeciderConfig", "mask_generator", "observe"]


class MarlDeciderConfig(Config, frozen=True):
    """The network and its weights, gate 1, the two matrices, the synergy window (setup
    features), the seed of the dropout masks and the strategy it decides for."""

    model: MarlModelConfig
    weights: bytes
    version: str
    slow: SlowAssemblerConfig
    fast: FastAssemblerConfig
    gate: Gate1Config = Gate1Config()
    window: PositiveInt = 30
    seed: int = 0
    strategy: str = "marl"

    def __post_init__(self) -> None:
        m = self.model
        if (m.slow_window, m.fast_window) != (self.slow.window, self.fast.window):
            raise ValueError(f"model: expected the matrices' windows ({self.slow.window}, "
                             f"{self.fast.window}), was ({m.slow_window}, {m.fast_window})")
        if m.regime != REGIME_VECTOR_SIZE:
            raise ValueError(f"model.regime: expected {REGIME_VECTOR_SIZE} (RegimeVector), was "
                             f"{m.regime}")


def mask_generator(seed: int, ts_event: int) -> torch.Generator:
    """The dropout masks' generator for the setup at ``ts_event``: a function of both only."""
    digest = hashlib.sha256(f"{seed}:{ts_event}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def observe(slow: np.ndarray, fast: np.ndarray, regime: Sequence[float],
            setup: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                             torch.Tensor]:
    """One observation as batch-1 float32 tensors, in the network's argument order."""
    return (torch.from_numpy(np.ascontiguousarray(slow, dtype=np.float32)).unsqueeze(0),
            torch.from_numpy(np.ascontiguousarray(fast, dtype=np.float32)).unsqueeze(0),
            torch.tensor([regime], dtype=torch.float32),
            torch.tensor([setup], dtype=torch.float32))


class _State(msgspec.Struct, array_like=True):
    slow: bytes
    fast: bytes
    regime: list[float] | None


class MarlDecider:
    """Gate 1 for every setup (module docstring)."""

    inputs: ClassVar[tuple[type[Event], ...]] = (
        Bar, MlmiValue, NwrqkValue, LvnLevels, FvgState, FvgMitigated, RegimeVector,
        SynergyDetected)
    _slow: SlowAssembler
    _fast: FastAssembler
    _regime: tuple[float, ...] | None

    def __init__(self, config: MarlDeciderConfig) -> None:
        self.config = config
        self.name = f"marl_decider.{config.strategy}"
        self.model = load_network(lambda: MarlModel(config.model), config.weights)
        self.reset()

    @property
    def ready(self) -> bool:
        """Both matrices full and a regime vector seen."""
        return self._slow.ready and self._fast.ready and self._regime is not None

    def on_event(self, event: Event) -> Sequence[Event]:
        """Feed the matrices and the regime; answer each setup with gate 1's verdict."""
        kind = type(event)
        if kind is SynergyDetected:
            assert isinstance(event, SynergyDetected)
            return (self._decide(event),)
        if kind is RegimeVector:
            assert isinstance(event, RegimeVector)
            self._regime = event.mu
            return ()
        self._slow.on_event(event)
        self._fast.on_event(event)
        return ()

    def verdict(self, setup: SynergyDetected, slow: np.ndarray, fast: np.ndarray,
                regime: Sequence[float]) -> Gate1Verdict:
        """Gate 1 on ``setup`` with these matrices and regime vector: ``gate.samples`` passes
        as one batched forward, masks seeded by the config's seed and the setup's time."""
        c = self.config
        x_slow, x_fast, x_regime, x_setup = observe(slow, fast, regime,
                                                    setup_features(setup, c.window))
        with torch.inference_mode():
            masks = self.model.sample_masks(c.gate.samples,
                                            mask_generator(c.seed, setup.ts_event))
            probs = self.model.mc_probs(x_slow, x_fast, x_regime, x_setup, masks)
        return consensus(probs.numpy(), setup.direction, c.gate)

    def decide(self, setup: SynergyDetected, slow: np.ndarray, fast: np.ndarray,
               regime: Sequence[float]) -> Event:
        """The event answering ``setup`` (gate 1's verdict on these inputs)."""
        c = self.config
        v = self.verdict(setup, slow, fast, regime)
        direction: Literal["long", "short"] = "long" if setup.direction > 0 else "short"
        samples = 1 if self.model.config.dropout == 0.0 else c.gate.samples
        consensus_event = ConsensusReached(
            ts_event=setup.ts_event, ts_init=setup.ts_init, instrument=setup.instrument,
            strategy=c.strategy, setup=setup, direction=direction, agree=v.agree,
            confidence=v.confidence, uncertainty=v.uncertainty, score=v.score,
            entropy=v.entropy, mutual_information=v.mutual_information,
            mean=tuple(x for row in v.mean for x in row),
            std=tuple(x for row in v.std for x in row), samples=samples, model=c.version)
        if not v.passed:
            return TradeRejected(ts_event=setup.ts_event, ts_init=setup.ts_init,
                                 instrument=setup.instrument, strategy=c.strategy,
                                 stage="gate1", reasons=v.reasons, direction=direction,
                                 verdict=consensus_event)
        return consensus_event

    def _decide(self, setup: SynergyDetected) -> Event:
        if not self.ready:
            return TradeRejected(ts_event=setup.ts_event, ts_init=setup.ts_init,
                                 instrument=setup.instrument, strategy=self.config.strategy,
                                 stage="gate1", reasons=("not_ready",),
                                 direction="long" if setup.direction > 0 else "short")
        assert self._regime is not None
        return self.decide(setup, self._slow.matrix(), self._fast.matrix(), self._regime)

    def reset(self) -> None:
        """Empty matrices, no regime vector."""
        self._slow = SlowAssembler(self.config.slow)
        self._fast = FastAssembler(self.config.fast)
        self._regime = None

    def snapshot(self) -> bytes:
        """Both matrices' states and the last regime vector."""
        return msgspec.msgpack.encode(_State(
            self._slow.snapshot(), self._fast.snapshot(),
            None if self._regime is None else list(self._regime)))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self._slow.restore(s.slow)
        self._fast.restore(s.fast)
        self._regime = None if s.regime is None else tuple(s.regime)
