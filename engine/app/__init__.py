"""The front ends: the ``algospace`` command line and the Python API (``engine.app.api``),
and the backtest job both run. Nothing below imports them."""
