"""`python -m harness check` on hostile folder shapes and config values that once raised a traceback.

Complements tests/test_storage_adversarial.py (issue 18) with the cases that showed
real bugs: a folder nested 1,200 deep (os.walk's recursion in Python 3.11 raised
RecursionError), a config path holding a NUL byte (os.path.realpath raised
ValueError) or longer than PATH_MAX (Path.exists raised ENAMETOOLONG), a system.json
language folder with a NUL byte; and cases that must not hang or double count: FIFOs
under names the checker reads (config JSON, system.json), links inside the folder,
an encrypted archive, files outside every direction's model folder (counted for every
direction). Folders are written byte by byte (no torch): an 8-byte little-endian header
length, the JSON header, the data.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.systems import storage
from harness.data.tracks import REPO, SizeRule, get_track
from test_storage import write_safetensors

MB = 10**6
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def small_system(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)      # parents: the case folder itself is made here
    write_safetensors(folder / "model.safetensors", {
        "language_model.model.embed_tokens.weight": ("BF16", [16, 4]),
        "language_model.lm_head.weight": ("BF16", [16, 4])})
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_audio"}))
    return folder


def folder_bytes(folder: Path) -> int:
    """Every regular file's apparent size, links not followed: the counting rule, computed independently."""
    total, stack = 0, [folder]
    while stack:                        # not os.walk: it recurses, and one case is 1,200 folders deep
        for entry in os.scandir(stack.pop()):
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total


def rule(limit: int) -> SizeRule:
    return SizeRule(limit_bytes=limit, bins=(), reference_bytes=10 * limit + 1, reference_params=10**6, source="test rule")


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def deeply_nested_folders(tmp):
    folder = small_system(tmp / "sys")
    deep = folder
    for _ in range(1200):               # one level at a time: os.makedirs and Path.mkdir recurse too
        deep = deep / "d"
        os.mkdir(deep)
    (deep / "w.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    return folder, rule(folder_bytes(folder))


def config_pointer_with_nul(tmp):
    folder = small_system(tmp / "sys")
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "weights\u0000/../../etc"}))
    return folder, None


def config_pointer_too_long(tmp):
    folder = small_system(tmp / "sys")
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "a/" * 5000}))
    return folder, None


def system_json_language_with_nul(tmp):
    folder = small_system(tmp / "sys")
    (folder / "system.json").write_text(json.dumps({"languages": {"de": "de\u0000"}}))
    return folder, None


def config_nested_900_deep(tmp):
    # Parsed by json, then walked for path keys: the walk must not exhaust the recursion limit either.
    folder = small_system(tmp / "sys")
    (folder / "config.json").write_text('{"a": ' + '{"b": ' * 900 + "1" + "}" * 900 + "}")
    return folder, rule(folder_bytes(folder))


def fifo_named_config(tmp):
    folder = small_system(tmp / "sys")
    os.mkfifo(folder / "generation_config.json")
    return folder, None


def fifo_named_system_json(tmp):
    folder = small_system(tmp / "sys")
    os.mkfifo(folder / "system.json")
    return folder, None


def device_file(tmp):
    folder = small_system(tmp / "sys")
    try:
        os.mknod(folder / "null.safetensors", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError as error:
        pytest.skip(f"cannot make a device node here: {error}")
    return folder, None


def links_inside_not_counted_twice(tmp):
    folder = small_system(tmp / "sys")
    (folder / "alias.safetensors").symlink_to("model.safetensors")
    (folder / "sub").mkdir()
    (folder / "sub" / "notes.txt").write_text("x" * 100)
    (folder / "sub-alias").symlink_to("sub", target_is_directory=True)
    return folder, rule(folder_bytes(folder))


def encrypted_zip_of_arrays(tmp):
    # Members that cannot be read without a password could hold anything: refused, not guessed.
    folder = small_system(tmp / "sys")
    with zipfile.ZipFile(folder / "arrays.npz", "w") as archive:
        archive.writestr("w.npy", b"\x93NUMPY" + bytes(100))
    raw = bytearray((folder / "arrays.npz").read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):    # general-purpose flag bit 0: encrypted
        raw[raw.find(signature) + flag_at] |= 1
    (folder / "arrays.npz").write_bytes(bytes(raw))
    return folder, None


def zero_tensor_safetensors(tmp):
    folder = small_system(tmp / "sys")
    (folder / "empty.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    return folder, rule(folder_bytes(folder))


def shared_files_count_for_every_direction(tmp):
    folder = tmp / "sys"
    small_system(folder / "de")
    small_system(folder / "zh")
    (folder / "system.json").write_text(json.dumps({"format": "hf", "languages": {"de": "de", "zh": "zh"}}))
    sparse(folder / "shared.zst", 10 * MB, ZSTD_MAGIC)
    # One direction: its model plus everything outside both model folders (system.json, shared.zst).
    return folder, rule(folder_bytes(folder / "de") + os.path.getsize(folder / "system.json") + 10 * MB - 1)


def remove_tree(top: Path) -> None:
    """Delete `top` without recursion: shutil.rmtree (and pytest's tmp cleanup) recurse, and 1,200 levels exhaust them."""
    folders, stack = [], [os.fsencode(top)]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        for entry in os.scandir(folder):
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


CASES = [
    # (id, builder, exit code, fragment of the one-line reason)
    ("folders-1200-deep", deeply_nested_folders, 0, "compliant"),
    ("config-pointer-with-nul", config_pointer_with_nul, 2, "does not point inside the folder"),
    ("config-pointer-10k-chars", config_pointer_too_long, 2, "does not point inside the folder"),
    ("system-json-language-with-nul", system_json_language_with_nul, 2, "is not a folder inside the system folder"),
    ("config-nested-900-deep", config_nested_900_deep, 0, "compliant"),
    ("fifo-named-config", fifo_named_config, 2, "generation_config.json: not a regular file (FIFO"),
    ("fifo-named-system-json", fifo_named_system_json, 2, "system.json: not a regular file (FIFO"),
    ("device-file", device_file, 2, "null.safetensors: not a regular file (device"),
    ("links-inside-not-counted-twice", links_inside_not_counted_twice, 0, "compliant"),
    ("encrypted-zip-of-arrays", encrypted_zip_of_arrays, 2, "arrays.npz: pickle-based weight file (unreadable zip archive"),
    ("zero-tensor-safetensors", zero_tensor_safetensors, 0, "compliant"),
    ("shared-files-count-for-every-direction", shared_files_count_for_every_direction, 1,
     "the de model, the largest, is"),
]


@pytest.mark.parametrize("build, code, fragment", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hostile_folders(tmp_path, build, code, fragment):
    try:
        folder, size_rule = build(tmp_path / "case")
        report = storage.check(folder, get_track("iwslt2026"), rule=size_rule)
        assert (report.exit_code, fragment in report.reason) == (code, True), report.reason
        storage.render(report)
        json.dumps(storage.to_json(report))
    finally:
        if (tmp_path / "case").exists():
            remove_tree(tmp_path / "case")


def test_deep_folder_and_nul_pointer_on_the_command_line(tmp_path):
    """The same folders through `python -m harness check`: a one-line reason, never a traceback."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for name, build, code in (("deep", deeply_nested_folders, 0), ("nul", config_pointer_with_nul, 2)):
        folder, _ = build(tmp_path / name)
        result = subprocess.run([sys.executable, "-m", "harness", "check", str(folder), "--track", "iwslt2026"],
                                check=False, capture_output=True, text=True, timeout=120, env=env)
        remove_tree(tmp_path / name)
        assert "Traceback" not in result.stdout + result.stderr, result.stderr[-2000:]
        assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]
