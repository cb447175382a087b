"""Research on top of the backtest: parameter sweeps, walk-forward folds and refits, the
parallel executor, trial statistics (docs/distributed.md, docs/backtesting.md)."""
