"""Stage: put a track's base model, as it is, into a build folder.

On the mini track the base ships with the project (models/mini-base); on the 7B
tracks it is a hub snapshot (Qwen/Qwen2-Audio-7B-Instruct), fetched once with
safetensors, configs, tokenizer and processor files only: never pickles, never code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.files import staged_folder
from harness.data.tracks import REPO, Track
from harness.data.hub import UnpinnedError, pinned_revision
from harness.errors import HarnessError

# What a model folder needs; *.py (remote code) and pickled weights are never fetched.
HUB_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "*.json", "*.txt", "*.jinja", "*.model", "merges.txt",
                "vocab.json")


class StageError(HarnessError, RuntimeError):
    """A one-line reason a build stage cannot go on."""


def materialize_base(track: Track, out: Path, model: str | None = None, revision: str | None = None) -> Path:
    """Copy (local) or download (hub) the track's base model, or ``model`` at ``revision``, into `out`."""
    out = Path(out)
    model = model or track.base_model
    revision = revision if model != track.base_model else (revision or track.base_revision)
    local = REPO / model
    with staged_folder(out) as staging:
        if local.is_dir():
            shutil.copytree(local, staging, dirs_exist_ok=True)
        else:
            _download(model, revision, staging)
    return out


def _download(repo_id: str, revision: str | None, into: Path) -> None:
    if repo_id.startswith(("./", "/")) or "/" not in repo_id:
        raise StageError(f"base model {repo_id} is not there: it is a folder of this project, not a hub id "
                         f"(the mini track's base is made by python -m harness.stages.mini_base)")
    from huggingface_hub import snapshot_download
    try:
        revision = pinned_revision(repo_id, revision)
    except UnpinnedError as error:
        raise StageError(str(error)) from None
    try:
        snapshot_download(repo_id, revision=revision, local_dir=into, allow_patterns=list(HUB_PATTERNS))
    except Exception as error:  # the hub client raises many kinds; all mean the same here
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StageError(f"{repo_id}: cannot download the base model ({first}); "
                         f"on an offline machine, unset HF_HUB_OFFLINE or pre-fill the hub cache") from error
