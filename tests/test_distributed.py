"""harness.inference.distributed: data-parallel evaluation and multi-process training on 2 CPU processes (gloo).

Both tests start real worker processes through torchrun, as ``--nproc 2`` does, and
compare with the single-process run: evaluation results files equal except timings and
provenance; training weights allclose (not bitwise: the two processes' gradients are
summed by an all-reduce, a different float summation order than one batched backward).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.inference import distributed
from harness.evaluation import evaluate as evaluation
from harness.data import tracks
from harness.data.audio import SAMPLE_RATE
from harness.data.testsets import write_longform_set, write_segmented_set

from conftest import TINY_DE, TINY_EN, TINY_ZH, copy_system

REPO = Path(__file__).resolve().parents[1]
TIMING = {"decode_seconds"}  # per-segment fields that may differ between runs
PASS_TIMING = {"wall_seconds"}  # the quality pass's own wall time (speed itself is off: --no-speed)
SETS = ("tiny_seg", "tiny_lf")  # a segmented set and a long-form set (gold segmentation)

EVAL_WRAPPER = """
import dataclasses, sys
from harness.evaluation import evaluate
from harness.inference import distributed
from harness.data import tracks
specs = tuple(tracks.TestSetSpec(name, "local", folder) for name, folder in {sets!r})
track = dataclasses.replace(tracks.get_track("mini"), testsets=specs)
evaluate.get_track = lambda name: track
distributed.ENTRY = [__file__]  # a relaunch runs this wrapper again, not python -m harness eval
sys.exit(evaluate.main(sys.argv[1:]))
"""


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), str(REPO / "tests"), env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture(scope="module")
def eval_setup(tmp_path_factory, tiny_base_dir, tiny_clips):
    root = tmp_path_factory.mktemp("dist_eval")
    rows = [{"id": f"seg{i:02d}", "audio": clip, "en": TINY_EN[i], "de": TINY_DE[i], "zh": TINY_ZH[i]}
            for i, clip in enumerate(tiny_clips)]
    folder = root / "tiny_seg"
    write_segmented_set(folder, name="tiny_seg", version="1", domain="talks", rows=rows,
                        generator={"name": "tests/test_distributed.py"})
    # A long-form talk: the first five clips with pauses, gold segments = the clips.
    pieces, segments, cursor = [np.zeros(SAMPLE_RATE // 2, np.float32)], [], SAMPLE_RATE // 2
    for clip in tiny_clips[:5]:
        segments.append((cursor / SAMPLE_RATE, len(clip) / SAMPLE_RATE))
        pieces += [clip, np.zeros(SAMPLE_RATE // 2, np.float32)]
        cursor += len(clip) + SAMPLE_RATE // 2
    write_longform_set(root / "tiny_lf", name="tiny_lf", version="1", domain="talks",
                       talks=[{"talk_id": "talk", "audio": np.concatenate(pieces), "segments": segments,
                               "en": TINY_EN[:5], "de": TINY_DE[:5], "zh": TINY_ZH[:5]}],
                       generator={"name": "tests/test_distributed.py"})
    copy_system(tiny_base_dir, root / "build" / "mini" / "tiny")
    wrapper = root / "eval_wrapper.py"
    wrapper.write_text(EVAL_WRAPPER.format(sets=[(name, str(root / name)) for name in SETS]))
    return root, wrapper


def _args(root: Path, results: Path) -> list[str]:
    # 8 utterances at batch 3: 3 batches, so with 2 processes round 2 leaves rank 1 idle.
    return ["--build-root", str(root / "build"), "--results-root", str(results), "--batch-size", "3",
            "--max-new-tokens", "24", "--no-speed", "--segmentation", "gold"]


def _files(results: Path, name: str = "tiny_seg") -> tuple[dict, list[dict]]:
    folder = results / "mini" / "tiny"
    summary = json.loads((folder / f"{name}.json").read_text())
    rows = [json.loads(line) for line in (folder / f"{name}.segments.jsonl").read_text().splitlines()]
    assert not list(folder.glob("*.partial*"))
    return summary, rows


def _comparable(summary: dict) -> dict:
    """The summary without what legitimately differs: timings and provenance."""
    data = {k: v for k, v in summary.items() if k not in ("provenance", "created")}
    if "segmentation" in data:  # a long-form set: the segmenter's own wall times
        segmentation = {k: v for k, v in data["segmentation"].items() if k not in ("vad_seconds", "method_seconds")}
        segmentation["stats"] = {k: v for k, v in segmentation["stats"].items() if k != "wall_seconds"}
        data["segmentation"] = segmentation
    data["languages"] = {lang: {**report, "decode_pass": {k: v for k, v in report["decode_pass"].items()
                                                          if k not in PASS_TIMING}}
                         for lang, report in summary["languages"].items()}
    return data


def test_two_process_eval_writes_the_single_process_results(eval_setup, monkeypatch):
    root, wrapper = eval_setup
    one, two = root / "results1", root / "results2"
    # NPROC=1: the ordinary in-process path (the hook is not taken).
    track = tracks.get_track("mini")
    monkeypatch.setattr(evaluation, "get_track", lambda name: __import__("dataclasses").replace(
        track, testsets=tuple(tracks.TestSetSpec(name, "local", str(root / name)) for name in SETS)))
    assert evaluation.main(_args(root, one)) == 0
    # NPROC=2: the CLI relaunches itself through torchrun; rank 0 writes the files.
    done = subprocess.run([sys.executable, str(wrapper), "--nproc", "2", *_args(root, two)], env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "tiny tiny_seg de x2" in done.stderr  # rank 0 decoded through the sharded path
    summary_1, rows_1 = _files(one)
    summary_2, rows_2 = _files(two)
    assert len(rows_1) == len(rows_2) == 16  # 8 utterances x (de, zh)
    strip = lambda rows: [{k: v for k, v in row.items() if k not in TIMING} for row in rows]  # noqa: E731
    assert strip(rows_1) == strip(rows_2)  # hypotheses, tokens, flags, per-segment scores: identical
    assert [r["hypothesis"] for r in rows_1] == [r["hypothesis"] for r in rows_2]
    assert _comparable(summary_1) == _comparable(summary_2)  # metrics, signatures, degeneration, settings
    for lang in ("de", "zh"):
        assert summary_1["languages"][lang]["metrics"]["bleu"]["value"] == \
            summary_2["languages"][lang]["metrics"]["bleu"]["value"]
    # The long-form set's segments went through the coordinator too; same files.
    assert "tiny tiny_lf.gold de x2" in done.stderr
    summary_1, rows_1 = _files(one, "tiny_lf.gold")
    summary_2, rows_2 = _files(two, "tiny_lf.gold")
    assert len(rows_1) == 10 and rows_1 == rows_2
    assert _comparable(summary_1) == _comparable(summary_2)


def test_shards_are_whole_decode_batches_dealt_round_robin():
    lengths = [5, 9, 1, 9, 3, 7, 2, 8]
    rounds = distributed.shard_batches(lengths, batch_size=3, world=2)
    # decode's batches: longest first, ties in input order: [1, 3, 7], [5, 0, 4], [6, 2]
    assert rounds == [[[1, 3, 7], [5, 0, 4]], [[6, 2], []]]
    assert distributed.shard_batches(lengths, 3, 1) == [[[1, 3, 7]], [[5, 0, 4]], [[6, 2]]]


def test_nproc_relaunches_through_torchrun(monkeypatch, tmp_path):
    seen = {}

    def fake_run(command, env=None, **kwargs):
        seen["command"], seen["env"] = command, env
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(distributed.subprocess, "run", fake_run)
    argv = ["--nproc", "3", "--results-root", str(tmp_path)]
    assert evaluation.main(argv) == 0
    assert seen["command"][1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=3",
                                   "-m", "harness", "eval", "--results-root", str(tmp_path)]
    assert str(REPO) in seen["env"]["PYTHONPATH"].split(os.pathsep)


# --- training ---------------------------------------------------------------------------

TRAIN_WORKER = """
import json, sys
import torch
from transformers import AutoProcessor
from harness.stages import from_scratch as fs
from harness.training.examples import make_examples
from harness.training.features import compute_features
from harness.training.loop import train
from harness.training.settings import TrainSettings
from conftest import TINY_CLIP_SECONDS, TINY_TARGETS, TINY_WINDOW_SECONDS, make_clip

base, init, out = sys.argv[1:4]
settings = TrainSettings.from_dict(json.loads(sys.argv[4]))
processor = AutoProcessor.from_pretrained(base)
tokenizer = processor.tokenizer
config = fs.model_config(len(tokenizer), window_seconds=TINY_WINDOW_SECONDS,
                         audio_token_id=tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN), size="tiny")
model = fs.init_model(config, 0)
model.load_state_dict(torch.load(init))
store = compute_features(processor.feature_extractor, [make_clip(i, s) for i, s in enumerate(TINY_CLIP_SECONDS)])
examples = (make_examples(processor, TINY_TARGETS["de"][:8], "de")
            + make_examples(processor, TINY_TARGETS["zh"][:8], "zh"))
result = train(model, examples, store, settings, pad_id=tokenizer.pad_token_id, progress=None)
if torch.distributed.get_rank() == 0:
    torch.save({"state": model.state_dict(), "losses": result.losses, "seen": result.examples_seen}, out)
torch.distributed.barrier()  # leave together: a peer exiting mid-teardown can abort gloo
torch.distributed.destroy_process_group()
"""

# Global batch 5 over 16 examples: shares of 3 + 2, and an epoch's last batch of 1 leaves
# rank 1 an empty share (the weight-0 path). 6 steps cross an epoch boundary.
TRAIN_SETTINGS = dict(lr=1e-3, batch_size=5, steps=6, warmup_steps=1, weight_decay=0.01, seed=3, threads=1,
                      bucket_batches=2)
# Measured: max |difference| 8.8e-6 (one gate_proj element), the rest <= 1.6e-6. AdamW divides by
# sqrt(v): a gradient element near zero turns a float-rounding difference into a visible step,
# bounded by the lr (1e-3) per step; a wrong loss weighting would move whole tensors by ~lr.
WEIGHT_ATOL = 5e-5


def test_two_process_training_matches_one_process_at_the_same_global_batch(tiny_base_dir, tiny_processor, store,
                                                                             examples, tmp_path):
    from harness.stages import from_scratch as fs
    from harness.training.examples import epoch_batches
    from harness.training.loop import train
    from harness.training.settings import TrainSettings

    from conftest import TINY_WINDOW_SECONDS

    tokenizer = tiny_processor.tokenizer
    config = fs.model_config(len(tokenizer), window_seconds=TINY_WINDOW_SECONDS,
                             audio_token_id=tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN), size="tiny")
    model = fs.init_model(config, 0)
    torch.save(model.state_dict(), tmp_path / "init.pt")
    settings = TrainSettings(**TRAIN_SETTINGS)
    assert any(len(b) == 1 for b in epoch_batches(examples, store, 5, 3, 0, 2))  # the empty-share case occurs
    single = train(model, examples, store, settings, pad_id=tokenizer.pad_token_id, progress=None)

    worker = tmp_path / "train_worker.py"
    worker.write_text(TRAIN_WORKER)
    command = distributed.launch_command([str(worker), str(tiny_base_dir), str(tmp_path / "init.pt"),
                                          str(tmp_path / "out.pt"), json.dumps(TRAIN_SETTINGS)], 2)
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    two = torch.load(tmp_path / "out.pt")
    assert two["seen"] == single.examples_seen  # each step counts the global batch once, not N x
    assert two["losses"] == pytest.approx(single.losses, rel=1e-5, abs=1e-6)
    differences = {name: float((tensor - two["state"][name]).abs().max())
                   for name, tensor in model.state_dict().items()}
    worst = max(differences.values())
    print(f"max |w_2proc - w_1proc| = {worst:.3g}; loss curves {single.losses} vs {two['losses']}")
    # Not bitwise: the gradient of the global batch is summed across processes by an
    # all-reduce, another float summation order than one batched backward.
    assert worst < WEIGHT_ATOL, sorted(differences.items(), key=lambda kv: -kv[1])[:3]
    mean = torch.cat([(t - two["state"][n]).abs().flatten() for n, t in model.state_dict().items()]).mean()
    assert float(mean) < 1e-7
    assert any(not torch.equal(t, two["state"][n]) for n, t in fs.init_model(config, 0).state_dict().items())


# FSDP as a build runs it (make build NPROC=2 FSDP=1): finetune_system relaunches the
# fine-tuning command under torchrun with its exact settings; batch 5 over 16 examples
# (8 utterances x de, zh) has the same empty-share case as above; rank 0 gathers the full
# state dict and saves it.
FSDP_SETTINGS = dict(lr=1e-3, batch_size=5, steps=6, seed=3)


def test_fsdp_fine_tune_on_two_processes_saves_the_single_process_model(eval_setup, tiny_base_dir, tmp_path,
                                                                         monkeypatch):
    from dataclasses import replace

    from safetensors.torch import load_file

    from harness.systems.models import load_system
    from harness.stages import finetune as ft
    from harness.training.settings import with_overrides

    root, _ = eval_setup
    train_set = root / "tiny_seg"
    # FSDP runs the model's own forward on the full audio window (no trimmed encoder path).
    settings = replace(with_overrides(ft.PRESETS["mini-teacher"], **FSDP_SETTINGS), trim_audio=False)
    single = ft.finetune_system(tiny_base_dir, train_set, tmp_path / "one", settings, log=None)

    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HARNESS_NPROC", "2")
    monkeypatch.setenv("HARNESS_FSDP", "1")
    two = ft.finetune_system(tiny_base_dir, train_set, tmp_path / "two", settings, log=None)
    assert two == json.loads((tmp_path / "two" / "finetune.json").read_text())
    assert two["training"]["settings"] == json.loads(json.dumps(single["training"]["settings"]))
    assert two["training"]["examples_seen"] == single["training"]["examples_seen"]
    curve = lambda summary: [loss for _, loss in summary["training"]["loss_curve"]]  # noqa: E731
    assert len(curve(two)) == 6
    assert curve(two) == pytest.approx(curve(single), rel=1e-5, abs=1e-6)

    weights_1 = load_file(tmp_path / "one" / "model.safetensors")
    weights_2 = load_file(tmp_path / "two" / "model.safetensors")
    assert weights_1.keys() == weights_2.keys()
    worst = max(float((weights_1[k] - weights_2[k]).abs().max()) for k in weights_1)
    print(f"FSDP x2 vs 1 process: max |w| difference {worst:.3g}")
    assert worst < WEIGHT_ATOL
    original = load_file(tiny_base_dir / "model.safetensors")
    assert any(not torch.equal(original[k], weights_2[k]) for k in original)  # trained, not the input saved back
    reloaded = load_system(tmp_path / "two", "de")  # a whole, strictly loadable system
    assert reloaded.content_hash != load_system(tiny_base_dir, "de").content_hash


def test_fsdp_shards_each_layer_and_gathers_a_full_state_dict(tiny_model, tiny_base_dir, tmp_path):
    worker = tmp_path / "shard_worker.py"
    worker.write_text(SHARD_WORKER)
    layers = sum(type(m).__name__ in distributed.FSDP_UNITS for m in tiny_model.modules())
    command = distributed.launch_command([str(worker), str(tiny_base_dir), str(tmp_path / "out.json")], 2)
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["sharded"] and report["units"] == layers + 1  # each layer, then the root
    assert report["local_numel"] < 0.6 * sum(p.numel() for p in tiny_model.parameters())  # about half each
    assert report["full_state_equal"]  # gathered on rank 0: every tensor back, unchanged


SHARD_WORKER = """
import json, sys
import torch
from safetensors.torch import load_file
from torch.distributed.fsdp import FSDPModule
from transformers import Qwen2AudioForConditionalGeneration
from harness.inference import distributed
folder, out = sys.argv[1:3]
model = Qwen2AudioForConditionalGeneration.from_pretrained(folder)
state = {k: v.clone() for k, v in model.state_dict().items()}
distributed.init_state("cpu")
distributed.shard_model(model, torch.device("cpu"), bf16=False)
local = sum(p.to_local().numel() for p in model.parameters())
full = distributed.full_state_dict(model)
if torch.distributed.get_rank() == 0:
    json.dump({"sharded": distributed.is_sharded(model),
               "units": sum(isinstance(m, FSDPModule) for m in model.modules()),
               "local_numel": local,
               "full_state_equal": full.keys() == state.keys() and all(torch.equal(full[k], state[k]) for k in state)},
              open(out, "w"))
torch.distributed.barrier()
torch.distributed.destroy_process_group()
"""


def test_a_build_relaunches_its_fine_tunes_lora_without_fsdp(monkeypatch, tiny_base_dir, tmp_path):
    from harness.stages import finetune as ft
    from harness.training.lora import LoraSettings
    from harness.training.settings import TrainSettings, with_overrides

    seen = {}

    def fake_run(command, env=None, **kwargs):
        seen["command"], seen["env"] = command, env
        out = Path(command[command.index("--out") + 1])
        out.mkdir()
        (out / "finetune.json").write_text('{"training": {}}')
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setenv("HARNESS_NPROC", "3")
    monkeypatch.setenv("HARNESS_FSDP", "1")
    monkeypatch.setattr(distributed.subprocess, "run", fake_run)
    settings = with_overrides(ft.MINI_TEACHER, steps=2)
    assert ft.finetune_system(tiny_base_dir, tmp_path / "set", tmp_path / "out", settings, lora=LoraSettings(rank=2),
                              prompt="base", log=None) == {"training": {}}
    command = seen["command"]
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=3"]
    assert command[5:7] == ["-m", "harness.stages.finetune"]
    options = dict(zip(command[7::2], command[8::2]))
    assert TrainSettings.from_dict(json.loads(options["--settings-json"])) == settings
    assert json.loads(options["--lora-json"]) == LoraSettings(rank=2).as_dict() and options["--prompt"] == "base"
    assert "HARNESS_FSDP" not in seen["env"]  # LoRA: DDP
    # The pruned model's fine-tune on ACL + KD (System B): a full fine-tune, so FSDP stays asked for.
    assert ft.finetune_system(tiny_base_dir, tmp_path / "set", tmp_path / "kd-out", settings, langs=("de",),
                              kd=tmp_path / "kd.jsonl", base_model="the-base", log=None) == {"training": {}}
    options = dict(zip(seen["command"][7::2], seen["command"][8::2]))
    assert options["--kd"] == str(tmp_path / "kd.jsonl") and options["--base-model"] == "the-base"
    assert options["--langs"] == "de" and "--lora-json" not in options
    assert seen["env"]["HARNESS_FSDP"] == "1"


def test_bad_process_count_is_refused(monkeypatch):
    monkeypatch.setenv("HARNESS_NPROC", "two")
    with pytest.raises(ValueError, match="HARNESS_NPROC must be a positive integer"):
        distributed.requested_processes()


def test_fsdp_refuses_lora(monkeypatch, tiny_base_dir, tmp_path):
    from harness.stages import finetune as ft
    from harness.training.lora import LoraSettings
    from harness.training.settings import with_overrides

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("HARNESS_FSDP", "1")
    with pytest.raises(ValueError, match="LoRA trains under DDP"):
        ft.finetune_system(tiny_base_dir, tmp_path / "unused", tmp_path / "out",
                           with_overrides(ft.MINI_TEACHER, steps=1), lora=LoraSettings(rank=2), log=None)
