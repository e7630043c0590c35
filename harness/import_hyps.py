"""`python -m harness import-hyps`: score an external team's hypotheses into the leaderboard's results files.

  python -m harness import-hyps --track mini --testset talks_test --team T --system S
        --hyps de=FILE_OR_FOLDER [--hyps zh=...] --declared-bytes N --declared-params N
        [--same-as SYSTEM] [--model FOLDER] [--testset-folder PATH] [--results-root DIR]

Names: ``--team`` and ``--system`` are the names the leaderboard shows, as the team spells
them (any one line of printable text, up to 100 characters: "KIT & NAIST", "Ünïcode"); the
row's system is ``<team>-<system>``. They never become a path as typed: a name of letters,
digits, '.', '_' and '-' (starting with a letter or digit) is its own folder name, any other
is made one (each run of other characters replaced by '_', plus 8 hex digits of the name's
sha256, so two names never share a folder). The leaderboard escapes every name it shows
(harness.leaderboard renders through Jinja2 with autoescaping).

Hypotheses, per target language (``--hyps LANG=PATH``, repeatable):
  segmented set   one text file, one line per reference segment, in the set's order
                  (the task's plain-text format); the line count must match exactly.
  long-form set   unsegmented per talk: a folder holding one file per talk, or the files
                  themselves (``--hyps de=a.txt --hyps de=b.txt``); a file is named after its
                  talk id (``<talk>``, ``<talk>.txt`` or ``<talk>.<lang>``). Each talk is
                  resegmented to its reference segments by the official scoring rule
                  (papers.md: as is when the line counts match, else mwerSegmenter per talk,
                  Chinese by character; harness.resegment); a talk without a file is scored
                  as empty lines and reported as "missing".

Size: the team declares its system's bytes and parameter count. With ``--model`` the
team's model folder is checked with harness.storage.check (headers only: nothing is
imported, executed or unpickled); the verified size (the judged unit's bytes on disk,
logical parameters from the safetensors headers) is what the results report, and a
declared number more than 1 % away from the verified one is flagged. ``verification``
says which: "hypotheses only" (nothing but the outputs was seen) or "size verified".
Neither is "reproduced from a recipe": only systems built by ``make build`` are.

The same model: without ``--model`` the size is only declared, and the leaderboard shows it
marked "(declared)". ``--same-as SYSTEM`` declares that these hypotheses come from the same
model as the board's row ``SYSTEM`` (a system built here, or one imported with ``--model``);
without it, the same model is the row of the same name (``<team>-<system>``, e.g. imported
with ``--model`` for another test set). The leaderboard compares the declared bytes with that
row's verified bytes (same track and language pair) and flags a declaration more than 1 %
below them. Nothing else identifies a model: a declaration holds only bytes, parameters and
this name.

Scoring is make eval's step (harness.metrics.score_output): the track's metrics with
their signatures (sacreBLEU; COMET when the track configures it) and the degeneration
flags, the length kind judged from a segmented set's audio durations as eval judges it
(a long-form set's resegmented lines have none: harness.longform.score_resegmented), written as
``<results>/<track>/<team>-<system>/<testset>.json`` and ``.segments.jsonl`` in the
schema of ``make eval`` (harness.evaluate / harness.longform), plus ``team``,
``declared``, ``verified``, ``verification`` and ``imported`` (the input files and their
sha256). ``declared`` holds ``bytes``, ``params`` and ``same_as`` (None without
``--same-as``). Nothing is decoded here, so speed is absent.

Bad input (a line count that does not match, an unknown talk id, an unreadable or
non-UTF-8 file, a negative size, an invalid model folder) is a one-line error and exit
status 2, and nothing is written: every check runs before the first write, and each file
is written to a temporary name and renamed into place (harness.results).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import unicodedata
from pathlib import Path

from harness import results, speed
from harness.errors import one_line, read_input_bytes
from harness.metrics import MetricError, score_output, segment_scores
from harness.tracks import TestSetSpec, Track, UnknownSourceError, get_track, load_spec, spec_by_name

EXIT_BAD_INPUT = 2
HYPOTHESES_ONLY = "hypotheses only"
SIZE_VERIFIED = "size verified"
SIZE_TOLERANCE = 0.01   # a declared size more than 1 % off the verified one is flagged
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100


class HypothesesError(Exception):
    """Input this command cannot import; the message is the whole one-line error."""


def _fail(message: str) -> HypothesesError:
    return HypothesesError(one_line(message))


# ---------------------------------------------------------------- reading hypotheses

def read_lines(path: Path, *, allow_empty: bool) -> list[str]:
    """The file's lines (UTF-8, "\\n" or "\\r\\n"); a final newline ends the last line, it adds none."""
    try:
        raw = read_input_bytes(path)
    except ValueError as error:
        raise _fail(str(error)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise _fail(f"{path}:{line}: not UTF-8 (byte 0x{raw[error.start]:02x})") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is an editor's, not a hypothesis's
    if not text:
        if allow_empty:
            return []
        raise _fail(f"{path}: empty file, no hypotheses")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    return lines


def _talk_of(path: Path, talks: set[str], lang: str) -> str:
    name = path.name
    for candidate in (name, name.removesuffix(".txt"), name.removesuffix(f".{lang}"),
                      name.removesuffix(f".{lang}.txt")):
        if candidate in talks:
            return candidate
    shown = ", ".join(sorted(talks)[:5]) + (" ..." if len(talks) > 5 else "")
    raise _fail(f"{path}: unknown talk id {name!r} (the set's talks: {shown})")


def _talk_files(paths: list[Path], talks: set[str], lang: str) -> dict[str, Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if not p.name.startswith("."))
            if not inside:
                raise _fail(f"{path}: empty folder, no hypothesis files")
            for p in inside:
                if not p.is_file():
                    raise _fail(f"{p}: not a regular file")
            files.extend(inside)
        elif path.exists():
            files.append(path)
        else:
            raise _fail(f"{path}: no such file or folder")
    by_talk: dict[str, Path] = {}
    for path in files:
        talk = _talk_of(path, talks, lang)
        if talk in by_talk:
            raise _fail(f"{path}: a second file for talk {talk!r} (first: {by_talk[talk]})")
        by_talk[talk] = path
    return by_talk


# ---------------------------------------------------------------- names

def check_name(what: str, name: str) -> str:
    """A shown name: one line of printable text (no control or format characters), trimmed, not too long."""
    if not name or name != name.strip():
        raise _fail(f"{what} {name!r}: must not be empty or start or end with white space")
    if len(name) > MAX_NAME:
        raise _fail(f"{what}: at most {MAX_NAME} characters, got {len(name)}")
    for char in name:
        # Cc: control (newlines, escapes), Cf: format (bidi overrides), Zl/Zp: line breaks, Cs/Co/Cn: not text.
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            raise _fail(f"{what} {name!r}: character U+{ord(char):04X} is not printable text")
    return name


def folder_name(name: str) -> str:
    """The folder a shown name is stored under: itself when it is a safe path component, else a slug
    of it with a hash of the whole name (so "a b" and "a_b" land apart). Never '.', '..' or a path."""
    if _SAFE_NAME.fullmatch(name):
        return name
    slug = _UNSAFE_RUN.sub("_", name).strip("._-")[:40] or "name"
    return f"{slug}_{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"


# ---------------------------------------------------------------- size

def _parse_size(value: str, what: str) -> int:
    try:
        number = int(value.replace("_", ""))
    except (ValueError, AttributeError):
        raise _fail(f"{what} must be a whole number, got {value!r}") from None
    if number < 0:
        raise _fail(f"{what} must not be negative, got {number}")
    return number


def verify_size(model: Path, track: Track, declared_bytes: int, declared_params: int) -> tuple[dict, dict, list[str]]:
    """(storage verdict, verified size, flags) for the team's model folder; invalid folders are an error."""
    from harness import storage

    try:
        report = storage.check(model, track)
    except storage.CheckError as error:
        raise _fail(f"--model: {error}") from None
    if report.status == "invalid":
        raise _fail(f"--model {model}: {report.reason}")
    data = storage.to_json(report)
    verdict = {key: data[key] for key in ("status", "exit_code", "reason", "totals", "verdicts") if key in data}
    verified = {"bytes": report.verdict.size_bytes, "params": report.verdict.logical_params,
                "unit": report.verdict.unit, "folder": str(Path(model).resolve()),
                "measure": "bytes on disk of every file of the judged unit (harness.storage); logical parameters from safetensors headers"}
    flags = []
    for what, declared, measured in (("bytes", declared_bytes, verified["bytes"]),
                                     ("params", declared_params, verified["params"])):
        if measured is None:
            flags.append(f"declared {what} {declared:,} not verifiable: the folder has weights outside safetensors")
        elif measured == 0 or abs(declared - measured) / measured > SIZE_TOLERANCE:
            off = "" if measured == 0 else f" ({100 * (declared - measured) / measured:+.1f} %)"
            flags.append(f"declared {what} {declared:,} differ from the verified {measured:,}{off}, "
                         f"more than {100 * SIZE_TOLERANCE:g} %")
    return verdict, verified, flags


# ---------------------------------------------------------------- test sets

def load_set(track: Track, testset: str, folder: Path | None):
    """(spec, loaded set): the track's test set by name, or a local folder given explicitly."""
    from harness import testsets

    try:
        if folder is not None:
            loaded = testsets.load_testset(folder)
            return TestSetSpec(testset, "local", str(folder)), loaded
        spec = spec_by_name(track, testset)
        if spec is None:
            raise _fail(f"unknown test set {testset!r} for track {track.name}; "
                        f"known: {', '.join(s.name for s in track.testsets)}")
        return spec, load_spec(spec)
    except (testsets.TestSetError, UnknownSourceError) as error:
        raise _fail(str(error)) from None


# ---------------------------------------------------------------- scoring

NO_SPEED = "hypotheses imported: nothing was decoded here"


def import_segmented(track: Track, testset, lang: str, paths: list[Path]) -> tuple[list[dict], dict, dict]:
    if len(paths) != 1 or paths[0].is_dir():
        raise _fail(f"en-{lang}: a segmented set takes one text file, one line per segment "
                    f"(got {len(paths)} path(s){', a folder' if paths and paths[0].is_dir() else ''})")
    path = paths[0]
    hypotheses = read_lines(path, allow_empty=False)
    utterances = testset.utterances
    if len(hypotheses) != len(utterances):
        raise _fail(f"{path}: {len(hypotheses)} lines but test set {testset.name} has {len(utterances)} "
                    f"segments: one line per segment")
    references = [u.targets[lang] for u in utterances]
    # The durations make eval's rows carry (harness.evaluate), so the length kind is judged alike.
    audio_seconds = [round(u.seconds, 4) for u in utterances]
    try:
        scores, degeneration = score_output(track, lang, hypotheses, references, sources=[u.en for u in utterances],
                                            audio_seconds=audio_seconds)
    except MetricError as error:
        raise _fail(str(error)) from None
    rows = [{"id": u.id, "lang": lang, "audio_seconds": audio_seconds[i], "source": u.en,
             "reference": references[i], "hypothesis": hypotheses[i], "flags": list(degeneration.flags[i]),
             "scores": segment_scores(scores, i)} for i, u in enumerate(utterances)]
    report = {"metrics": {name: s.to_dict() for name, s in scores.items()}, "degeneration": degeneration.summary,
              "speed": speed.absent(NO_SPEED)}
    files = [{"path": str(path.resolve()), "sha256": results.file_sha256(path), "lines": len(hypotheses)}]
    return rows, report, {"files": files}


def import_longform(track: Track, longform_set, lang: str, paths: list[Path]) -> tuple[list[dict], dict, dict]:
    from harness.longform import score_resegmented
    from harness.resegment import ResegmentError, set_report

    by_talk = _talk_files(paths, {talk.talk_id for talk in longform_set.talks}, lang)
    hyps = {talk: read_lines(path, allow_empty=True) for talk, path in by_talk.items()}
    try:
        rows, scores, degeneration, aligned = score_resegmented(track, longform_set, lang, hyps)
    except (ResegmentError, MetricError) as error:
        raise _fail(str(error)) from None
    report = {"metrics": {name: s.to_dict() for name, s in scores.items()}, "degeneration": degeneration.summary,
              "resegmentation": set_report(aligned), "speed": speed.absent(NO_SPEED)}
    files = [{"talk": talk, "path": str(path.resolve()), "sha256": results.file_sha256(path),
              "lines": len(hyps[talk])} for talk, path in by_talk.items()]
    return rows, report, {"files": files}


# ---------------------------------------------------------------- the command

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness import-hyps",
                                     description="Score an external team's hypotheses into results files.")
    parser.add_argument("--track", default="mini")
    parser.add_argument("--testset", required=True, help="the track's test set (the results file's name)")
    parser.add_argument("--testset-folder", type=Path, default=None,
                        help="load the test set from this folder instead of the track's")
    parser.add_argument("--team", required=True, help="the team's name as the leaderboard shows it")
    parser.add_argument("--system", required=True,
                        help="the team's system name; the row is <team>-<system> (the folder: a safe form of it)")
    parser.add_argument("--hyps", action="append", required=True, metavar="LANG=PATH",
                        help="hypotheses for one target language (repeatable; a long-form set: folder or per-talk files)")
    parser.add_argument("--declared-bytes", required=True, help="the system's size on disk as the team declares it")
    parser.add_argument("--declared-params", required=True, help="the system's parameter count as the team declares it")
    parser.add_argument("--same-as", default=None, metavar="SYSTEM",
                        help="the board's system whose verified size the declared one is checked against "
                             "(default: the row of the same name)")
    parser.add_argument("--model", type=Path, default=None, help="the team's model folder: its size is verified")
    parser.add_argument("--results-root", type=Path, default=results.RESULTS_ROOT)
    return parser.parse_args(argv)


def _hyps_by_lang(values: list[str], allowed: tuple[str, ...]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for value in values:
        lang, sep, path = value.partition("=")
        if not sep or not path:
            raise _fail(f"--hyps {value!r}: expected LANG=PATH")
        if lang not in allowed:
            raise _fail(f"--hyps {value!r}: target language {lang!r} is not one of this set and track's "
                        f"({', '.join(allowed)})")
        out.setdefault(lang, []).append(Path(path))
    return out


def run(args: argparse.Namespace, argv: list[str] | None = None) -> tuple[results.ResultPaths, dict, list[dict]]:
    """Check, score and assemble everything; returns what to write (nothing is written here)."""
    from harness.testsets import LongFormSet

    for what, name in (("--team", args.team), ("--system", args.system)):
        check_name(what, name)
    if args.same_as is not None:
        check_name("--same-as", args.same_as)
    if args.testset_folder is not None and not _SAFE_NAME.fullmatch(args.testset):
        # With a local folder the name is the team's, and it names the results file.
        raise _fail(f"--testset {args.testset!r}: letters, digits, '.', '_' and '-' only, "
                    "starting with a letter or digit")
    declared_bytes = _parse_size(args.declared_bytes, "--declared-bytes")
    declared_params = _parse_size(args.declared_params, "--declared-params")
    try:
        track = get_track(args.track)
    except ValueError as error:
        raise _fail(str(error)) from None
    spec, testset = load_set(track, args.testset, args.testset_folder)
    languages = tuple(lang for lang in track.languages if lang in testset.languages)
    hyps = _hyps_by_lang(args.hyps, languages)

    storage_verdict, verified, flags = None, None, []
    if args.model is not None:
        storage_verdict, verified, flags = verify_size(args.model, track, declared_bytes, declared_params)

    longform = isinstance(testset, LongFormSet)
    rows, summary_languages, inputs = [], {}, {}
    for lang in languages:
        if lang not in hyps:
            continue
        importer = import_longform if longform else import_segmented
        lang_rows, report, files = importer(track, testset, lang, hyps[lang])
        rows.extend(lang_rows)
        summary_languages[lang] = report
        inputs[lang] = files

    name = f"{args.team}-{args.system}"
    folder = f"{folder_name(args.team)}-{folder_name(args.system)}"
    paths = results.ResultPaths.of(track.name, folder, spec.name, args.results_root)
    _refuse_overwriting_a_build(paths)
    if longform:
        info = {"name": spec.name, "version": testset.version, "content_hash": testset.content_hash,
                "talks": len(testset.talks), "reference_segments": len(testset.reference("en")),
                "audio_seconds": testset.manifest.get("audio_seconds"),
                "domain": testset.manifest.get("domain")}
    else:
        info = {"name": spec.name, "version": testset.version, "content_hash": testset.content_hash,
                "utterances": len(testset.utterances), "audio_seconds": round(testset.audio_seconds, 3),
                "domain": testset.manifest.get("domain")}
    summary = {
        "schema": results.LONGFORM_SCHEMA if longform else results.EVAL_SCHEMA,
        "schema_version": results.SCHEMA_VERSION,
        "system": name,
        "team": args.team,
        "team_system": args.system,
        "system_manifest": None,   # an imported system has no build manifest
        "track": track.name,
        "testset": info,
        "verification": SIZE_VERIFIED if verified is not None else HYPOTHESES_ONLY,
        "declared": {"bytes": declared_bytes, "params": declared_params, "same_as": args.same_as},
        "verified": verified,
        "size": ({"bytes": verified["bytes"], "params": verified["params"], "source": "verified"}
                 if verified is not None else
                 {"bytes": declared_bytes, "params": declared_params, "source": "declared"}),
        "size_flags": flags,
        "decode": None,
        "languages": summary_languages,
        "storage": storage_verdict,
        "imported": {"command": ["python", "-m", "harness", "import-hyps", *(argv or [])],
                     "hypotheses": inputs, "model_folder": str(args.model.resolve()) if args.model else None,
                     "resegmentation": "official rule (harness.resegment)" if longform else None},
    }
    return paths, summary, rows


def _refuse_overwriting_a_build(paths: results.ResultPaths) -> None:
    # An import must never replace the results of a system built and evaluated here.
    if not paths.summary.exists():
        return
    import json

    try:
        existing = json.loads(paths.summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        existing = None
    if not isinstance(existing, dict) or "imported" not in existing:
        raise _fail(f"{paths.summary}: results of a system that was not imported already exist there; "
                    "choose another --team/--system")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        paths, summary, rows = run(args, argv)
    except HypothesesError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    summary = results.write_results(paths, rows, summary)
    for lang, report in summary["languages"].items():
        shown = ", ".join(f"{metric} {m['value']:.2f}" if m["value"] is not None else f"{metric} absent"
                          for metric, m in report["metrics"].items())
        print(f"{summary['system']} / {summary['testset']['name']} / en-{lang}: {shown}")
    for flag in summary["size_flags"]:
        print(f"flag: {flag}")
    print(f"{summary['verification']}: wrote {paths.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
