"""The M-RMS on the bus: a setup in, a capped risk proposal or a rejection out (component layer).

:class:`RiskManager` keeps the live account (its own :class:`AccountTracker`, fed the bars,
fills and closed trades of the strategy it sizes) and the last ``RegimeVector``. On each
``SynergyDetected`` it builds the state exactly as the trainer does (setup features, regime
vector, account features), takes the trained network's deterministic proposal (most likely
size, Beta modes for stop and target) under ``torch.inference_mode``, and caps it with
:func:`~components.risk.limits.apply_limits`:

- a size left above 0 gives a ``RiskProposal``: entry at the setup's price, stop and target
  at ``stop_atr * ATR`` and ``rr`` times that from it, dollar risk (size x (stop x point value
  + costs)), dollar reward, the size's probability as confidence, the model's label and the
  limits that cut it;
- otherwise a ``TradeRejected`` at stage ``risk`` naming the limits (or ``model_size_zero``
  when the model itself proposed nothing, ``regime_not_ready`` before the first regime
  vector, ``no_atr`` when the setup has none).

The weights arrive in the config as the registered ``weights.pt`` bytes; the component reads
no file and no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import msgspec
import torch

from components.risk.account import AccountTracker, AccountTrackerConfig
from components.risk.limits import apply_limits
from components.risk.model import RiskModel
from components.risk.model_config import RiskModelConfig
from components.risk.setup_features import setup_features
from components.risk.state import account_features, cost_per_contract
from components.weights import load_network
from engine.core.backtest_config import CostsConfig
from engine.core.config import Config, PositiveInt
from engine.core.events import (
    REGIME_VECTOR_SIZE,
    Bar,
    ConsensusReached,
    Event,
    Fill,
    RegimeVector,
    RiskProposal,
    SynergyDetected,
    TradeClosed,
    TradeRejected,
)
from engine.core.instruments import Instrument

__all__ = ["ConsensusRiskManager", "RiskManager", "RiskManagerConfig"]


class RiskManagerConfig(Config, frozen=True):
    """The network and its weights, the account and limits, the instrument and costs, the
    synergy window (for the setup features) and the strategy whose trades it follows."""

    model: RiskModelConfig
    weights: bytes
    version: str
    account: AccountTrackerConfig
    instrument: Instrument
    costs: CostsConfig = CostsConfig()
    window: PositiveInt = 30
    strategy: str = "synergy"

    def __post_init__(self) -> None:
        if self.model.regime != REGIME_VECTOR_SIZE:
            raise ValueError(f"model.regime: expected {REGIME_VECTOR_SIZE} (RegimeVector), was "
                             f"{self.model.regime}")


class _State(msgspec.Struct, array_like=True):
    account: bytes
    regime: list[float] | None


class RiskManager:
    """Proposes size, stop and target for each setup, always capped by the hard limits."""

    inputs: ClassVar[tuple[type[Event], ...]] = (SynergyDetected, RegimeVector, Bar, Fill,
                                                 TradeClosed)
    _tracker: AccountTracker
    _regime: tuple[float, ...] | None

    def __init__(self, config: RiskManagerConfig) -> None:
        self.config = config
        self.name = f"risk_manager.{config.strategy}"
        self.model = load_network(lambda: RiskModel(config.model), config.weights)
        self.reset()

    @property
    def ready(self) -> bool:
        """True once a regime vector has arrived."""
        return self._regime is not None

    @property
    def account(self) -> AccountTracker:
        """The account the limits read."""
        return self._tracker

    def on_event(self, event: Event) -> Sequence[Event]:
        """Track the account and the regime; answer each setup."""
        kind = type(event)
        if kind is SynergyDetected:
            assert isinstance(event, SynergyDetected)
            return (self._decide(event),)
        if kind is RegimeVector:
            assert isinstance(event, RegimeVector)
            self._regime = event.mu
            return ()
        return self._tracker.on_event(event)

    def _reject(self, setup: SynergyDetected, *reasons: str) -> TradeRejected:
        return TradeRejected(ts_event=setup.ts_event, ts_init=setup.ts_init,
                             instrument=setup.instrument, strategy=self.config.strategy,
                             stage="risk", reasons=reasons,
                             direction="long" if setup.direction > 0 else "short")

    def _decide(self, setup: SynergyDetected) -> Event:
        c = self.config
        if self._regime is None:
            return self._reject(setup, "regime_not_ready")
        if not setup.atr > 0.0:
            return self._reject(setup, "no_atr")
        account = self._tracker.state
        limits = c.account.limits
        state = (*setup_features(setup, c.window), *self._regime,
                 *account_features(account, limits))
        with torch.inference_mode():
            sizes, stops, rrs, confidences = self.model.propose(
                torch.tensor([state], dtype=torch.float32))
        size, stop_atr, rr = int(sizes[0]), float(stops[0]), float(rrs[0])
        if size == 0:
            return self._reject(setup, "model_size_zero")
        stop_points = stop_atr * setup.atr
        point_value = c.instrument.point_value
        cost = cost_per_contract(c.costs, c.instrument, setup.price)
        verdict = apply_limits(size, stop_points, point_value, cost, account, limits)
        if verdict.size == 0:
            return self._reject(setup, *verdict.reasons)
        side = 1.0 if setup.direction > 0 else -1.0
        entry = setup.price
        target_points = rr * stop_points  # the trainer's expression: bit-identical brackets
        return RiskProposal(
            ts_event=setup.ts_event, ts_init=setup.ts_init, instrument=setup.instrument,
            strategy=c.strategy, setup_ts=setup.ts_event,
            direction="long" if side > 0 else "short", size=verdict.size, entry=entry,
            stop=entry - side * stop_points, target=entry + side * target_points,
            stop_points=stop_points, target_points=target_points, risk_usd=verdict.risk_usd,
            reward_usd=verdict.size * (rr * stop_points * point_value - cost), rr=rr,
            confidence=float(confidences[0]), model=c.version,
            limited_by=verdict.reasons)

    def reset(self) -> None:
        """A fresh account, no regime vector."""
        self._tracker = AccountTracker(self.config.account)
        self._regime = None

    def snapshot(self) -> bytes:
        """The account's state and the last regime vector."""
        return msgspec.msgpack.encode(_State(
            self._tracker.snapshot(), None if self._regime is None else list(self._regime)))

    def restore(self, state: bytes) -> None:
        """Load a state written by :meth:`snapshot`."""
        s = msgspec.msgpack.decode(state, type=_State)
        self._tracker.restore(s.account)
        self._regime = None if s.regime is None else tuple(s.regime)


class ConsensusRiskManager(RiskManager):
    """The risk manager of the learned pipeline: it sizes the setups that passed gate 1
    (``ConsensusReached``, carrying the setup), not every setup, so a setup gate 1 refused is
    never counted as a risk rejection. Everything else is :class:`RiskManager`'s."""

    inputs: ClassVar[tuple[type[Event], ...]] = (ConsensusReached, RegimeVector, Bar, Fill,
                                                 TradeClosed)

    def on_event(self, event: Event) -> Sequence[Event]:
        """Answer each consensus with a proposal or a rejection; track the rest."""
        if type(event) is ConsensusReached:
            assert isinstance(event, ConsensusReached)
            return (self._decide(event.setup),)
        return super().on_event(event)
