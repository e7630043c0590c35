"""Results files: one summary JSON and one per-segment JSONL per (system, test set).

In the style of lm-evaluation-harness: every file carries its provenance (git hash,
package versions, hardware, decode settings, test-set version and hash), so a
score can be traced and recomputed without the model.

  leaderboard/results/<track>/<system>/<testset>.json            summary
  leaderboard/results/<track>/<system>/<testset>.segments.jsonl  id, lang, audio seconds, reference,
                                                                 hypothesis, decode seconds, new tokens, flags
  leaderboard/results/<track>/<system>/<testset>.<lang>.partial.jsonl  checkpoint while decoding (resume)

File names are lookup keys only; what the file is about lives inside it.
Every write goes to a temporary file beside the target and is renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from importlib import metadata
from pathlib import Path

from harness import REPO
from harness.files import atomic_write_json, atomic_write_text, write_jsonl

# The results files' schemas, a segmented set's eval and a long-form set's (segment, decode, resegment,
# score), are defined in harness.results_schema. Version 2: long-form sets realigned by the evaluation
# server's rule (harness.segmentation.resegment), non-scored tags removed before scoring, TER beside BLEU and chrF.
from harness.results_schema import EVAL_SCHEMA, LONGFORM_SCHEMA, SCHEMA_VERSION, check_segment_rows, check_summary

__all__ = ["EVAL_SCHEMA", "LONGFORM_SCHEMA", "SCHEMA_VERSION"]

if TYPE_CHECKING:
    from harness.data.testsets import TestSet
    from harness.data.tracks import TestSetSpec, Track

RESULTS_ROOT = REPO / "leaderboard" / "results"
PACKAGES = ("harness", "iwslt-compression-harness", "torch", "transformers", "peft", "bitsandbytes", "hqq",
            "accelerate", "datasets", "sacrebleu", "numpy", "soundfile", "soxr", "silero-vad", "mweralign")


def git_state() -> dict:
    """The commit the harness ran from, and whether the tree had local changes."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  check=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
    commit = git("rev-parse", "HEAD")
    # leaderboard/ is what evaluations write: results committed earlier, rewritten by this
    # very run, do not make the harness's code differ from the commit.
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!leaderboard")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def hardware() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "processor": cpu_model(), "cpu_count": os.cpu_count()}
    try:
        info["memory_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        pass
    try:
        import torch
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return info


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance() -> dict:
    return {"git": git_state(), "packages": package_versions(), "hardware": hardware()}


@dataclass(frozen=True)
class ResultPaths:
    summary: Path
    segments: Path

    @classmethod
    def of(cls, track: str, system: str, testset: str, root: Path = RESULTS_ROOT) -> "ResultPaths":
        folder = Path(root) / track / system
        return cls(folder / f"{testset}.json", folder / f"{testset}.segments.jsonl")

    def partial_for(self, lang: str) -> Path:
        """The checkpoint of one direction while it decodes."""
        return self.segments.with_name(self.segments.name.replace(".segments.jsonl", f".{lang}.partial.jsonl"))


def cache_key(**parts) -> str:
    """A key over everything that decides a hypothesis: model content hash, decode settings, test-set hash."""
    return "sha256:" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class Checkpoint:
    """Finished segments of an interrupted run, reused only under the same cache key.

    The file's first line holds the key; each later line is one finished segment.
    A line cut short by a crash is dropped, and a file written under another key
    (another model, other settings, another test-set version) is discarded whole.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path = Path(path)
        self.key = key
        self.done: dict[tuple[str, str], dict] = {}
        if self.path.exists():
            self._read()
        if not self.done:
            atomic_write_text(self.path, json.dumps({"cache_key": key}) + "\n")
        self._stream = None

    def _read(self) -> None:
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            header = {}
        if header.get("cache_key") != self.key:
            return
        for line in lines[1:]:
            try:
                row = json.loads(line)
            except ValueError:
                break  # a crash mid-line: everything after it is suspect
            self.done[(row["lang"], row["id"])] = row
        # Rewrite without any torn tail so appends continue a clean file.
        atomic_write_text(self.path, json.dumps({"cache_key": self.key}) + "\n"
                          + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.done.values()))

    def add(self, row: dict) -> None:
        if self._stream is None:
            self._stream = open(self.path, "a", encoding="utf-8")
        self._stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._stream.flush()
        self.done[(row["lang"], row["id"])] = row

    def close(self, remove: bool) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if remove:
            self.path.unlink(missing_ok=True)


def _hub_revisions(track_name: object) -> dict:
    """The hub ids the track reads and the commit each is read at (harness.data.hub.HUB_REVISIONS)."""
    from harness.data.tracks import TRACKS, hub_revisions

    return hub_revisions(TRACKS[track_name]) if track_name in TRACKS else {}


def write_results(paths: ResultPaths, rows: list[dict], summary: dict) -> dict:
    """The per-segment rows, then the summary with provenance and a timestamp added, each atomically;
    returns the summary as written. Segments first: a summary on disk always has its segments beside it.
    Both are checked against harness.results_schema first: a writer that drifts fails here, writing nothing.
    """
    summary = {**summary, "provenance": {**provenance(), "hub_revisions": _hub_revisions(summary.get("track"))},
               "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    check_segment_rows(rows, str(paths.segments))
    check_summary(summary, str(paths.summary))
    write_jsonl(paths.segments, rows)
    atomic_write_json(paths.summary, summary)
    return summary


def write_segmented(paths: ResultPaths, rows: list[dict], *, name: str, manifest, track: Track,
                    spec: TestSetSpec, testset: TestSet, settings, languages: dict,
                    storage_verdict: dict | None, extra: dict | None = None) -> dict:
    """A segmented set's results (the rows, then the summary), written by ``write_results``. ``manifest``
    has ``as_dict`` (harness.systems.models.SystemManifest, or harness.evaluation.contract's);
    ``settings`` (harness.inference.decode.DecodeSettings) is None when the harness did not decode;
    ``extra`` keys follow the others (harness.evaluation.contract's ``run_by``)."""
    summary = {
        "schema": EVAL_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "system": name,
        "system_manifest": manifest.as_dict(),
        "track": track.name,
        "testset": {"name": spec.name, "version": testset.version, "content_hash": testset.content_hash,
                    "utterances": len(testset.utterances),
                    "audio_seconds": round(sum(u.seconds for u in testset.utterances), 3),
                    "domain": testset.manifest.get("domain")},
        "decode": settings.as_dict() if settings is not None else None,
        "languages": languages,
        "storage": storage_verdict,
        **(extra or {}),
    }
    return write_results(paths, rows, summary)
