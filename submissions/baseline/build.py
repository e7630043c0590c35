"""baseline: the track's uncompressed base model, as it is.

It is the reference every compressed system is compared with (the leaderboard's
difference column) and gives `make eval` a system from day one. On the 7B tracks it
is Qwen2-Audio-7B-Instruct (Moslem, IWSLT 2025, Table 1 "Baseline").
"""

import argparse
import sys
from pathlib import Path

from harness.systems.models import write_manifest
from harness.stages.base import StageError, materialize_base
from harness.data.tracks import REPO, get_track


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="mini")
    parser.add_argument("--out", type=Path, default=None, help="default: build/<track>/baseline")
    parser.add_argument("--lang", choices=("de", "zh", "both"), default="both")
    args = parser.parse_args(argv)
    track = get_track(args.track)
    out = args.out or REPO / "build" / track.name / "baseline"
    out.mkdir(parents=True, exist_ok=True)
    try:
        materialize_base(track, out / "model")
    except StageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_manifest(out, format="hf", languages={lang: "model" for lang in track.languages if args.lang in (lang, "both")}, prompt=track.prompt,
                   base_model=track.base_model, built_by="submissions/baseline/build.py")
    print(f"built {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
