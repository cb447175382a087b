"""Imports point one way only, and no module imports itself back (docs/architecture.md).

The layers, lowest first; a module may import its own layer and the layers below it, never
one above (lazy imports inside functions included):

1. ``engine.core``: events, errors, config, the component and strategy protocols, bus,
   clocks, logging, manifest;
2. ``components``, ``strategies``: incremental components and the built-in strategies;
3. ``replay.data``, ``replay.broker``, ``replay.metrics``, ``replay.report``,
   ``replay.train_config``: readers, the simulated broker, metrics, the report, the training
   settings (simulation and configuration, no wiring);
4. ``engine.wiring``: the config schema, plugins, pipeline, session, backtest, model loading;
5. ``replay.train``: the trainers;
6. ``engine.live`` and ``engine.research`` (side by side: neither imports the other);
7. ``engine.app``: the command line and the Python API.

Kernels (``kernels.py``) import numpy, numba and kernels only. No import cycle among modules.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [
    ("engine.core",),
    ("components", "strategies"),
    ("replay.data", "replay.broker", "replay.metrics", "replay.report", "replay.train_config"),
    ("engine.wiring",),
    ("replay.train",),
    ("engine.live", "engine.research"),
    ("engine.app",),
]
SIDE_BY_SIDE = {("engine.live", "engine.research"), ("engine.research", "engine.live")}
PACKAGES = ("engine", "components", "strategies", "replay", "examples")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def group_of(module: str) -> str | None:
    """The longest layer prefix ``module`` falls under."""
    best = None
    for groups in LAYERS:
        for g in groups:
            if (module == g or module.startswith(g + ".")) and (best is None or len(g) > len(best)):
                best = g
    return best


def rank(group: str) -> int:
    return next(i for i, groups in enumerate(LAYERS) if group in groups)


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES[:-1] for p in (ROOT / pkg).rglob("*.py"))


def test_every_module_has_a_layer():
    orphans = [module_name(p) for p in sources()
               if module_name(p) not in ("engine", "replay") and group_of(module_name(p)) is None]
    assert not orphans, f"modules outside every layer: {orphans}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path):
    mine = group_of(module_name(path))
    if mine is None:
        return
    bad = []
    for target in imports_of(path):
        theirs = group_of(target)
        if theirs is None or theirs == mine:
            continue
        if rank(theirs) > rank(mine) or (rank(theirs) == rank(mine)
                                         and (mine, theirs) in SIDE_BY_SIDE):
            bad.append(f"{target} ({theirs})")
    assert not bad, f"{module_name(path)} ({mine}) imports upward: {sorted(bad)}"


@pytest.mark.parametrize("path", sorted(p for pkg in ("components", "strategies", "replay")
                                         for p in (ROOT / pkg).rglob("kernels.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_kernels_are_pure(path):
    allowed = ("numpy", "numba", "math", "__future__", "typing")
    bad = {m for m in imports_of(path)
           if not m.startswith(allowed) and not m.endswith("kernels")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", sorted(p for pkg in ("components", "strategies")
                                         for p in (ROOT / pkg).rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_components_do_no_io(path):
    bad = {m for m in imports_of(path) if m in {"zmq", "socket", "time"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_no_import_cycles():
    names = {module_name(p): p for p in sources()}
    graph = {}
    for name, path in names.items():
        targets = set()
        for target in imports_of(path):
            # "from a.b import c" may name the module a.b.c or a symbol of a.b
            targets |= {t for t in (target,) if t in names and t != name}
        graph[name] = targets
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    # a package's __init__ importing its own modules is not a cycle
    real = [c for c in cycles if not any(a.startswith(b + ".") or b.startswith(a + ".")
                                         for a, b in zip(c, c[1:], strict=False))]
    assert not real, "import cycles: " + "; ".join(" -> ".join(c) for c in real)
