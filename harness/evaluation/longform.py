"""Long-form evaluation: segment, decode, resegment by the official rule, score.

The IWSLT 2026 test sets are whole talks: a system segments them itself, and the
evaluation server re-aligns its output to the reference segments before scoring: all of
the set's lines, talks concatenated, to all of its reference segments in one mwerSegmenter
run, whatever the line count (harness.segmentation.resegment, which cites the organizers' pages and
SLT.KIT's Eval.sh; Chinese by character). ``evaluate_longform`` does the same for a built
system on a long-form set (harness.data.testsets.LongFormSet):

1. segment every talk (harness.segmentation.segment: SHAS-style divide-and-conquer on silero-vad
   probabilities by default; VAD-only, fixed windows or the gold segments.yaml on request),
   with the track's maximum segment length, never above the model's audio window;
2. decode every segment with the harness's batched greedy decoding (harness.inference.decode),
   in talk order, reading one segment at a time from the talk's file (bounded memory);
3. resegment each talk's hypotheses to its reference segments (harness.segmentation.resegment);
4. score the resegmented lines against the references with the track's metrics and
   signatures (harness.scoring.metrics), and flag degenerate outputs (harness.scoring.degeneration).

The results file is the segmented eval's schema plus what was done to get there: the
segmentation (method, settings, statistics: segments, lengths, dropped speech) and the
resegmentation (per talk: hypothesis segments, reference segments, method), and per language
``hypothesis_lines``: the system's own hypotheses, one per its segment, talk after talk, before
resegmentation (the submission file harness.leaderboard.export writes).
"""

from __future__ import annotations

import time
from pathlib import Path

from harness import results

from harness.evaluation import speed
from harness.inference.decode import DecodeSettings, decode
from harness.scoring.metrics import CHRF_FOR, METRIC_LABEL, score_output, segment_scores
from harness.systems.models import read_manifest
from harness.results import LONGFORM_SCHEMA
from harness.data.tracks import TestSetSpec, Track
from harness.inference.vllm_backend import open_backend

DEFAULT_METHOD = "dac"


def segment(longform_set, track: Track, method: str = DEFAULT_METHOD, **overrides):
    """The set's segmentation by ``method`` with the track's settings (harness.segmentation.segment)."""
    from harness.segmentation.segment import segment_set, settings_for_track

    return segment_set(longform_set, method, settings_for_track(track, **overrides), progress=False)


def decode_segments(system, longform_set, segmentation, lang: str, settings: DecodeSettings,
                    progress: str | None = None, chunk: int = 256, decoder=decode) -> dict[str, list]:
    """Every talk's segments decoded in order: {talk_id: [Hypothesis, ...]} (an empty list for a silent talk).

    Segments are read from the talk's file one at a time and decoded ``chunk`` at a time,
    so an hours-long talk never sits in memory as a whole (harness.segmentation.segment.iter_file_segments).
    """
    from itertools import islice

    from harness.segmentation.segment import iter_file_segments

    by_talk: dict[str, list] = {}
    for talk in longform_set.talks:
        pieces = iter_file_segments(talk.wav_path, segmentation.segments(talk.talk_id))
        by_talk[talk.talk_id] = []
        while batch := list(islice(pieces, chunk)):
            by_talk[talk.talk_id] += decoder(system, batch, lang, settings, progress=progress).hypotheses
    return by_talk


def score_resegmented(track: Track, longform_set, lang: str, hypotheses_by_talk: dict[str, list[str]]):
    """Realign the talks' hypotheses as the evaluation server realigns the file they make (talks
    concatenated in the set's order, all lines to all reference segments at once:
    harness.segmentation.resegment.resegment_talks_like_server), then score and flag them (score_aligned).

    Returns (rows, scores, degeneration, aligned): one results row per reference segment
    (talk, index, source, reference, hypothesis, flags, scores), the metrics, the
    degeneration report and the resegmentation sliced per talk. A talk without hypotheses
    adds no lines (its segments get what the alignment gives them, often nothing). Raises
    harness.segmentation.resegment.ResegmentError and harness.scoring.metrics.MetricError as they come.
    """
    from harness.segmentation.resegment import references_by_talk, resegment_talks_like_server

    aligned = resegment_talks_like_server(hypotheses_by_talk, references_by_talk(longform_set, lang), lang)
    return score_aligned(track, longform_set, lang, aligned)


def score_aligned(track: Track, longform_set, lang: str, aligned):
    """Score and flag talks already resegmented to their references ({talk_id: Resegmented}, in the
    set's talk order, one line per reference segment): score_resegmented's second half, shared with
    the evaluation server's rule (harness.leaderboard.import_hyps --layout)."""
    from harness.segmentation.resegment import references_by_talk, set_lines

    references = references_by_talk(longform_set, lang)
    if [(talk, len(r.lines)) for talk, r in aligned.items()] != [(talk, len(r)) for talk, r in references.items()]:
        raise RuntimeError(f"resegmented lines of {longform_set.name} en-{lang} are not one per reference segment "
                         "in the set's talk order")
    lines = set_lines(aligned)
    refs = [line for talk in references.values() for line in talk]
    sources = longform_set.reference("en")
    scores, degeneration = score_output(track, lang, lines, refs, sources=sources)
    talk_of = [talk for talk, talk_refs in references.items() for _ in talk_refs]
    rows = [{"talk": talk_of[i], "index": i, "lang": lang, "source": sources[i], "reference": refs[i],
             "hypothesis": lines[i], "flags": list(degeneration.flags[i]), "scores": segment_scores(scores, i)}
            for i in range(len(refs))]
    return rows, scores, degeneration, aligned


def _languages(manifest, track: Track, longform_set) -> list[str]:
    return [lang for lang in track.languages if lang in manifest.languages and lang in longform_set.languages]


def _results_name(spec: TestSetSpec, segmentation, testset_name: str | None) -> str:
    # The set's name, with the method appended when it is not the default.
    return testset_name or (spec.name if segmentation.method == DEFAULT_METHOD else f"{spec.name}.{segmentation.method}")


def _evaluate_language(system, decoder, track: Track, longform_set, segmentation, lang: str,
                       settings: DecodeSettings, progress: str, *, backend: str = "transformers",
                       measure_speed: bool = True) -> tuple[list[dict], dict]:
    """Decode one opened system on every talk, resegment and score, then measure speed on the
    segmentation's first segments (harness.evaluation.speed): (results rows, the language's report)."""
    from harness.segmentation.resegment import set_report

    resolved = settings.resolved(system)
    started = time.perf_counter()
    hypotheses = decode_segments(system, longform_set, segmentation, lang, resolved, progress=progress,
                                 decoder=decoder)
    decode_seconds = time.perf_counter() - started
    rows, scores, degeneration, aligned = score_resegmented(
        track, longform_set, lang, {talk: [h.text for h in hyps] for talk, hyps in hypotheses.items()})
    segments_decoded = sum(len(h) for h in hypotheses.values())
    if measure_speed:
        sample = speed.longform_sample(longform_set, {t.talk_id: segmentation.segments(t.talk_id)
                                                      for t in longform_set.talks})
        speed_block = speed.measure(system, decoder, sample, lang, resolved, backend=backend,
                                    processes=speed.processes())
    else:
        speed_block = speed.absent(speed.NOT_REQUESTED)
    report = {
        "metrics": {metric: score.to_dict() for metric, score in scores.items()},
        "degeneration": degeneration.summary,
        "resegmentation": set_report(aligned),
        # The system's own output before resegmentation, talk after talk: what the evaluation
        # server receives (harness.leaderboard.export writes it as the submission file).
        "hypothesis_lines": [h.text for talk in longform_set.talks for h in hypotheses[talk.talk_id]],
        "speed": speed_block,
        "decode_pass": speed.decode_pass(decode_seconds, decoded=segments_decoded, resumed=0),
        "unfinished": sum(not h.finished for hyps in hypotheses.values() for h in hyps),
        "truncated_audio": sum(h.truncated_audio for hyps in hypotheses.values() for h in hyps),
        "model": system.provenance(),
        "decode_settings": resolved.as_dict(),
    }
    return rows, report


def _write_summary(paths: results.ResultPaths, name: str, manifest, track: Track, spec: TestSetSpec, longform_set,
                   segmentation, settings: DecodeSettings | None, summary_languages: dict, rows: list[dict],
                   storage_verdict: dict | None, extra: dict | None = None) -> dict:
    # settings None: the harness did not decode (harness.evaluation.contract); extra keys follow the others.
    summary = {
        "schema": LONGFORM_SCHEMA,
        "schema_version": results.SCHEMA_VERSION,
        "system": name,
        "system_manifest": manifest.as_dict(),
        "track": track.name,
        "testset": {"name": spec.name, "version": longform_set.version, "content_hash": longform_set.content_hash,
                    "talks": len(longform_set.talks), "reference_segments": len(longform_set.reference("en")),
                    "audio_seconds": round(sum(t.seconds for t in segmentation.talks), 3),
                    "domain": longform_set.manifest.get("domain")},
        "segmentation": {key: value for key, value in segmentation.as_dict().items() if key != "talks"},
        "segments": {t.talk_id: [[s.offset, s.duration] for s in t.segments] for t in segmentation.talks},
        "decode": settings.as_dict() if settings is not None else None,
        "languages": summary_languages,
        "storage": storage_verdict,
        **(extra or {}),
    }
    return results.write_results(paths, rows, summary)


def evaluate_longform(system_dir: Path, track: Track, spec: TestSetSpec, longform_set, settings: DecodeSettings, *,
                      results_root: Path, method: str = DEFAULT_METHOD, segmentation=None, device: str = "cpu",
                      name: str | None = None, testset_name: str | None = None,
                      storage_verdict: dict | None = None, backend: str = "transformers",
                      measure_speed: bool = True, decoder=decode) -> dict:
    """Segment, decode, resegment and score one system on one long-form set; writes and returns the summary.

    ``segmentation`` (a harness.segmentation.segment.SegmentationResult) is reused when given, so
    several systems share one segmentation; ``testset_name`` names the results file
    (default: the set's name, with the method appended when it is not the default).
    """
    manifest = read_manifest(system_dir)
    languages = _languages(manifest, track, longform_set)
    segmentation = segmentation or segment(longform_set, track, method)
    name = name or system_dir.name
    testset_name = _results_name(spec, segmentation, testset_name)
    paths = results.ResultPaths.of(track.name, name, testset_name, results_root)
    summary_languages, rows = {}, []
    for lang in languages:
        system, lang_decoder = open_backend(system_dir, lang, backend, device=device, transformers_decode=decoder)
        lang_rows, summary_languages[lang] = _evaluate_language(system, lang_decoder, track, longform_set, segmentation,
                                                                lang, settings, progress=f"{name} {testset_name} {lang}",
                                                                backend=backend, measure_speed=measure_speed)
        rows += lang_rows
    return _write_summary(paths, name, manifest, track, spec, longform_set, segmentation, settings,
                          summary_languages, rows, storage_verdict)


# ---------------------------------------------------------------- comparison of segmentations

COMPARED = ("gold", "dac", "vad", "fixed")


def compare(systems: list[Path], track: Track, spec: TestSetSpec, longform_set, settings: DecodeSettings, *,
            results_root: Path, methods=COMPARED, device: str = "cpu") -> tuple[list[dict], dict]:
    """Every system under every segmentation method: (table rows, the segmentations' stats).

    Each system is opened once per language and decodes every method's segments before
    the next language is opened; a row's ``seconds`` is its method's decoding, scoring and
    writing (the model's loading, shared by the methods, is not in it).
    """
    from harness.segmentation.segment import segment_set_methods, settings_for_track

    started = time.perf_counter()
    segmentations = segment_set_methods(longform_set, methods, settings_for_track(track), progress=False)
    segment_seconds = time.perf_counter() - started
    set_names = {method: _results_name(spec, segmentations[method], None) for method in methods}
    rows = []
    for system_dir in systems:
        manifest = read_manifest(system_dir)
        name = system_dir.name
        reports = {method: {} for method in methods}        # method -> lang -> the language's report
        result_rows = {method: [] for method in methods}    # method -> results rows, language after language
        seconds = dict.fromkeys(methods, 0.0)
        for lang in _languages(manifest, track, longform_set):
            system, decoder = open_backend(system_dir, lang, "transformers", device=device, transformers_decode=decode)
            for method in methods:
                started = time.perf_counter()
                lang_rows, reports[method][lang] = _evaluate_language(
                    system, decoder, track, longform_set, segmentations[method], lang, settings,
                    progress=f"{name} {set_names[method]} {lang}", measure_speed=False)
                result_rows[method] += lang_rows
                seconds[method] += time.perf_counter() - started
        for method in methods:
            started = time.perf_counter()
            paths = results.ResultPaths.of(track.name, name, set_names[method], results_root)
            summary = _write_summary(paths, name, manifest, track, spec, longform_set, segmentations[method],
                                     settings, reports[method], result_rows[method], storage_verdict=None)
            rows.append({"system": name, "method": method, "summary": summary,
                         "seconds": seconds[method] + time.perf_counter() - started})
    stats = {method: result.stats() for method, result in segmentations.items()}
    return rows, {"stats": stats, "segment_seconds": segment_seconds,
                  "settings": segmentations[methods[0]].as_dict()["settings"]}


def render_comparison(rows: list[dict], segmentations: dict, set_name: str, langs) -> str:
    stats = segmentations["stats"]
    lines = ["| method | segments | mean s | min s | max s | speech dropped | reference sentences cut |",
             "|---|---|---|---|---|---|---|"]
    for method, s in stats.items():
        cut = "-" if s["references_cut"] is None else f"{s['references_cut']} of {s['references']}"
        dropped = "-" if s["dropped_speech_share"] is None else f"{100 * s['dropped_speech_share']:.2f} %"
        lines.append(f"| {method} | {s['segments']} | {s['mean_seconds'] or 0:.2f} | {s['min_seconds'] or 0:.2f} | "
                     f"{s['max_seconds'] or 0:.2f} | {dropped} | {cut} |")
    lines += ["", f"Segmentation of all methods: {segmentations['segment_seconds']:.1f} s (one VAD pass per talk). "
              f"Settings: {segmentations['settings']}.", ""]
    header = ["system", "method"]
    for lang in langs:
        header += [f"{lang.upper()} BLEU", f"{lang.upper()} {METRIC_LABEL[CHRF_FOR[lang]]}",
                   f"{lang.upper()} hypothesis lines / reference segments"]
    header.append("wall s")
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    signatures = {}
    for row in rows:
        cells = [row["system"], row["method"]]
        for lang in langs:
            report = row["summary"]["languages"].get(lang)
            if report is None:
                cells += ["-", "-", "-"]
                continue
            metrics = report["metrics"]
            for metric in ("bleu", CHRF_FOR[lang]):
                cells.append(f"{metrics[metric]['value']:.2f}")
                signatures[(lang, metric)] = metrics[metric]["signature"]
            talks = report["resegmentation"]["talks"].values()
            cells.append(f"{sum(t['hypothesis_segments'] or 0 for t in talks)} / "
                         f"{sum(t['reference_segments'] for t in talks)}")
        cells.append(f"{row['seconds']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Test set `{set_name}`: segment -> decode -> realign as the evaluation server does "
                 "(all lines of the set to all its reference segments, mweralign) -> score.")
    for (lang, metric), signature in sorted(signatures.items()):
        lines.append(f"- {METRIC_LABEL[metric]} en-{lang}: `{signature}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from harness import BUILD_ROOT
    from harness.evaluation.report import write_report
    from harness.data.testsets import LongFormSet
    from harness.data.tracks import REPO, get_track, load_spec, spec_by_name

    parser = argparse.ArgumentParser(prog="python -m harness longform",
                                     description="Compare segmentations of a long-form set: gold, SHAS-style DAC, "
                                                 "VAD only, fixed windows (segment, decode, resegment, score).")
    parser.add_argument("--track", default="mini")
    parser.add_argument("--testset", default="longform_test")
    parser.add_argument("--system", action="append", help="a built system's name (repeatable; default: baseline)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=REPO / "testsets" / "longform-comparison.md")
    args = parser.parse_args(argv)
    try:
        track = get_track(args.track)
        spec = spec_by_name(track, args.testset)
        if spec is None:
            raise ValueError(f"track {track.name} has no test set {args.testset!r}")
        longform_set = load_spec(spec)
        if not isinstance(longform_set, LongFormSet):
            raise ValueError(f"{args.testset} is a segmented set; the comparison needs a long-form one")
        systems = [BUILD_ROOT / track.name / name for name in (args.system or ["baseline"])]
        settings = DecodeSettings(max_new_tokens=track.max_new_tokens, batch_size=args.batch_size)
        rows, segmentations = compare(systems, track, spec, longform_set, settings, device=args.device,
                                      results_root=BUILD_ROOT / track.name / "reports" / "longform")
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = (f"# Segmentations of `{spec.name}` compared ({track.name} track)\n\n"
            f"Generated by `python -m harness longform --track {track.name} "
            + " ".join(f"--system {s.name}" for s in systems) + "`; do not edit by hand.\n\n"
            + render_comparison(rows, segmentations, spec.name, track.languages))
    write_report(args.out, text, {"track": track.name, "testset": spec.name, "segmentations": segmentations,
                                  "rows": [{"system": row["system"], "method": row["method"],
                                            "seconds": round(row["seconds"], 1),
                                            "languages": {lang: {key: report[key] for key in
                                                                 ("metrics", "resegmentation", "decode_pass")}
                                                          for lang, report in row["summary"]["languages"].items()}}
                                           for row in rows]})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
