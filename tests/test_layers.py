"""Which layers of harness/ may import which (issue 20), and no import cycle.

Every module has one role (``ROLES``); a module may import its own role's modules and those
of the roles listed for its role in ``MAY_IMPORT`` (the order below, lowest first), never a
higher one: data never reaches into systems or scoring, inference never into evaluation, the
training toolkit never into the stages. No module imports, even lazily, one that imports it
back. A module gets the role of its package; a new top-level module must be given one here.

Imports are read from the source with ``ast``, function-local ones included: a cycle hidden in
a function body still ties the modules together (each needs the other to be importable).
"""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"

# Lowest first: a role may import itself and any role before it, and nothing after it.
ORDER = ("core", "data", "results", "systems", "scoring", "inference", "segmentation", "training", "evaluation",
         "stages", "leaderboard", "app")
MAY_IMPORT = {role: set(ORDER[:i + 1]) for i, role in enumerate(ORDER)}
ROLES = {
    "core": ("harness", "harness.errors", "harness.files"),
    "data": ("harness.data",),
    "results": ("harness.results", "harness.results_schema"),
    "systems": ("harness.systems",),
    "scoring": ("harness.scoring",),
    "inference": ("harness.inference",),
    "segmentation": ("harness.segmentation",),
    "training": ("harness.training",),
    "evaluation": ("harness.evaluation",),
    "stages": ("harness.stages", "harness.submissions"),
    "leaderboard": ("harness.leaderboard",),
    "app": ("harness.plan", "harness.__main__"),
}


def role_of(module: str) -> str | None:
    """The role of the longest prefix of ``module`` named in ROLES."""
    best = None
    for role, prefixes in ROLES.items():
        for prefix in prefixes:
            if (module == prefix or (prefix != "harness" and module.startswith(prefix + "."))) and \
                    (best is None or len(prefix) > len(best[1])):
                best = (role, prefix)
    return best[0] if best else None


def all_modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(HARNESS.rglob("*.py")):
        parts = path.relative_to(HARNESS.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {module: {name for name in imported(module, path) if name in modules and name != module}
            for module, path in modules.items()}


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if role_of(target) not in MAY_IMPORT[role_of(module)]:
                found.append(f"{module} ({role_of(module)}) imports {target} ({role_of(target)})")
    return found


def _modules(package: str) -> dict[str, Path]:
    folder = HARNESS.parent.joinpath(*package.split("."))
    modules = {}
    for path in sorted(folder.glob("*.py")):
        name = package if path.name == "__init__.py" else f"{package}.{path.stem}"
        modules[name] = path
    return modules


def imported(module: str, path: Path) -> set[str]:
    """Every module ``module`` imports anywhere in its source (``from a import b`` counts a and a.b)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_training_toolkit_never_imports_a_stage():
    modules = _modules("harness.training")
    assert {"harness.training.loop", "harness.training.context", "harness.training.ctc"} <= set(modules)
    offenders = {module: sorted(name for name in imported(module, path)
                                if name == "harness.stages" or name.startswith("harness.stages."))
                 for module, path in modules.items()}
    assert not {module: names for module, names in offenders.items() if names}


def test_the_stage_modules_form_no_import_cycle():
    """The stages and the submissions' discovery: none needs another that needs it back."""
    modules = {**_modules("harness.stages"), "harness.submissions": HARNESS / "submissions.py"}
    graph = {module: {name for name in imported(module, path) if name in modules and name != module}
             for module, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_hidden_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_has_a_role():
    assert [module for module in all_modules() if role_of(module) is None] == []


def test_no_module_imports_a_higher_layer():
    assert layer_violations(import_graph()) == []


def test_layers_form_no_cycle():
    """Implied by the order, checked anyway: the roles' graph has no cycle."""
    graph = import_graph()
    roles = {role: set() for role in ORDER}
    for module, targets in graph.items():
        roles[role_of(module)].update(role_of(target) for target in targets if role_of(target) != role_of(module))
    assert _cycles(roles) == []


def test_the_layer_check_finds_an_upward_import():
    graph = {"harness.inference.decode": {"harness.evaluation.speed"}, "harness.evaluation.speed": {"harness.inference.decode"}}
    assert layer_violations(graph) == ["harness.inference.decode (inference) imports harness.evaluation.speed (evaluation)"]


def test_harness_has_no_import_cycle():
    """No module needs, even lazily, another that needs it back (issue 20 began with five such cycles)."""
    assert _cycles(import_graph()) == []
