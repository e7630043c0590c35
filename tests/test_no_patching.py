"""Dependencies are passed, not patched (issue 20 part 1): no harness module assigns an attribute
of a module it imported (as harness.inference.distributed once replaced ``evaluate.decode`` and
``longform.decode`` at run time, which nothing in evaluate.py showed).

A static check over the package's source: an assignment whose target is ``<name>.<attr>``,
where ``<name>`` is bound by an ``import`` statement in that file, is a patch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "harness"


def patches(source: str) -> list[str]:
    tree = ast.parse(source)
    modules = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names
               if isinstance(node, ast.Import) or alias.name[:1].islower()}
    # A name that holds imported modules counts as one: ``users = (evaluate, longform)`` and
    # ``for module in users`` (how the old distributed hook patched two modules at once).
    def holds_modules(value: ast.AST) -> bool:
        return (isinstance(value, ast.Name) and value.id in modules) or (
            isinstance(value, (ast.Tuple, ast.List)) and value.elts and all(holds_modules(e) for e in value.elts))

    for _ in range(3):   # names bound from names bound from imports
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and holds_modules(node.value):
                modules |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            if isinstance(node, ast.For) and holds_modules(node.iter) and isinstance(node.target, ast.Name):
                modules.add(node.target.id)
    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for element in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if isinstance(element, ast.Attribute) and isinstance(element.value, ast.Name) \
                        and element.value.id in modules:
                    found.append(f"line {node.lineno}: {element.value.id}.{element.attr} = ...")
    return found


def test_the_check_sees_a_patch():
    assert patches("import harness.evaluation.evaluate as ev\nev.decode = lambda *a: None\n") == ["line 2: ev.decode = ..."]
    assert patches("from harness import longform\nlongform.decode, x = 1, 2\n") == ["line 2: longform.decode = ..."]
    assert patches("import os\nvalue = os.environ\nself_decode = 1\n") == []
    old_distributed_hook = ("import harness.evaluation.evaluate as evaluate_module\nimport harness.evaluation.longform as longform_module\n"
                            "users = (evaluate_module, longform_module)\nfor module in users:\n"
                            "    module.decode = None\n")
    assert patches(old_distributed_hook) == ["line 5: module.decode = ..."]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_assigns_another_modules_attribute(path):
    assert patches(path.read_text(encoding="utf-8")) == []
