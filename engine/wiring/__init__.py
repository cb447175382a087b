"""Assembly: the root config schema and strategy plugins, the data pipeline and replay driver,
the component graph built from a strategy's needs, the trading session, the backtest and its
report, fitted-model loading. Imports the foundation, the components and strategies, and the
simulation parts of ``replay`` (data readers, broker, metrics, report)."""
