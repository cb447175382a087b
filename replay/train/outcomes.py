"""Full-information training targets: what every action would have returned on every setup
(training layer).

The backtest's broker (:func:`replay.train.trade_sim.run_trade`) can execute any order on the bars
after a setup, so for each setup we know, in hindsight, the outcome of *every* choice the
learned layers can make, not only of the one a rollout happened to sample:

- ``fixed[i, a]``: the net R-multiple (P&L after every cost over the initial risk) of one
  contract for action ``a`` of ``ACTIONS`` (pass, long, short) with the fixed bracket of the
  rule-based strategy (stop ``2`` ATR, reward/risk ``2``); pass is exactly 0;
- ``grid[i, s, k]`` / ``pnl[i, s, k]``: the net R and the net P&L in USD of one contract in the
  setup's direction with stop ``stops[s]`` ATRs and reward/risk ``rrs[k]`` (the M-RMS's
  bracket choices, a grid over its ranges);
- ``risk[i, s]``: the USD at risk of one contract at that stop plus its round-trip cost (what
  the hard limits cap by).

A trade the bars end before closing counts 0 R / 0 USD (it never realised anything). These
tables are labels: they read bars after the setup and are used only as training targets and
for evaluation, never as an input of a decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from components.decision.model_config import ACTIONS
from components.risk.state import cost_per_contract
from engine.core.events import OrderIntent
from replay.train.mrms_data import SetupData, SetupSample
from replay.train.trade_sim import run_trade

__all__ = ["FIXED_BRACKET", "Outcomes", "bracket_grid", "compute_outcomes", "one_contract"]

FIXED_BRACKET = (2.0, 2.0)
"""The rule-based strategy's stop (ATRs) and reward/risk: the baseline every learned choice is
measured against."""

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Outcomes:
    """The counterfactual outcomes of a list of setups (module docstring)."""

    fixed: Array  # (n, 3) R of pass, long, short with the fixed bracket
    stops: Array  # (S,) stop distances in ATRs
    rrs: Array  # (K,) reward/risk ratios
    grid: Array  # (n, S, K) R in the setup's direction per bracket
    pnl: Array  # (n, S, K) USD of one contract in the setup's direction per bracket
    risk: Array  # (n, S) USD at risk of one contract per stop, costs included
    directions: npt.NDArray[np.int64]  # (n,) +1 long, -1 short

    def __len__(self) -> int:
        return int(self.fixed.shape[0])

    @property
    def baseline(self) -> Array:
        """R of the baseline, taking every setup in its own direction with the fixed bracket,
        ``(n,)``."""
        return self.fixed[np.arange(len(self)), self.action]

    @property
    def action(self) -> npt.NDArray[np.int64]:
        """The index in ``ACTIONS`` of each setup's own direction, ``(n,)``."""
        return np.where(self.directions > 0, ACTIONS.index("long"), ACTIONS.index("short"))

    def select(self, index: npt.ArrayLike) -> Outcomes:
        """The rows ``index`` (setups in the same order)."""
        i = np.asarray(index, dtype=np.int64)
        return Outcomes(self.fixed[i], self.stops, self.rrs, self.grid[i], self.pnl[i],
                        self.risk[i], self.directions[i])


def bracket_grid(stop_min: float, stop_max: float, rr_min: float, rr_max: float,
                 stops: int = 5, rrs: int = 4) -> tuple[Array, Array]:
    """The centres of ``stops`` equal cells of ``[stop_min, stop_max]`` and of ``rrs`` cells
    of ``[rr_min, rr_max]`` (centres, so each is strictly inside the M-RMS's Beta ranges).

    Examples
    --------
    >>> bracket_grid(0.5, 3.0, 1.0, 5.0)[0].tolist()
    [0.75, 1.25, 1.75, 2.25, 2.75]
    """
    def centres(low: float, high: float, n: int) -> Array:
        return low + (high - low) * (np.arange(n) + 0.5) / n

    return centres(stop_min, stop_max, stops), centres(rr_min, rr_max, rrs)


def one_contract(data: SetupData, sample: SetupSample, direction: int, stop_atr: float,
                 rr: float) -> tuple[float, float]:
    """Net R and net USD of one contract traded at ``sample`` in ``direction`` with the
    bracket (``stop_atr`` ATRs, reward/risk ``rr``) by the backtest's broker; ``(0, 0)``
    when it never closes or is refused."""
    setup = sample.setup
    stop = stop_atr * setup.atr
    intent = OrderIntent(
        ts_event=setup.ts_event, ts_init=setup.ts_init, instrument=data.broker.instrument.symbol,
        strategy=data.broker.strategy, order_id=1, action="buy" if direction > 0 else "sell",
        quantity=1, stop_points=stop, target_points=rr * stop)
    trade = run_trade(data.broker, intent, data.bars, sample.start).trade
    if trade is None or trade.r_multiple is None:
        return 0.0, 0.0
    return float(trade.r_multiple), float(trade.pnl_usd)


def compute_outcomes(data: SetupData, samples: list[SetupSample], stops: Array,
                     rrs: Array) -> Outcomes:
    """Every setup's counterfactual outcomes (module docstring): ``2 + len(stops) * len(rrs)``
    broker runs per setup."""
    n, s_count, k_count = len(samples), len(stops), len(rrs)
    fixed = np.zeros((n, len(ACTIONS)))
    grid = np.zeros((n, s_count, k_count))
    pnl = np.zeros((n, s_count, k_count))
    risk = np.zeros((n, s_count))
    instrument = data.broker.instrument
    long_a, short_a = ACTIONS.index("long"), ACTIONS.index("short")
    stop0, rr0 = FIXED_BRACKET
    for i, sample in enumerate(samples):
        setup = sample.setup
        own = setup.direction
        for direction, action in ((1, long_a), (-1, short_a)):
            fixed[i, action] = one_contract(data, sample, direction, stop0, rr0)[0]
        cost = cost_per_contract(data.broker.costs, instrument, setup.price)
        for s, stop in enumerate(stops):
            risk[i, s] = float(stop) * setup.atr * instrument.point_value + cost
            for k, rr in enumerate(rrs):
                grid[i, s, k], pnl[i, s, k] = one_contract(data, sample, own, float(stop),
                                                           float(rr))
    directions = np.array([s.setup.direction for s in samples], dtype=np.int64)
    return Outcomes(fixed, np.asarray(stops, float), np.asarray(rrs, float), grid, pnl, risk,
                    directions)

