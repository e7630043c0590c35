"""`python -m harness import-hyps`: score an external team's hypotheses into the leaderboard's results files.

  python -m harness import-hyps --track mini --testset talks_test --team T --system S
        --hyps de=FILE_OR_FOLDER [--hyps zh=...] --declared-bytes N --declared-params N
        [--same-as SYSTEM] [--model FOLDER] [--testset-folder PATH] [--results-root DIR]
  python -m harness import-hyps --track mini --layout DIR --team T --system S
        --declared-bytes N --declared-params N [--same-as SYSTEM] [--model FOLDER] [--results-root DIR]

Names: ``--team`` and ``--system`` are the names the leaderboard shows, as the team spells
them (any one line of printable text, up to 100 characters: "KIT & NAIST", "Ünïcode"); the
row's system is ``<team>-<system>``. They never become a path as typed: a name of letters,
digits, '.', '_' and '-' (starting with a letter or digit) is its own folder name, any other
is made one (each run of other characters replaced by '_', plus 8 hex digits of the name's
sha256, so two names never share a folder). The leaderboard escapes every name it shows
(harness.leaderboard.render renders through Jinja2 with autoescaping).

Hypotheses, per target language (``--hyps LANG=PATH``, repeatable):
  segmented set   one text file, one line per reference segment, in the set's order
                  (the task's plain-text format); the line count must match exactly.
  long-form set   unsegmented per talk: a folder holding one file per talk, or the files
                  themselves (``--hyps de=a.txt --hyps de=b.txt``); a file is named after its
                  talk id (``<talk>``, ``<talk>.txt`` or ``<talk>.<lang>``). The talks are
                  scored as the evaluation server scores the one file they make: concatenated
                  in the set's talk order and all lines realigned to all the set's reference
                  segments at once, whatever their count (mwerSegmenter's rule, Chinese by
                  character; harness.segmentation.resegment.resegment_talks_like_server); a talk without a
                  file adds no lines and is listed in ``talks_without_hypotheses``.

A layout (``--layout DIR``): what ``python -m harness export`` writes and the IWSLT 2026
evaluation server takes, one folder per model (``<TEAM>_IWSLT26_ModelCompression_en-<lang>_
<condition>_<type>``, one per direction) holding ``<testset>.txt`` per test set of the track
(``manifest.json`` and hidden files beside the folders are not read). Every file is scored as
the server scores it: a segmented set's file must have one line per utterance; a long-form
set's file holds the whole set, talk after talk, and all its lines are realigned to all the
set's references at once (harness.segmentation.resegment.resegment_like_server), whatever their count.
One results file is written per test set, with every direction the layout has for it.

Size: the team declares its system's bytes and parameter count. With ``--model`` the
team's model folder is checked with harness.systems.storage.check (headers only: nothing is
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

Scoring is make eval's step (harness.scoring.metrics.score_output): the track's metrics with
their signatures (sacreBLEU; COMET when the track configures it) and the degeneration
flags, the length kind judged from a segmented set's audio durations as eval judges it
(a long-form set's resegmented lines have none: harness.evaluation.longform.score_resegmented), written as
``<results>/<track>/<team>-<system>/<testset>.json`` and ``.segments.jsonl`` in the
schema of ``make eval`` (harness.evaluation.evaluate / harness.evaluation.longform), plus ``team``,
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

from harness import results

from harness.evaluation import speed
from harness.files import file_sha256
from harness.errors import HarnessError, one_line, read_input_bytes
from harness.scoring.metrics import MetricError, score_output, segment_scores
from harness.data.tracks import TestSetSpec, Track, UnknownSourceError, get_track, load_spec, spec_by_name

EXIT_BAD_INPUT = 2
HYPOTHESES_ONLY = "hypotheses only"
SIZE_VERIFIED = "size verified"
SIZE_TOLERANCE = 0.01   # a declared size more than 1 % off the verified one is flagged
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100


class HypothesesError(HarnessError):
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
    from harness.systems import storage

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
                "measure": "bytes on disk of every file of the judged unit (harness.systems.storage); logical parameters from safetensors headers"}
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
    from harness.data import testsets

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
    # The durations make eval's rows carry (harness.evaluation.evaluate), so the length kind is judged alike.
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
    files = [{"path": str(path.resolve()), "sha256": file_sha256(path), "lines": len(hypotheses)}]
    return rows, report, {"files": files}


def import_longform(track: Track, longform_set, lang: str, paths: list[Path]) -> tuple[list[dict], dict, dict]:
    from harness.evaluation.longform import score_resegmented
    from harness.segmentation.resegment import ResegmentError, set_report

    by_talk = _talk_files(paths, {talk.talk_id for talk in longform_set.talks}, lang)
    hyps = {talk: read_lines(path, allow_empty=True) for talk, path in by_talk.items()}
    try:
        rows, scores, degeneration, aligned = score_resegmented(track, longform_set, lang, hyps)
    except (ResegmentError, MetricError) as error:
        raise _fail(str(error)) from None
    report = {"metrics": {name: s.to_dict() for name, s in scores.items()}, "degeneration": degeneration.summary,
              "resegmentation": set_report(aligned),
              # The team's own lines, as make eval keeps a system's (harness.evaluation.longform), so harness.leaderboard.export can write them.
              "hypothesis_lines": [line for talk in longform_set.talks for line in hyps.get(talk.talk_id, [])],
              "speed": speed.absent(NO_SPEED)}
    files = [{"talk": talk, "path": str(path.resolve()), "sha256": file_sha256(path),
              "lines": len(hyps[talk])} for talk, path in by_talk.items()]
    return rows, report, {"files": files}


def import_longform_file(track: Track, longform_set, lang: str, paths: list[Path]) -> tuple[list[dict], dict, dict]:
    """One file for the whole set (a layout's), scored as the evaluation server scores it: all its lines
    realigned to all the set's references (harness.segmentation.resegment.resegment_like_server)."""
    from harness.evaluation.longform import score_aligned
    from harness.segmentation.resegment import ResegmentError, references_by_talk, resegment_like_server, set_report

    path, = paths
    lines = read_lines(path, allow_empty=True)
    try:
        aligned = resegment_like_server(lines, references_by_talk(longform_set, lang), lang)
        rows, scores, degeneration, aligned = score_aligned(track, longform_set, lang, aligned)
    except (ResegmentError, MetricError) as error:
        raise _fail(str(error)) from None
    report = {"metrics": {name: s.to_dict() for name, s in scores.items()}, "degeneration": degeneration.summary,
              "resegmentation": set_report(aligned), "hypothesis_lines": lines, "speed": speed.absent(NO_SPEED)}
    files = [{"path": str(path.resolve()), "sha256": file_sha256(path), "lines": len(lines)}]
    return rows, report, {"files": files}


# ---------------------------------------------------------------- a layout (harness.leaderboard.export's)

def read_layout(folder: Path, track: Track) -> tuple[dict[str, dict[str, Path]], dict[str, str]]:
    """({testset: {lang: file}}, {lang: model name}) of an export layout; anything else in it is an error."""
    from harness.leaderboard.server_layout import MANIFEST, MODEL_NAME_RE, SUFFIX

    if not folder.is_dir():
        raise _fail(f"--layout {folder}: no such folder")
    known = [spec.name for spec in track.testsets]
    models: dict[str, str] = {}
    files: dict[str, dict[str, Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or (entry.name == MANIFEST and entry.is_file()):
            continue
        match = MODEL_NAME_RE.fullmatch(entry.name)
        if not entry.is_dir() or match is None:
            raise _fail(f"{entry}: not a model folder (<TEAM>_IWSLT26_ModelCompression_en-<lang>_"
                        "<constrained|unconstrained>_<primary|contrastive>)")
        lang = match["lang"]
        if lang not in track.languages:
            raise _fail(f"{entry}: direction en-{lang} is not one of track {track.name}'s "
                        f"({', '.join('en-' + lang for lang in track.languages)})")
        if lang in models:
            raise _fail(f"{entry}: a second model for en-{lang} (first: {models[lang]}); import one at a time")
        models[lang] = entry.name
        for path in sorted(entry.iterdir()):
            if path.name.startswith("."):
                continue
            name = path.name.removesuffix(SUFFIX)
            if not path.name.endswith(SUFFIX) or name not in known:
                raise _fail(f"{path}: not a test set file of track {track.name} "
                            f"(<testset>{SUFFIX}; the track's sets: {', '.join(known)})")
            if not path.is_file():
                raise _fail(f"{path}: not a regular file")
            files.setdefault(name, {})[lang] = path
    if not files:
        raise _fail(f"--layout {folder}: no hypothesis files (<model folder>/<testset>{SUFFIX})")
    # In the track's order of sets, then of directions: results are written in a stable order.
    return ({name: dict(sorted(files[name].items(), key=lambda item: track.languages.index(item[0])))
             for name in known if name in files}, models)


# ---------------------------------------------------------------- the command

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness import-hyps",
                                     description="Score an external team's hypotheses into results files.")
    parser.add_argument("--track", default="mini")
    parser.add_argument("--testset", default=None, help="the track's test set (the results file's name)")
    parser.add_argument("--testset-folder", type=Path, default=None,
                        help="load the test set from this folder instead of the track's")
    parser.add_argument("--team", required=True, help="the team's name as the leaderboard shows it")
    parser.add_argument("--system", required=True,
                        help="the team's system name; the row is <team>-<system> (the folder: a safe form of it)")
    parser.add_argument("--hyps", action="append", default=None, metavar="LANG=PATH",
                        help="hypotheses for one target language (repeatable; a long-form set: folder or per-talk files)")
    parser.add_argument("--layout", type=Path, default=None, metavar="DIR",
                        help="a folder as harness.leaderboard.export writes it (instead of --testset and --hyps): "
                             "every test set and direction in it, scored as the evaluation server does")
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


def run(args: argparse.Namespace, argv: list[str] | None = None) -> list[tuple[results.ResultPaths, dict, list[dict]]]:
    """Check, score and assemble everything, one (paths, summary, rows) per test set; nothing is written here."""
    for what, name in (("--team", args.team), ("--system", args.system)):
        check_name(what, name)
    if args.same_as is not None:
        check_name("--same-as", args.same_as)
    if args.layout is not None:
        given = [flag for flag, value in (("--testset", args.testset), ("--hyps", args.hyps),
                                          ("--testset-folder", args.testset_folder)) if value is not None]
        if given:
            raise _fail(f"--layout names the test sets and files itself: drop {', '.join(given)}")
    elif args.testset is None or not args.hyps:
        raise _fail("give --testset and --hyps LANG=PATH, or --layout DIR (a folder as harness export writes it)")
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
    if args.layout is not None:
        by_set, models = read_layout(args.layout, track)
        sets = []
        for name, files in by_set.items():
            spec, testset = load_set(track, name, None)
            for lang, path in files.items():
                if lang not in testset.languages:
                    raise _fail(f"{path}: test set {name} has no en-{lang} references")
            sets.append((spec, testset, {lang: [path] for lang, path in files.items()}))
    else:
        models = None
        spec, testset = load_set(track, args.testset, args.testset_folder)
        languages = tuple(lang for lang in track.languages if lang in testset.languages)
        sets = [(spec, testset, _hyps_by_lang(args.hyps, languages))]

    size = {"declared_bytes": declared_bytes, "declared_params": declared_params,
            "storage_verdict": None, "verified": None, "flags": []}
    if args.model is not None:
        size["storage_verdict"], size["verified"], size["flags"] = verify_size(args.model, track, declared_bytes,
                                                                               declared_params)
    return [_import_set(args, argv, track, spec, testset, hyps, size, models) for spec, testset, hyps in sets]


def _import_set(args: argparse.Namespace, argv: list[str] | None, track: Track, spec: TestSetSpec, testset,
                hyps: dict[str, list[Path]], size: dict, models: dict[str, str] | None
                ) -> tuple[results.ResultPaths, dict, list[dict]]:
    """One test set's results: every direction of ``hyps`` scored (``models``: a layout's model names)."""
    from harness.data.testsets import LongFormSet

    declared_bytes, declared_params = size["declared_bytes"], size["declared_params"]
    storage_verdict, verified, flags = size["storage_verdict"], size["verified"], size["flags"]
    longform = isinstance(testset, LongFormSet)
    if longform:
        importer = import_longform_file if models is not None else import_longform
    else:
        importer = import_segmented
    rows, summary_languages, inputs = [], {}, {}
    for lang in track.languages:
        if lang not in hyps:
            continue
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
                     "layout": (None if models is None else
                                {"folder": str(args.layout.resolve()), "models": {f"en-{lang}": models[lang]
                                                                                  for lang in inputs}}),
                     "resegmentation": (None if not longform else
                                        "as the evaluation server: the talks' files concatenated, all lines "
                                        "realigned to all the set's references "
                                        "(harness.segmentation.resegment.resegment_talks_like_server)" if models is None else
                                        "as the evaluation server: all lines realigned to all the set's "
                                        "references (harness.segmentation.resegment.resegment_like_server)")},
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
        imports = run(args, argv)
    except HypothesesError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for paths, summary, rows in imports:
        summary = results.write_results(paths, rows, summary)
        for lang, report in summary["languages"].items():
            shown = ", ".join(f"{metric} {m['value']:.2f}" if m["value"] is not None else f"{metric} absent"
                              for metric, m in report["metrics"].items())
            print(f"{summary['system']} / {summary['testset']['name']} / en-{lang}: {shown}")
    for flag in summary["size_flags"]:
        print(f"flag: {flag}")
    print(f"{summary['verification']}: wrote {', '.join(str(paths.summary) for paths, _, _ in imports)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
