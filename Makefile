# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run    creates .venv, installs everything, runs the main job on bundled real data
#   make test   creates .venv, installs everything, runs the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/btcusd_1h.toml

.PHONY: run test bench bench-peers lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull gigabytes of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The main job: the learned AlgoSpace pipeline (committed models) beside synergy and buy-and-hold.
run: $(BIN)/.installed
	$(BIN)/algospace backtest --config $(CONFIG) --strategy marl

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python bench/bench_bus.py
	$(BIN)/python bench/bench_aggregation.py
	$(BIN)/python bench/bench_indicators.py
	$(BIN)/python bench/bench_mmd.py
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_rde.py
	$(BIN)/python bench/bench_mrms.py
	$(BIN)/python bench/bench_marl.py
	$(BIN)/python bench/bench_live.py
	$(BIN)/python bench/bench_sweep.py
	$(BIN)/python bench/bench_power.py
	$(BIN)/python bench/bench_report.py

# Against backtesting.py, vectorbt (the [bench] extra) and NautilusTrader (own venv, pandas < 3);
# see docs/benchmarks.md.
bench-peers: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	test -x bench/out/nautilus-venv/bin/python || (python3.11 -m venv bench/out/nautilus-venv \
	  && bench/out/nautilus-venv/bin/pip install --quiet nautilus_trader==1.221.0)
	$(BIN)/python bench/peers.py

lint: $(BIN)/.installed
	$(BIN)/ruff check engine components strategies replay tests bench examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs bench/out *.egg-info
	find engine components strategies replay -name '*.nb[ic]' -delete
