"""The commit every hub id is fetched at (models, the COMET checkpoint, hub test sets).

The hub's "main" moves, and a model or test set fetched at another commit is another model or
test set: the harness reads a hub id only at the commit pinned here, and refuses an unpinned id
or a branch or tag name. harness.data.tracks names which ids a track reads.
"""

from __future__ import annotations

import re

from harness.errors import HarnessError

# Each commit below is the snapshot folder name that public code shows for that id (the hub cache names snapshots by
# commit); it could not be checked against the hub from this project's offline machines, so
# re-check it with `huggingface-cli download <id> --revision <commit>` on first use. None: no
# commit could be learnt offline; loading that id refuses until one is pinned here.
HUB_REVISIONS: dict[str, str | None] = {
    "Qwen/Qwen2-Audio-7B-Instruct": "0a095220c30b7b31434169c3086508ef3ea5bf0a",
    "Qwen/Qwen2-Audio-7B": "dd84470756e6277a71d4d7188773a43cde92696e",        # diet-kit's base
    "Unbabel/wmt22-comet-da": "2760a223ac957f30acfb18c8aa649b01cf1d75f2",
    "Unbabel/wmt20-comet-da": None,
    "ymoslem/ACL-6060": None,
}
_COMMIT = re.compile(r"[0-9a-f]{40}")


class UnpinnedError(HarnessError, ValueError):
    """A hub id with no pinned commit: it is never fetched at the hub's moving "main"."""


def pin_label(hub_id: str, revision: str | None = None) -> str:
    """``id@commit`` as a plan or a log shows it, or says the id is unpinned (and would be refused)."""
    revision = revision or HUB_REVISIONS.get(hub_id)
    return f"{hub_id}@{revision[:12]}" if revision else f"{hub_id} (no pinned commit: refused until pinned)"


def pinned_revision(hub_id: str, revision: str | None = None) -> str:
    """The commit to fetch ``hub_id`` at: ``revision`` if given, else the pinned one; refuses a branch or tag."""
    revision = revision or HUB_REVISIONS.get(hub_id)
    if revision is None:
        raise UnpinnedError(f"{hub_id} has no pinned commit: add its commit id to HUB_REVISIONS in "
                            f"harness/data/hub.py (the hub's commit, e.g. from `huggingface-cli repo-info`), "
                            f"so the harness never fetches the moving main")
    if not _COMMIT.fullmatch(revision):
        raise UnpinnedError(f"{hub_id}: revision {revision!r} is not a 40-hex commit id (a branch or tag moves)")
    return revision
