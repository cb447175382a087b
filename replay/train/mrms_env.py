"""The M-RMS training environment: real setups, the backtest's broker, a prop-style account
(training layer).

An episode walks the setups of one split in time order over one account:

- the account is an :class:`~components.risk.account.AccountTracker` (the live component)
  fed every execution bar and every fill and trade the broker produces, in bus order (a bar,
  then the broker's events derived from it), so equity, the session day's P&L, the trailing
  peak, the daily-loss halt and the trade statistics are exactly what the live risk manager
  would read;
- one position at a time, as the synergy strategy trades: a setup arriving while the previous
  trade is still open is skipped;
- for each setup the policy sees ``[setup features || regime vector || account features]``
  (:func:`~components.risk.state.account_features`) and proposes a size, a stop (ATRs) and
  a target (reward/risk);
  :func:`~components.risk.limits.apply_limits` caps the size; a non-zero size is executed by
  :func:`~replay.train.trade_sim.run_trade`, the backtest's broker (next-open entry, stop first,
  costs);
- the reward of a step is the change of the episode's Sortino ratio of per-trade returns
  (P&L over the equity before the trade, downside deviation floored at ``downside_floor``)
  *minus*, with ``reward = "relative"`` (the default), the change the fixed rule's trade (1
  contract, 2 ATR stop, reward/risk 2, capped by the limits) would have made from the same
  history: abstaining from a winner costs what the baseline would have earned, abstaining
  from a loser earns what it would have lost. With ``reward = "sortino"`` the rewards of an
  episode add up to its final Sortino ratio. A proposal the hard limits cut costs
  ``violation_penalty`` times the share of the requested contracts they removed.

The same function evaluates fixed rules (:func:`run_episode` with a ``policy`` callable), so
the learned policy and the baselines are scored by one implementation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from components.risk.account import AccountTracker, AccountTrackerConfig
from components.risk.limits import AccountState, apply_limits
from components.risk.state import account_features, cost_per_contract
from engine.core.events import Bar, OrderIntent, TradeClosed
from replay.train.mrms_data import SetupData, SetupSample
from replay.train.outcomes import FIXED_BRACKET, one_contract
from replay.train.trade_sim import run_trade
from replay.train_config import EnvConfig

__all__ = ["EnvConfig", "Episode", "Proposal", "Step", "run_episode"]


@dataclass(frozen=True)
class Proposal:
    """What a policy proposes for one setup."""

    size: int
    stop_atr: float
    rr: float


@dataclass(frozen=True)
class Step:
    """One decision: the state, the proposal, the allowed size and why, the trade, the reward."""

    sample: SetupSample
    state: tuple[float, ...]
    proposal: Proposal
    allowed: int
    reasons: tuple[str, ...]
    trade: TradeClosed | None
    reward: float


@dataclass
class Episode:
    """The steps, the setups skipped while a position was open, and the account's path."""

    steps: list[Step] = field(default_factory=list)
    skipped: int = 0
    returns: list[float] = field(default_factory=list)
    final: AccountState | None = None
    max_drawdown: float = 0.0
    floor: float = 0.01

    @property
    def trades(self) -> list[TradeClosed]:
        """The executed trades."""
        return [s.trade for s in self.steps if s.trade is not None]

    @property
    def pnl(self) -> float:
        """Net P&L of the trades."""
        return sum(t.pnl_usd for t in self.trades)

    @property
    def sortino(self) -> float:
        """The final Sortino ratio of per-trade returns, downside deviation floored as in the
        rewards (so it is the sum of the rewards less the penalties)."""
        return _sortino(self.returns, self.floor)

    @property
    def violations(self) -> int:
        """Proposals the hard limits cut."""
        return sum(1 for s in self.steps if s.reasons)


def _sortino(returns: Sequence[float], floor: float) -> float:
    if not returns:
        return 0.0
    n = len(returns)
    mean = sum(returns) / n
    downside = sum(min(r, 0.0) ** 2 for r in returns) / n
    return mean / math.sqrt(downside + floor * floor) if downside + floor > 0 else 0.0


def _baseline_change(data: SetupData, sample: SetupSample, account: AccountState, cost: float,
                     config: EnvConfig, history: Sequence[float]) -> float:
    """The change of the Sortino ratio of ``history`` the fixed rule's trade on ``sample``
    would have made (its size capped by the limits on ``account``; 0 when vetoed)."""
    stop_atr, rr = FIXED_BRACKET
    setup = sample.setup
    allowed = apply_limits(1, stop_atr * setup.atr, data.broker.instrument.point_value, cost,
                           account, config.limits).size
    if allowed == 0:
        return 0.0
    pnl = allowed * one_contract(data, sample, setup.direction, stop_atr, rr)[1]
    before = _sortino(history, config.downside_floor)
    return _sortino([*history, pnl / account.equity], config.downside_floor) - before


def run_episode(data: SetupData, samples: Sequence[SetupSample], config: EnvConfig,
                policy: Callable[[tuple[float, ...], SetupSample], Proposal],
                strategy: str = "mrms") -> Episode:
    """Walk ``samples`` (time order) with ``policy``; see the module docstring."""
    limits = config.limits
    instrument = data.broker.instrument
    tracker = AccountTracker(AccountTrackerConfig(
        start_equity=config.start_equity, session_open=instrument.session_open,
        session_timezone=instrument.session_timezone, strategy=strategy,
        instrument=instrument.symbol, point_value=instrument.point_value, limits=limits))
    episode = Episode(floor=config.downside_floor)
    bars: list[Bar] = data.bars
    cursor = samples[0].start if samples else 0  # the account starts with the first setup
    if cursor > 0:
        tracker.on_event(bars[cursor - 1])
    order_id = 0
    peak, equity = config.start_equity, config.start_equity
    for sample in samples:
        if sample.start < cursor:  # the previous trade was still open at this setup
            episode.skipped += 1
            continue
        while cursor < sample.start:  # bars up to the setup's close
            tracker.on_event(bars[cursor])
            cursor += 1
        account = tracker.state
        state = (*sample.features, *sample.regime, *account_features(account, limits))
        proposal = policy(state, sample)
        setup = sample.setup
        stop_points = proposal.stop_atr * setup.atr
        cost = cost_per_contract(data.broker.costs, instrument, setup.price)
        verdict = apply_limits(max(proposal.size, 0), stop_points, instrument.point_value, cost,
                               account, limits)
        penalty = 0.0
        if proposal.size > 0 and verdict.size < proposal.size:
            penalty = config.violation_penalty * (proposal.size - verdict.size) / proposal.size
        trade = None
        reward = -penalty
        if verdict.size > 0 and setup.atr > 0:
            order_id += 1
            intent = OrderIntent(
                ts_event=setup.ts_event, ts_init=setup.ts_init, instrument=instrument.symbol,
                strategy=strategy, order_id=order_id,
                action="buy" if setup.direction > 0 else "sell", quantity=verdict.size,
                stop_points=stop_points, target_points=proposal.rr * stop_points,
                tag=f"TYPE_{setup.pattern}")
            run = run_trade(data.broker, intent, bars, sample.start)
            for index, events in run.steps:
                tracker.on_event(bars[index])
                for event in events:
                    tracker.on_event(event)
            trade = run.trade
            cursor = sample.start + run.bars
            if trade is not None:
                before = _sortino(episode.returns, config.downside_floor)
                episode.returns.append(trade.pnl_usd / account.equity)
                reward += _sortino(episode.returns, config.downside_floor) - before
                equity += trade.pnl_usd
                peak = max(peak, equity)
                episode.max_drawdown = max(episode.max_drawdown, peak - equity)
        if config.reward == "relative" and setup.atr > 0:
            reward -= _baseline_change(data, sample, account, cost, config, episode.returns
                                       if trade is None else episode.returns[:-1])
        episode.steps.append(Step(sample, state, proposal, verdict.size, verdict.reasons, trade,
                                  reward))
    episode.final = tracker.state
    return episode
