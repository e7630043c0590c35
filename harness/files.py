"""Files written whole or not at all, and the content hashes that key caches and test sets.

The shared place in harness/ for renaming outputs into place and hashing file contents (issue 20).
Two writers keep their own rename on purpose: the stage cache and the feature store leave a
folder another process finished first in place (harness.stages.cache, harness.training.features).

Writes
------
Every file goes to a temporary file beside its target (``.<name>.<random>.tmp``, same folder,
so same file system: the rename is atomic), is written, flushed and fsynced, and is then
renamed over the target with ``os.replace``. Why each step:

- temporary file + rename: a reader (a concurrent ``make leaderboard``, a resumed run, the
  stage cache) sees the old file or the new one, never half of either, and a write that fails
  (a serializer raising, a full disk, Ctrl-C) leaves the old file exactly as it was; the
  temporary file is removed on any exception, ``KeyboardInterrupt`` included.
- fsync before the rename: without it a crash or power cut soon after the rename can leave
  the *new name* pointing at an empty or truncated file (the rename reaches the disk before
  the data does on ext4/xfs with delayed allocation), which is worse than the old file. The
  folder itself is not fsynced: after a crash the rename may be lost (the old file is back),
  which is the atomic outcome, not a torn one.
- permissions: ``mkstemp`` creates the file 0600 and ``atomic_write_text`` keeps that (its
  long-standing behaviour); ``atomic_file(..., permissions=...)`` sets others (write_wav
  gives a WAV the permissions a plain ``open()`` would).

A folder is filled in a temporary sibling (``staged_folder``) and moved into place by
``replace_folder``: an existing folder is set aside first, restored if the move fails, and
deleted only once the new one is in place, so one of the two always exists under the name.
Staging folders are made with ``os.mkdir`` (the umask's permissions, as the finished folder
should have), not ``mkdtemp``'s 0700.

Hashes
------
``file_sha256``: the hex sha256 of a file's bytes (no prefix). ``content_hash`` caches each
file's digest within the process per (resolved path, size, mtime_ns): a file rewritten in place
changes its mtime, so a stale digest is not served (short of a same-size rewrite within one
file-system timestamp tick). ``listing_sha256``: the sha256 over ``name \\0 hexdigest \\n`` per
entry, in the order given. ``content_hash`` of a folder: ``listing_sha256`` over (relative POSIX
path, ``file_sha256``) of every file under it, sorted by path. Folder hashes are the stage cache's keys of external
inputs (a base model) and results' model hashes, and the same listing is a long-form test
set's content hash (harness.data.iwslt_layout): the algorithm must never change, or every cache
and pinned test-set hash is invalidated (tests/test_files.py pins the values). Callers that
record a hash as ``sha256:<hex>`` add the prefix themselves.

harness/scoring/comet_runner.py runs in the COMET environment without this package and keeps its
own copy of the write rule.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_file(path: str | os.PathLike, *, binary: bool = False, encoding: str = "utf-8",
                newline: str | None = None, fsync: bool = True, permissions: int | None = None) -> Iterator[IO]:
    """A stream to write ``path``'s new content to; the file is replaced when the block ends
    without error, and left as it was (no temporary file behind) when it raises.

    ``binary`` opens the stream "wb" (else "w" with ``encoding`` and ``newline``, as ``open``);
    ``fsync=False`` skips the fsync (bulk files a crash may lose whole, e.g. a test set's WAVs,
    which live in a staged folder anyway); ``permissions`` are set before the rename (default:
    mkstemp's 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (os.fdopen(handle, "wb") if binary
              else os.fdopen(handle, "w", encoding=encoding, newline=newline)) as stream:
            yield stream
            stream.flush()
            if fsync:
                os.fsync(stream.fileno())
        if permissions is not None:
            os.chmod(temp, permissions)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` (UTF-8) so that a reader sees the old file or the new one, never half of either."""
    with atomic_file(path) as stream:
        stream.write(text)


def _fresh_sibling(folder: Path, tag: str, *, create: bool) -> Path:
    """A new name ``.<folder name>.<tag>-<random>`` beside ``folder``, made as an empty folder
    (umask permissions) when ``create``, else only checked to be free."""
    for _ in range(100):
        candidate = folder.parent / f".{folder.name}.{tag}-{secrets.token_hex(4)}"
        if not create:
            if not os.path.lexists(candidate):
                return candidate
            continue
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{folder.parent}: no free name for a {tag} sibling of {folder.name}")


def replace_folder(staging: str | os.PathLike, folder: str | os.PathLike) -> None:
    """Move a finished ``staging`` folder to ``folder``; an existing ``folder`` is set aside
    first, put back if the move fails, and deleted only once the new one is in place, so one
    of the two always exists."""
    staging, folder = Path(staging), Path(folder)
    if not folder.exists():
        os.rename(staging, folder)
        return
    retired = _fresh_sibling(folder, "old", create=False)
    os.rename(folder, retired)
    try:
        os.rename(staging, folder)
    except BaseException:
        os.rename(retired, folder)
        raise
    shutil.rmtree(retired)


@contextmanager
def staged_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``folder`` to fill; put in place by ``replace_folder`` when the
    block ends without error, removed otherwise, so a reader never sees a half-written folder."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_sibling(folder, "staging", create=True)
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


def file_sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# (absolute path, size, mtime_ns) -> sha256 of the bytes: a file rewritten in place
# changes its mtime, so a stale entry is never served within a process.
_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    cached = _FILE_HASHES.get(key)
    if cached is None:
        cached = _FILE_HASHES[key] = file_sha256(path)
    return cached


def content_hash(folder: str | os.PathLike) -> str:
    """sha256 over (relative path, sha256 of the bytes) of every file under ``folder``, sorted by path.

    Names are part of the hash (renaming a shard changes it); per-file digests are
    cached per (path, size, mtime) within the process. For a model folder that is the
    system folder itself ("."), system.json is part of the hash too.
    """
    folder = Path(folder)
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix())
    return listing_sha256((path.relative_to(folder).as_posix(), _file_sha256(path)) for path in files)


def listing_sha256(entries: Iterable[tuple[str, str]]) -> str:
    """The hex sha256 of a listing of (name, hex digest) pairs, in the order given, each written
    ``name NUL digest LF``: a folder's content_hash, a test set's or a corpus's file list."""
    digest = hashlib.sha256()
    for name, file_digest in entries:
        digest.update(f"{name}\0{file_digest}\n".encode("utf-8"))
    return digest.hexdigest()
