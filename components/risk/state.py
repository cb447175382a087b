"""What the M-RMS reads besides the setup and the regime: the account as features, and the
cost of a contract (component layer, pure)."""

from __future__ import annotations

import math

from components.risk.limits import AccountState, RiskLimitsConfig
from engine.core.backtest_config import CostsConfig
from engine.core.instruments import Instrument

__all__ = ["ACCOUNT_FEATURES", "account_features", "cost_per_contract"]

ACCOUNT_FEATURES = ("equity_change", "drawdown_used", "daily_loss_used", "win_rate",
                    "log_profit_factor", "open_positions", "trades_today")


def cost_per_contract(costs: CostsConfig, instrument: Instrument, price: float) -> float:
    """Round-trip cost estimate of one contract at ``price``: fees and commission (per
    contract and in bps of notional) on both sides plus the configured slippage on both."""
    c, inst = costs, instrument
    per_side = (c.fee_per_contract + c.commission_bps * 1e-4 * price * inst.point_value)
    slippage = c.slippage_ticks * inst.tick_size * inst.point_value
    return 2.0 * (per_side + slippage)


def account_features(state: AccountState, limits: RiskLimitsConfig) -> tuple[float, ...]:
    """The account as ``len(ACCOUNT_FEATURES)`` bounded floats: equity change over the start
    (clipped to +-1), the share of the drawdown allowance used, the share of the daily loss
    allowance used, the recent win rate (0.5 unknown), log profit factor over 3 (clipped to
    +-1; 0 unknown), open positions and trades today over their limits."""
    start = state.start_equity
    win = state.win_rate
    pf = state.profit_factor
    log_pf = 0.0 if pf is None or pf <= 0 else max(-1.0, min(1.0, math.log(pf) / 3.0))
    return (max(-1.0, min(1.0, state.equity / start - 1.0)),
            min(1.0, max(0.0, state.drawdown / limits.max_drawdown)),
            min(1.0, max(0.0, -state.daily_pnl / limits.daily_loss_limit)),
            0.5 if win is None else win, log_pf,
            min(1.0, state.open_positions / limits.max_open_positions),
            min(1.0, state.trades_today / limits.max_trades_per_day))
