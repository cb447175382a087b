"""Imports point downward only (STYLE 3.1): kernels < components < wiring.

- Kernels (``kernels.py`` in components, strategies, replay) import numpy, numba and kernels.
- Components (``components/``, ``strategies/``) may import the engine's foundation modules
  (events, config, errors, chunks, ...), never the bus, clocks, drivers, I/O or the CLI, and
  never ``replay``.
- Foundation modules of ``engine`` import no wiring module.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOUNDATION = {"engine.events", "engine.errors", "engine.config", "engine.timeframes",
              "engine.instruments", "engine.component", "engine.chunks", "engine.schema",
              "engine.backtest_config", "engine.strategy", "engine.plugins"}
WIRING = {"engine.bus", "engine.clock", "engine.replay_driver", "engine.pipeline", "engine.cli",
          "engine.logging", "engine.manifest", "engine.recorder", "engine.inspect",
          "engine.resample", "engine.backtest", "engine.backtest_report",
          "engine.progress", "engine.features", "engine.artifacts", "engine.registry",
          "engine.timing", "engine.cli_models", "engine.risk", "engine.cli_train",
          "engine.compare", "engine.journal", "engine.wire",
          "engine.session", "engine.live_driver",
          "engine.live", "engine.live_state", "engine.feed", "engine.cli_live",
          "engine.replay_journal", "engine.dataset", "engine.executor", "engine.trials",
          "engine.refit", "engine.sweep", "engine.sweep_report", "engine.walk_forward",
          "engine.walk_forward_report", "engine.cli_research", "engine.wf_select",
          "engine.threads", "engine.wiring", "engine.jobs", "engine.api"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", modules("components", "strategies"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_components_import_no_wiring(path):
    bad = {m for m in imports_of(path)
           if m in WIRING or m.startswith("replay") or m in {"zmq", "socket", "time"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", sorted(p for pkg in ("components", "strategies", "replay")
                                         for p in (ROOT / pkg).rglob("kernels.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_kernels_are_pure(path):
    allowed = ("numpy", "numba", "math", "__future__", "typing")
    bad = {m for m in imports_of(path)
           if not m.startswith(allowed) and not m.endswith("kernels")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("name", sorted(FOUNDATION))
def test_foundation_imports_no_wiring(name):
    path = ROOT / (name.replace(".", "/") + ".py")
    bad = imports_of(path) & WIRING
    assert not bad, f"{name} imports {sorted(bad)}"


def test_wiring_list_is_complete():
    engine = {f"engine.{p.stem}" for p in (ROOT / "engine").glob("*.py") if p.stem != "__init__"}
    assert engine == FOUNDATION | WIRING


@pytest.mark.parametrize("module", ["components.indicators.lvn", "components.indicators.nwrqk",
                                    "components.regime.mmd",
                                    "components.indicators.scalar", "components.bars",
                                    "strategies.sma_cross", "replay.broker"])
def test_a_component_imports_first_without_a_cycle(module):
    """A fresh interpreter that imports a component before anything else must not hit an
    import cycle through ``engine.schema`` (which imports the components' configs)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
