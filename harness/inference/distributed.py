"""Data-parallel evaluation and multi-process training (issue 11, items 2 and 3).

Launching
  ``python -m harness eval --nproc N`` (``make eval NPROC=N``) relaunches itself as N
  processes with ``python -m torch.distributed.run --standalone --nproc_per_node N``
  (torchrun: the launcher ``accelerate launch --multi_gpu`` itself calls). Each process
  sets up its process group with ``accelerate.PartialState``: gloo on the CPU, nccl on
  GPUs, one GPU per process. torchrun rather than ``accelerate launch``, because
  ``accelerate launch --cpu --num_processes N`` starts ONE process unless an MPI hostfile
  is given (its simple launcher), so it cannot run N CPU workers; torchrun works the same
  on CPUs and GPUs, finds a free port itself (``--standalone``) and kills the other
  workers when one fails. A run started by ``accelerate launch --multi_gpu`` or torchrun
  directly (WORLD_SIZE > 1 in the environment) takes the same worker path.

Evaluation (``eval_entry``)
  Rank 0 runs the ordinary evaluation (checkpoint, scoring, results files, speed
  phase, long-form sets) with one change: its ``decode`` is ``Coordinator.decode``,
  which shards the utterances across the processes and gathers the hypotheses back
  in input order. The other ranks only serve decoding jobs (``follow``).

  Sharding keeps every batch exactly as the single-process run builds it: the
  utterances are sorted longest first (ties in input order) and cut into batches of
  ``batch_size`` as ``harness.inference.decode.decode`` does, and whole batches are dealt out,
  batch k to rank k mod N (round k // N). A left-padded batch can in principle change
  a row's float results, so an utterance must see the same batch companions and the
  same row order as single-process: with whole batches it does, and the hypotheses
  (token ids, text) are identical, not just close. Whole batches are dealt round-robin
  rather than in one contiguous run per rank, because the order is longest first: a
  contiguous split would give rank 0 all the long utterances. After each round rank 0
  gathers the round's hypotheses and checkpoints them, so a killed run resumes as before.

  What differs from a single-process run: timings only (``decode_seconds`` per segment,
  the quality pass's ``decode_pass`` wall time, the speed phase's figures, which record
  ``processes``: N, so they are compared only with other N-process runs) and the
  provenance (``created``, ``provenance.hardware`` e.g. torch_threads). Hypotheses, per-segment flags and scores, metrics and
  signatures are identical (tests/test_distributed.py). Long-form sets are segmented by
  rank 0 (one pass over the audio); their segments are decoded through the same
  coordinator, a chunk of segments at a time (``harness.evaluation.longform.decode_segments``), so
  their results files are identical to a single-process run's too.

Training (``harness.training.context.DistributedContext``, ``finetune_in_processes``)
  ``harness.training.loop.train`` takes the multi-process path when it runs in a
  multi-process launch (WORLD_SIZE > 1): DDP through accelerate (``Accelerator`` wraps
  the model and the optimizer), or, with HARNESS_FSDP=1 (or ``accelerate launch
  --use_fsdp``), FSDP2 (``shard_model``: torch's ``fully_shard`` per decoder and encoder
  layer). ``TrainSettings`` is unchanged: ``batch_size`` is the GLOBAL batch; every
  process builds the same seeded global batch and takes its contiguous share, each
  share's loss is weighted by its share of the global batch's target tokens (times N,
  as DDP and FSDP average gradients over processes), so the averaged gradient is the
  single-process gradient of the whole batch up to float reduction order. An FSDP-trained
  model is saved from a full state dict gathered on rank 0 (``full_state_dict``).

  A build (``make build NPROC=N [FSDP=1]``, i.e. HARNESS_NPROC / HARNESS_FSDP) stays one
  process; each of its fine-tunes (``finetune_system``: the teacher, the pruned model's
  fine-tune, diet-kit's LoRA) relaunches the fine-tuning command with its exact settings
  as N processes (``finetune_in_processes``). The process count is not part of a stage's
  cache key: N processes give the single-process result up to float summation order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch

from harness import REPO

# What a relaunch runs (a wrapper script may set it to [its own path]).
ENTRY: list[str] = ["-m", "harness", "eval"]
TIMEOUT = timedelta(hours=12)  # idle ranks wait in a collective while rank 0 scores or decodes a long-form set


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank in a launch (0 outside one)."""
    return int(os.environ.get("RANK", "0"))


def launched() -> bool:
    """True inside a multi-process launch (torchrun / accelerate launch set WORLD_SIZE)."""
    return world_size() > 1


def launch_command(entry: list[str], nproc: int) -> list[str]:
    """The torchrun command running ``entry`` (``-m module args`` or ``script args``) as ``nproc`` processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *entry]


def without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less ``--nproc N`` / ``--nproc=N``: a worker knows its count from WORLD_SIZE, and torchrun's
    own parser would read ``--nproc`` as an ambiguous abbreviation of its ``--nproc-per-node``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def launch_env() -> dict[str, str]:
    """The environment of launched workers: this project importable, one thread each unless told otherwise."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")  # N processes share the cores; torchrun would set 1 too
    return env


def relaunch(argv: list[str], nproc: int) -> int:
    """Run ``ENTRY argv`` as ``nproc`` processes; their exit status (non-zero if any failed)."""
    if nproc < 1:
        print(f"error: --nproc must be at least 1, got {nproc}", file=sys.stderr)
        return 2
    return subprocess.run(launch_command([*ENTRY, *argv], nproc), env=launch_env()).returncode


def requested_processes() -> int:
    """The process count a build's training stages run on: HARNESS_NPROC (``make build NPROC=N``), else 1."""
    value = os.environ.get("HARNESS_NPROC", "1")
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"HARNESS_NPROC must be a positive integer, got {value!r}")
    return count


def local_device(device: str) -> str:
    """A launched worker's own device: the CPU, or cuda:LOCAL_RANK for a CUDA device."""
    if torch.device(device).type != "cuda" or not launched():
        return device
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"


def init_state(device: str = "cpu"):
    """The process group (accelerate's PartialState): gloo on the CPU, nccl on GPUs."""
    from accelerate import PartialState

    return PartialState(cpu=torch.device(device).type == "cpu", timeout=TIMEOUT)


def rank_device(device: str, state) -> str:
    """This process's device: the CPU, or its own GPU (cuda:LOCAL_RANK)."""
    return "cpu" if torch.device(device).type == "cpu" else str(state.device)


# ---------------------------------------------------------------- evaluation


def eval_entry(argv: list[str] | None, device: str, nproc: int, run) -> int:
    """The ``--nproc`` hook of ``harness.evaluation.evaluate.main``: relaunch, or be one of the workers.

    ``run(decoder)`` is the ordinary evaluation with its decoding function: a single process
    passes harness.inference.decode.decode; rank 0 passes the coordinator's sharded decode.
    """
    if not launched():
        if nproc <= 1:
            from harness.inference.decode import decode

            return run(decode)
        return relaunch(without_nproc(list(sys.argv[1:] if argv is None else argv)), nproc)
    if nproc > 1 and nproc != world_size():
        print(f"error: --nproc {nproc} but launched with {world_size()} processes", file=sys.stderr)
    state = init_state(device)
    if state.process_index != 0:
        return follow(state, device)
    coordinator = Coordinator(state, device)
    try:
        return run(coordinator.decode)   # the evaluation decodes through the shards: passed, never patched in
    finally:
        coordinator.stop()


def _broadcast(value=None):
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def _scatter(values: list | None):
    box = [None]
    torch.distributed.scatter_object_list(box, values, src=0)
    return box[0]


def _gather(value) -> list | None:
    rank0 = torch.distributed.get_rank() == 0
    out = [None] * torch.distributed.get_world_size() if rank0 else None
    torch.distributed.gather_object(value, out, dst=0)
    return out


def shard_batches(lengths: list[int], batch_size: int, world: int) -> list[list[list[int]]]:
    """Rounds of whole batches: round r holds batch r*world + k for rank k (an empty list past the end).

    The batches are ``harness.inference.decode.decode``'s: longest first, ties in input order.
    """
    from harness.inference.decode import length_batches

    batches = length_batches(lengths, batch_size)
    rounds = []
    for start in range(0, len(batches), world):
        part = batches[start:start + world]
        rounds.append(part + [[] for _ in range(world - len(part))])
    return rounds


def _decode_part(system, audios, lang, settings):
    """One rank's batch of a round: (hypotheses, peak rss, gpu peak); None for an empty share."""
    if not audios:
        return None
    from harness.inference.decode import decode

    output = decode(system, audios, lang, settings)
    return output.hypotheses, output.stats.peak_rss_bytes, output.stats.gpu_peak_bytes


class Coordinator:
    """Rank 0's ``decode``: same signature and result as ``harness.inference.decode.decode``, sharded."""

    def __init__(self, state, device: str) -> None:
        self.state = state
        self.device = device
        self.world = state.num_processes

    def decode(self, system, audios, lang, settings, progress=None, on_result=None):
        from harness.inference.decode import DecodeOutput, check_audio, configure_threads, decode_stats, report_batch

        settings = settings.resolved(system)
        extractor = system.processor.feature_extractor
        clips = [check_audio(i, audio, extractor.hop_length) for i, audio in enumerate(audios)]
        rounds = shard_batches([len(c) for c in clips], settings.batch_size, self.world)
        _broadcast({"folder": str(system.folder), "lang": lang, "content_hash": system.content_hash,
                    "settings": settings.as_dict(), "rounds": len(rounds)})
        results = [None] * len(clips)
        peaks, gpu_peaks = [], []
        bar = None
        if progress is not None:
            from tqdm import tqdm

            bar = tqdm(total=len(clips), desc=f"{progress} x{self.world}", unit="utt")
        started = time.perf_counter()
        try:
            for batches in rounds:
                mine = _scatter([[clips[i] for i in batch] for batch in batches])
                parts = _gather(_decode_part(system, mine, lang, settings))
                for batch, part in zip(batches, parts):
                    if part is None:
                        continue
                    hypotheses, rss, gpu = part
                    peaks.append(rss)
                    if gpu is not None:
                        gpu_peaks.append(gpu)
                    for index, hypothesis in zip(batch, hypotheses):
                        results[index] = hypothesis
                    report_batch(batch, results, on_result, bar)
        finally:
            if bar is not None:
                bar.close()
        wall = time.perf_counter() - started
        stats = decode_stats(results, clips, wall, batch_size=settings.batch_size,
                             batches=sum(1 for r in rounds for b in r if b), window_samples=int(extractor.n_samples),
                             peak_rss_bytes=max(peaks, default=0), gpu_peak_bytes=max(gpu_peaks) if gpu_peaks else None,
                             device=str(self.device), dtype=str(system.dtype).removeprefix("torch."),
                             threads=configure_threads())
        return DecodeOutput(hypotheses=results, stats=stats, settings=settings)

    def stop(self) -> None:
        """Release the other ranks; all leave the process group together (a peer vanishing
        mid-teardown can abort gloo)."""
        _broadcast(None)
        _close()


def _close() -> None:
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def follow(state, device: str) -> int:
    """A rank other than 0: load the system each job names, decode this rank's batches, until told to stop."""
    from harness.inference.decode import DecodeSettings
    from harness.systems.models import load_system

    mine = rank_device(device, state)
    loaded = {}
    while True:
        job = _broadcast()
        if job is None:
            _close()
            return 0
        key = (job["folder"], job["lang"])
        if key not in loaded:
            loaded.clear()  # one system at a time
            loaded[key] = load_system(job["folder"], job["lang"], device=mine)
        system = loaded[key]
        if system.content_hash != job["content_hash"]:
            raise RuntimeError(f"rank {state.process_index}: {job['folder']} changed during the run "
                               f"({system.content_hash} != {job['content_hash']})")
        settings = DecodeSettings(**job["settings"])
        for _ in range(job["rounds"]):
            audios = _scatter(None)
            _gather(_decode_part(system, audios, job["lang"], settings))


# ---------------------------------------------------------------- training


# One FSDP unit per transformer layer of Qwen2-Audio's language model and audio encoder.
FSDP_UNITS = ["Qwen2DecoderLayer", "Qwen2AudioEncoderLayer"]


def fsdp_wanted() -> bool:
    """FSDP: launched with ``accelerate launch --use_fsdp`` (ACCELERATE_USE_FSDP) or HARNESS_FSDP=1."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true" or os.environ.get("HARNESS_FSDP") == "1"


def finetune_in_processes(nproc: int, system_folder, train_folder, out, settings, *, langs, device: str,
                          lora=None, prompt: str | None = None, features_root=None, kd=None,
                          base_model: str | None = None) -> dict:
    """``harness.stages.finetune.finetune_system`` run as ``nproc`` processes (torchrun); its finetune.json.

    How a build's training stages use several GPUs (``make build NPROC=N``): the build
    itself stays one process, and each fine-tune relaunches the fine-tuning command with
    its exact settings. DDP by default; FSDP for a full fine-tune when HARNESS_FSDP=1
    (``make build FSDP=1``); a LoRA fine-tune always runs DDP (its frozen base fits one GPU).
    """
    argv = ["-m", "harness.stages.finetune", "--system", str(system_folder), "--train", str(train_folder),
            "--out", str(out), "--settings-json", json.dumps(settings.as_dict()), "--langs", ",".join(langs),
            "--device", device]
    if lora is not None:
        argv += ["--lora-json", json.dumps(lora.as_dict())]
    if prompt is not None:
        argv += ["--prompt", prompt]
    for option, value in (("--features-root", features_root), ("--kd", kd), ("--base-model", base_model)):
        if value is not None:
            argv += [option, str(value)]
    env = launch_env()
    if lora is not None:
        env.pop("HARNESS_FSDP", None)
        env["ACCELERATE_USE_FSDP"] = "false"
    code = subprocess.run(launch_command(argv, nproc), env=env).returncode
    if code != 0:
        raise RuntimeError(f"fine-tuning {system_folder} in {nproc} processes failed (exit status {code})")
    return json.loads((Path(out) / "finetune.json").read_text())


def shard_model(model, device: torch.device, bf16: bool):
    """Shard ``model`` in place with FSDP2 (``torch.distributed.fsdp.fully_shard``) over every process.

    For a full fine-tune of Qwen2-Audio-7B, whose weights + AdamW state do not fit one
    80 GB GPU: parameters, gradients and optimizer state are split across the processes;
    one FSDP unit per decoder layer and per audio-encoder layer (``FSDP_UNITS``), so at
    most a layer's weights are gathered at a time (harness.plan's ``gather``), resharded
    after each forward. With ``bf16`` the units compute in bf16 and reduce gradients in
    fp32; the sharded master weights keep their dtype. Every process has loaded the whole
    model before sharding (17 GB of host memory per process for the 7B in bf16).

    torch's own FSDP2, the engine ``accelerate launch --use_fsdp --fsdp_version 2`` calls
    too: accelerate enables FSDP only on GPUs (on CPUs it silently falls back to DDP), and
    calling ``fully_shard`` directly runs the same code on CPUs (gloo) and GPUs (nccl),
    which is how tests/test_distributed.py checks FSDP against a single process.
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    model.to(device)
    mesh = init_device_mesh(device.type, (world_size(),))
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 \
        else MixedPrecisionPolicy()
    units = [module for module in model.modules() if type(module).__name__ in FSDP_UNITS]
    if not units:
        raise ValueError(f"FSDP: no {' / '.join(FSDP_UNITS)} in {type(model).__name__}; nothing to shard per layer")
    for unit in units:
        fully_shard(unit, mesh=mesh, mp_policy=policy, reshard_after_forward=True)
    fully_shard(model, mesh=mesh, mp_policy=policy, reshard_after_forward=True)
    return model


def is_sharded(model) -> bool:
    """True for a model sharded by ``shard_model`` (its weights exist only as shards, one per process)."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def full_state_dict(model) -> dict[str, torch.Tensor]:
    """A sharded model's whole state dict, gathered on rank 0's CPU (empty on the other ranks).

    Collective: every process must call it.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

