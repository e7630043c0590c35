"""The planning stand-in: a submission's own chain, run with stages that do not run.

``python -m harness plan`` runs the ``chain`` of a submission's build.py (its one
declaration, ``harness.submissions``) with a ``PlanningRecipe``. Its stage methods are the
build's own (``harness.stages.recipe.Recipe``, ``harness.stages.diet_kit``), so every stage
the build would run reaches ``Recipe.run_stage`` -> ``cache.run(name, settings, inputs,
produce)`` with the build's names, settings and inputs; the ``PlanningCache`` records each
call and returns a ``StageOutput`` without calling ``produce``. Nothing is downloaded,
trained, decoded or hashed: a stage's settings are what its method computes from the config
before it would run.

Where the real recipe touches files outside a stage's ``produce``, the stand-in describes
instead, explicitly:

- ``base()``: the configured base as a planned input (never copied, downloaded or hashed);
- ``dataset(role, lang)``: the config's source, described (``PlannedSet``), never resolved
  or fetched; reading a set's contents at planning time is a clear ``StageError``;
- ``general_sample``: recorded as the stage ``general_sample`` with its table and directions
  (in a build, a corpus source's sample is the data stage's own output; harness.plan says so);
- a step that reads an earlier stage's files at build time consults ``Recipe.planning``
  and gives its planning answer: ``diet_kit.fitting_plan`` (step 3's plan, the moves chosen at
  build time) and ``diet_kit.require_under_limit`` (nothing to measure).

``harness.plan.Planner`` then maps each recorded stage name to its estimator (memory, disk,
notes); a name it has no estimator for is planned with a "no estimate for stage X" note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.stages.base import StageError
from harness.stages.cache import StageOutput, stage_key
from harness.stages.recipe import DataSet, Recipe, _per_lang, run_chain
from harness.data.tracks import Track

PLANNED = Path("<planned>")  # the path of every planned output: nothing is ever there


@dataclass(frozen=True)
class PlannedStage:
    """One ``cache.run`` call of the planning run."""

    name: str
    lang: str                          # the direction the stage runs for ("de", "de+zh"); "all" if not given
    settings: dict
    inputs: tuple[StageOutput, ...]
    output: StageOutput

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)


class PlanningCache:
    """A stand-in for ``StageCache``: records every stage and runs none."""

    def __init__(self) -> None:
        self.records: list[PlannedStage] = []

    def run(self, name: str, settings: dict, inputs: Sequence[StageOutput],
            produce: Callable[[Path], dict | None]) -> StageOutput:
        key = stage_key(name, settings, inputs)  # the build's key (and its check that input names differ)
        output = StageOutput(name=name, key=key, path=PLANNED / f"{name}-{key[:16]}")
        self.records.append(PlannedStage(name=name, lang=str(settings.get("lang", "all")), settings=dict(settings),
                                         inputs=tuple(inputs), output=output))
        return output

    def summary(self, output: StageOutput) -> dict | None:
        raise StageError(f"planning: stage {output.name} did not run, it has no summary to read")


@dataclass(frozen=True)
class PlannedSet:
    """A data source of the config, described and never loaded."""

    source: str
    role: str

    @property
    def name(self) -> str:
        return self.source

    def __getattr__(self, attribute: str):
        if attribute.startswith("_"):  # copy, pickle and repr probes
            raise AttributeError(attribute)
        raise StageError(f"planning: the [data] {self.role} set {self.source} is described, not loaded; "
                         f"its {attribute} is read at build time only (inside a stage's produce)")


class PlanningRecipe(Recipe):
    """A ``Recipe`` over a ``PlanningCache`` whose data and base are descriptions."""

    planning: ClassVar[bool] = True

    def dataset(self, role: str, lang: str) -> DataSet:
        source = self.config.get("data", {}).get(role)
        if source is None:
            raise StageError(f"the config has no [data] {role}")
        source = _per_lang(source, lang)
        if source not in self._sets:
            described = PlannedSet(source=str(source), role=role)
            self._sets[source] = DataSet(input=StageOutput(name=str(source), key=f"planned:{source}",
                                                           path=PLANNED / "data"), testset=described)
        return self._sets[source]

    def data_roles(self) -> tuple[str, ...]:
        """The [data] roles the chain read, in first-read order."""
        return tuple(dict.fromkeys(data_set.testset.role for data_set in self._sets.values()))

    def base(self) -> StageOutput:
        configured = self.config.get("data", {}).get("base", self.track.base_model)
        return StageOutput(name="base", key=f"planned:{configured}", path=PLANNED / "base")

    def general_sample(self, lang: str, *, table: str = "qlora", langs: Sequence[str] | None = None) -> StageOutput:
        targets = tuple(langs or (lang,))
        config = self.config.get(table, {})
        if "general_size" not in config:
            raise StageError(f"the config's [{table}] has no general_size (the general sample's size)")
        general = self.dataset("general", targets[0])
        size, seed = int(config["general_size"]), int(config.get("general_seed", 0))
        return self.run_stage(lang, "general_sample", {"size": size, "seed": seed, "table": table,
                                                       "langs": list(targets)}, [general.input], _not_run)


def _not_run(folder: Path) -> None:
    raise AssertionError("a planned stage never runs")


@dataclass
class PlannedChain:
    """What the planning run of a chain recorded."""

    stages: list[PlannedStage]
    base: StageOutput
    finals: dict[str, StageOutput]     # direction -> the chain's result (one for every direction when shared)
    data_roles: tuple[str, ...]        # the config's [data] roles the chain read, in first-read order


def plan_chain(chain: Callable[[Recipe, str, StageOutput], StageOutput], track: Track, config: dict, *,
               shared: bool = False, langs: Sequence[str] | None = None) -> PlannedChain:
    """Run ``chain`` as ``harness.stages.recipe.build`` does (per direction, or once when ``shared``), planned."""
    langs = tuple(langs or track.languages)
    recipe = PlanningRecipe(track=track, config=config, cache=PlanningCache(), log=None, langs=langs)
    base = recipe.base()
    finals = run_chain(chain, recipe, base, shared=shared)
    return PlannedChain(stages=recipe.cache.records, base=base, finals=finals, data_roles=recipe.data_roles())
