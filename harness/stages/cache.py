"""Build-stage cache: every stage's output is a folder keyed by its inputs and settings.

A recipe (``submissions/<name>/build.py``) is a chain of stages: teacher fine-tune,
knowledge-distillation data, pruning, QLoRA... ``StageCache.run`` gives each stage a
folder ``<root>/<stage>-<key>`` where the key is a sha256 over the stage's name, its
settings (JSON) and the keys of its inputs. Consequences:

- two recipes that share a stage with the same inputs and settings share its output
  (modelB reuses modelA's teacher and distillation data);
- a build killed mid-stage resumes at that stage: a stage's folder only appears, by
  rename, once the stage has finished and written ``stage.json``; a half-written
  staging folder is removed before the stage runs again;
- a changed setting changes that stage's key and therefore the key of every stage
  downstream of it, and nothing else: exactly the affected stages rerun.

External inputs (a base model folder, a training set) enter by content hash
(``folder_input``, ``testset_input``), so a regenerated base or data set never reuses
outputs built from the old one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.files import replace_folder

MARKER = "stage.json"


@dataclass(frozen=True)
class StageOutput:
    """A finished stage (or an external input): its key and where its files are."""

    name: str
    key: str
    path: Path
    reused: bool = False


def folder_input(name: str, folder: str | os.PathLike) -> StageOutput:
    """An external folder (e.g. a base model) as a stage input, keyed by its content hash."""
    from harness.files import content_hash

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    return StageOutput(name=name, key=content_hash(folder), path=folder)


def testset_input(testset) -> StageOutput:
    """A loaded segmented set as a stage input, keyed by its manifest's content hash."""
    return StageOutput(name=testset.name, key=testset.content_hash, path=Path(testset.folder))


def stage_key(name: str, settings: dict, inputs: Sequence[StageOutput]) -> str:
    payload = {"stage": name, "settings": settings, "inputs": {i.name: i.key for i in inputs}}
    if len({i.name for i in inputs}) != len(inputs):
        raise ValueError(f"stage {name}: input names must differ, got {[i.name for i in inputs]}")
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class StageCache:
    def __init__(self, root: str | os.PathLike, log: Callable[[str], None] | None = print) -> None:
        self.root = Path(root)
        self.log = log or (lambda line: None)

    def path_for(self, name: str, key: str) -> Path:
        return self.root / f"{name}-{key[:16]}"

    def run(self, name: str, settings: dict, inputs: Sequence[StageOutput],
            produce: Callable[[Path], dict | None]) -> StageOutput:
        """The output of stage ``name``: reused when finished before, else ``produce(folder)``.

        ``produce`` writes the stage's files into the folder it is given (a staging folder
        that is renamed into place afterwards) and may return a JSON-able summary, kept
        in ``stage.json`` beside the settings and the inputs' keys.
        """
        key = stage_key(name, settings, inputs)
        folder = self.path_for(name, key)
        marker = folder / MARKER
        if marker.is_file() and json.loads(marker.read_text()).get("key") == key:
            self.log(f"stage {name}: reused {folder}")
            return StageOutput(name=name, key=key, path=folder, reused=True)
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in self.root.glob(f".{folder.name}.staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)  # a killed run of this very stage
        staging = self.root / f".{folder.name}.staging-{os.getpid()}"
        staging.mkdir()
        self.log(f"stage {name}: running -> {folder}")
        started = time.time()
        try:
            summary = produce(staging)
            record = {"stage": name, "key": key, "settings": settings,
                      "inputs": {i.name: {"key": i.key, "path": str(i.path)} for i in inputs},
                      "seconds": round(time.time() - started, 1),
                      "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "summary": summary}
            (staging / MARKER).write_text(json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n")
            replace_folder(staging, folder)  # an unfinished folder from an older layout is never reused
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.log(f"stage {name}: done in {time.time() - started:.0f} s")
        return StageOutput(name=name, key=key, path=folder)

    def summary(self, output: StageOutput) -> dict | None:
        return json.loads((output.path / MARKER).read_text()).get("summary")
