"""`python -m harness <command> ...`: the harness's command line.

Each command lives in its own module, which has `main(argv) -> int`; the module
is imported only when its command runs, so `check` never pays for torch.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    # command: (module, one-line help)
    "eval": ("harness.evaluation.evaluate", "size check, decode and score built systems on the track's test sets"),
    "speed": ("harness.evaluation.speed", "re-measure a built system's speed by the speed protocol (quality results kept)"),
    "check": ("harness.systems.storage", "storage-constraint compliance and integrity of a system folder"),
    "smoke": ("harness.evaluation.contract", "smoke-test a system run by contract (run.sh) on a test set's first 5 utterances"),
    "score": ("harness.scoring.score", "recompute metrics from a per-segment JSONL without the model"),
    "segment": ("harness.segmentation.segment", "segment a long-form set (SHAS-style DAC over silero-vad, VAD only, fixed, gold)"),
    "longform": ("harness.evaluation.longform", "compare segmentations of a long-form set: segment, decode, resegment, score"),
    "leaderboard": ("harness.leaderboard.render", "render the leaderboard (README, CSV, JSON, a static page) from results files"),
    "plan": ("harness.plan", "what a build or eval will do on a track: stages, model/data ids, GPU memory and disk, fits"),
    "import-hyps": ("harness.leaderboard.import_hyps", "score an external team's hypotheses (optionally verify its size) into results files"),
    "export": ("harness.leaderboard.export", "write a system's hypotheses as the IWSLT 2026 evaluation server takes them (from results)"),
    "corpus": ("harness.data.corpora", "write a seeded sample of a local CoVoST 2 / Europarl-ST copy as a segmented set"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max((len(name) for name in COMMANDS), default=0)
        listing = "\n".join(f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items())
        print(f"usage: python -m harness <command> [options]\n\ncommands:\n{listing}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0 if argv else 2
    module, _ = COMMANDS[argv[0]]
    return importlib.import_module(module).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
