"""Instrument definitions (core layer).

An instrument fixes the price grid (``tick_size``), the dollar value of a 1.0 price move for one
contract or unit (``point_value``) and the session clock that bar buckets align to.
Built-ins cover the futures our users trade and generic FX, crypto and equity definitions;
a config adds its own under ``[instruments.NAME]``.
"""

from __future__ import annotations

from typing import Literal

from engine.core.config import Config, PositiveFloat

__all__ = ["BUILTIN_INSTRUMENTS", "Instrument"]


class Instrument(Config, frozen=True):
    """Contract specification.

    Parameters
    ----------
    symbol
        Identifier carried on every event (``Bar.instrument``).
    asset_class
        ``future``, ``fx``, ``crypto`` or ``equity``.
    tick_size
        Minimum price increment.
    point_value
        USD per 1.0 price move per contract (ES: 50, MES: 5, NQ: 20, one FX standard lot:
        100000, one BTC or one share: 1).
    session_open, session_timezone
        Local wall-clock time at which the trading day starts; bar buckets are aligned to it.
    session_close
        Local wall-clock time at which the trading day ends (``None`` for markets that trade
        around the clock); used by the broker's optional flat-at-session-end rule.
    """

    symbol: str
    asset_class: Literal["future", "fx", "crypto", "equity"]
    tick_size: PositiveFloat
    point_value: PositiveFloat
    currency: str = "USD"
    session_open: str = "00:00"
    session_timezone: str = "UTC"
    session_close: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_hhmm("session_open", self.session_open)
        if self.session_close is not None:
            _check_hhmm("session_close", self.session_close)


def _check_hhmm(key: str, value: str) -> None:
    hours, sep, minutes = value.partition(":")
    valid = sep and hours.isdigit() and minutes.isdigit()
    if not valid or not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        raise ValueError(f"{key}: expected 'HH:MM', was {value!r}")


_CME = {"session_open": "17:00", "session_close": "16:00", "session_timezone": "America/Chicago"}

BUILTIN_INSTRUMENTS: dict[str, Instrument] = {
    "ES": Instrument(symbol="ES", asset_class="future", tick_size=0.25, point_value=50.0,
                     description="CME E-mini S&P 500", **_CME),
    "MES": Instrument(symbol="MES", asset_class="future", tick_size=0.25, point_value=5.0,
                      description="CME Micro E-mini S&P 500", **_CME),
    "NQ": Instrument(symbol="NQ", asset_class="future", tick_size=0.25, point_value=20.0,
                     description="CME E-mini Nasdaq-100", **_CME),
    "MNQ": Instrument(symbol="MNQ", asset_class="future", tick_size=0.25, point_value=2.0,
                      description="CME Micro E-mini Nasdaq-100", **_CME),
    "EURUSD": Instrument(symbol="EURUSD", asset_class="fx", tick_size=0.00001,
                         point_value=100_000.0, session_open="17:00", session_close="17:00",
                         session_timezone="America/New_York",
                         description="EUR/USD spot, one standard lot per unit"),
    "BTCUSD": Instrument(symbol="BTCUSD", asset_class="crypto", tick_size=0.01, point_value=1.0,
                         description="BTC/USD spot, one coin per unit"),
    "EQUITY": Instrument(symbol="EQUITY", asset_class="equity", tick_size=0.01, point_value=1.0,
                         session_open="09:30", session_close="16:00",
                         session_timezone="America/New_York",
                         description="Generic US equity, one share per unit"),
    "FX": Instrument(symbol="FX", asset_class="fx", tick_size=0.00001, point_value=100_000.0,
                     session_open="17:00", session_close="17:00",
                     session_timezone="America/New_York",
                     description="Generic FX pair quoted to 5 decimals, one standard lot"),
    "CRYPTO": Instrument(symbol="CRYPTO", asset_class="crypto", tick_size=0.01, point_value=1.0,
                         description="Generic crypto pair, one coin per unit"),
}
