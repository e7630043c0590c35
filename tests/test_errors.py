"""One error base (issue 20 part 6): every error class the harness defines derives from
harness.errors.HarnessError, and keeps its builtin base, so callers can tell the harness's
own refusals from bugs with one ``except``.

Private control-flow exceptions (a leading underscore: a search's early stop) are not errors a
user sees; harness/scoring/comet_runner.py runs in the COMET environment without the harness package.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import harness
from harness.errors import HarnessError
from harness.data.testsets import TestSetError
from harness.data.hub import UnpinnedError

OUTSIDE = {"harness.scoring.comet_runner"}


def defined_errors() -> dict[str, type]:
    found = {}
    for module_info in pkgutil.walk_packages(harness.__path__, "harness."):
        if module_info.name in OUTSIDE:
            continue
        module = importlib.import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module_info.name and not name.startswith("_"):
                found[f"{module_info.name}.{name}"] = cls
    return found


def test_every_harness_error_derives_from_harness_error():
    errors = defined_errors()
    assert len(errors) >= 20   # the walk found the package's errors at all
    assert [name for name, cls in errors.items() if not issubclass(cls, HarnessError)] == []


def test_the_builtin_bases_are_kept():
    assert issubclass(TestSetError, ValueError) and issubclass(UnpinnedError, ValueError)
    try:
        raise TestSetError("x")
    except HarnessError as error:
        assert isinstance(error, ValueError)
