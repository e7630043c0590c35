"""The submissions: each ``submissions/<name>/build.py`` is its one declaration.

A build.py is importable without side effects (its command line runs only under
``if __name__ == "__main__"``) and declares, at module level:

- ``chain(recipe, lang, base) -> StageOutput``: its stages, as calls of
  ``harness.stages.recipe.Recipe`` methods and ``harness.stages.diet_kit`` functions. The
  build (``harness.stages.recipe.build``) runs it over the stage cache; ``python -m harness
  plan`` runs the very same function over a planning stand-in (``harness.stages.planning``)
  whose stages do not run, and estimates each stage the run records. A build.py without
  ``chain`` (baseline, contract-baseline) makes the track's base as it is, and is planned as that.
- ``SHARED`` (default False): the chain runs once for every direction (one model serves
  them all: diet-kit), not once per direction.
- ``REQUIRED_TABLES`` (default ``("data",)``): the config tables the chain reads; a config
  missing one fails before any stage runs (``harness.stages.recipe.load_config``).
- its docstring: the first line is the description (the build's ``--help``).

Its command line is ``sys.exit(harness.stages.recipe.build_main(__file__))``: this module only
finds and reads declarations, and imports no stage.

Its config files are ``<its folder>/config/<track>.toml``. The harness finds the
submissions from these files, never from a list of names: every folder of
``submissions/`` (or of ``$HARNESS_SUBMISSIONS_DIR``, which tests point at a temporary
folder) holding a build.py. So adding a submission touches its folder and nothing else.

A declaration is loaded by file path (importlib, no ``sys.path`` change), and only by plan
and build, the project's own recipes: the harness's checks of a system folder (size,
eval, smoke) never execute a submission's code.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from harness.errors import HarnessError
from harness.data.tracks import REPO

ENV = "HARNESS_SUBMISSIONS_DIR"
BUILD = "build.py"
DEFAULT_TABLES = ("data",)


class SubmissionError(HarnessError, ValueError):
    """An unknown submission or an unreadable declaration, in one line."""


def root() -> Path:
    """Where the submissions are: ``$HARNESS_SUBMISSIONS_DIR``, else the project's ``submissions/``."""
    value = os.environ.get(ENV)
    return Path(value).resolve() if value else REPO / "submissions"


def names() -> list[str]:
    """Every submission: the folders of ``root()`` that hold a build.py, sorted."""
    return sorted(path.parent.name for path in root().glob(f"*/{BUILD}") if path.is_file())


@dataclass(frozen=True)
class Submission:
    """One declaration: a submission's build.py, loaded."""

    name: str
    folder: Path
    module: ModuleType

    @property
    def chain(self) -> Callable | None:
        return getattr(self.module, "chain", None)

    @property
    def shared(self) -> bool:
        return bool(getattr(self.module, "SHARED", False))

    @property
    def required_tables(self) -> tuple[str, ...]:
        return tuple(getattr(self.module, "REQUIRED_TABLES", DEFAULT_TABLES))

    @property
    def description(self) -> str:
        doc = (self.module.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else self.name

    @property
    def build_script(self) -> Path:
        return self.folder / BUILD

    def config_path(self, track: str) -> Path:
        return self.folder / "config" / f"{track}.toml"


_LOADED: dict[Path, Submission] = {}


def load_file(path: str | os.PathLike) -> Submission:
    """The declaration in ``path`` (a build.py), imported by file path; its folder names it."""
    path = Path(path).resolve()
    if path in _LOADED:
        return _LOADED[path]
    if not path.is_file():
        raise SubmissionError(f"{path}: no such build.py")
    name = path.parent.name
    module_name = "harness_submission_" + re.sub(r"\W", "_", name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # a broken declaration is the submission's error, in one line
        raise SubmissionError(f"{path}: cannot be imported: {type(err).__name__}: {err}") from None
    if module.__dict__.get("chain") is not None and not callable(module.chain):
        raise SubmissionError(f"{path}: chain is not a function")
    _LOADED[path] = submission = Submission(name=name, folder=path.parent, module=module)
    return submission


def load(name: str) -> Submission:
    """The submission called ``name`` (its folder under ``root()``)."""
    path = root() / name / BUILD
    if "/" in name or name.startswith(".") or not path.is_file():
        known = names()
        raise SubmissionError(f"unknown submission {name!r}; known: {', '.join(known) or 'none'} "
                              f"(the folders of {root()} with a {BUILD})")
    return load_file(path)


def required_tables(name: str) -> tuple[str, ...]:
    """The tables a config of ``name`` must have: its declaration's, ``("data",)`` for an unknown name."""
    try:
        return load(name).required_tables
    except SubmissionError:
        return DEFAULT_TABLES
