"""The layout is the architecture: no import cycle, and each layer imports only those below it.

Read from the source with `ast` (nothing is imported), counting every import: at the top of a
module, inside a function, or under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "src" / "runbook"

# What each layer may import from the package (besides itself and the leaves in LEAVES).
ALLOWED = {
    "core": set(),
    "journal": {"core"},
    "transport": {"core"},
    "execute": {"core", "journal", "transport", "gate", "console", "checks"},
    "commands": {"core", "journal", "transport", "execute", "gate", "console", "options"},
    "sandbox": set(),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The runbook modules `path` imports (a package import counts as its __init__)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("runbook")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("runbook"):
                continue
            modules = {f"{target}.{a.name}" for a in node.names if _exists(f"{target}.{a.name}")}
            # `from . import steps` imports the module steps, not what the package re-exports.
            found |= modules if len(modules) == len(node.names) else {target, *modules}
    return found


# Modules every layer may import: they import nothing from the package themselves but other
# leaves.
LEAVES = ("errors", "text", "words")


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_no_module_imports_itself_in_a_circle() -> None:
    graph = _graph()
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycle = [*trail[trail.index(node) :], node]
            if sorted(cycle[:-1]) not in [sorted(c[:-1]) for c in cycles]:
                cycles.append(cycle)
            return
        for target in graph.get(node, ()):
            # A package's __init__ importing its own modules is how re-exports work.
            if target.startswith(node + ".") and node in graph:
                continue
            visit(target, [*trail, node])

    for module in graph:
        visit(module, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for module, targets in _graph().items():
        layer = module.split(".")[1] if "." in module else ""
        if layer not in ALLOWED:
            continue
        for target in targets:
            parts = target.split(".")
            other = parts[1] if len(parts) > 1 else ""
            if other in (layer, *LEAVES, "") or other in ALLOWED[layer]:
                continue
            wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_leaves_import_nothing_from_the_package() -> None:
    graph = _graph()

    def outside(target: str) -> bool:  # a leaf may be a package: its own modules are its
        parts = target.split(".")
        return len(parts) < 2 or parts[1] not in LEAVES

    found = {m: {t for t in ts if outside(t)} for m, ts in graph.items() if not outside(m)}
    assert found == {m: set() for m in found}
    assert {"runbook.errors", "runbook.text", "runbook.words"} <= set(found)


MAX_LINES = 500  # a module that grows past this has more than one job: split it


def test_no_module_is_longer_than_the_house_limit() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
