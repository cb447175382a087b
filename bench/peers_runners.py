"""One runner per engine for the peer benchmark: the same SMA(10/30) long/flat strategy.

Each runner is ``prepare(bars) -> state`` (build the engine's own input from the numpy arrays)
and ``run(state) -> Trades`` (the backtest, ending with the closed trades as bar indices and
prices). Imports happen inside the runners, so each engine's worker process imports only its
own engine, and the NautilusTrader worker can run from a virtualenv without ours.

How each engine is held to the spec in peers_common (decide at bar i's close, fill at bar
i + 1's open, 1 unit, long/flat, no costs):

- ours: ``run_backtest(config, tiled_chunks(n), path=...)`` with the ``sma_cross`` strategy
  (10/30, 1 contract) deciding on the 1-minute input bars, zero slippage and commission.
- backtesting.py: orders placed in ``next()`` fill at the next bar's open
  (``trade_on_close=False``, the default). The crossings are the spec's expressions on the two
  ``self.I`` SMAs, not ``backtesting.lib.crossover``, which needs a strict ``<`` at bar i - 1
  and so misses crosses out of an exact tie (the reference counts them).
- vectorbt: ``vbt.MA`` for the two SMAs, the spec's crossings, shifted one bar, and
  ``Portfolio.from_signals(price=open, size=1, size_type="amount")``, long only, no
  accumulation, zero fees and slippage.
- NautilusTrader: a ``Strategy`` with the built-in ``SimpleMovingAverage`` indicators
  registered for 1-minute bars. A market order sent from ``on_bar`` is matched when the
  exchange next processes commands, which is right after the same bar (so at its close), and a
  bar moves the market through O, H, L, C as one step, so bars alone cannot give a next-open
  fill. Variant ``nautilus`` therefore adds one trade tick per bar at the bar's open (ts_open
  + 1 ns, ``trade_execution=True``) and a 1 ns ``LatencyModel``: the order sent at bar i's close
  reaches the exchange after the tick of bar i + 1 has set the market to that open, and fills
  there. Variant ``nautilus_bars`` is the plain bars-only set-up (no ticks, no latency); it
  fills at the decision bar's close, which the comparison reports as a mismatch.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from peers_common import FAST, QUANTITY, SLOW, Trades, sma_signals

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


# ---------------------------------------------------------------------------------- ours


def ours_config() -> Any:
    """The AlgoSpace config of the benchmark: SMA(10/30) on 1-minute ES bars, no costs."""
    import msgspec

    from engine.wiring.schema import AppConfig

    return msgspec.convert({
        "instrument": "ES",
        # The data comes from tiled_chunks; the path is only what the config requires.
        "data": {"path": str(ROOT / "data" / "es_1min_2013-09.csv"), "bar_interval": "1m"},
        "timeframes": {"fast": "1m", "slow": "1m"},
        "logging": {"level": "warning"},
        "backtest": {
            "strategy": "sma_cross",
            "broker": {"time_stop_bars": 0},
            "costs": {"slippage_ticks": 0.0, "commission_per_contract": 0.0},
        },
        "strategies": {"sma_cross": {"fast": FAST, "slow": SLOW, "quantity": QUANTITY}},
    }, AppConfig)


def run_ours(path: str, n_bars: int, marks: str = "keep") -> Any:
    """Our engine over ``n_bars`` tiled ES bars on ``path`` (``bus`` or ``batch``).

    ``marks="keep"`` is the plain call (no ``on_marks`` sink); ``"discard"`` passes a sink that
    drops each chunk's equity marks, as a caller that streams them into metrics would.
    """
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from tiled import tiled_chunks

    from engine.wiring.backtest import run_backtest

    if marks == "discard":
        return run_backtest(ours_config(), tiled_chunks(n_bars), path=path,
                            on_marks=_drop_marks)
    return run_backtest(ours_config(), tiled_chunks(n_bars), path=path)


def _drop_marks(run_marks: Any, bound_marks: Any) -> None:
    return None


def ours_trades(run: Any, ts_open: np.ndarray) -> Trades:
    """A run's closed trades as fill-bar indices (entry and exit fills are at bar opens)."""
    rows = [(t.ts_entry, t.entry_price, t.ts_exit, t.exit_price) for t in run.trades]
    if not rows:
        return Trades.from_rows([])
    ts_in, p_in, ts_out, p_out = (np.asarray(c) for c in zip(*rows, strict=True))
    return Trades(_bar_at_open(ts_open, ts_in), p_in.astype(np.float64),
                  _bar_at_open(ts_open, ts_out), p_out.astype(np.float64))


def _bar_at_open(ts_open: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Index of the bar that opens at each ``ts``; -1 where no bar opens exactly then."""
    idx = np.searchsorted(ts_open, ts)
    ok = (idx < ts_open.shape[0]) & (ts_open[np.minimum(idx, ts_open.shape[0] - 1)] == ts)
    return np.where(ok, idx, -1).astype(np.int64)


# --------------------------------------------------------------------------- backtesting.py


def backtesting_prepare(bars: dict[str, np.ndarray]) -> Any:
    index = pd.DatetimeIndex(pd.to_datetime(bars["ts_open"], utc=True))
    return pd.DataFrame({"Open": bars["open"], "High": bars["high"], "Low": bars["low"],
                         "Close": bars["close"], "Volume": bars["volume"]}, index=index)


def _rolling_mean(values: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(values).rolling(n).mean().to_numpy()


def backtesting_run(frame: pd.DataFrame) -> Trades:
    from backtesting import Backtest, Strategy

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(_rolling_mean, self.data.Close, FAST)
            self.slow = self.I(_rolling_mean, self.data.Close, SLOW)

        def next(self) -> None:
            fast, slow = self.fast, self.slow
            if fast[-1] > slow[-1] and fast[-2] <= slow[-2]:
                if not self.position:
                    self.buy(size=QUANTITY)
            elif fast[-1] < slow[-1] and fast[-2] >= slow[-2] and self.position:
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "trades remain open at the end": not trades, by spec
        stats = Backtest(frame, SmaCross, cash=1e9, commission=0.0, spread=0.0,
                         trade_on_close=False, finalize_trades=False).run()
    t = stats._trades
    return Trades(t["EntryBar"].to_numpy(np.int64), t["EntryPrice"].to_numpy(np.float64),
                  t["ExitBar"].to_numpy(np.int64), t["ExitPrice"].to_numpy(np.float64))


# -------------------------------------------------------------------------------- vectorbt


def vectorbt_prepare(bars: dict[str, np.ndarray]) -> Any:
    return pd.Series(bars["close"]), pd.Series(bars["open"])


def vectorbt_run(state: tuple[pd.Series, pd.Series]) -> Trades:
    import vectorbt as vbt

    close, open_ = state
    fast = vbt.MA.run(close, FAST).ma.to_numpy()
    slow = vbt.MA.run(close, SLOW).ma.to_numpy()
    n = fast.shape[0]
    with np.errstate(invalid="ignore"):  # NaN warm-up compares False, as in the spec
        up = np.zeros(n, bool)
        down = np.zeros(n, bool)
        up[1:] = (fast[1:] > slow[1:]) & (fast[:-1] <= slow[:-1])
        down[1:] = (fast[1:] < slow[1:]) & (fast[:-1] >= slow[:-1])
    entries = np.zeros(n, bool)
    exits = np.zeros(n, bool)
    entries[1:] = up[:-1]  # decided at i's close, executed at i + 1 (at price=open)
    exits[1:] = down[:-1]
    pf = vbt.Portfolio.from_signals(close, entries, exits, price=open_, size=float(QUANTITY),
                                    size_type="amount", direction="longonly", accumulate=False,
                                    fees=0.0, fixed_fees=0.0, slippage=0.0, init_cash=1e9)
    rec = pf.trades.records
    rec = rec[rec["status"] == 1]  # closed
    return Trades(rec["entry_idx"].astype(np.int64), rec["entry_price"].astype(np.float64),
                  rec["exit_idx"].astype(np.int64), rec["exit_price"].astype(np.float64))


# ---------------------------------------------------------------------------- NautilusTrader


def nautilus_prepare(bars: dict[str, np.ndarray], at_open: bool, aggressor: int = 0) -> Any:
    from nautilus_trader.model.data import Bar, BarType, TradeTick

    instrument = _nautilus_instrument()
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    ts_close = bars["ts_close"].astype(np.uint64)
    data: list[Any] = Bar.from_raw_arrays_to_list(
        bar_type, 2, 0, bars["open"], bars["high"], bars["low"], bars["close"],
        bars["volume"], ts_close, ts_close)
    if at_open:
        n = bars["open"].shape[0]
        ts = bars["ts_open"].astype(np.uint64) + np.uint64(1)  # after bar i-1's close
        data += TradeTick.from_raw_arrays_to_list(
            instrument.id, 2, 0, bars["open"], np.ones(n), np.full(n, aggressor, np.uint8),
            [str(i) for i in range(n)], ts, ts)
    return instrument, bar_type, data, at_open


def nautilus_run(state: tuple[Any, Any, list[Any], bool],
                 trade_execution: bool = True) -> tuple[np.ndarray, ...]:
    """Fill times and prices, to be turned into trades by :func:`nautilus_trades`."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.backtest.models import LatencyModel
    from nautilus_trader.common.config import LoggingConfig
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money

    instrument, bar_type, data, at_open = state
    engine = BacktestEngine(BacktestEngineConfig(
        trader_id="BENCH-001", logging=LoggingConfig(log_level="ERROR"),
        run_analysis=False))  # post-run pandas statistics, not trades (ours has none either)
    engine.add_venue(Venue("SIM"), OmsType.NETTING, AccountType.CASH,
                     [Money(1_000_000_000, USD)], bar_execution=True,
                     trade_execution=at_open and trade_execution,
                     latency_model=LatencyModel(base_latency_nanos=1) if at_open else None)
    engine.add_instrument(instrument)
    engine.add_data(data, sort=True)
    strategy = _nautilus_strategy(instrument, bar_type)
    engine.add_strategy(strategy)
    engine.run()
    fills = strategy.fills
    engine.dispose()
    ts = np.asarray([f[0] for f in fills], np.int64)
    side = np.asarray([f[1] for f in fills], np.int64)
    price = np.asarray([f[2] for f in fills], np.float64)
    return ts, side, price


def nautilus_trades(fills: tuple[np.ndarray, ...], bars: dict[str, np.ndarray],
                    at_open: bool) -> Trades:
    """Pair buy/sell fills into trades; a fill's bar is the one whose open (or close) it is at."""
    ts, side, price = fills
    if at_open:  # tick at ts_open + 1 ns
        idx = _bar_at_open(bars["ts_open"], ts - 1)
    else:  # bars-only: the fill happens at the bar's close (its ts_init)
        idx = np.searchsorted(bars["ts_close"], ts)
    buys, sells = np.flatnonzero(side > 0), np.flatnonzero(side < 0)
    k = sells.shape[0]
    return Trades(idx[buys[:k]], price[buys[:k]], idx[sells], price[sells])


def _nautilus_instrument() -> Any:
    from decimal import Decimal

    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import Equity
    from nautilus_trader.model.objects import Price, Quantity

    # A generic 1-lot instrument quoted in 0.01 (ES ticks of 0.25 are exact), no fees.
    return Equity(instrument_id=InstrumentId(Symbol("ES"), Venue("SIM")), raw_symbol=Symbol("ES"),
                  currency=USD, price_precision=2, price_increment=Price.from_str("0.01"),
                  lot_size=Quantity.from_int(1), ts_event=0, ts_init=0,
                  maker_fee=Decimal(0), taker_fee=Decimal(0))


def _nautilus_strategy(instrument: Any, bar_type: Any) -> Any:
    from nautilus_trader.indicators.averages import SimpleMovingAverage
    from nautilus_trader.model.enums import OrderSide
    from nautilus_trader.model.objects import Quantity
    from nautilus_trader.trading.strategy import Strategy

    class SmaCross(Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.instrument_id = instrument.id
            self.bar_type = bar_type
            self.fast = SimpleMovingAverage(FAST)
            self.slow = SimpleMovingAverage(SLOW)
            self.qty = Quantity.from_int(QUANTITY)
            self.prev: tuple[float, float] | None = None
            self.fills: list[tuple[int, int, float]] = []

        def on_start(self) -> None:
            self.register_indicator_for_bars(self.bar_type, self.fast)
            self.register_indicator_for_bars(self.bar_type, self.slow)
            self.subscribe_bars(self.bar_type)

        def on_bar(self, bar: Any) -> None:
            if not self.slow.initialized:
                return
            fast, slow = self.fast.value, self.slow.value
            prev, self.prev = self.prev, (fast, slow)
            if prev is None:
                return
            if fast > slow and prev[0] <= prev[1]:
                if self.portfolio.is_flat(self.instrument_id):
                    self._market(OrderSide.BUY)
            elif fast < slow and prev[0] >= prev[1]:
                if self.portfolio.is_net_long(self.instrument_id):
                    self._market(OrderSide.SELL)

        def _market(self, side: Any) -> None:
            self.submit_order(self.order_factory.market(self.instrument_id, side, self.qty))

        def on_order_filled(self, event: Any) -> None:
            self.fills.append((event.ts_event, 1 if event.order_side == OrderSide.BUY else -1,
                               event.last_px.as_double()))

    return SmaCross()


# ---------------------------------------------------------------------------- registry

Prepare = Callable[[dict[str, np.ndarray]], Any]


def reference_run(bars: dict[str, np.ndarray]) -> Trades:
    """The local reference (pandas rolling means, next-open fills) as an engine, for sanity."""
    from peers_common import trades_from_signals

    _, _, up, down = sma_signals(bars["close"])
    return trades_from_signals(bars["open"], up, down)
