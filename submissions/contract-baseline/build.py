"""contract-baseline: the track's base model as a submission run by contract (harness.evaluation.contract).

The same weights as ``baseline`` (harness.stages.base.materialize_base into ``model/``),
packaged as the WMT26 model-compression organizers take a team's system: a folder with an
executable ``run.sh`` plus its weights, no ``system.json``. run.sh calls ``translate.py``
(copied beside it), which loads ``model/`` with the project's code (harness.systems.models.load_system:
strict, offline, safetensors only) and decodes greedily (harness.inference.decode.decode, the track's
max_new_tokens, the batch size the harness passes), so its scores must equal the baseline's:
tests/test_contract.py checks that. run.sh names this machine's Python (the one that ran the
build, with the harness installed), so the folder is a build output of this checkout, like
every folder under build/.

    make build SUB=contract-baseline [TRACK=mini]
"""

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

from harness.evaluation.contract import RUN_SCRIPT
from harness.files import atomic_write_text, staged_folder
from harness.stages.base import StageError, materialize_base
from harness.data.tracks import REPO, get_track

HERE = Path(__file__).resolve().parent
ENTRY = "translate.py"


def run_script(python: str, track: str) -> str:
    return ("#!/bin/sh\n"
            "# Written by submissions/contract-baseline/build.py: run.sh <direction> <input list> <output file>\n"
            "# (the contract: harness/evaluation/contract.py).\n"
            f'exec {shlex.quote(python)} "$(dirname "$0")/{ENTRY}" --track {shlex.quote(track)} "$@"\n')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="mini")
    parser.add_argument("--out", type=Path, default=None, help="default: build/<track>/contract-baseline")
    parser.add_argument("--lang", choices=("de", "zh", "both"), default="both")
    args = parser.parse_args(argv)
    if args.lang != "both":
        print("error: contract-baseline serves every direction of the track (the harness runs its run.sh for each); "
              "build it without LANG", file=sys.stderr)
        return 2
    track = get_track(args.track)
    out = args.out or REPO / "build" / track.name / "contract-baseline"
    try:
        with staged_folder(out) as staging:
            materialize_base(track, staging / "model")
            shutil.copy2(HERE / ENTRY, staging / ENTRY)
            # Not sys.executable resolved: a virtual environment's python is a symlink to the system's.
            atomic_write_text(staging / RUN_SCRIPT, run_script(str(Path(sys.executable).absolute()), track.name))
            os.chmod(staging, 0o755)   # a staging folder is private (mkdtemp); the build is not
            os.chmod(staging / RUN_SCRIPT, 0o755)
    except StageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"built {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
