"""harness.files: the hashes that key every cache and pin every test set keep their algorithm, and a
write that fails leaves the old file or folder as it was."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from harness.files import atomic_write_text, content_hash, file_sha256, listing_sha256, staged_folder


def _folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.bin").write_bytes(b"\x00\x01")
    return root


def test_the_hashes_keep_their_algorithm(tmp_path: Path):
    """Pinned values: a changed algorithm would re-key every stage cache and every long-form test set."""
    assert listing_sha256([("x", "00"), ("y", "ff")]) == \
        "a9e3d7e66b82f6dfc1c4b4aa03eae6c48952fedad66a965f8099196a8cb86dff"
    folder = _folder(tmp_path / "f")
    assert content_hash(folder) == "73bf58a2db7b3035814d60caf32308084f579debe4f7505ce3e6991ba4a19d52"
    by_hand = hashlib.sha256(b"a.txt\0" + hashlib.sha256(b"alpha").hexdigest().encode() + b"\n"
                             + b"sub/b.bin\0" + hashlib.sha256(b"\x00\x01").hexdigest().encode() + b"\n")
    assert content_hash(folder) == by_hand.hexdigest()
    assert file_sha256(folder / "a.txt") == hashlib.sha256(b"alpha").hexdigest()


def test_a_file_rewritten_in_place_is_hashed_again(tmp_path: Path):
    folder = _folder(tmp_path / "f")
    before = content_hash(folder)
    (folder / "a.txt").write_bytes(b"alphabet")   # another size: the per-file cache entry no longer applies
    assert content_hash(folder) != before
    (folder / "a.txt").write_bytes(b"alpha")
    stat = (folder / "a.txt").stat()
    os.utime(folder / "a.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert content_hash(folder) == before


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old\n")

    with pytest.raises(TypeError):
        atomic_write_text(target, 3)   # not text: the stream refuses it after the temporary file exists
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_failed_folder_fill_keeps_the_old_folder(tmp_path: Path):
    folder = tmp_path / "system"
    with staged_folder(folder) as staging:
        (staging / "model.safetensors").write_bytes(b"v1")
    with pytest.raises(RuntimeError, match="interrupted"):
        with staged_folder(folder) as staging:
            (staging / "model.safetensors").write_bytes(b"v2")
            raise RuntimeError("interrupted")
    assert (folder / "model.safetensors").read_bytes() == b"v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["system"]
