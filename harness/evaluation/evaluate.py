"""`python -m harness eval`: size check, decode and score every built system on every test set.

For each built system (`build/<track>/<system>/system.json`) and each test set of the
track, and each language pair the system has: the storage verdict (harness.systems.storage,
headers only), batched greedy decoding (harness.inference.decode, Moslem 2025's prompt and
settings), BLEU / chrF / chrF++ / TER / COMET with their signatures (harness.scoring.metrics),
degeneration flags per segment (harness.scoring.degeneration), and speed by the speed protocol
(harness.evaluation.speed: its own phase after the quality pass, warm-up, repetitions, the machine's
load sampled), all written as results files with provenance (harness.results).

The track's base (``baseline``) is evaluated as well on every set where its results are
missing, so the leaderboard's Δ columns have a base: with ``--system``, a base that is not
built is an error naming ``make build SUB=baseline``; without, a warning.

A run killed midway resumes from the finished segments, reusing them only under the
same model content hash, decode settings and test-set hash.

Long-form sets (whole talks) go through harness.evaluation.longform: segmented once per set
(``--segmentation``, default SHAS-style divide-and-conquer), decoded, resegmented to the
reference segments by the official rule, scored; the results file records the
segmentation and the resegmentation.

A system folder holding ``run.sh`` instead of ``system.json`` is run by contract
(harness.evaluation.contract): the same test sets, segmentation and scoring, the decoding done by the
submission's own run.sh in a subprocess under a time limit and without network.

With ``--devices cuda:0,cuda:1`` (or ``auto``) the systems are evaluated side by side, one
per device at a time, each by its own ``python -m harness eval --system S`` process
(harness.evaluation.schedule); the results files are those of a sequential run but for timings.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import BUILD_ROOT, results

from harness.evaluation import contract, longform, report, speed
from harness.systems import storage
from harness.inference.decode import DecodeSettings, decode

# What decodes a batch: harness.inference.decode.decode's signature (system, audios, lang, settings, progress=...).
Decoder = Callable[..., object]
from harness.scoring.metrics import MetricError, score_rows
from harness.systems.models import SYSTEM_FILE, read_manifest
from harness.systems.model_files import ModelLoadError
from harness.data.testsets import LongFormSet, TestSet, TestSetError
from harness.data.tracks import BASE_SYSTEM, TestSetSpec, Track, get_track, load_spec
from harness.inference.vllm_backend import BackendError, open_backend
from harness.errors import HarnessError



class EvalError(HarnessError, ValueError):
    """A one-line reason the evaluation cannot go on."""


# What an evaluation reports as a one-line error and exit 2 (bad input), never a traceback.
EVAL_ERRORS = (EvalError, ModelLoadError, TestSetError, MetricError, ValueError, BackendError)


def find_systems(track: Track, build_root: Path, names: list[str] | None) -> list[Path]:
    folder = build_root / track.name
    if names:
        systems = [folder / name for name in names]
        for system in systems:
            if not (system / SYSTEM_FILE).is_file() and not contract.is_contract(system):
                raise EvalError(f"{system}: no built system here (no {SYSTEM_FILE}, no {contract.RUN_SCRIPT}); "
                                f"run make build SUB={system.name}")
        return systems
    # A system is built (system.json) or run by contract (run.sh, harness.evaluation.contract).
    systems = sorted({p.parent for p in folder.glob(f"*/{SYSTEM_FILE}")}
                     | {p.parent for p in folder.glob(f"*/{contract.RUN_SCRIPT}")})
    if not systems:
        raise EvalError(f"no built systems under {folder}: run make build SUB={BASE_SYSTEM} first")
    return systems


def with_base(systems: list[Path], track: Track, specs: Sequence[TestSetSpec], build_root: Path,
              results_root: Path) -> list[Path]:
    """``systems``, with the track's base first when any of ``specs`` lacks its results (Δ needs a base).

    A missing base build is an error naming the command that makes it."""
    base = build_root / track.name / BASE_SYSTEM
    if base in systems:
        return systems
    if all(results.ResultPaths.of(track.name, BASE_SYSTEM, spec.name, results_root).summary.is_file()
           for spec in specs):
        return systems
    if not (base / SYSTEM_FILE).is_file():
        raise EvalError(f"the track's base {BASE_SYSTEM} has no results to compare against and is not built "
                        f"(no {base / SYSTEM_FILE}); run make build SUB={BASE_SYSTEM}")
    return [base, *systems]


def evaluate(system_dir: Path, track: Track, spec: TestSetSpec, testset: TestSet, settings: DecodeSettings,
             *, results_root: Path, device: str = "cpu", measure_speed: bool = True,
             storage_verdict: dict | None = None, name: str | None = None,
             only: Sequence[str] | None = None, backend: str = "transformers", decoder: Decoder = decode) -> dict:
    """Decode and score one system on one segmented test set; writes and returns the summary.

    ``decoder`` is the transformers decoding function (harness.inference.decode.decode; the --nproc
    path passes harness.inference.distributed's sharded one): passed in, never patched into this module.

    ``name`` is the system's name in the results (default: its folder's name); ``only``
    restricts the language pairs (default: every pair the system, track and set share).
    """
    if not testset.utterances:
        raise EvalError(f"test set {testset.name} is empty")
    manifest = read_manifest(system_dir)
    languages = [lang for lang in track.languages if lang in manifest.languages and lang in testset.languages
                 and (only is None or lang in only)]
    name = name or system_dir.name
    paths = results.ResultPaths.of(track.name, name, spec.name, results_root)
    summary_languages, segment_rows = {}, []
    for lang in languages:
        rows, report = _evaluate_language(system_dir, track, testset, lang, settings, paths, device, measure_speed,
                                          name, backend, decoder)
        summary_languages[lang] = report
        segment_rows.extend(rows)
    summary = results.write_segmented(paths, segment_rows, name=name, manifest=manifest, track=track, spec=spec,
                                      testset=testset, settings=settings, languages=summary_languages,
                                      storage_verdict=storage_verdict)
    for lang in languages:
        paths.partial_for(lang).unlink(missing_ok=True)
    return summary


def _evaluate_language(system_dir: Path, track: Track, testset: TestSet, lang: str, settings: DecodeSettings,
                       paths: results.ResultPaths, device: str, measure_speed: bool,
                       name: str, backend: str = "transformers", decoder: Decoder = decode) -> tuple[list[dict], dict]:
    system, decoder = open_backend(system_dir, lang, backend, device=device, transformers_decode=decoder)
    settings = settings.resolved(system)
    key = results.cache_key(model=system.content_hash, decode=settings.as_dict(),
                            testset=testset.content_hash, lang=lang)
    checkpoint = results.Checkpoint(paths.partial_for(lang), key)
    utterances = testset.utterances
    todo = [i for i, u in enumerate(utterances) if (lang, u.id) not in checkpoint.done]

    def keep(position: int, hypothesis) -> None:
        u = utterances[todo[position]]
        checkpoint.add({"id": u.id, "lang": lang, "audio_seconds": round(u.seconds, 4), "source": u.en,
                        "reference": u.targets[lang], "hypothesis": hypothesis.text,
                        "decode_seconds": round(hypothesis.seconds, 6), "new_tokens": hypothesis.new_tokens,
                        "finished": hypothesis.finished, "truncated_audio": hypothesis.truncated_audio})

    started = time.perf_counter()
    try:
        if todo:
            decoder(system, [utterances[i].audio() for i in todo], lang, settings,
                    progress=f"{name} {testset.name} {lang}", on_result=keep)
    finally:
        checkpoint.close(remove=False)
    rows = [dict(checkpoint.done[(lang, u.id)]) for u in utterances]

    scores, degeneration = score_rows(track, lang, rows)

    decode_pass = speed.decode_pass(time.perf_counter() - started, decoded=len(todo), resumed=len(rows) - len(todo))
    summary = {
        "metrics": {name: score.to_dict() for name, score in scores.items()},
        "degeneration": degeneration.summary,
        "speed": (speed.measure(system, decoder, speed.segmented_sample(testset), lang, settings, backend=backend,
                                processes=speed.processes())
                  if measure_speed else speed.absent(speed.NOT_REQUESTED)),
        "decode_pass": decode_pass,
        "model": system.provenance(),
        "decode_settings": settings.as_dict(),
        "truncated_audio": sum(bool(r["truncated_audio"]) for r in rows),
        "unfinished": sum(not r["finished"] for r in rows),
    }
    return rows, summary


def _storage_verdict(system_dir: Path, track: Track) -> dict:
    try:
        report = storage.check(system_dir, track)
    except storage.CheckError as error:
        return {"status": "invalid", "reason": str(error)}
    data = storage.to_json(report)
    return {key: data[key] for key in ("status", "exit_code", "reason", "totals", "verdicts") if key in data}


def evaluate_rows(rows: Sequence[report.ReportRow], track: Track, spec: TestSetSpec, *, results_root: Path,
                  settings: DecodeSettings, device: str = "cpu", langs: Sequence[str] | None = None,
                  log=print) -> list[report.RowResult]:
    """Evaluate every row's systems on one test set; results files (resumable) go under ``results_root``."""
    testset = load_spec(spec)
    out = []
    for row in rows:
        result = report.RowResult(row)
        for lang, folder in row.systems.items():
            if langs and lang not in langs:
                continue
            name = f"{row.slug}-{lang}"
            summary = _finished_report(results.ResultPaths.of(track.name, name, spec.name, results_root), folder, lang,
                                testset, settings)
            if summary is None:
                summary = evaluate(folder, track, spec, testset, settings, results_root=results_root, device=device,
                                   measure_speed=False, name=name, only=(lang,))
            result.metrics[lang] = summary["languages"][lang]["metrics"]
            result.size[lang] = report.size_of(folder, track)
            if log:
                shown = ", ".join(f"{m} {v['value']:.2f}" for m, v in result.metrics[lang].items()
                                  if v["value"] is not None)
                log(f"{row.label} [{lang}]: {shown}")
        out.append(result)
    return out


def _finished_report(paths, folder: Path, lang: str, testset, settings: DecodeSettings) -> dict | None:
    """An earlier results file of the same model (content hash), test set and decode settings, else None."""
    import json

    from harness.systems.models import read_manifest

    from harness.files import content_hash
    if not paths.summary.is_file() or not paths.segments.is_file():
        return None
    summary = json.loads(paths.summary.read_text())
    report = summary.get("languages", {}).get(lang)
    if report is None or summary.get("testset", {}).get("content_hash") != testset.content_hash:
        return None
    model_dir = (Path(folder) / read_manifest(folder).languages[lang]).resolve()
    if report.get("model", {}).get("content_hash") != content_hash(model_dir):
        return None
    stored, mine = report.get("decode_settings") or {}, settings.as_dict()
    if mine.get("prompt_style") is None:  # resolved from the system when it decodes
        mine["prompt_style"] = stored.get("prompt_style")
    return summary if stored == mine else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness eval", description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="mini")
    parser.add_argument("--system", action="append", help="only this built system (repeatable)")
    parser.add_argument("--testset", action="append", help="only this test set (repeatable)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: the track's")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--speed", action=argparse.BooleanOptionalAction, default=True,
                        help="measure speed by the speed protocol after scoring (harness.evaluation.speed; default: yes)")
    parser.add_argument("--segmentation", default=longform.DEFAULT_METHOD, choices=("dac", "vad", "fixed", "gold"),
                        help="how long-form sets are segmented (default: SHAS-style divide-and-conquer)")
    parser.add_argument("--backend", choices=("transformers", "vllm"), default="transformers",
                        help="decoding backend; vllm (hf systems, where vLLM is installed) never falls back silently")
    parser.add_argument("--build-root", type=Path, default=BUILD_ROOT)
    parser.add_argument("--results-root", type=Path, default=results.RESULTS_ROOT)
    parser.add_argument("--nproc", type=int, default=1,
                        help="data-parallel decoding processes (relaunches through torchrun; see harness.inference.distributed)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds a contract system's run.sh may take per run (default: the track's, harness.evaluation.contract)")
    parser.add_argument("--allow-network", action="store_true",
                        help="run contract systems even where no network isolation is available (recorded)")
    parser.add_argument("--devices", default=None,
                        help="evaluate systems side by side, one per device at a time: cpu / cuda:N, comma-separated, "
                             "or auto (every visible CUDA device); default: the single --device (harness.evaluation.schedule)")
    # A harness.evaluation.schedule worker: exactly the named systems (no base added), long-form segmentations from this file.
    parser.add_argument("--schedule-worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # --- schedule hook (issue 19 part 6): --devices runs one system per device at a time ---
    if args.devices is not None:
        from harness.evaluation import schedule
        return schedule.eval_entry(args, _run, plan=plan, segment_longform=segment_longform, errors=EVAL_ERRORS)
    # --- end of the schedule hook ---
    # --- distributed hook (issue 11): --nproc N relaunches as N processes; a worker shards decoding ---
    from harness.inference import distributed

    if args.nproc != 1 or distributed.launched():
        return distributed.eval_entry(argv, args.device, args.nproc, lambda decoder: _run(args, decoder))
    # --- end of the distributed hook ---
    return _run(args)


def plan(args: argparse.Namespace) -> tuple[Track, DecodeSettings, list[TestSetSpec], list[Path]]:
    """What an eval runs: the track, the decode settings, the test sets and the systems, the track's
    base first where its results are missing (a harness.evaluation.schedule worker: exactly the named systems)."""
    track = get_track(args.track)
    settings = DecodeSettings(max_new_tokens=args.max_new_tokens or track.max_new_tokens,
                              batch_size=args.batch_size)
    specs = [s for s in track.testsets if not args.testset or s.name in args.testset]
    unknown = set(args.testset or ()) - {s.name for s in track.testsets}
    if unknown:
        raise EvalError(f"unknown test set {sorted(unknown)[0]!r} for track {track.name}; "
                        f"known: {', '.join(s.name for s in track.testsets)}")
    systems = find_systems(track, args.build_root, args.system)
    if args.schedule_worker is not None:
        return track, settings, specs, systems  # the schedule's parent added the base to its queue
    try:
        systems = with_base(systems, track, specs, args.build_root, args.results_root)
    except EvalError as error:
        if args.system:
            raise  # systems named to be compared: without their base there is nothing to compare with
        print(f"warning: {error} (the leaderboard's Δ columns stay empty)", file=sys.stderr)
    return track, settings, specs, systems


def segment_longform(spec: TestSetSpec, testset: LongFormSet, track: Track, method: str):
    """A long-form set's segmentation (harness.evaluation.longform.segment), its statistics printed."""
    segmentation = longform.segment(testset, track, method)
    stats = segmentation.stats()
    print(f"{spec.name}: {stats['segments']} segments by {method} "
          f"(mean {stats['mean_seconds'] or 0:.1f} s; dropped speech "
          f"{100 * (stats['dropped_speech_share'] or 0):.1f} %)")
    return segmentation


def _run(args: argparse.Namespace, decoder: Decoder = decode) -> int:
    """Evaluate what ``args`` names; ``decoder`` decodes every built system (harness.inference.decode.decode by default)."""
    try:
        track, settings, specs, systems = plan(args)
        # Each test set is loaded and verified once, however many systems there are.
        testsets = {spec.name: load_spec(spec) for spec in specs}
        segmentations: dict = {}  # one segmentation per long-form set, shared by every system
        if args.schedule_worker is not None:  # computed once by the schedule's parent, for every worker
            from harness.evaluation import schedule

            segmentations = schedule.read_segmentations(args.schedule_worker, testsets, args.segmentation)
        for system_dir in systems:
            verdict = _storage_verdict(system_dir, track)
            print(f"{system_dir.name}: {verdict.get('reason')}")
            for spec in specs:
                testset = testsets[spec.name]
                if isinstance(testset, LongFormSet) and spec.name not in segmentations:
                    segmentations[spec.name] = segment_longform(spec, testset, track, args.segmentation)
                if contract.is_contract(system_dir):
                    # Run by contract: the harness's segmentation and scoring, the submission's run.sh decoding.
                    summary = contract.evaluate(system_dir, track, spec, testset, settings,
                                                results_root=args.results_root,
                                                segmentation=segmentations.get(spec.name),
                                                storage_verdict=verdict, time_limit=args.time_limit,
                                                allow_network=args.allow_network)
                elif isinstance(testset, LongFormSet):
                    summary = longform.evaluate_longform(system_dir, track, spec, testset, settings,
                                                         results_root=args.results_root, device=args.device,
                                                         segmentation=segmentations[spec.name],
                                                         storage_verdict=verdict, backend=args.backend,
                                                         measure_speed=args.speed, decoder=decoder)
                else:
                    summary = evaluate(system_dir, track, spec, testset, settings, results_root=args.results_root,
                                       device=args.device, measure_speed=args.speed,
                                       storage_verdict=verdict, backend=args.backend, decoder=decoder)
                for lang, report in summary["languages"].items():
                    shown = ", ".join(f"{name} {m['value']:.2f}" if m["value"] is not None else f"{name} absent"
                                      for name, m in report["metrics"].items())
                    print(f"{system_dir.name} / {spec.name} / en-{lang}: {shown}; {speed.describe(report['speed'])}")
    except EVAL_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
