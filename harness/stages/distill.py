"""Sequence-level knowledge distillation data: the teacher's translations added to the authentic pairs.

Kim and Rush (EMNLP 2016, "Sequence-Level Knowledge Distillation") train a student on
the teacher's own beam/greedy outputs instead of (or besides) the references. Moslem
(IWSLT 2025, "Efficient Speech Translation through Model Compression and Knowledge
Distillation") does it for speech translation: the fully fine-tuned teacher translates
the 784 ACL 60/60 training utterances greedily; its outputs are added to the authentic
pairs and duplicates removed, leaving 1,568 pairs for German and 1,069 for Chinese (the
Chinese teacher reproduced many references exactly). System A trains QLoRA on that set;
System B oversamples it x10 next to out-of-domain CoVoST2 data.

Here, per target language:

1. the teacher (a built system, ``harness.systems.models.load_system``) translates every
   utterance of the training set with ``harness.inference.decode.decode`` (greedy, the
   system's prompt);
2. degenerate teacher outputs are dropped and counted by kind: ``empty`` (no visible
   character), ``unfinished`` (cut at ``max_new_tokens``: no end-of-turn was produced),
   ``repetition`` and ``off_target`` (the rules of ``harness.scoring.degeneration``);
3. rows are authentic first, then the teacher's, clip by clip; every target is stored
   whitespace-normalised (runs collapsed to one space, ends stripped), and a row whose
   (clip, language, target) was already seen is an exact duplicate and removed, so a
   teacher output equal to its reference keeps only the authentic row.

The rows go to a JSONL file, one pair per line (``clip`` = the utterance's index in the
training set, ``id``, ``lang``, ``target``, ``source`` = "authentic" | "teacher"),
written atomically (temporary file, fsync, rename), with a JSON summary beside it
(counts, the teacher's content hash, the decode settings, the training set's hash).
Oversampling (System B: ACL + KD x10) is applied when the rows become training
``Example``s (``kd_examples``), so the file itself holds every pair once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.scoring.degeneration import is_off_target, is_repetition, visible_chars

AUTHENTIC = "authentic"
TEACHER = "teacher"
SOURCES = (AUTHENTIC, TEACHER)
DROP_KINDS = ("empty", "unfinished", "repetition", "off_target")

# Moslem (IWSLT 2025), System B: the in-domain ACL + KD pairs are oversampled x10.
PAPER_OVERSAMPLE_B = 10


@dataclass(frozen=True)
class KdRow:
    """One training pair: which utterance (index and id), which direction, the target, where it came from."""

    clip: int
    id: str
    lang: str
    target: str
    source: str  # "authentic" | "teacher"

    def as_dict(self) -> dict:
        return asdict(self)


def normalise_whitespace(text: str) -> str:
    """The text with every whitespace run collapsed to one space and the ends stripped."""
    return " ".join(text.split())


def degenerate_kind(text: str, lang: str, finished: bool = True) -> str | None:
    """Why a teacher output is unfit as a training target (one of DROP_KINDS), or None."""
    if visible_chars(text) == 0:
        return "empty"
    if not finished:
        return "unfinished"
    if is_repetition(text):
        return "repetition"
    if is_off_target(text, lang):
        return "off_target"
    return None


def _text_and_finished(output) -> tuple[str, bool]:
    """A teacher output: a ``harness.inference.decode.Hypothesis`` (text, finished) or a plain string (finished)."""
    if isinstance(output, str):
        return output, True
    return output.text, bool(output.finished)


@dataclass(frozen=True)
class KdSet:
    rows: list[KdRow]
    counts: dict  # see combine


def combine(ids: Sequence[str], authentic: Mapping[str, Sequence[str]],
            teacher: Mapping[str, Sequence[object]]) -> KdSet:
    """Authentic pairs plus the teacher's usable outputs, exact duplicates removed.

    ``ids[i]`` names utterance i; ``authentic[lang][i]`` is its reference and
    ``teacher[lang][i]`` the teacher's output (a Hypothesis or a string) for every
    language in ``authentic``. Per language the counts are: ``utterances``,
    ``authentic`` (rows kept), ``teacher_outputs``, ``dropped`` (per kind),
    ``duplicates`` (teacher outputs equal to a row already kept), ``teacher`` (rows
    kept) and ``pairs``; ``pairs`` at the top is the total.
    """
    rows: list[KdRow] = []
    per_lang: dict[str, dict] = {}
    for lang, references in authentic.items():
        if lang not in teacher:
            raise ValueError(f"no teacher outputs for {lang!r}")
        outputs = teacher[lang]
        if not (len(references) == len(outputs) == len(ids)):
            raise ValueError(f"{lang}: {len(ids)} utterances, {len(references)} references, "
                             f"{len(outputs)} teacher outputs")
        counts = {"utterances": len(ids), "authentic": 0, "teacher_outputs": len(outputs),
                  "dropped": {kind: 0 for kind in DROP_KINDS}, "duplicates": 0, "teacher": 0, "pairs": 0}
        seen: set[tuple[int, str]] = set()
        for clip, (utterance_id, reference, output) in enumerate(zip(ids, references, outputs)):
            text, finished = _text_and_finished(output)
            candidates = [(normalise_whitespace(reference), AUTHENTIC, None),
                          (normalise_whitespace(text), TEACHER, degenerate_kind(text, lang, finished))]
            for target, source, problem in candidates:
                if problem is not None:
                    counts["dropped"][problem] += 1
                    continue
                if source == AUTHENTIC and not target:
                    raise ValueError(f"{lang}: utterance {utterance_id!r} has an empty reference")
                key = (clip, target)
                if key in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add(key)
                rows.append(KdRow(clip=clip, id=str(utterance_id), lang=lang, target=target, source=source))
                counts[source] += 1
        counts["pairs"] = counts[AUTHENTIC] + counts[TEACHER]
        per_lang[lang] = counts
    return KdSet(rows=rows, counts={"languages": per_lang, "pairs": len(rows)})


# ---------------------------------------------------------------- the JSONL file


def write_rows(path: str | os.PathLike, rows: Sequence[KdRow]) -> Path:
    """One JSON object per line, written atomically: a reader sees the old file or the new one."""
    from harness.files import write_jsonl

    path = Path(path)
    write_jsonl(path, [row.as_dict() for row in rows])
    return path


def read_rows(path: str | os.PathLike) -> list[KdRow]:
    """The rows of a file written by ``write_rows``; a malformed line is a ValueError naming it."""
    path = Path(path)
    rows = []
    fields = set(KdRow.__dataclass_fields__)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not JSON ({err})") from err
        if not isinstance(raw, dict) or set(raw) != fields:
            raise ValueError(f"{path}:{number}: expected the keys {sorted(fields)}")
        if raw["source"] not in SOURCES or not isinstance(raw["clip"], int) or not raw["target"]:
            raise ValueError(f"{path}:{number}: bad row {raw}")
        rows.append(KdRow(**raw))
    return rows


def summary_path(path: str | os.PathLike) -> Path:
    """Where the JSON summary of a KD file lives: ``kd.jsonl`` -> ``kd.json``."""
    return Path(path).with_suffix(".json")


# ---------------------------------------------------------------- training examples


def oversample(items: Sequence, factor: int) -> list:
    """``items`` repeated ``factor`` times (the training loop shuffles)."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"the oversampling factor must be a positive integer, got {factor!r}")
    return list(items) * factor


def kd_examples(processor, rows: Sequence[KdRow], style: str = "instruct", factor: int = 1,
                ids: Sequence[str] | None = None) -> list:
    """Training ``Example``s (harness.training.examples) for ``rows`` (clip = the row's utterance index),
    oversampled ``factor`` times.

    ``ids`` (the utterance ids of the feature store's set, in order) checks that every
    row's clip index still points at its utterance.
    """
    from harness.training.examples import make_examples

    if ids is not None:
        for row in rows:
            if not 0 <= row.clip < len(ids) or ids[row.clip] != row.id:
                raise ValueError(f"row for {row.id!r} points at clip {row.clip}, which is not that utterance")
    examples = []
    for lang in dict.fromkeys(row.lang for row in rows):
        chosen = [row for row in rows if row.lang == lang]
        examples += make_examples(processor, [row.target for row in chosen], lang, style,
                                  clips=[row.clip for row in chosen])
    return oversample(examples, factor)


# ---------------------------------------------------------------- the teacher


def distill_testset(teacher_folder: str | os.PathLike, train_set, out: str | os.PathLike, settings, *,
                    langs: Sequence[str] = ("de", "zh"), device: str = "cpu", progress: bool = True,
                    log: Callable[[str], None] | None = print) -> dict:
    """Translate ``train_set`` with the teacher, combine with its references, write ``out`` (JSONL) and its summary.

    ``settings`` is a ``harness.inference.decode.DecodeSettings`` (greedy; Moslem 2025 decodes with
    at most 1024 tokens). One direction's model is loaded at a time. Returns the summary.
    """
    from harness.inference.decode import decode
    from harness.systems.models import load_system
    from harness.files import atomic_write_json

    utterances = list(train_set.utterances)
    audios = [u.audio() for u in utterances]
    outputs, teachers, decoding = {}, {}, {}
    for lang in langs:
        system = load_system(teacher_folder, lang, device=device)
        result = decode(system, audios, lang, settings, progress=f"teacher {lang}" if progress else None)
        outputs[lang] = result.hypotheses
        teachers[lang] = {"content_hash": system.content_hash, "format": system.format,
                          "model_folder": str(system.model_folder)}
        decoding[lang] = {"settings": result.settings.as_dict(), "wall_seconds": result.stats.wall_seconds,
                          "unfinished": result.stats.unfinished, "truncated": result.stats.truncated}
        del system, result
    kd = combine([u.id for u in utterances], {lang: [u.targets[lang] for u in utterances] for lang in langs}, outputs)
    out = write_rows(out, kd.rows)
    summary = {"teacher": {"folder": str(teacher_folder), "languages": teachers},
               "train_set": {"name": getattr(train_set, "name", None),
                             "content_hash": getattr(train_set, "content_hash", None),
                             "utterances": len(utterances)},
               "decode": decoding, "counts": kd.counts, "file": out.name,
               "built_by": "stage:distill"}
    atomic_write_json(summary_path(out), summary)
    if log is not None:
        for lang, counts in kd.counts["languages"].items():
            dropped = sum(counts["dropped"].values())
            log(f"{lang}: {counts['pairs']} pairs from {counts['utterances']} utterances "
                f"({counts['teacher']} teacher rows kept, {counts['duplicates']} duplicates, {dropped} dropped)")
    return summary


def main(argv: list[str] | None = None) -> int:
    import argparse

    from harness.inference.decode import DecodeSettings
    from harness.data.testsets import load_testset

    parser = argparse.ArgumentParser(description="Sequence-level KD data: the teacher translates a training set.")
    parser.add_argument("--teacher", required=True, help="the teacher's system folder (holds system.json)")
    parser.add_argument("--train", required=True, help="a segmented set folder, e.g. testsets/mini/talks_train")
    parser.add_argument("--out", required=True, help="the JSONL file to write (a .json summary goes beside it)")
    parser.add_argument("--langs", default="de,zh")
    parser.add_argument("--max-new-tokens", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    settings = DecodeSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    distill_testset(args.teacher, load_testset(args.train), args.out, settings, langs=tuple(args.langs.split(",")),
                    device=args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
