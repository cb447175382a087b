"""The foundation every layer imports: events, errors, typed config, timeframes, instruments,
chunks, the component and strategy protocols, the bus, clocks, timing, threads, logging, the
run manifest. It imports nothing of the engine above it (tests/unit/test_layers.py)."""
