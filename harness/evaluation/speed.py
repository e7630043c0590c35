"""The speed protocol: how the harness measures speed, and what makes two figures comparable.

Peer leaderboards publish one throughput figure per model, timed during the scoring
pass on whatever machine was free; readers then compare a figure measured on an idle
GPU with one measured while three other jobs trained (open_asr_leaderboard issues
14, 18 and 89 report exactly this). The protocol here follows the practice of MLPerf
Inference and of pyperf: speed is its own phase, after a warm-up, repeated, reported
as the median with its spread, and recorded with the conditions it ran under.

1. Its own phase. Speed is measured after the quality pass, on the loaded model, on a
   fixed sample of the test set (its first ``sample_utterances`` utterances, or for a
   long-form set the first segments of the recorded segmentation); the quality pass's
   own timing is kept only as ``decode_pass`` and is not a speed figure. A resumed run
   therefore never sums timings across runs: the phase is measured whole, every run.
2. Warm-up. ``warmup_utterances`` clips are decoded at batch 1, and the whole sample once
   at the batch size, and discarded: lazy initialisation, allocator growth and kernel
   selection are paid there (with a two-clip batch only, the first timed repetition of a
   16-clip batch measured 14-17 % slower than the next two on the mini base).
3. Repetitions. ``repetitions`` times: the sample at the evaluation's batch size (RTFx
   = audio seconds / wall seconds; new tokens per second), then the first
   ``latency_utterances`` clips one call each at batch 1 (latency = the call's wall
   seconds, feature extraction to text; the repetition's figure is their median).
   Each figure is reported as median, min, max and spread = (max - min) / median.
4. Load. While the phase runs, a thread samples the machine every ``interval`` s:
   /proc/stat's busy time minus this process's own (and, under a data-parallel launch,
   its sibling workers'), as a share of all CPUs; the load average; and which other
   processes used the CPU. A phase whose others' CPU share exceeds
   ``contention_threshold`` is ``contended`` and is never ranked on speed (the
   leaderboard shows it apart); where the load cannot be sampled (no /proc), nothing
   says the run had the machine, and it is not ranked either. An evaluation that
   harness.evaluation.schedule runs beside others (``--devices``: one system per device, at the same
   time) is contended whenever another of its workers ran during the phase
   (``scheduled_beside``), whatever their CPU share: on separate GPUs they still share the
   CPUs, the PCIe links and the host memory, and a GPU-bound worker's one busy core is
   below the threshold on a many-core machine.
5. Comparability. The hardware (CPU model and count, or GPU name), device, backend,
   dtype, batch size, process count, torch threads and the sample's identity (a hash of
   its audio) are recorded as ``comparability`` and hashed into ``comparability_key``;
   the leaderboard ranks speed only among rows with the same key.
6. Memory. Peak resident memory of the process; GPU memory by torch's allocator
   (``max_memory_allocated`` over the phase) where the model runs in this process, and
   by NVML (the device's used memory, sampled with the load) for vLLM, whose engine
   allocates outside torch's allocator. Where neither applies the reason is written.

``python -m harness speed <system>`` re-measures the phase on the recorded sample and
rewrites only the speed block of the existing results files (atomically), without
decoding or scoring the test set again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

PROTOCOL_VERSION = 1
PROTOCOL = {
    "name": "iwslt-harness/speed",
    "version": PROTOCOL_VERSION,
    "warmup_utterances": 2,
    "repetitions": 3,
    "sample_utterances": 16,
    "latency_utterances": 8,
    "load_interval_seconds": 0.5,
    "contention_threshold": 0.10,
    "definition": ("own phase after the quality pass; warm-up (clips at batch 1, the sample once at the batch "
                   "size) discarded; per repetition RTFx = sample audio seconds "
                   "/ wall seconds at the batch size, tokens/s = new tokens / wall seconds, batch-1 latency = "
                   "median wall seconds of one-clip calls; median, min, max and spread = (max - min) / median over "
                   "the repetitions; contended when other processes used more than contention_threshold of all CPUs"),
}
PROC = Path("/proc")
TOP_OTHERS = 3
# Set by harness.evaluation.schedule on each evaluation it starts: its own pid, so a worker can tell
# its sibling workers (the other systems running at the same time) from the rest of the machine.
SCHEDULE_PARENT = "HARNESS_SCHEDULE_PARENT"


class SpeedError(HarnessError, ValueError):
    """A one-line reason speed cannot be measured or rewritten."""


NOT_REQUESTED = "not measured: the evaluation ran with --no-speed"


def absent(reason: str) -> dict:
    """The speed block of a results file whose speed was not measured, with the reason."""
    return {"status": "absent", "absent_reason": reason, "protocol": dict(PROTOCOL)}


def decode_pass(seconds: float, *, decoded: int, resumed: int) -> dict:
    """The quality pass's own timing, kept for the record: not a speed figure (a resumed run's
    pass decoded only part of the set, and it ran with the scoring beside it)."""
    return {"note": "the quality pass's wall time; not a speed figure (see speed)", "wall_seconds": round(seconds, 3),
            "decoded_segments": decoded, "resumed_segments": resumed}


def processes() -> int:
    """The decoding processes of this run (a data-parallel launch's world size, else 1)."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def describe(block: dict) -> str:
    """One line for a log: the median RTFx with its spread, and whether the run was contended."""
    if block.get("status") != "measured":
        return f"speed absent ({block.get('absent_reason')})"
    rtfx = block["rtfx"]
    state = {True: "contended", False: "uncontended", None: "load not sampled"}[block["contended"]]
    return f"RTFx {rtfx['median']} (spread {100 * (rtfx['spread'] or 0):.1f} %, {state})"


# ---------------------------------------------------------------- the sample


def sample_id(clips: Sequence[np.ndarray]) -> str:
    """The sample's identity: a hash over its clips' samples (float32, in order) and their count."""
    digest = hashlib.sha256()
    for clip in clips:
        data = np.ascontiguousarray(clip, dtype=np.float32)
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data.tobytes())
    return f"sha256:{digest.hexdigest()[:16]}:{len(clips)}"


def segmented_sample(testset, n: int | None = None) -> list[np.ndarray]:
    """The first ``n`` (default: the protocol's) utterances' audio of a segmented set, in the set's order."""
    return [u.audio() for u in testset.utterances[:n or PROTOCOL["sample_utterances"]]]


def longform_sample(longform_set, segments_by_talk: dict[str, Sequence], n: int | None = None) -> list[np.ndarray]:
    """The first ``n`` (default: the protocol's) segments of a long-form set, talk after talk, read from the talks' files.

    ``segments_by_talk``: {talk id: [harness.segmentation.segment.Segment or [offset, duration], ...]}
    (a segmentation, or the ``segments`` a long-form results file records)."""
    from harness.segmentation.segment import Segment, iter_file_segments

    n = n or PROTOCOL["sample_utterances"]
    clips: list[np.ndarray] = []
    for talk in longform_set.talks:
        if len(clips) >= n:
            break
        pieces = [s if isinstance(s, Segment) else Segment(float(s[0]), float(s[1]))
                  for s in segments_by_talk.get(talk.talk_id, ())][:n - len(clips)]
        if pieces:
            clips += list(iter_file_segments(talk.wav_path, pieces))
    return clips


# ---------------------------------------------------------------- the machine's load


def _cpu_ticks(proc: Path) -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, or None where there is none."""
    try:
        first = (proc / "stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal (guest is in user)
    total = sum(values)
    return total - values[3] - values[4], total


def _process_ticks(proc: Path, pid: int | str) -> tuple[str, int, int] | None:
    """(command name, user + system jiffies, start time) of one process, or None when it is gone.

    The start time tells a reused pid from the process that had it (a kernel thread's name
    changes with its work, so the name cannot)."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The name is in parentheses and may itself hold spaces or parentheses.
    name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
    start = int(rest[19]) if len(rest) > 19 else 0  # field 22 (starttime)
    return name, int(rest[11]) + int(rest[12]), start  # fields 14 and 15 (utime, stime) of proc(5)


def _parent_of(proc: Path, pid: int | str) -> int | None:
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2:].split()[1])


def scheduled() -> bool:
    """True in an evaluation that harness.evaluation.schedule started (its parent is the schedule)."""
    return os.environ.get(SCHEDULE_PARENT) == str(os.getppid())


def scheduled_siblings(proc: Path) -> set[tuple[int, int]]:
    """The other workers of the harness.evaluation.schedule run this process is one of, as (pid, start time);
    empty outside a schedule."""
    if not scheduled():
        return set()
    parent = os.getppid()
    siblings = set()
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2:].split()
        if len(rest) > 19 and int(rest[1]) == parent:  # fields 4 (ppid) and 22 (starttime) of proc(5)
            siblings.add((int(entry.name), int(rest[19])))
    return siblings


def _process_table(proc: Path) -> dict[int, tuple[str, int, int]]:
    table = {}
    for entry in proc.iterdir() if proc.is_dir() else ():
        if entry.name.isdigit() and (ticks := _process_ticks(proc, entry.name)) is not None:
            table[int(entry.name)] = ticks
    return table


def others_share(before: tuple[int, int], after: tuple[int, int], own_before: int, own_after: int) -> float:
    """The other processes' share of all CPUs between two /proc/stat readings: (busy - own) / total."""
    total = after[1] - before[1]
    if total <= 0:
        return 0.0
    return max(0.0, min(1.0, ((after[0] - before[0]) - (own_after - own_before)) / total))


def _excluded_pids(proc: Path) -> set[int]:
    """This process, and under a data-parallel launch its sibling workers (they decode for it)."""
    pids = {os.getpid()}
    if processes() > 1:
        parent = os.getppid()
        pids |= {pid for pid in _process_table(proc) if _parent_of(proc, pid) == parent}
    return pids


class LoadSampler:
    """Samples the machine's load in a thread while a block runs (``with LoadSampler() as load:``).

    ``summary()`` gives the protocol's ``load`` block: the others' mean and largest CPU
    share (of all CPUs), the load average, the CPU counts, the busiest other processes,
    and for vLLM the NVML device memory peak (``nvml_device``: a CUDA device index)."""

    def __init__(self, interval: float = PROTOCOL["load_interval_seconds"], proc: Path | None = None,
                 nvml_device: int | None = None) -> None:
        self.interval, self.proc, self.nvml_device = interval, proc or PROC, nvml_device
        self.shares: list[float] = []
        self.loadavg_max: float | None = None
        self.nvml_peak_bytes: int | None = None
        self.nvml_error: str | None = None
        self.siblings: set[tuple[int, int]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _own(self) -> int:
        readings = (_process_ticks(self.proc, pid) for pid in self.excluded)
        return sum(reading[1] for reading in readings if reading is not None)

    def __enter__(self) -> LoadSampler:
        self.start_ticks = _cpu_ticks(self.proc)
        if self.start_ticks is None:
            return self
        self.excluded = _excluded_pids(self.proc)
        self.start_own = self._own()
        self.start_table = _process_table(self.proc)
        self.siblings = scheduled_siblings(self.proc)
        self.loadavg_start = _loadavg()
        self._thread = threading.Thread(target=self._run, name="speed-load-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        last, last_own = self.start_ticks, self.start_own
        while not self._stop.wait(self.interval):
            now, own = _cpu_ticks(self.proc), self._own()
            if now is not None and now[1] > last[1]:
                self.shares.append(others_share(last, now, last_own, own))
                last, last_own = now, own
            self.siblings |= scheduled_siblings(self.proc)
            self._sample_loadavg_and_gpu()

    def _sample_loadavg_and_gpu(self) -> None:
        load = _loadavg()
        if load is not None:
            self.loadavg_max = max(self.loadavg_max or 0.0, load)
        if self.nvml_device is not None and self.nvml_error is None:
            try:
                import torch

                used = int(torch.cuda.device_memory_used(self.nvml_device))
                self.nvml_peak_bytes = max(self.nvml_peak_bytes or 0, used)
            except Exception as error:  # NVML missing or failing: say so once, never stop the phase
                self.nvml_error = f"NVML unavailable ({type(error).__name__}: {error})"

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._sample_loadavg_and_gpu()
        self.end_ticks, self.end_own = _cpu_ticks(self.proc), self._own()
        self.end_table = _process_table(self.proc)
        self.siblings |= scheduled_siblings(self.proc)

    def summary(self) -> dict:
        counts = {"cpu_count": os.cpu_count(), "usable_cpus": _usable_cpus()}
        if self.start_ticks is None:
            return {"sampled": False, "reason": f"no {self.proc / 'stat'} on {platform.system()}", **counts}
        if self._thread is not None and self._thread.is_alive():
            raise SpeedError("the load summary is read after the measured block ends")
        mean = others_share(self.start_ticks, self.end_ticks, self.start_own, self.end_own)
        total = self.end_ticks[1] - self.start_ticks[1]
        busiest = []
        for pid, (name, ticks, start) in self.end_table.items():
            if pid in self.excluded:
                continue
            before = self.start_table.get(pid)
            used = ticks - (before[1] if before and before[2] == start else 0)
            if used > 0 and total > 0:
                busiest.append({"pid": pid, "name": name, "cpu_share": round(used / total, 4)})
        busiest.sort(key=lambda p: (-p["cpu_share"], p["pid"]))
        return {"sampled": True, "reason": None, **counts,
                "interval_seconds": self.interval, "samples": len(self.shares),
                "others_cpu_share": round(mean, 4),
                "others_cpu_share_max": round(max(self.shares, default=mean), 4),
                "loadavg_1min_start": self.loadavg_start, "loadavg_1min_max": self.loadavg_max,
                "busiest_others": busiest[:TOP_OTHERS],
                # Other systems harness.evaluation.schedule ran during the phase (None: not run by a schedule).
                "scheduled_beside": len(self.siblings) if scheduled() else None}


def contended(load: dict, protocol: dict | None = None) -> bool | None:
    """Whether a phase's ``load`` block says it did not have the machine: others' CPU share above the
    threshold, or another scheduled system running beside it; None where the load was not sampled."""
    if not load["sampled"]:
        return None
    threshold = (protocol or PROTOCOL)["contention_threshold"]
    return load["others_cpu_share"] > threshold or bool(load.get("scheduled_beside"))


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _usable_cpus() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


# ---------------------------------------------------------------- the phase


def figure(runs: Sequence[float], digits: int = 4) -> dict:
    """A repeated figure: median, min, max, spread = (max - min) / median, and the runs themselves."""
    median = statistics.median(runs)
    return {"median": round(median, digits), "min": round(min(runs), digits), "max": round(max(runs), digits),
            "spread": round((max(runs) - min(runs)) / median, 4) if median > 0 else None,
            "runs": [round(r, digits) for r in runs]}


def hardware_name(device: str) -> str:
    """What the figures ran on: the GPU's name for a CUDA device, else the CPU model and usable CPUs."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    from harness.results import cpu_model

    return f"{cpu_model()} x{_usable_cpus() or os.cpu_count()}"


def comparability_key(comparability: dict) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(comparability, sort_keys=True).encode()).hexdigest()[:16]


def measure(system, decoder: Callable, clips: Sequence[np.ndarray], lang: str, settings, *, backend: str,
            processes: int = 1, protocol: dict | None = None) -> dict:
    """The protocol's speed block for one loaded system on a sample of clips (see the module docstring).

    ``decoder`` is the backend's decode function (harness.inference.decode.decode, the vLLM backend's,
    or the data-parallel coordinator's); ``settings`` the evaluation's resolved DecodeSettings."""
    protocol = protocol or PROTOCOL
    if not clips:
        return absent("no audio to measure on (empty sample)")
    import torch

    provenance = system.provenance()
    device = str(provenance.get("device"))
    cuda = device.startswith("cuda") and backend == "transformers"
    single = replace(settings, batch_size=1)
    # Batch-1 calls and the sample's full batches each grow their own buffers: warm both.
    decoder(system, list(clips[:protocol["warmup_utterances"]]), lang, single)
    decoder(system, list(clips), lang, settings)
    latency_clips = list(clips[:protocol["latency_utterances"]])
    audio_seconds = sum(len(c) for c in clips) / 16000
    rtfx, tokens, latency = [], [], []
    if cuda:
        torch.cuda.reset_peak_memory_stats(torch.device(device))
    nvml = torch.cuda.current_device() if backend == "vllm" and torch.cuda.is_available() else None
    with LoadSampler(interval=protocol["load_interval_seconds"], nvml_device=nvml) as load:
        for _ in range(protocol["repetitions"]):
            started = time.perf_counter()
            output = decoder(system, list(clips), lang, settings)
            wall = time.perf_counter() - started
            rtfx.append(audio_seconds / wall)
            tokens.append(sum(h.new_tokens for h in output.hypotheses) / wall)
            seconds = []
            for clip in latency_clips:
                started = time.perf_counter()
                decoder(system, [clip], lang, single)
                seconds.append(time.perf_counter() - started)
            latency.append(statistics.median(seconds))
    load_block = load.summary()
    comparability = {"hardware": hardware_name(device) if backend == "transformers" else _vllm_hardware(),
                     "device": device, "backend": backend, "dtype": str(provenance.get("dtype")),
                     "batch_size": settings.batch_size, "processes": processes,
                     "torch_threads": torch.get_num_threads(), "sample": sample_id(clips)}
    return {
        "status": "measured",
        "absent_reason": None,
        "protocol": dict(protocol),
        "comparability": comparability,
        "comparability_key": comparability_key(comparability),
        "rtfx": figure(rtfx, 3),
        "tokens_per_second": figure(tokens, 2),
        "batch1_latency_seconds": figure(latency, 4),
        "sample_audio_seconds": round(audio_seconds, 3),
        "load": load_block,
        "contended": contended(load_block, protocol),
        "memory": _memory(device, backend, cuda, load),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _vllm_hardware() -> str:
    import torch

    return torch.cuda.get_device_name(torch.cuda.current_device()) if torch.cuda.is_available() else "unknown"


def _memory(device: str, backend: str, cuda: bool, load: LoadSampler) -> dict:
    from harness.inference.decode import peak_rss_bytes  # decode is torch-heavy: imported when measuring

    memory = {"peak_rss_bytes": peak_rss_bytes(), "peak_rss_scope": "the process's lifetime high-water mark",
              "gpu_peak_bytes": None, "gpu_memory_source": None, "gpu_absent_reason": None}
    if cuda:
        import torch

        memory.update(gpu_peak_bytes=int(torch.cuda.max_memory_allocated(torch.device(device))),
                      gpu_memory_source="torch allocator")
    elif backend == "vllm":
        if load.nvml_peak_bytes is not None:
            memory.update(gpu_peak_bytes=load.nvml_peak_bytes, gpu_memory_source="nvml (device used, sampled)")
        else:
            memory["gpu_absent_reason"] = load.nvml_error or "NVML was not sampled (no CUDA device visible)"
    else:
        memory["gpu_absent_reason"] = f"decoded on {device}: no GPU memory used"
    return memory


# ---------------------------------------------------------------- python -m harness speed


def remeasure(summary: dict, system_dir: Path, testset, *, device: str, backend: str) -> dict:
    """``summary`` (a results file's content) with every language's speed block measured again.

    The model must be the one that made the results (same content hash), and the test set
    the one they were scored on; the quality figures are left as they are."""
    from harness.inference.decode import DecodeSettings, decode
    from harness.results import git_state
    from harness.inference.vllm_backend import open_backend

    if summary["testset"]["content_hash"] != testset.content_hash:
        raise SpeedError(f"test set {testset.name} changed since these results were written; run make eval")
    languages = {}
    for lang, report in summary["languages"].items():
        system, decoder = open_backend(system_dir, lang, backend, device=device, transformers_decode=decode)
        recorded = (report.get("model") or {}).get("content_hash")
        if system.content_hash != recorded:
            raise SpeedError(f"{system_dir}: en-{lang} model {system.content_hash} is not the one the results "
                             f"record ({recorded}); rebuild or run make eval")
        settings = DecodeSettings(**report["decode_settings"])
        clips = (longform_sample(testset, summary["segments"]) if "segments" in summary
                 else segmented_sample(testset))
        block = measure(system, decoder, clips, lang, settings, backend=backend, processes=processes())
        block["remeasured"] = {"command": "python -m harness speed", "git": git_state()}
        languages[lang] = {**report, "speed": block}
        del system
    return {**summary, "languages": languages}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from harness import BUILD_ROOT
    from harness.systems.model_files import ModelLoadError
    from harness.files import atomic_write_json
    from harness.results import RESULTS_ROOT, ResultPaths
    from harness.results_schema import RESULT_SCHEMAS, check_summary
    from harness.data.testsets import TestSetError
    from harness.data.tracks import get_track, load_spec
    from harness.inference.vllm_backend import BackendError

    parser = argparse.ArgumentParser(prog="python -m harness speed",
                                     description="re-measure a built system's speed by the speed protocol and "
                                                 "rewrite only the speed blocks of its results files")
    parser.add_argument("system", nargs="+", help="built system name(s) under build/<track>/")
    parser.add_argument("--track", default="mini")
    parser.add_argument("--testset", action="append", help="only this test set's results (repeatable)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    parser.add_argument("--build-root", type=Path, default=BUILD_ROOT)
    parser.add_argument("--results-root", type=Path, default=RESULTS_ROOT)
    args = parser.parse_args(argv)
    try:
        track = get_track(args.track)
        specs = [spec for spec in track.testsets if not args.testset or spec.name in args.testset]
        unknown = set(args.testset or ()) - {spec.name for spec in track.testsets}
        if unknown:
            raise SpeedError(f"unknown test set {sorted(unknown)[0]!r} for track {track.name}; "
                             f"known: {', '.join(spec.name for spec in track.testsets)}")
        loaded: dict = {}  # each test set loaded and verified once
        for name in args.system:
            system_dir = args.build_root / track.name / name
            todo = [(spec, ResultPaths.of(track.name, name, spec.name, args.results_root).summary) for spec in specs]
            todo = [(spec, path) for spec, path in todo if path.is_file()]
            if not todo:
                raise SpeedError(f"{name}: no results files under {args.results_root / track.name / name}; "
                                 f"run make eval SUB={name} first")
            for spec, path in todo:
                summary = json.loads(path.read_text(encoding="utf-8"))
                if summary.get("schema") not in RESULT_SCHEMAS or "imported" in summary:
                    print(f"{name} / {spec.name}: skipped (not a decoded evaluation's results)")
                    continue
                if spec.name not in loaded:
                    loaded[spec.name] = load_spec(spec)
                testset = loaded[spec.name]
                summary = remeasure(summary, system_dir, testset, device=args.device, backend=args.backend)
                check_summary(summary, str(path))  # a ResultsSchemaError is a ValueError: reported below
                atomic_write_json(path, summary)
                for lang, report in summary["languages"].items():
                    print(f"{name} / {spec.name} / en-{lang}: {describe(report['speed'])}")
    except (SpeedError, ModelLoadError, TestSetError, BackendError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
