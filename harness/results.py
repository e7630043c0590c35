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
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# 2: long-form sets realigned by the evaluation server's rule (the whole set at once, always;
# harness.resegment), non-scored tags removed before scoring, TER beside BLEU and chrF.
SCHEMA_VERSION = 2
# The results files' schemas: a segmented set's eval, and a long-form set's (segment, decode, resegment, score).
EVAL_SCHEMA = "iwslt-harness/eval"
LONGFORM_SCHEMA = "iwslt-harness/eval-longform"
REPO = Path(__file__).resolve().parents[1]
RESULTS_ROOT = REPO / "leaderboard" / "results"
PACKAGES = ("harness", "iwslt-compression-harness", "torch", "transformers", "peft", "bitsandbytes", "hqq",
            "accelerate", "datasets", "sacrebleu", "numpy", "soundfile", "soxr", "silero-vad", "mweralign")


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half of either."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def replace_folder(staging: Path, folder: Path) -> None:
    """Move a finished ``staging`` folder to ``folder``; an existing ``folder`` is set aside
    first and deleted only once the new one is in place, so one of the two always exists."""
    staging, folder = Path(staging), Path(folder)
    if not folder.exists():
        staging.rename(folder)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    retired.rmdir()
    folder.rename(retired)
    staging.rename(folder)
    shutil.rmtree(retired)


@contextmanager
def staged_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``folder`` to fill; put in place by ``replace_folder`` when the
    block ends without error, removed otherwise, so a reader never sees a half-written folder."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.staging-", dir=folder.parent))
    try:
        yield staging
        replace_folder(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def atomic_write_json(path: Path, payload: dict) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


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


def file_sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    """The hub ids the track reads and the commit each is read at (harness.tracks.HUB_REVISIONS)."""
    from harness.tracks import TRACKS, hub_revisions

    return hub_revisions(TRACKS[track_name]) if track_name in TRACKS else {}


def write_results(paths: ResultPaths, rows: list[dict], summary: dict) -> dict:
    """The per-segment rows, then the summary with provenance and a timestamp added, each atomically;
    returns the summary as written. Segments first: a summary on disk always has its segments beside it.
    """
    write_jsonl(paths.segments, rows)
    summary = {**summary, "provenance": {**provenance(), "hub_revisions": _hub_revisions(summary.get("track"))},
               "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write_json(paths.summary, summary)
    return summary
