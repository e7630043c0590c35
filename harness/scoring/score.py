"""`python -m harness score`: recompute metrics from a per-segment JSONL, without the model.

  python -m harness score SEGMENTS.jsonl --lang de|zh [--metrics bleu,chrf,chrf++,ter,comet]
                          [--comet-model M] [--hypotheses FILE] [--json OUT]

Each line of SEGMENTS.jsonl is one segment as the evaluation writes it (see
harness/results.py): this command needs `id`, `reference`, `hypothesis` and
`audio_seconds`, and reads `source` (for COMET and the untranslated flag) when
present. Rows that carry a `lang` field are filtered to --lang, so a file holding
both directions can be scored one direction at a time. --hypotheses scores another
system's output (one segment per line, the task's plain-text format) against the
file's references; as in the task's scoring, the line counts must match
(re-segmentation is the resegment module's job).

Scores follow harness/scoring/metrics.py (sacreBLEU signatures, Post 2018; COMET,
Rei et al. 2020/2022; tags such as "(Applause)" removed from both sides first, as the
IWSLT evaluation does) and failure kinds harness/scoring/degeneration.py. Bad input is a
one-line error and exit status 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tabulate import tabulate

from harness.scoring.degeneration import flag_segments
from harness.errors import HarnessError, read_input_bytes
from harness.scoring.metrics import METRICS, MetricError, absent, score_all
from harness.files import atomic_write_json

REQUIRED = {"id": (str, int), "reference": (str,), "hypothesis": (str,), "audio_seconds": (int, float)}
EXIT_BAD_INPUT = 2


class InputError(HarnessError):
    """Input this command cannot score; the message is the whole one-line error."""


def _lines(path: Path, blank_is_empty: bool = True) -> list[tuple[int, str]]:
    """(line number, text) of every line; the file must exist, be UTF-8 and not be empty.

    With `blank_is_empty`, a file of blank lines counts as empty (JSONL); a plain-text
    output may legitimately be all empty hypotheses.
    """
    try:
        raw = read_input_bytes(path)
    except ValueError as error:
        raise InputError(str(error)) from None
    lines = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"{path}:{number}: not UTF-8 (byte 0x{line[error.start]:02x} at column {error.start + 1})") from None
        lines.append((number, text.rstrip("\r")))
    if not raw or (blank_is_empty and not any(text.strip() for _, text in lines)):
        raise InputError(f"{path}: empty file, no segments")
    return lines


def read_segments(path: Path, lang: str) -> list[dict]:
    rows = []
    langs_seen = set()
    for number, text in _lines(path):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except ValueError:
            raise InputError(f"{path}:{number}: not JSON") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: not a JSON object")
        missing = [key for key in REQUIRED if key not in row]
        if missing:
            raise InputError(f"{path}:{number}: lacks field(s) {', '.join(missing)}")
        for key, types in REQUIRED.items():
            if isinstance(row[key], bool) or not isinstance(row[key], types):
                raise InputError(f"{path}:{number}: field {key} is {type(row[key]).__name__}, "
                                 f"expected {' or '.join(t.__name__ for t in types)}")
        if row.get("source") is not None and not isinstance(row["source"], str):
            raise InputError(f"{path}:{number}: field source is {type(row['source']).__name__}, expected str")
        if "lang" in row:
            langs_seen.add(row["lang"])
            if row["lang"] != lang:
                continue
        row["_line"] = number
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no segments for --lang {lang} (the file has {', '.join(sorted(map(str, langs_seen)))})")
    seen: dict = {}
    for row in rows:
        if row["id"] in seen:
            raise InputError(f"{path}:{row['_line']}: duplicate id {row['id']!r} (first on line {seen[row['id']]})")
        seen[row["id"]] = row["_line"]
    return rows


def read_hypotheses(path: Path) -> list[str]:
    """A plain-text system output: one segment per line; a trailing newline ends the last line."""
    lines = [text for _, text in _lines(path, blank_is_empty=False)]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness score",
                                     description="Recompute metrics from a per-segment JSONL without the model.")
    parser.add_argument("segments", type=Path, help="per-segment JSONL (id, audio_seconds, reference, hypothesis, ...)")
    parser.add_argument("--lang", required=True, choices=("de", "zh"), help="target language")
    parser.add_argument("--metrics", default=",".join(METRICS),
                        help=f"comma-separated, from {', '.join(METRICS)} (default: all)")
    parser.add_argument("--comet-model", default=None, help="COMET hub id (cached) or local checkpoint")
    parser.add_argument("--hypotheses", type=Path, default=None,
                        help="score this plain-text output (one segment per line) instead of the file's hypotheses")
    parser.add_argument("--json", type=Path, default=None, help="write the scores here (atomically)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    metrics = [name.strip() for name in args.metrics.split(",") if name.strip()]
    unknown = [name for name in metrics if name not in METRICS]
    if unknown or not metrics:
        raise InputError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}" if unknown
                         else "--metrics names no metric")
    rows = read_segments(args.segments, args.lang)
    references = [row["reference"] for row in rows]
    hypotheses = [row["hypothesis"] for row in rows]
    if args.hypotheses is not None:
        hypotheses = read_hypotheses(args.hypotheses)
    if len(hypotheses) != len(references):
        raise InputError(f"{len(hypotheses)} hypotheses but {len(references)} references: counts must match")
    sources = [row.get("source") for row in rows]
    has_sources = all(isinstance(s, str) for s in sources)
    audio_seconds = [float(row["audio_seconds"]) for row in rows]

    try:
        scores = score_all(hypotheses, references, args.lang, metrics,
                           sources=sources if has_sources else None, comet_model=args.comet_model)
    except MetricError as error:
        raise InputError(str(error)) from None
    if "comet" in scores and args.comet_model is None:
        scores["comet"] = absent("comet", "no COMET model configured: pass --comet-model")
    report = flag_segments(hypotheses, args.lang, references=references, audio_seconds=audio_seconds,
                           sources=sources if has_sources else None)

    segments = []
    for i, row in enumerate(rows):
        entry = {"id": row["id"], "flags": list(report.flags[i])}
        for name, score in scores.items():
            entry[name] = score.per_segment[i] if score.per_segment is not None else None
        segments.append(entry)
    return {
        "input": str(args.segments),
        "hypotheses_file": str(args.hypotheses) if args.hypotheses is not None else None,
        "lang": args.lang,
        "n_segments": len(rows),
        "scores": {name: score.to_dict() for name, score in scores.items()},
        "degeneration": report.to_dict(),
        "segments": segments,
    }


def render(result: dict) -> str:
    score_rows = []
    for name, score in result["scores"].items():
        if score["value"] is None:
            score_rows.append([name, "absent", score["absent_reason"]])
        else:
            score_rows.append([name, f"{score['value']:.2f}", score["signature"]])
    flag_rows = []
    for kind, entry in result["degeneration"]["summary"].items():
        if entry["count"] is None:
            flag_rows.append([kind, "-", "-", entry["absent_reason"]])
        else:
            flag_rows.append([kind, entry["count"], f"{100 * entry['rate']:.1f}%", ""])
    count = result["n_segments"]
    head = f"{result['input']}: {count} segment{'s' if count != 1 else ''}, target {result['lang']}"
    return "\n\n".join([head, tabulate(score_rows, headers=["metric", "value", "signature / reason"]),
                        tabulate(flag_rows, headers=["failure kind", "segments", "rate", "note"])])


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json is not None:
        atomic_write_json(args.json, result)
    print(render(result))
    return 0
