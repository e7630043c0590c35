"""Systems run by contract: a submission folder with an executable ``run.sh`` and its weights.

The WMT26 model-compression organizers run teams' systems as black boxes
(thammegowda/wmt26-model-compression): a submission is a folder holding an executable
``run.sh`` plus its weights, called with a language pair, reading its input from a file
and writing one output line per input line, after a short smoke test. A submission folder
here may do the same instead of holding build.py-produced weights with a ``system.json``
(harness.systems.models): ``make eval`` then runs it by this contract, ``make smoke`` tests it on
five utterances, ``make check`` sizes it without running it.

The contract::

    run.sh <direction> <input list> <output file>

direction    ``en-de`` or ``en-zh``: ``en-`` and one of the track's target languages; the
             harness calls run.sh once per direction and test set.
input list   a UTF-8 text file, one absolute path per line, each a 16 kHz mono WAV file: 16-bit
             PCM, or 32-bit float where the set's audio is not exactly 16-bit (``write_clip``),
             so the audio is the harness's, sample for sample.
output file  written by run.sh: UTF-8, exactly one hypothesis per input line, in input order;
             ``\\n`` ends a line (a final one is optional, ``\\r\\n`` is read as ``\\n``); an empty
             line is an empty hypothesis (scored as one; the smoke test refuses it). At most
             ``MAX_LINE_BYTES`` per line on average.
exit status  0; anything else is a failure, shown with the tail of the log.

Where it runs:

- the working directory is the submission folder;
- the environment holds only ``PATH`` (the harness's), ``HOME`` (a fresh temporary folder,
  removed afterwards), ``LANG=C.UTF-8``, ``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``,
  ``HF_DATASETS_OFFLINE=1``, ``OMP_NUM_THREADS`` (the harness's own, else the thread count its
  own decoding uses), ``CUDA_VISIBLE_DEVICES`` (when set) and ``CONTRACT_BATCH_SIZE`` (the
  evaluation's batch size: a hint a system may ignore, as the organizers' harness passes one);
  nothing else of the harness's environment (tokens, credentials) reaches it;
- no network: run.sh runs in a new network namespace (``unshare --net``, or
  ``unshare --net --map-root-user`` where a plain one is not allowed), whose only interface is
  a loopback that is down. Where neither works the harness refuses to run a contract unless
  ``--allow-network`` is given; the results record which isolation applied;
- a wall-clock limit per run (``TIME_LIMITS``: the track's start-up allowance plus seconds per
  second of audio; ``--time-limit`` overrides): past it, run.sh and its whole process group are
  killed (SIGKILL) and the run fails with a one-line error. Processes run.sh leaves running in
  its group after it exits are killed too;
- stdin is empty; stdout and stderr go to a log file beside the results
  (``<testset>.<lang>.contract.log``; the smoke test's beside the folder), whose last lines a
  failure shows.

Long-form sets: the harness segments every talk itself, with the segmentation every other
system gets (harness.evaluation.longform.segment, harness.segmentation.segment), and passes the segments as WAV files,
talk after talk; run.sh's lines are the segment hypotheses, which are resegmented and scored
exactly as a built system's (harness.evaluation.longform.score_resegmented). Segmented sets are scored as
make eval scores a built system (harness.scoring.metrics.score_rows), and both are written by the
same writers, so the results files have the schemas of make eval, plus ``run_by: "contract"``
and a ``contract`` block (run.sh's sha256, the isolation, the environment's names, the limit).

Speed: the speed protocol (harness.evaluation.speed) times the harness's own decoding loop on a loaded
model; a contract decodes in a process of its own, so no protocol figure exists for it and its
speed block is absent, with the reason. What can be measured is recorded per run as
``contract_run``: run.sh's wall seconds, seconds per audio second and RTFx, all including
process start-up and model loading, so comparable with no protocol figure (the reason line says
so, the leaderboard never ranks them).

A run is not resumed: an evaluation killed midway runs run.sh again, whole, per direction.

What the harness never does: run run.sh during ``make check`` (harness.systems.storage reads bytes and
headers only), import or unpickle anything of the folder, or pass it anything but the audio.
"""

from __future__ import annotations

import argparse
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError, one_line

RUN_SCRIPT = "run.sh"
SYSTEM_FILE = "system.json"   # harness.systems.models.SYSTEM_FILE, named here so that check and smoke need no torch
RUN_BY = "contract"
SMOKE_UTTERANCES = 5
LOG_TAIL_LINES = 5
LOG_TAIL_BYTES = 64 * 1024
MAX_LINE_BYTES = 64 * 1024   # an output file above this many bytes per input line is refused unread
# Network isolation, tried in this order; the first that runs `true` is used.
ISOLATIONS = (("unshare --net", ("unshare", "--net")),
              ("unshare --net --map-root-user", ("unshare", "--net", "--map-root-user")))
NO_ISOLATION = "none: no network isolation was available and --allow-network was given"


@dataclass(frozen=True)
class TimeLimit:
    """A run's wall-clock limit: start-up (interpreter, imports, loading the weights) plus decoding."""

    startup_seconds: float
    seconds_per_audio_second: float

    def seconds(self, audio_seconds: float) -> float:
        return self.startup_seconds + self.seconds_per_audio_second * audio_seconds

    def as_dict(self) -> dict:
        return {"startup_seconds": self.startup_seconds, "seconds_per_audio_second": self.seconds_per_audio_second}


# mini: contract-baseline's run.sh took 7.6 s for talks_test's 370 s of audio on 2 shared
# cores, start-up included, and the built baseline's decoding up to 0.54 s per audio second
# with other jobs on those cores; the limit leaves twice that and two minutes to start.
# 7B tracks: one GPU, a model of up to 4 GB loaded from disk; real time leaves any
# compressed model of the task ample room.
TIME_LIMITS = {
    "mini": TimeLimit(startup_seconds=120.0, seconds_per_audio_second=1.0),
    "iwslt2026": TimeLimit(startup_seconds=900.0, seconds_per_audio_second=1.0),
    "iwslt2025": TimeLimit(startup_seconds=900.0, seconds_per_audio_second=1.0),
}
TIMING_NOTE = ("run.sh's wall seconds, process start-up and model loading included; not the speed protocol's "
               "figure and comparable with none of its figures")


class ContractError(HarnessError, ValueError):
    """A one-line reason a contract system is refused before it runs (no run.sh, not executable, ...)."""


class ContractFailure(ContractError):
    """A one-line reason a run broke the contract (exit status, time limit, line count, UTF-8)."""


# ---------------------------------------------------------------- the folder


def is_contract(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is a submission run by contract: it holds a run.sh (checked by ``check_folder``)."""
    return os.path.lexists(Path(folder) / RUN_SCRIPT)


def check_folder(folder: str | os.PathLike) -> Path:
    """The folder's run.sh, refused in one line unless it is an executable regular file of the folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ContractError(f"{folder}: no such folder")
    script = folder / RUN_SCRIPT
    if not os.path.lexists(script):
        raise ContractError(f"{folder}: no {RUN_SCRIPT} (a system run by contract is a folder with an executable "
                            f"{RUN_SCRIPT} and its weights)")
    mode = os.lstat(script).st_mode
    if not stat.S_ISREG(mode):
        raise ContractError(f"{script}: not a regular file (a symlink or a folder is never run)")
    if not os.access(script, os.X_OK):
        raise ContractError(f"{script}: not executable (chmod +x {RUN_SCRIPT})")
    if os.path.lexists(folder / SYSTEM_FILE):
        raise ContractError(f"{folder}: holds both {SYSTEM_FILE} and {RUN_SCRIPT}; a system is either built "
                            f"({SYSTEM_FILE}, decoded by the harness) or run by contract ({RUN_SCRIPT})")
    return script


@dataclass(frozen=True)
class ContractManifest:
    """What a results file records about a contract system (in the place of a system.json)."""

    run_script_sha256: str
    content_hash: str     # of every file of the folder (harness.files.content_hash)

    @classmethod
    def of(cls, folder: Path) -> ContractManifest:
        from harness.files import content_hash, file_sha256

        return cls(file_sha256(check_folder(folder)), content_hash(folder))

    def as_dict(self) -> dict:
        return {"format": RUN_BY, "run_script": RUN_SCRIPT, "run_script_sha256": self.run_script_sha256,
                "content_hash": self.content_hash, "base_model": None, "built_by": None}


# ---------------------------------------------------------------- isolation and environment


@dataclass(frozen=True)
class Isolation:
    name: str                  # what the results record
    prefix: tuple[str, ...]    # the command run.sh is run under


def isolation(allow_network: bool = False, candidates=None) -> Isolation:
    """The first network isolation of ``candidates`` (default ``ISOLATIONS``) that works here; none only
    with ``allow_network``, else refused."""
    reasons = []
    for name, prefix in ISOLATIONS if candidates is None else candidates:
        try:
            done = subprocess.run([*prefix, "true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except FileNotFoundError:
            reasons.append(f"{prefix[0]} is not installed")
            continue
        except (OSError, subprocess.TimeoutExpired) as error:
            reasons.append(f"{name}: {one_line(error)}")
            continue
        if done.returncode == 0:
            return Isolation(name, tuple(prefix))
        reasons.append(f"{name}: {one_line(done.stderr.decode('utf-8', 'replace')) or f'exit {done.returncode}'}")
    if allow_network:
        return Isolation(NO_ISOLATION, ())
    raise ContractError(f"no network isolation is available here ({'; '.join(reasons)}); a contract system runs "
                        f"without network: pass --allow-network to run it with the network (the results record it)")


def _harness_threads() -> int:
    # The thread count the harness's own decoding runs with (harness.inference.decode), so that a
    # contract system gets what a built system gets.
    from harness.inference.decode import configure_threads

    return configure_threads()


def environment(home: Path, batch_size: int | None = None) -> dict[str, str]:
    """The whole environment run.sh sees (the module docstring's list); nothing else is passed."""
    env = {"PATH": os.environ.get("PATH") or os.defpath, "HOME": str(home), "LANG": "C.UTF-8",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS") or str(_harness_threads())}
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    if batch_size is not None:
        env["CONTRACT_BATCH_SIZE"] = str(batch_size)
    return env


# ---------------------------------------------------------------- the audio


def write_clip(path: Path, audio: np.ndarray) -> None:
    """One clip as a 16 kHz mono WAV file: 16-bit PCM where that holds the samples exactly (every set
    stored as 16-bit FLAC or WAV), else 32-bit float, so run.sh reads the harness's samples unchanged."""
    import soundfile as sf

    from harness.data.audio import SAMPLE_RATE, write_wav

    scaled = np.asarray(audio, dtype=np.float64) * 32768.0
    if scaled.size and np.array_equal(scaled, np.rint(scaled)) and scaled.min() >= -32768 and scaled.max() <= 32767:
        write_wav(path, audio)
    else:
        sf.write(path, np.asarray(audio, dtype=np.float32), SAMPLE_RATE, format="WAV", subtype="FLOAT")


def write_clips(folder: Path, audios: Iterable[np.ndarray]) -> tuple[list[Path], float]:
    """Every clip as ``<index>.wav`` in ``folder``, one at a time: (absolute paths in order, audio seconds)."""
    from harness.data.audio import SAMPLE_RATE

    paths, samples = [], 0
    for index, audio in enumerate(audios):
        path = folder.resolve() / f"{index:06d}.wav"
        write_clip(path, audio)
        paths.append(path)
        samples += len(audio)
    return paths, samples / SAMPLE_RATE


# ---------------------------------------------------------------- one run


@dataclass(frozen=True)
class Run:
    direction: str
    lines: list[str]
    wall_seconds: float
    audio_seconds: float
    time_limit_seconds: float
    log: Path

    def as_dict(self) -> dict:
        """The run's ``contract_run`` block: what can be timed from outside, named as such."""
        return {"direction": self.direction, "inputs": len(self.lines), "audio_seconds": round(self.audio_seconds, 3),
                "wall_seconds": round(self.wall_seconds, 3),
                "seconds_per_audio_second": round(self.wall_seconds / self.audio_seconds, 4) if self.audio_seconds else None,
                "rtfx_including_startup": round(self.audio_seconds / self.wall_seconds, 4) if self.wall_seconds else None,
                "time_limit_seconds": round(self.time_limit_seconds, 1), "log": self.log.name, "note": TIMING_NOTE}

    def speed_reason(self) -> str:
        """Why the speed block is absent, with what was measured instead."""
        rtfx = self.audio_seconds / self.wall_seconds if self.wall_seconds else 0.0
        return (f"not measured by the speed protocol: a contract system decodes in its own process, which the "
                f"protocol cannot time; run.sh took {self.wall_seconds:.1f} s for {self.audio_seconds:.1f} s of audio "
                f"(RTFx {rtfx:.2f} including process start-up and model loading, comparable with no protocol figure)")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass   # the group is gone (PermissionError: only zombies are left, on some kernels)


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The log's last non-empty lines as one line ("a | b | c"), or "(empty log)"."""
    try:
        with open(log, "rb") as stream:
            stream.seek(max(0, os.fstat(stream.fileno()).st_size - LOG_TAIL_BYTES))
            text = stream.read().decode("utf-8", "replace")
    except OSError as error:
        return f"(log unreadable: {error.strerror or error})"
    # Progress bars rewrite one line with \r: each rewrite is a line of its own here.
    shown = [one_line(line)[:300] for line in text.replace("\r", "\n").split("\n") if line.strip()]
    return " | ".join(shown[-lines:]) or "(empty log)"


def read_output(path: Path, expected: int, where: str) -> list[str]:
    """run.sh's output lines, refused in one line unless a regular UTF-8 file with ``expected`` lines."""
    if not os.path.lexists(path):
        raise ContractFailure(f"{where}: run.sh exited 0 but wrote no output file")
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ContractFailure(f"{where}: the output is not a regular file (a symlink, a folder or a FIFO is never read)")
    if info.st_size > MAX_LINE_BYTES * max(expected, 1):
        raise ContractFailure(f"{where}: the output has {info.st_size:,} bytes for {expected} inputs "
                              f"(at most {MAX_LINE_BYTES:,} per line)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ContractFailure(f"{where}: the output is not UTF-8 (byte 0x{data[error.start]:02x} on line {line})") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if len(lines) != expected:
        raise ContractFailure(f"{where}: {len(lines)} output lines for {expected} input lines "
                              f"(one hypothesis per input line)")
    return lines


def run(folder: str | os.PathLike, direction: str, clips: Sequence[Path], *, log: Path, time_limit: float,
        isolation: Isolation, audio_seconds: float = 0.0, batch_size: int | None = None,
        name: str | None = None) -> Run:
    """Run the folder's run.sh on ``clips`` for ``direction`` under the contract; its hypotheses, one per clip.

    Raises ContractError before running (run.sh missing or not executable) and ContractFailure
    for a run that broke the contract (exit status with the log's tail, time limit, output).
    """
    folder = Path(folder).resolve()
    check_folder(folder)
    where = f"{name or folder.name} {direction}"
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="harness-contract-") as work:
        work = Path(work)
        home = work / "home"
        home.mkdir()
        inputs, output = work / "inputs.txt", work / "output.txt"
        inputs.write_text("".join(f"{path}\n" for path in clips), encoding="utf-8")
        command = [*isolation.prefix, f"./{RUN_SCRIPT}", direction, str(inputs), str(output)]
        env = environment(home, batch_size)
        with open(log, "wb") as stream:
            stream.write(f"# harness.evaluation.contract: {' '.join(command)} (in {folder}; isolation {isolation.name}; "
                         f"time limit {time_limit:.0f} s; environment {', '.join(sorted(env))})\n".encode())
            stream.flush()
            started = time.perf_counter()
            # A session of its own: run.sh and everything it starts share one process group to kill.
            process = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=stream,
                                       stderr=subprocess.STDOUT, start_new_session=True)
            try:
                code = process.wait(timeout=time_limit)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
                process.wait()
                raise ContractFailure(f"{where}: run.sh ran past the time limit of {time_limit:.0f} s and was killed "
                                      f"with its process group (log {log})") from None
            except BaseException:
                _kill_group(process.pid)
                process.wait()
                raise
            finally:
                wall = time.perf_counter() - started
            _kill_group(process.pid)   # whatever it left running in its group
        if code != 0:
            raise ContractFailure(f"{where}: run.sh exited with status {code} (log {log}): {log_tail(log)}")
        lines = read_output(output, len(clips), where)
    return Run(direction, lines, wall, audio_seconds, time_limit, log)


def time_limit_for(track, audio_seconds: float, override: float | None = None) -> float:
    if override is not None:
        if not override > 0:
            raise ContractError(f"--time-limit must be positive, got {override}")
        return override
    if track.name not in TIME_LIMITS:
        raise ContractError(f"track {track.name} has no contract time limit in harness.evaluation.contract.TIME_LIMITS; "
                            f"pass --time-limit")
    return TIME_LIMITS[track.name].seconds(audio_seconds)


# ---------------------------------------------------------------- evaluation


def _languages(track, testset) -> list[str]:
    # A contract serves every direction of the track (the harness calls run.sh for each).
    return [lang for lang in track.languages if lang in testset.languages]


def _extra(manifest: ContractManifest, chosen: Isolation, track, override: float | None) -> dict:
    return {"run_by": RUN_BY,
            "contract": {"run_script": RUN_SCRIPT, "run_script_sha256": manifest.run_script_sha256,
                         "isolation": chosen.name, "environment": sorted(environment(Path("/"), 0)),
                         "time_limit": ({"seconds": override} if override is not None else
                                        TIME_LIMITS[track.name].as_dict()),
                         "audio": "16 kHz mono WAV, one file per segment (harness.evaluation.contract.write_clip)"}}


def _report(done: Run, scores: dict, degeneration, manifest: ContractManifest, folder: Path, lang: str) -> dict:
    from harness.evaluation import speed

    return {"metrics": {metric: score.to_dict() for metric, score in scores.items()},
            "degeneration": degeneration.summary,
            "speed": speed.absent(done.speed_reason()),
            "contract_run": done.as_dict(),
            "decode_pass": speed.decode_pass(done.wall_seconds, decoded=len(done.lines), resumed=0),
            "model": {"folder": str(folder), "lang": lang, "format": RUN_BY, "content_hash": manifest.content_hash},
            "decode_settings": None}


def evaluate(system_dir: Path, track, spec, testset, settings, *, results_root: Path, segmentation=None,
             storage_verdict: dict | None = None, time_limit: float | None = None, allow_network: bool = False,
             name: str | None = None) -> dict:
    """Run one contract system on one test set (segmented or long-form), score it as make eval scores a
    built system, write the results files and return the summary."""
    from harness.data.testsets import LongFormSet

    folder = Path(system_dir)
    check_folder(folder)
    chosen = isolation(allow_network)
    time_limit_for(track, 0.0, time_limit)   # a bad --time-limit or a track without one is refused before any work
    manifest = ContractManifest.of(folder)
    name = name or folder.name
    if isinstance(testset, LongFormSet):
        return _evaluate_longform(folder, track, spec, testset, settings, results_root, segmentation,
                                  storage_verdict, time_limit, chosen, manifest, name)
    return _evaluate_segmented(folder, track, spec, testset, settings, results_root, storage_verdict, time_limit,
                               chosen, manifest, name)


def _log(paths, set_name: str, lang: str) -> Path:
    return paths.summary.with_name(f"{set_name}.{lang}.contract.log")


def _evaluate_segmented(folder, track, spec, testset, settings, results_root, storage_verdict, override, chosen,
                        manifest, name) -> dict:
    from harness import results
    from harness.results import write_segmented
    from harness.scoring.metrics import score_rows

    if not testset.utterances:
        raise ContractError(f"test set {testset.name} is empty")
    paths = results.ResultPaths.of(track.name, name, spec.name, results_root)
    languages, rows = {}, []
    with tempfile.TemporaryDirectory(prefix="harness-contract-audio-") as audio_dir:
        clips, seconds = write_clips(Path(audio_dir), (u.audio() for u in testset.utterances))
        for lang in _languages(track, testset):
            done = run(folder, f"en-{lang}", clips, log=_log(paths, spec.name, lang), isolation=chosen,
                       time_limit=time_limit_for(track, seconds, override), audio_seconds=seconds,
                       batch_size=settings.batch_size, name=name)
            lang_rows = [{"id": u.id, "lang": lang, "audio_seconds": round(u.seconds, 4), "source": u.en,
                          "reference": u.targets[lang], "hypothesis": line}
                         for u, line in zip(testset.utterances, done.lines)]
            scores, degeneration = score_rows(track, lang, lang_rows)
            languages[lang] = _report(done, scores, degeneration, manifest, folder, lang)
            rows += lang_rows
    return write_segmented(paths, rows, name=name, manifest=manifest, track=track, spec=spec, testset=testset,
                           settings=None, languages=languages, storage_verdict=storage_verdict,
                           extra=_extra(manifest, chosen, track, override))


def _evaluate_longform(folder, track, spec, longform_set, settings, results_root, segmentation, storage_verdict,
                       override, chosen, manifest, name) -> dict:
    from harness import results
    from harness.evaluation import longform
    from harness.segmentation.resegment import set_report
    from harness.segmentation.segment import iter_file_segments

    segmentation = segmentation or longform.segment(longform_set, track)
    set_name = longform._results_name(spec, segmentation, None)
    paths = results.ResultPaths.of(track.name, name, set_name, results_root)
    counts = {talk.talk_id: len(segmentation.segments(talk.talk_id)) for talk in longform_set.talks}
    pieces = (piece for talk in longform_set.talks
              for piece in iter_file_segments(talk.wav_path, segmentation.segments(talk.talk_id)))
    languages, rows = {}, []
    with tempfile.TemporaryDirectory(prefix="harness-contract-audio-") as audio_dir:
        clips, seconds = write_clips(Path(audio_dir), pieces)
        for lang in _languages(track, longform_set):
            done = run(folder, f"en-{lang}", clips, log=_log(paths, set_name, lang), isolation=chosen,
                       time_limit=time_limit_for(track, seconds, override), audio_seconds=seconds,
                       batch_size=settings.batch_size, name=name)
            by_talk, start = {}, 0
            for talk in longform_set.talks:
                by_talk[talk.talk_id] = done.lines[start:start + counts[talk.talk_id]]
                start += counts[talk.talk_id]
            lang_rows, scores, degeneration, aligned = longform.score_resegmented(track, longform_set, lang, by_talk)
            languages[lang] = {**_report(done, scores, degeneration, manifest, folder, lang),
                               "resegmentation": set_report(aligned), "hypothesis_lines": list(done.lines)}
            rows += lang_rows
    return longform._write_summary(paths, name, manifest, track, spec, longform_set, segmentation, None, languages,
                                   rows, storage_verdict, extra=_extra(manifest, chosen, track, override))


# ---------------------------------------------------------------- the smoke test


def smoke(folder: str | os.PathLike, track, testset, *, utterances: int = SMOKE_UTTERANCES,
          allow_network: bool = False, time_limit: float | None = None, batch_size: int | None = None,
          log_dir: Path | None = None) -> str:
    """Run the contract on the set's first ``utterances`` utterances in every direction of the track;
    the one-line verdict. Raises ContractError (refused before running) or ContractFailure (a run broke
    the contract, or an output line is empty)."""
    started = time.perf_counter()
    folder = Path(folder)
    check_folder(folder)
    chosen = isolation(allow_network)
    chosen_utterances = testset.utterances[:utterances]
    if not chosen_utterances:
        raise ContractError(f"test set {testset.name} is empty")
    log_dir = Path(log_dir) if log_dir is not None else folder.resolve().parent / ".smoke"
    langs = _languages(track, testset)
    with tempfile.TemporaryDirectory(prefix="harness-contract-smoke-") as audio_dir:
        clips, seconds = write_clips(Path(audio_dir), (u.audio() for u in chosen_utterances))
        for lang in langs:
            done = run(folder, f"en-{lang}", clips, log=log_dir / f"{folder.name}.en-{lang}.log", isolation=chosen,
                       time_limit=time_limit_for(track, seconds, time_limit), audio_seconds=seconds,
                       batch_size=batch_size)
            empty = [str(i) for i, line in enumerate(done.lines, 1) if not line.strip()]
            if empty:
                raise ContractFailure(f"{folder.name} en-{lang}: empty output on line(s) {', '.join(empty)} of "
                                      f"{len(clips)} (log {done.log})")
    directions = ", ".join(f"en-{lang}" for lang in langs)
    return (f"smoke passed: {folder.name} {directions} on the first {len(clips)} utterances of {testset.name}: "
            f"exit 0, {len(clips)} of {len(clips)} lines, UTF-8, none empty (isolation {chosen.name}; "
            f"{time.perf_counter() - started:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness smoke",
                                     description="Smoke-test a system run by contract (run.sh) on the first utterances "
                                                 "of a test set: exit status, line count, UTF-8, no empty output.")
    parser.add_argument("folder", type=Path, help="the submission folder (run.sh plus its weights)")
    parser.add_argument("--track", default="mini")
    parser.add_argument("--testset", default=None, help="a segmented set of the track (default: its first)")
    parser.add_argument("--utterances", type=int, default=SMOKE_UTTERANCES)
    parser.add_argument("--batch-size", type=int, default=16, help="passed to run.sh as CONTRACT_BATCH_SIZE")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per run (default: the track's)")
    parser.add_argument("--allow-network", action="store_true",
                        help="run even where no network isolation is available")
    parser.add_argument("--log-dir", type=Path, default=None, help="default: .smoke/ beside the folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        from harness.data.testsets import LongFormSet, TestSetError
        from harness.data.tracks import get_track, load_spec, spec_by_name

        track = get_track(args.track)
        check_folder(args.folder)   # a folder that is no contract is refused before the test set is loaded
        if args.utterances < 1:
            raise ContractError(f"--utterances must be at least 1, got {args.utterances}")
        # The default is the track's first set not in the organizers' layout: those are all long-form.
        spec = spec_by_name(track, args.testset) if args.testset else \
            next((s for s in track.testsets if s.source != "iwslt-layout"), track.testsets[0])
        if spec is None:
            raise ContractError(f"track {track.name} has no test set {args.testset!r}")
        try:
            testset = load_spec(spec)
        except TestSetError as error:
            raise ContractError(str(error)) from None
        if isinstance(testset, LongFormSet):
            raise ContractError(f"{spec.name} is a long-form set; the smoke test takes a segmented one (--testset)")
        print(smoke(args.folder, track, testset, utterances=args.utterances, allow_network=args.allow_network,
                    time_limit=args.time_limit, batch_size=args.batch_size, log_dir=args.log_dir))
    except ContractFailure as error:
        print(f"smoke failed: {error} ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        return 1
    except (ContractError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
