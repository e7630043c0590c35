"""`python -m testsets.miniworld --out testsets/mini`: generate (or verify) the mini-track sets.

With every set present, intact and made by this generator version and seed, it
only verifies and says so. Otherwise it regenerates and compares the new hashes
with the manifests that were there before (the committed ones on a fresh clone):
a different text is an error (the generator changed: review and commit the new
manifests); a different audio hash is reported with the espeak-ng versions, since
another espeak-ng release may speak differently.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from tabulate import tabulate

from harness.data.testsets import TestSetError, load_testset
from testsets.miniworld import grammar
from testsets.miniworld.build import (
    GENERATOR_VERSION, SEGMENTED_SETS, Sizes, build, organizers_copy_is_current, write_organizers_copy,
)

ALL_SETS = (*SEGMENTED_SETS, "longform_test")


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _up_to_date(out: Path, seed: int, sizes: Sizes) -> bool:
    for name in ALL_SETS:
        manifest = _read_manifest(out / name)
        generator = (manifest or {}).get("generator", {})
        if (generator.get("version"), *_settings(manifest or {})) != (
                GENERATOR_VERSION, seed, json.loads(json.dumps(dataclasses.asdict(sizes)))):
            return False
        try:
            load_testset(out / name, verify=True)
        except TestSetError:
            return False
    return True


def _settings(manifest: dict) -> tuple:
    """What decides a set's text: only manifests made with the same settings are comparable."""
    generator = manifest.get("generator", {})
    return generator.get("seed"), generator.get("sizes")


def _summary_rows(manifests: dict[str, dict]) -> list[list]:
    return [[name, m["utterances"], f"{m['audio_seconds'] / 3600:.2f}", m["domain"], m["content_hash"][:19]]
            for name, m in manifests.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testsets.miniworld", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("testsets/mini"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--sizes", type=json.loads, default={},
                        help='override set sizes as JSON, e.g. \'{"general_train": 50}\' (tests, quick looks)')
    args = parser.parse_args(argv)
    try:
        sizes = Sizes(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.sizes.items()})
    except TypeError as error:
        parser.error(f"--sizes: {error}")

    if not args.force and _up_to_date(args.out, args.seed, sizes):
        manifests = {name: _read_manifest(args.out / name) for name in ALL_SETS}
        # The organizers'-layout copy of longform_test is remade when missing or stale (a copy, no speaking).
        if not organizers_copy_is_current(args.out):
            write_organizers_copy(args.out)
        print(tabulate(_summary_rows(manifests), headers=["set", "utterances", "hours", "domain", "content hash"]))
        print(f"{args.out}: up to date (verified hashes)")
        return 0

    previous = {name: _read_manifest(args.out / name) for name in ALL_SETS}
    started = time.perf_counter()
    manifests = build(args.out, seed=args.seed, sizes=sizes, jobs=args.jobs)
    seconds = time.perf_counter() - started

    print(tabulate(_summary_rows(manifests), headers=["set", "utterances", "hours", "domain", "content hash"]))
    vocab = {d: len(grammar.english_vocabulary(d)) for d in grammar.DOMAINS}
    print(f"English word types: general {vocab['general']}, talks {vocab['talks']}, "
          f"all {len(grammar.english_vocabulary())}; built in {seconds:.0f} s")

    text_changed, audio_changed = [], []
    for name, old in previous.items():
        new = manifests[name]
        if old is None or _settings(old) != _settings(new):
            continue
        if old.get("text_hash") != new["text_hash"]:
            text_changed.append(name)
        elif old.get("audio_hash") != new["audio_hash"]:
            audio_changed.append(f"{name} (espeak-ng {old.get('generator', {}).get('espeak_ng')} "
                                 f"-> {new['generator']['espeak_ng']})")
    if audio_changed:
        print("warning: audio differs from the previous manifests: " + ", ".join(audio_changed), file=sys.stderr)
    if text_changed:
        print(f"error: the text of {', '.join(text_changed)} differs from the previous manifests: "
              f"the generator changed; review and commit {args.out}/*/manifest.json", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
