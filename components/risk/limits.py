"""Deterministic hard limits of the M-RMS (component layer: pure functions, no state, no I/O).

The learned risk model proposes a size; :func:`apply_limits` caps it by the limits of
:class:`RiskLimitsConfig` against the live :class:`AccountState` and always wins. It is a pure
function of its arguments, so the same proposal on the same account gives the same verdict.

Rules
-----
Dollar risk of one contract: ``rpc = stop_distance * point_value + cost_per_contract`` (the
cost estimate is the round-trip commission plus the expected slippage, in USD). For a requested
size ``n > 0``, each limit gives a cap on its own:

=====================  ==========================================================================
``max_contracts``      ``max_contracts``
``max_risk_per_trade`` largest ``k`` with ``k * rpc <= max_risk_pct / 100 * equity``
``daily_loss_limit``   largest ``k`` with ``k * rpc <= daily_loss_limit + daily_pnl``
                       (``daily_pnl`` is negative after losses: the day's remaining allowance)
``max_drawdown``       largest ``k`` with ``k * rpc <= max_drawdown - (peak_equity - equity)``
                       (trailing from the equity peak, prop style)
=====================  ==========================================================================

and three vetoes set the cap to 0: ``max_open_positions`` (``open_positions >=
max_open_positions``), ``max_trades_per_day`` (``trades_today >= max_trades_per_day``) and
``halted_for_session`` (the daily loss limit was breached earlier in this session day, see
:attr:`AccountState.halted`). A cap of a non-positive allowance is 0.

The allowed size is ``min(n, every cap)``: whole contracts, rounded down, never more than
requested. ``risk_usd`` is ``size * rpc`` (the very product the caps compare, so the allowed
risk never exceeds an allowance by a rounding error). ``reasons`` names, in the order of
:data:`LIMIT_NAMES`, every limit whose own cap is below the request (each limit that would have
scaled the proposal down or vetoed it even alone), so ``size < n`` exactly when ``reasons`` is
not empty. ``vetoed`` means ``n > 0`` and ``size == 0``. A request of 0 is allowed as 0 with no
reasons. A larger request never yields a smaller size (the caps do not depend on it).

Examples
--------
ES (50 USD per point), a 4-point stop and 17.50 USD of costs per contract (2 x 2.50 commission
plus one 12.50 tick of slippage): ``rpc = 4 * 50 + 17.5 = 217.5``. On 50,000 USD of equity,
600 USD down on the day and 600 below the peak, the model asks for 5 contracts:
``max_contracts`` allows 5, 1 % of equity (500 USD) allows 2, the day's remaining 400 USD
allows 1 and the drawdown's remaining 1,400 USD allows 6. So 1 contract, 217.5 USD at risk.

>>> account = AccountState(equity=50_000.0, start_equity=50_000.0, peak_equity=50_600.0,
...                        day_start_equity=50_600.0, daily_pnl=-600.0)
>>> verdict = apply_limits(5, 4.0, 50.0, 17.5, account, RiskLimitsConfig())
>>> verdict.size, verdict.risk_usd, verdict.reasons, verdict.vetoed
(1, 217.5, ('max_risk_per_trade', 'daily_loss_limit'), False)
"""

from __future__ import annotations

import math

import msgspec

from engine.core.config import Config, PositiveFloat, PositiveInt

__all__ = ["LIMIT_NAMES", "NO_DAY", "AccountState", "LimitVerdict", "RiskLimitsConfig",
           "apply_limits"]

LIMIT_NAMES: tuple[str, ...] = (
    "max_contracts",
    "max_risk_per_trade",
    "daily_loss_limit",
    "max_drawdown",
    "max_open_positions",
    "max_trades_per_day",
    "halted_for_session",
)
"""Stable names of the hard limits, in the order :func:`apply_limits` reports them."""

NO_DAY = -1
"""``AccountState.session_day`` before any event and ``halted_day`` when not halted."""


class RiskLimitsConfig(Config, frozen=True):
    """The deterministic hard limits (prop-style defaults for a 50,000 USD account).

    Parameters
    ----------
    max_risk_pct
        Maximum dollar risk of one trade, in percent of the current equity (0 < x <= 100).
    daily_loss_limit
        USD; the session day's realised plus open loss at which trading stops for the day.
    max_drawdown
        USD; maximum distance of the equity below its peak (trailing, prop style).
    max_contracts
        Maximum size of one trade.
    max_open_positions
        No new trade while this many positions are open.
    max_trades_per_day
        No new trade once this many were entered in the session day.
    """

    max_risk_pct: PositiveFloat = 1.0
    daily_loss_limit: PositiveFloat = 1000.0
    max_drawdown: PositiveFloat = 2000.0
    max_contracts: PositiveInt = 5
    max_open_positions: PositiveInt = 1
    max_trades_per_day: PositiveInt = 10

    def __post_init__(self) -> None:
        # msgspec checks the constraints when decoding only; this covers direct construction.
        for key in ("max_risk_pct", "daily_loss_limit", "max_drawdown"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{key}: expected a finite number > 0, was {value!r}")
        if self.max_risk_pct > 100:
            raise ValueError(f"max_risk_pct: expected <= 100, was {self.max_risk_pct!r}")
        for key in ("max_contracts", "max_open_positions", "max_trades_per_day"):
            value = getattr(self, key)
            if value <= 0:
                raise ValueError(f"{key}: expected an integer > 0, was {value!r}")


class AccountState(msgspec.Struct, frozen=True, kw_only=True):
    """The live account as the risk layer sees it (built by ``AccountTracker``; USD amounts).

    ``equity`` is ``start_equity`` plus realised P&L plus the open position's P&L at the last
    mark; ``peak_equity`` its running maximum; ``day_start_equity`` the equity at the start of
    the session day and ``daily_pnl = equity - day_start_equity``. ``session_day`` numbers the
    session days (days since 1970-01-01 of the local date the session opened; :data:`NO_DAY`
    before any event), ``halted_day`` is the session day in which the daily loss limit was
    breached (:data:`NO_DAY` if none). ``wins``/``losses`` count the trades with ``pnl_usd``
    above/below zero among the last ``recent_trades`` closed trades (``recent`` of them; a
    break-even trade counts in neither) and ``gross_win``/``gross_loss`` sum their P&L
    (``gross_loss`` as a positive number). ``trades_total`` counts every closed trade.
    """

    equity: float
    start_equity: float
    peak_equity: float
    day_start_equity: float
    daily_pnl: float = 0.0
    open_pnl: float = 0.0
    open_positions: int = 0
    trades_today: int = 0
    session_day: int = NO_DAY
    halted_day: int = NO_DAY
    recent: int = 0
    wins: int = 0
    losses: int = 0
    gross_win: float = 0.0
    gross_loss: float = 0.0
    trades_total: int = 0

    @property
    def halted(self) -> bool:
        """Whether the daily loss limit was breached earlier in the current session day."""
        return self.halted_day != NO_DAY and self.halted_day == self.session_day

    @property
    def drawdown(self) -> float:
        """Distance of the equity below its peak (>= 0)."""
        return self.peak_equity - self.equity

    @property
    def win_rate(self) -> float | None:
        """Wins over decided (non break-even) recent trades; ``None`` before one."""
        decided = self.wins + self.losses
        return self.wins / decided if decided else None

    @property
    def profit_factor(self) -> float | None:
        """Recent gross win over gross loss; ``None`` without a recent loss."""
        return self.gross_win / self.gross_loss if self.gross_loss > 0 else None


class LimitVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """What the hard limits allow of a requested size (module docstring for the rules).

    ``size <= requested``; ``risk_usd = size * risk per contract``; ``reasons`` names every
    limit that on its own would have cut the request (:data:`LIMIT_NAMES` order); ``vetoed``
    when a positive request was cut to 0.
    """

    requested: int
    size: int
    risk_usd: float
    reasons: tuple[str, ...]
    vetoed: bool


def apply_limits(size: int, stop_distance: float, point_value: float, cost_per_contract: float,
                 account: AccountState, limits: RiskLimitsConfig) -> LimitVerdict:
    """Cap a requested size by every hard limit (module docstring for the exact rules).

    Parameters
    ----------
    size
        Requested contracts (>= 0).
    stop_distance
        Distance from entry to stop in price points (> 0).
    point_value
        USD per 1.0 price move per contract (``Instrument.point_value``, > 0).
    cost_per_contract
        Estimated round-trip cost of one contract in USD (commissions of both sides plus
        slippage, >= 0).
    account
        The live account.
    limits
        The hard limits.

    Raises
    ------
    ValueError
        When an argument is out of range, naming it.
    """
    if size < 0:
        raise ValueError(f"size: expected >= 0, was {size!r}")
    if not (math.isfinite(stop_distance) and stop_distance > 0):
        raise ValueError(f"stop_distance: expected a finite number > 0, was {stop_distance!r}")
    if not (math.isfinite(point_value) and point_value > 0):
        raise ValueError(f"point_value: expected a finite number > 0, was {point_value!r}")
    if not (math.isfinite(cost_per_contract) and cost_per_contract >= 0):
        raise ValueError(
            f"cost_per_contract: expected a finite number >= 0, was {cost_per_contract!r}")
    rpc = stop_distance * point_value + cost_per_contract
    if not (math.isfinite(rpc) and rpc > 0):
        raise ValueError(f"risk per contract: expected a finite number > 0, was {rpc!r} "
                         f"(stop_distance * point_value + cost_per_contract)")
    if size == 0:
        return LimitVerdict(requested=0, size=0, risk_usd=0.0, reasons=(), vetoed=False)
    caps = (
        limits.max_contracts,
        _cap(limits.max_risk_pct / 100.0 * account.equity, rpc, size),
        _cap(limits.daily_loss_limit + account.daily_pnl, rpc, size),
        _cap(limits.max_drawdown - (account.peak_equity - account.equity), rpc, size),
        0 if account.open_positions >= limits.max_open_positions else size,
        0 if account.trades_today >= limits.max_trades_per_day else size,
        0 if account.halted else size,
    )
    allowed = min(size, *caps)
    reasons = tuple(name for name, cap in zip(LIMIT_NAMES, caps, strict=True) if cap < size)
    return LimitVerdict(requested=size, size=allowed, risk_usd=allowed * rpc, reasons=reasons,
                        vetoed=allowed == 0)


def _cap(allowance: float, rpc: float, size: int) -> int:
    """The largest ``k <= size`` with ``k * rpc <= allowance`` in float arithmetic (0 if none).

    ``k * rpc`` is non-decreasing in ``k``, so the floor of the quotient only needs a final
    correction of a step or two for rounding.
    """
    if size * rpc <= allowance:
        return size
    if not allowance > 0:
        if math.isnan(allowance):
            raise ValueError("account: expected finite amounts, an allowance was nan")
        return 0
    k = min(max(math.floor(allowance / rpc), 0), size)
    while k < size and (k + 1) * rpc <= allowance:
        k += 1
    while k > 0 and k * rpc > allowance:
        k -= 1
    return k
