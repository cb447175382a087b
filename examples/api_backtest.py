"""The Python API in a script (the same calls work in a notebook; docs/strategies.md).

Runs, on the bundled BTC/USD hourly data: the built-in synergy strategy; the user plugin of
``regime_filter.py`` (beside this file) given as an instance with its own settings; and the
SMA crossover on the first 3,000 bars passed as a pandas DataFrame. Prints each result's
figures and the trades of the plugin. CI runs it (tests/integration/test_api.py).

    python examples/api_backtest.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # regime_filter.py, beside this file

from regime_filter import RegimeFilter, RegimeFilterConfig  # noqa: E402

from engine.app import api  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path) -> None:
    synergy = api.backtest(strategy="synergy", out=out / "synergy")
    print(synergy)
    mine = api.backtest(strategy=RegimeFilter(RegimeFilterConfig(max_norm=1.5)),
                        out=out / "regime_filter")
    print(mine)
    print(mine.trades[["entry_time", "direction", "quantity", "entry_price", "exit_price",
                       "pnl_usd", "tag"]]
          .head().to_string(index=False))
    bars = pd.read_csv(ROOT / "data" / "btcusd_1h_coinbase_2017-2019.csv",
                       parse_dates=["timestamp"], index_col="timestamp").iloc[:3000]
    sma = api.backtest(bars, "sma_cross", overrides={"strategies.sma_cross": {"fast": 5,
                                                                              "slow": 20}},
                       out=out / "sma_cross")
    print(sma)
    print(f"report: {sma.report()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="api-")))
