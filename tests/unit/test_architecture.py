"""The floors of the house (docs/ARCHITECTURE.md): each service stands alone — it reaches
another only over the broker, never by importing it; ``common/`` is the platform and imports
none of the services, the gateway or the operator tools (``ops/``); the gateway imports no
service; test doubles live under ``tests/``; and no module imports itself back through others.

The imports are read from the source (every ``import``, at the top or inside a function)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "gateway", "services", "ops")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or "alembic" in relative.parts:
                continue
            name = ".".join(relative.with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _floor(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "services" and len(parts) > 1 else parts[0]


def test_the_walk_sees_the_house():
    graph = _graph()
    assert "services.org.service" in graph and "common.db" in graph["services.org.service"]
    assert len(graph) > 80


def test_no_service_imports_another_and_the_floors_hold():
    wrong = []
    for module, targets in _graph().items():
        here = _floor(module)
        for target in targets:
            there = _floor(target)
            if here == there:
                continue
            if here.startswith("services.") and there != "common":
                wrong.append((module, target))  # a service: only the platform
            elif here == "common" and there != "common":
                wrong.append((module, target))  # the platform: only itself
            elif here == "gateway" and there not in ("common", "gateway"):
                wrong.append((module, target))  # the gateway: services only over RPC
    assert wrong == []


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def test_every_name_imported_from_our_packages_exists():
    """``from common import demo`` after demo moved to ops/ fails only when it runs: here it
    fails at once."""
    modules = _modules()
    missing = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
                continue
            if node.module.split(".")[0] not in PACKAGES:
                continue
            if node.module not in modules:
                missing.append((name, node.module))
                continue
            defined = _top_level_names(modules[node.module])
            for alias in node.names:
                if alias.name != "*" and alias.name not in defined and \
                        f"{node.module}.{alias.name}" not in modules:  # fmt: skip
                    missing.append((name, f"{node.module}.{alias.name}"))
    assert missing == []


def test_no_test_double_ships_in_the_product():
    shipped = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    assert not [p for p in shipped if p.stem in ("testing", "fakes", "doubles")]


def test_no_import_cycle():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(_modules()):
        if node not in index:
            visit(node)
    assert cycles == []
