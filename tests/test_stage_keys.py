"""Every stage cache key of the mini track is stable: moving or renaming a module keeps it (issue 20 part 5).

A stage's key (harness.stages.cache.stage_key) is a sha256 over its stable stage id (the name
given to ``cache.run``: "teacher", "qlora", ...), its settings and its inputs' keys; external
inputs enter by content (the base folder's files, a set's manifest hash). No file path or
module name is part of it. tests/data/mini_stage_keys.json holds the 23 keys of a full mini build
(modelA, modelB, diet-kit) recorded before the modules moved; these tests

- recompute each recorded key from its recorded settings and inputs (the key function itself);
- replay the submissions' own chains (submissions/<name>/build.py) on the real Recipe with a
  cache that records keys and runs nothing, the base keyed by the committed models/mini-base
  and each set by its committed manifest's content hash (no audio needed), and require the very
  recorded keys: the chain code, wherever its modules live, still derives the build's keys;
- check that every ``built_by`` a stage writes is a stable stage id, never a file path.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.stages import recipe
from harness.stages.cache import StageOutput, folder_input, stage_key

REPO = Path(__file__).resolve().parents[1]
FIXTURE = json.loads((REPO / "tests" / "data" / "mini_stage_keys.json").read_text())["stages"]
RECORDED = {f"{row['stage']}-{row['key'][:16]}": row for row in FIXTURE}


class KeyRecordingCache:
    """StageCache.run's key for every stage the chain asks for; nothing runs."""

    def __init__(self, root: Path) -> None:
        self.root, self.keys = root, []

    def run(self, name, settings, inputs, produce):
        key = stage_key(name, settings, inputs)
        self.keys.append(f"{name}-{key[:16]}")
        return StageOutput(name=name, key=key, path=self.root / f"{name}-{key[:16]}")


def set_by_manifest(source, *, track, langs, cache, log, sample=None):
    """A project set as the recipe keys it (name and content hash from its committed manifest.json)."""
    folder = Path(source) if Path(source).is_absolute() else REPO / source
    manifest = json.loads((folder / "manifest.json").read_text())
    testset = SimpleNamespace(name=manifest["name"], utterances=list(range(manifest["utterances"])), folder=folder)
    return recipe.DataSet(input=StageOutput(name=manifest["name"], key=manifest["content_hash"], path=folder),
                          testset=testset)


def chain_of(submission: str):
    spec = importlib.util.spec_from_file_location(f"{submission}_keys_build", REPO / "submissions" / submission / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.chain


def replayed_keys(submission: str, work: Path, config: Path | None = None) -> list[str]:
    built = recipe.open_recipe(submission, track="mini", work=work, log=None, config=config)
    cache = built.cache = KeyRecordingCache(work)
    base = folder_input("base", REPO / "models" / "mini-base")
    if submission == "diet-kit":  # awq and the final hqq follow the fitting plan, chosen from measured sizes
        from harness.stages import diet_kit as diet

        merged = diet.lora_general(built, base)
        diet.hqq(built, merged, diet.base_plan(built), "4bit-emb2-g128")
        diet.sensitivities(built, merged)
    else:
        chain = chain_of(submission)
        for lang in built.langs:
            chain(built, lang, base)
    return cache.keys


def test_every_recorded_key_is_its_settings_and_inputs_hash():
    for row in FIXTURE:
        inputs = [StageOutput(name=name, key=key, path=Path(".")) for name, key in row["inputs"].items()]
        assert stage_key(row["stage"], row["settings"], inputs) == row["key"], row["stage"]


@pytest.mark.parametrize("submission, stages", [("modelA", 6), ("modelB", 12), ("diet-kit", 7)])
def test_the_chains_derive_the_recorded_keys(submission, stages, tmp_path, monkeypatch):
    monkeypatch.setattr(recipe, "resolve_set", set_by_manifest)
    monkeypatch.delenv("HARNESS_SUBMISSIONS_DIR", raising=False)
    keys = replayed_keys(submission, tmp_path)
    assert len(keys) == stages
    assert [key for key in keys if key not in RECORDED] == []


def test_a_changed_setting_changes_the_key(tmp_path, monkeypatch):
    """The replay can fail: one changed learning rate is a key the recorded build never had."""
    monkeypatch.setattr(recipe, "resolve_set", set_by_manifest)
    monkeypatch.delenv("HARNESS_SUBMISSIONS_DIR", raising=False)
    text = (REPO / "submissions" / "modelA" / "config" / "mini.toml").read_text()
    teacher, rest = text.split("[distill]")
    assert teacher.count("\nlr = 5e-4\n") == 1
    changed = tmp_path / "mini.toml"
    changed.write_text(teacher.replace("\nlr = 5e-4\n", "\nlr = 6e-4\n") + "[distill]" + rest)
    keys = replayed_keys("modelA", tmp_path, config=changed)
    assert len([key for key in keys if key not in RECORDED]) == 6  # the teacher and all downstream of it


def _built_by_values(path: Path) -> list[tuple[int, object]]:
    """The constant values given as ``built_by=`` or under a "built_by" dict key in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "built_by":
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "built_by":
                    found.append((node.lineno, value))
    return found


SUBMISSION_BUILD_SCRIPT = "f'submissions/{submission}/build.py'"


def test_stages_record_stable_ids_not_file_paths():
    """A moved module must not change what a stage writes (a base's system.json is hashed into keys)."""
    offenders = []
    for path in sorted((REPO / "harness").rglob("*.py")):
        for line, value in _built_by_values(path):
            text = ast.unparse(value)
            if text == SUBMISSION_BUILD_SCRIPT:
                continue  # a submission's own script, named by its folder: no harness module is in it
            if ".py" in text or "__file__" in text or "__name__" in text or "harness/" in text:
                offenders.append(f"{path.relative_to(REPO)}:{line}: built_by={text}")
    assert offenders == []
