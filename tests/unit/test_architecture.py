"""The package's streets run one way: each layer imports only from the layers below it, no module imports
itself back through others, and only the engine package talks to the Docker SDK.

Every import statement counts, module-level or inside a function, so a cycle cannot hide in a function.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dockerlab"
# bottom first; a module may import its own layer and the layers before it
LAYERS = ["errors", "model", "archive", "engine", "course", "view", "app", "__init__", "__main__"]
SDK = {"docker", "requests", "urllib3"}  # the Docker SDK and its transport: the engine's business only


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import statement of one module."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested |= {id(inner) for inner in ast.walk(node) if inner is not node}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in nested) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            known = modules()
            for alias in node.names:  # `from . import notebook` imports a module, not a name
                target = f"{base}.{alias.name}"
                found.append((target if target in known else base, node.lineno, id(node) in nested))
    return found


def layer_of(name: str) -> int:
    parts = name.split(".")
    return LAYERS.index(parts[1] if len(parts) > 1 else "__init__")


def kit_graph() -> dict[str, set[str]]:
    return {name: {target for target, _, _ in imports_of(name, path) if target.startswith("dockerlab")}
            for name, path in modules().items()}


def test_every_module_belongs_to_a_layer():
    strays = [name for name in modules() if name.count(".") == 1 and name.split(".")[1] not in LAYERS]
    assert not strays, f"modules outside the layered packages: {strays}"


def test_no_module_imports_from_a_layer_above_it():
    upward = [f"{name} -> {target}" for name, targets in kit_graph().items() for target in targets
              if layer_of(target) > layer_of(name)]
    assert not upward


def test_the_import_graph_has_no_cycle():
    graph, state, cycles = kit_graph(), {}, []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles


def test_only_the_engine_imports_the_docker_sdk():
    outside = [f"{name}:{line} imports {target}" for name, path in modules().items()
               for target, line, _ in imports_of(name, path)
               if target.split(".")[0] in SDK and not name.startswith("dockerlab.engine")]
    assert not outside


def test_the_model_uses_only_the_standard_library_and_the_kits_errors():
    foreign = [f"{name}:{line} imports {target}" for name, path in modules().items() if name.startswith("dockerlab.model")
               for target, line, _ in imports_of(name, path)
               if not (target.startswith(("dockerlab.model", "dockerlab.errors"))
                       or target.split(".")[0] in sys.stdlib_module_names or target == "__future__")]
    assert not foreign


def test_views_and_archives_never_reach_the_engine():
    reaching = [f"{name} -> {target}" for name, targets in kit_graph().items() for target in targets
                if name.split(".")[1:2] in (["view"], ["archive"]) and target.startswith("dockerlab.engine")]
    assert not reaching


def test_kit_imports_sit_at_the_top_of_their_module():
    hidden = [f"{name}:{line} imports {target}" for name, path in modules().items()
              for target, line, inside in imports_of(name, path) if inside and target.startswith("dockerlab")]
    assert not hidden
