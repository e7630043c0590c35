"""contract-baseline's entry: translate a list of WAV files with the folder's model, greedily.

    translate.py --track <track> <direction> <input list> <output file>     (what run.sh runs)

The contract is harness.evaluation.contract's: the input list holds one absolute WAV path per line, the
output gets one hypothesis per line. The model in ``model/`` beside this file is loaded with
harness.systems.models.load_system (strictly, offline) and every clip is decoded in one call of
harness.inference.decode.decode at the track's max_new_tokens and the batch size in CONTRACT_BATCH_SIZE
(default 16): the clips a built system's evaluation decodes in one call, batched alike, so the
hypotheses are the baseline's. It decodes on the GPU where one is visible (CUDA_VISIBLE_DEVICES),
else on the CPU: compare it with a baseline evaluated on the same device. A line break inside a
hypothesis becomes a space (one line per input).
"""

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="mini")
    parser.add_argument("direction")
    parser.add_argument("inputs", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    from harness.data.audio import decode_audio
    from harness.inference.decode import DecodeSettings, decode
    from harness.systems.models import load_system
    from harness.files import atomic_write_text
    from harness.data.tracks import get_track

    try:
        source, _, lang = args.direction.partition("-")
        if source != "en" or not lang:
            raise ValueError(f"direction {args.direction!r} is not en-<language>")
        track = get_track(args.track)
        paths = [line for line in args.inputs.read_text(encoding="utf-8").split("\n") if line]
        audios = [decode_audio(path)[0] for path in paths]
        settings = DecodeSettings(max_new_tokens=track.max_new_tokens,
                                  batch_size=int(os.environ.get("CONTRACT_BATCH_SIZE", "16")))
        import torch

        system = load_system(HERE / "model", lang, device="cuda" if torch.cuda.is_available() else "cpu")
        hypotheses = decode(system, audios, lang, settings).hypotheses if audios else []
    except (ValueError, OSError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    atomic_write_text(args.output, "".join(h.text.replace("\r", " ").replace("\n", " ") + "\n" for h in hypotheses))
    print(f"translated {len(hypotheses)} clips into {lang}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
