"""`python -m harness eval --devices cuda:0,cuda:1`: several systems at once, one per device (issue 19 part 6).

A plain job queue in the manner of GNU parallel's ``--jobs`` slots: the systems an eval
would run (harness.evaluation.evaluate.plan: the track's base first where its results are missing)
are a queue; each device of ``--devices`` is a slot that runs one system at a time, as its
own ``python -m harness eval --system S --device D`` process with the other arguments
unchanged; when a system ends, the next one in the queue takes its slot. ``auto`` is every
visible CUDA device. A CUDA worker sees only its own device (``CUDA_VISIBLE_DEVICES``, so it
decodes on ``cuda:0``, and its results record ``cuda:0``, as a sequential ``--device cuda:0``
run's do); ``cpu`` may be named more than once (several CPU evaluations side by side).
This is not harness.inference.distributed's ``--nproc`` (one system's decoding sharded over
processes); the two are not combined.

Identical results. Each worker decodes, scores and writes its system's results files as a
sequential run would. What a sequential run shares between systems is computed once here,
before any worker starts: the test sets are loaded and verified, and each long-form set
is segmented once; the segmentation (every field, its timings included) goes to the
workers in a JSON file (``--schedule-worker``), so every system's results record the same
segmentation, as in a sequential run. The VAD itself is deterministic (one torch thread,
harness.segmentation.segment), but a worker segmenting again would record its own timings and pay the
VAD once per system. What differs from a sequential run is what differs between any two
runs: timings (``decode_seconds`` per segment, ``decode_pass.wall_seconds``, the
segmentation's ``vad_seconds`` / ``method_seconds`` / ``stats.wall_seconds``), the speed
blocks, ``created``, and on CUDA ``provenance.hardware.gpus`` (a worker sees one GPU).

Speed. Systems side by side share the CPUs, PCIe links and host memory: each worker's
speed phase records the others in its load sample, and harness.evaluation.speed marks it
``contended`` (never ranked) whenever another worker ran during it (``scheduled_beside``).
Speed figures to rank come from ``python -m harness speed`` on an otherwise idle machine.

Failures. A system that fails (non-zero exit) does not stop the others; the run's exit
status is then 1 and the last line names every failed system and its exit status. Each
worker's output is passed through line by line behind a ``[system @ device]`` prefix.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import REPO
from harness.files import atomic_write_json
from harness.evaluation.speed import SCHEDULE_PARENT
from harness.errors import HarnessError

# What a worker runs (a test's wrapper script may set it to [its own path]).
ENTRY: list[str] = ["-m", "harness", "eval"]
CACHE_SCHEMA = "iwslt-harness/schedule-segmentations"
# Which slot of --devices a worker runs in (its index): the log and the tests tell the slots apart by it.
SLOT = "HARNESS_SCHEDULE_SLOT"
POLL_SECONDS = 0.2

# The eval options a worker gets as given, and those the schedule sets itself (tests/test_schedule.py
# checks that every option of the eval command is one or the other).
FORWARDED = ("track", "testset", "batch_size", "max_new_tokens", "speed", "segmentation", "backend",
             "build_root", "results_root", "time_limit", "allow_network")
REPLACED = ("system", "device", "devices", "nproc", "schedule_worker")


class ScheduleError(HarnessError, ValueError):
    """A one-line reason the schedule cannot run."""


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count()


def parse_devices(value: str) -> list[str]:
    """``--devices``: ``auto`` (every visible CUDA device) or comma-separated ``cpu`` / ``cuda:N``."""
    if value.strip() == "auto":
        count = _cuda_count()
        if not count:
            raise ScheduleError("--devices auto: no CUDA device is visible; name the devices, e.g. --devices cpu")
        return [f"cuda:{index}" for index in range(count)]
    devices = [part.strip() for part in value.split(",")]
    for device in devices:
        if device == "cpu":
            continue
        match = re.fullmatch(r"cuda:(\d+)", device)
        if match is None:
            raise ScheduleError(f"unknown device {device!r} in --devices {value!r}: "
                                f"give cpu or cuda:N, comma-separated, or auto")
        count = _cuda_count()
        if int(match[1]) >= count:
            raise ScheduleError(f"--devices: {device} is not visible ({count} CUDA device(s) visible)")
        if devices.count(device) > 1:
            raise ScheduleError(f"--devices: {device} is named twice; a CUDA device runs one system at a time")
    return devices


def worker_device(device: str) -> str:
    """The device a worker decodes on: it sees only its own GPU, as cuda:0."""
    return "cpu" if device == "cpu" else "cuda:0"


def worker_env(device: str, slot: int) -> dict[str, str]:
    """A worker's environment: this project importable, its slot and parent named (harness.evaluation.speed reads
    the parent), and for a CUDA device only that device visible (the parent's numbering: an index into
    its own CUDA_VISIBLE_DEVICES where that is set)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env[SCHEDULE_PARENT] = str(os.getpid())
    env[SLOT] = str(slot)
    if device != "cpu":
        index = int(device.split(":")[1])
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        env["CUDA_VISIBLE_DEVICES"] = visible.split(",")[index].strip() if visible else str(index)
    return env


def worker_argv(args: argparse.Namespace, system: str, device: str, cache: Path) -> list[str]:
    """The eval arguments of one worker: the run's own (FORWARDED), then its system, device and cache."""
    argv = ["--track", args.track]
    for name in args.testset or ():
        argv += ["--testset", name]
    argv += ["--batch-size", str(args.batch_size)]
    if args.max_new_tokens is not None:
        argv += ["--max-new-tokens", str(args.max_new_tokens)]
    argv += ["--speed" if args.speed else "--no-speed", "--segmentation", args.segmentation,
             "--backend", args.backend, "--build-root", str(args.build_root), "--results-root", str(args.results_root)]
    if args.time_limit is not None:
        argv += ["--time-limit", repr(args.time_limit)]
    if args.allow_network:
        argv.append("--allow-network")
    return argv + ["--system", system, "--device", worker_device(device), "--schedule-worker", str(cache)]


# ---------------------------------------------------------------- the shared segmentations


def segmentation_from_dict(data: dict):
    """A harness.segmentation.segment.SegmentationResult from ``dataclasses.asdict`` of one (read back from JSON)."""
    from harness.segmentation.segment import Segment, SegmentationResult, SegmentSettings, TalkSegmentation

    talks = tuple(TalkSegmentation(**{**talk, "segments": tuple(Segment(**s) for s in talk["segments"])})
                  for talk in data["talks"])
    return SegmentationResult(**{**data, "settings": SegmentSettings(**data["settings"]), "talks": talks})


def write_segmentations(path: Path, segmentations: dict, testsets: dict) -> None:
    """Each long-form set's segmentation, whole (JSON floats read back exactly), with the set's hash."""
    atomic_write_json(path, {"schema": CACHE_SCHEMA,
                             "sets": {name: {"content_hash": testsets[name].content_hash,
                                             "segmentation": asdict(segmentation)}
                                      for name, segmentation in segmentations.items()}})


def read_segmentations(path: Path, testsets: dict, method: str) -> dict:
    """The parent's segmentations of the long-form sets among ``testsets``, checked against them."""
    from harness.data.testsets import LongFormSet

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        sets = data["sets"] if data.get("schema") == CACHE_SCHEMA else None
    except (OSError, ValueError, KeyError, AttributeError) as error:
        raise ScheduleError(f"{path}: not a schedule's segmentations ({type(error).__name__})") from None
    if sets is None:
        raise ScheduleError(f"{path}: not a schedule's segmentations (schema {data.get('schema')!r})")
    out = {}
    for name, testset in testsets.items():
        if not isinstance(testset, LongFormSet):
            continue
        entry = sets.get(name)
        if entry is None or entry["content_hash"] != testset.content_hash \
                or entry["segmentation"]["method"] != method:
            raise ScheduleError(f"{path}: no {method} segmentation of {name} at {testset.content_hash}")
        out[name] = segmentation_from_dict(entry["segmentation"])
    return out


# ---------------------------------------------------------------- the queue


@dataclass
class Job:
    system: str
    device: str
    slot: int
    process: subprocess.Popen
    started: float
    readers: list[threading.Thread]

    @property
    def label(self) -> str:
        return f"{self.system} @ {self.device}"


_print_lock = threading.Lock()


def _say(line: str, stream=None) -> None:
    with _print_lock:
        print(line, file=stream or sys.stdout, flush=True)


def _relay(source, prefix: str, stream) -> None:
    """Copy a worker's output line by line behind its prefix (bytes: a worker's stray encoding never breaks it)."""
    for raw in iter(source.readline, b""):
        _say(f"[{prefix}] {raw.decode('utf-8', 'replace').rstrip()}", stream)
    source.close()


def start(args: argparse.Namespace, system: str, device: str, slot: int, cache: Path) -> Job:
    command = [sys.executable, *ENTRY, *worker_argv(args, system, device, cache)]
    process = subprocess.Popen(command, env=worker_env(device, slot), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    job = Job(system, device, slot, process, time.monotonic(), [])
    for source, stream in ((process.stdout, sys.stdout), (process.stderr, sys.stderr)):
        reader = threading.Thread(target=_relay, args=(source, job.label, stream), daemon=True)
        reader.start()
        job.readers.append(reader)
    _say(f"schedule: {system} started on {device} (slot {slot})")
    return job


def run_queue(args: argparse.Namespace, systems: list[str], devices: list[str], cache: Path) -> list[tuple[str, int]]:
    """Every system through the slots, one system per slot at a time: the failed ones, with their exit status."""
    queue, free = list(systems), list(range(len(devices)))
    running: dict[int, Job] = {}
    failed = []
    try:
        while queue or running:
            while queue and free:
                slot = free.pop(0)
                running[slot] = start(args, queue.pop(0), devices[slot], slot, cache)
            time.sleep(POLL_SECONDS)
            for slot, job in list(running.items()):
                code = job.process.poll()
                if code is None:
                    continue
                for reader in job.readers:
                    reader.join()
                _say(f"schedule: {job.system} on {job.device} ended in {time.monotonic() - job.started:.1f} s "
                     f"(exit {code})")
                if code != 0:
                    failed.append((job.system, code))
                del running[slot]
                free = sorted([*free, slot])
    finally:
        for job in running.values():  # interrupted: stop the workers this schedule started
            job.process.terminate()
            job.process.wait()
    return failed


def eval_entry(args: argparse.Namespace, run: Callable[[argparse.Namespace], int], *, plan: Callable,
               segment_longform: Callable, errors: tuple[type[Exception], ...]) -> int:
    """The ``--devices`` hook of ``harness.evaluation.evaluate.main``: one device runs ``run`` as before; several, the queue.

    ``plan``, ``segment_longform`` and ``errors`` are evaluate's (passed, so this module does not import it):
    what the queue runs, each long-form set's one segmentation, and the errors that are one line and exit 2.
    """
    from harness.data.testsets import LongFormSet
    from harness.data.tracks import load_spec

    try:
        devices = parse_devices(args.devices)
        if args.nproc != 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ScheduleError("--devices and --nproc are two ways to use several devices; give one of them")
        if args.schedule_worker is not None:
            raise ScheduleError("--devices with --schedule-worker: a worker runs on one device")
        if len(devices) == 1:
            args.device = devices[0]
            return run(args)
        track, _, specs, systems = plan(args)
        testsets = {spec.name: load_spec(spec) for spec in specs}
        segmentations = {spec.name: segment_longform(spec, testsets[spec.name], track, args.segmentation)
                         for spec in specs if isinstance(testsets[spec.name], LongFormSet)}
    except (*errors, ScheduleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = [system.name for system in systems]
    print(f"schedule: {len(names)} system(s) on {len(devices)} device(s) ({', '.join(devices)}): {', '.join(names)}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="harness-schedule-") as folder:
        cache = Path(folder) / "segmentations.json"
        write_segmentations(cache, segmentations, testsets)
        failed = run_queue(args, names, devices, cache)
    print(f"schedule: {len(names)} system(s) in {time.monotonic() - started:.1f} s")
    if failed:
        listed = ", ".join(f"{name} (exit {code})" for name, code in failed)
        print(f"error: {len(failed)} of {len(names)} system(s) failed: {listed}; the others' results are written",
              file=sys.stderr)
        return 1
    return 0
