"""`python -m harness export`: a system's hypotheses as the IWSLT 2026 evaluation server takes them.

The server (SPEECHM) takes, per team model, one plain UTF-8 hypothesis file per test set and
language pair, one sentence per line, talks in the set's file order; it realigns the lines to
the references with mwerSegmenter itself, always. A model is named
``${TEAM}_IWSLT26_ModelCompression_${LANGUAGE_PAIR}_${CONDITION}_${SUBMISSION_TYPE}``
(e.g. ``KIT_IWSLT26_ModelCompression_en-de_constrained_primary``).

  python -m harness export --track T --system S [--team TEAM] [--condition constrained|unconstrained]
        [--type primary|contrastive] [--testset NAME ...] --out DIR [--force] [--results-root DIR]

writes, from the system's results files (harness.results; nothing is decoded):

  DIR/<model name>/<testset>.txt   one per test set and direction; one folder per model
                                   because the server registers each direction as its own
                                   model, so a folder is what one model's upload holds
  DIR/manifest.json                track, system, team, condition, type; per file: model,
                                   direction, test set (version, content hash), kind, lines,
                                   sha256, the results file it came from and that file's git
                                   commit (its provenance), newlines replaced

What a file holds:
  segmented set   one line per utterance, in the set's order: the hypotheses of the
                  results' rows (checked against the set's utterance ids).
  long-form set   the system's own hypotheses, one per segment it decoded, talk after talk
                  in the set's order (segments.yaml order: the order of its audio files):
                  ``hypothesis_lines`` of the results (harness.evaluation.longform), not the lines
                  resegmented to the references, which only the scorer sees.
A line break inside a hypothesis (any character Python's ``str.splitlines`` breaks at) is
replaced by a space, so a file has exactly its hypotheses' count of lines; the manifest
counts the hypotheses changed. ``python -m harness import-hyps --layout DIR`` reads the same
layout back and scores it as the server would (harness.leaderboard.import_hyps).

Bad input is a one-line error and exit status 2, before anything is written: a missing
results file (naming ``make eval SUB=S``), results made on another version of a test set,
results without the system's own long-form hypotheses (written before they were kept), an
unknown test set, a non-empty DIR without ``--force``. ``--force`` replaces only an earlier
export (a folder whose manifest.json is this schema's): never a folder of anything else.
The export is written to a temporary folder beside DIR and renamed into place
(harness.files.staged_folder), so DIR holds a whole export or none.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import results
from harness.files import staged_folder
from harness.errors import HarnessError, one_line
from harness.leaderboard.import_hyps import _SAFE_NAME, EXIT_BAD_INPUT, HypothesesError, load_set
from harness.leaderboard.server_layout import CONDITIONS, MANIFEST, MODEL_NAME, SUFFIX, TYPES
from harness.data.tracks import Track, get_track

SCHEMA = "iwslt-harness/export"
SCHEMA_VERSION = 1
# Every boundary str.splitlines knows: a reader that splits on any of them must see one line per hypothesis.
LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


class ExportError(HarnessError):
    """Input this command cannot export; the message is the whole one-line error."""


def _fail(message: str) -> ExportError:
    return ExportError(one_line(message))


def model_name(team: str, lang: str, condition: str, submission_type: str) -> str:
    return MODEL_NAME.format(team=team, lang=lang, condition=condition, type=submission_type)


def one_line_each(hypotheses: list[str]) -> tuple[list[str], int]:
    """The hypotheses with every line break replaced by a space, and how many had one."""
    lines = [LINE_BREAK.sub(" ", text) for text in hypotheses]
    return lines, sum(new != old for new, old in zip(lines, hypotheses))


def file_text(lines: list[str]) -> str:
    """The file of ``lines``: each line ends with "\\n" (no line, no byte)."""
    return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class Exported:
    """One file of the export: its path inside DIR, its lines and what the manifest says of it."""

    path: str
    lines: list[str]
    entry: dict


# ---------------------------------------------------------------- reading results

def _shown(path: Path) -> str:
    # Relative to the repository where it lies there: the manifest should not name this machine's folders.
    try:
        return str(Path(path).resolve().relative_to(results.REPO))
    except ValueError:
        return str(path)


def _read_summary(paths: results.ResultPaths, make_eval: str) -> dict:
    if not paths.summary.is_file():
        raise _fail(f"no results file {paths.summary}: {make_eval}")
    try:
        summary = json.loads(paths.summary.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _fail(f"{paths.summary}: cannot read the results file ({error}); {make_eval}") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("languages"), dict):
        raise _fail(f"{paths.summary}: not a results summary (no languages); {make_eval}")
    return summary


def _segmented_lines(paths: results.ResultPaths, testset, lang: str, make_eval: str) -> list[str]:
    """The results rows' hypotheses for ``lang``, checked to be the set's utterances in its order."""
    try:
        rows = [json.loads(line) for line in paths.segments.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _fail(f"{paths.segments}: cannot read the segments file ({error}); {make_eval}") from None
    rows = [row for row in rows if row.get("lang") == lang]
    if [row.get("id") for row in rows] != testset.ids:
        raise _fail(f"{paths.segments}: the en-{lang} rows are not the {len(testset.ids)} utterances of "
                    f"{testset.name} in order ({len(rows)} rows); {make_eval}")
    return [row["hypothesis"] for row in rows]


def _longform_lines(paths: results.ResultPaths, report: dict, lang: str, make_eval: str) -> list[str]:
    lines = report.get("hypothesis_lines")
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise _fail(f"{paths.summary}: en-{lang} has no hypothesis_lines (the system's own segments; results "
                    f"written before they were kept); {make_eval}")
    return lines


def collect(track: Track, system: str, testsets: list[str] | None, results_root: Path,
            team: str, condition: str, submission_type: str) -> tuple[list[Exported], dict]:
    """Every file of the export and the manifest; reads results and test sets, writes nothing."""
    from harness.data.testsets import LongFormSet

    known = [spec.name for spec in track.testsets]
    unknown = [name for name in testsets or () if name not in known]
    if unknown:
        raise _fail(f"unknown test set {unknown[0]!r} for track {track.name}; known: {', '.join(known)}")
    names = [name for name in known if not testsets or name in testsets]

    loaded = {}
    for name in names:
        make_eval = (f"run make eval SUB={system} TESTSET={name} TRACK={track.name}, "
                     f"or export the sets it has with --testset")
        paths = results.ResultPaths.of(track.name, system, name, results_root)
        summary = _read_summary(paths, make_eval)
        try:
            _, testset = load_set(track, name, None)
        except HypothesesError as error:
            raise _fail(str(error)) from None
        content_hash = (summary.get("testset") or {}).get("content_hash")
        if content_hash != testset.content_hash:
            raise _fail(f"{paths.summary}: made on test set {name} {content_hash}, the set is now "
                        f"{testset.content_hash}; {make_eval}")
        loaded[name] = (paths, summary, testset, make_eval)

    # A direction the system has anywhere is exported for every set that offers it.
    directions = [lang for lang in track.languages
                  if any(lang in summary["languages"] for _, summary, _, _ in loaded.values())]
    if not directions:
        raise _fail(f"system {system} has no results in any of the track's directions ({', '.join(track.languages)})")

    files: list[Exported] = []
    for name, (paths, summary, testset, make_eval) in loaded.items():
        longform = isinstance(testset, LongFormSet)
        for lang in directions:
            if lang not in testset.languages:
                continue
            report = summary["languages"].get(lang)
            if report is None:
                raise _fail(f"{paths.summary}: no en-{lang} results; {make_eval}")
            hypotheses = (_longform_lines(paths, report, lang, make_eval) if longform
                          else _segmented_lines(paths, testset, lang, make_eval))
            lines, replaced = one_line_each(hypotheses)
            model = model_name(team, lang, condition, submission_type)
            git = (summary.get("provenance") or {}).get("git") or {}
            path = f"{model}/{name}{SUFFIX}"
            files.append(Exported(path, lines, {
                "file": path, "model": model, "direction": f"en-{lang}", "testset": name,
                "kind": "longform" if longform else "segmented", "version": testset.version,
                "content_hash": testset.content_hash,
                "talks" if longform else "utterances": len(testset.talks if longform else testset.utterances),
                "lines": len(lines),
                "sha256": hashlib.sha256(file_text(lines).encode("utf-8")).hexdigest(),
                "newlines_replaced": replaced,
                "results": _shown(paths.summary), "results_created": summary.get("created"),
                "git": {"commit": git.get("commit"), "dirty": git.get("dirty")},
            }))
    manifest = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "track": track.name, "system": system, "team": team, "condition": condition, "type": submission_type,
        "models": {f"en-{lang}": model_name(team, lang, condition, submission_type) for lang in directions},
        "git_commits": sorted({f.entry["git"]["commit"] for f in files if f.entry["git"]["commit"]}),
        "newlines_replaced": sum(f.entry["newlines_replaced"] for f in files),
        "newline_rule": "a line break inside a hypothesis (\\n, \\r, \\r\\n, \\v, \\f, \\x1c-\\x1e, \\x85, "
                        "U+2028, U+2029) is replaced by a space: one line per hypothesis",
        "long_form": "the system's own hypotheses, one per segment, talks in the set's order "
                     "(the server realigns them to the references)",
        "files": [f.entry for f in files],
    }
    return files, manifest


# ---------------------------------------------------------------- writing

def is_export(folder: Path) -> bool:
    """Whether ``folder`` holds an earlier export (its manifest is this schema's)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("schema") == SCHEMA


def check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise _fail(f"--out {out}: the folder is not empty; pass --force to replace an earlier export")
        if not is_export(out):
            raise _fail(f"--out {out}: --force replaces only an earlier export (a folder with an export "
                        f"{MANIFEST}); this folder holds something else")


def write(out: Path, files: list[Exported], manifest: dict) -> None:
    with staged_folder(out) as staging:
        for f in files:
            target = staging / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file_text(f.lines), encoding="utf-8", newline="\n")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- the command

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness export",
                                     description="Write a system's hypotheses as the IWSLT 2026 evaluation "
                                                 "server takes them, from its results files.")
    parser.add_argument("--track", default="mini")
    parser.add_argument("--system", required=True, help="the results folder's name (a built or imported system)")
    parser.add_argument("--team", default=None, help="the team name in the model names (default: the system's)")
    parser.add_argument("--condition", choices=CONDITIONS, default="constrained")
    parser.add_argument("--type", dest="submission_type", choices=TYPES, default="primary")
    parser.add_argument("--testset", action="append", help="only this test set (repeatable; default: all the track's)")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (refused when not empty)")
    parser.add_argument("--force", action="store_true", help="replace an earlier export in --out")
    parser.add_argument("--results-root", type=Path, default=results.RESULTS_ROOT)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> tuple[list[Exported], dict]:
    if not _SAFE_NAME.fullmatch(args.system):
        raise _fail(f"--system {args.system!r}: a results folder's name (letters, digits, '.', '_' and '-')")
    team = args.team if args.team is not None else args.system
    if not _SAFE_NAME.fullmatch(team):
        raise _fail(f"--team {team!r}: letters, digits, '.', '_' and '-' only, starting with a letter or digit "
                    "(it is part of the server's model names)")
    try:
        track = get_track(args.track)
    except ValueError as error:
        raise _fail(str(error)) from None
    check_out(args.out, args.force)
    return collect(track, args.system, args.testset, args.results_root, team, args.condition, args.submission_type)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        files, manifest = run(args)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    write(args.out, files, manifest)
    for f in files:
        print(f"{f.path}: {len(f.lines)} lines")
    if manifest["newlines_replaced"]:
        print(f"note: {manifest['newlines_replaced']} hypotheses held a line break, replaced by a space")
    print(f"wrote {args.out} ({len(files)} files, {MANIFEST})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
