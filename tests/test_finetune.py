"""The training toolkit (harness.training) and the fine-tuning stage (harness.stages.finetune) on the tiny
model: batches, labels, schedule, determinism."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from harness.inference.decode import Prompt, build_prompt, prepare_batch
from harness.stages import finetune as ft
from harness.stages import from_scratch as fs
from harness.training.examples import IGNORE_INDEX, collate, epoch_batches
from harness.training.features import FeatureStore, cached_features, stack_stores
from harness.training.forward import forward_loss
from harness.training.loop import train
from harness.training.settings import TrainSettings, lr_at, with_overrides
from conftest import TINY_TARGETS, TINY_WINDOW_SECONDS

IGNORE = IGNORE_INDEX


def fresh_model(processor, seed: int = 0):
    tokenizer = processor.tokenizer
    config = fs.model_config(len(tokenizer), window_seconds=TINY_WINDOW_SECONDS,
                             audio_token_id=tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN), size="tiny")
    return fs.init_model(config, seed)


def pad_id(processor) -> int:
    return processor.tokenizer.pad_token_id


# --- batches and labels ---------------------------------------------------------

def test_collate_masks_padding_prompt_and_audio(tiny_processor, store, examples):
    tokenizer = tiny_processor.tokenizer
    audio_id = tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN)
    im_end = tokenizer.convert_tokens_to_ids(fs.IM_END)
    chosen = [examples[1], examples[2], examples[9]]  # a short and a long clip, both directions
    batch = collate(chosen, store, pad_id(tiny_processor))
    ids, labels, mask, positions = batch["input_ids"], batch["labels"], batch["attention_mask"], batch["position_ids"]
    width = ids.shape[1]
    for row, example in enumerate(chosen):
        frames = int(store.frames[example.clip])
        n_audio = fs.audio_token_count(frames)
        prompt_len = len(example.prompt.prefix) + n_audio + len(example.prompt.suffix)
        length = prompt_len + len(example.target)
        pad = width - length
        # Left padding: pads first, masked out, labels ignored; positions restart at 0.
        assert mask[row, :pad].sum() == 0 and mask[row, pad:].all()
        assert (ids[row, :pad] == pad_id(tiny_processor)).all()
        assert positions[row, pad:].tolist() == list(range(length))
        # -100 exactly on padding, prompt and audio; the target and <|im_end|> are learned.
        assert (labels[row, :pad + prompt_len] == IGNORE).all()
        assert labels[row, pad + prompt_len:].tolist() == list(example.target)
        assert labels[row, -1] == im_end
        assert (labels[row] != IGNORE).sum() == len(example.target)
        # The placeholders are consecutive and as many as the processor's rule gives.
        where = (ids[row] == audio_id).nonzero().flatten().tolist()
        assert len(where) == n_audio and where == list(range(where[0], where[0] + n_audio))
        assert (labels[row, where] == IGNORE).all()
    assert batch["input_features"].shape == (3, 128, 100 * TINY_WINDOW_SECONDS)
    assert batch["feature_attention_mask"].sum(-1).tolist() == [int(store.frames[e.clip]) for e in chosen]


def test_training_rows_match_the_decoder_prompt(tiny_processor, tiny_clips, store, examples):
    """Train and test see the same prompt ids and features (harness.inference.decode.prepare_batch)."""
    chosen = examples[:4]
    clips = [tiny_clips[e.clip] for e in chosen]
    prompt = Prompt(tiny_processor, build_prompt(tiny_processor, "de", "instruct"))
    served = prepare_batch(tiny_processor, prompt, clips, pad_id(tiny_processor))
    batch = collate(chosen, store, pad_id(tiny_processor))
    for row, example in enumerate(chosen):
        trained = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
        decoded = served["input_ids"][row][served["attention_mask"][row].bool()].tolist()
        assert trained[:len(decoded)] == decoded
        assert trained[len(decoded):] == list(example.target)
    assert torch.allclose(batch["input_features"], served["input_features"], atol=2e-3)  # fp16 storage
    assert torch.equal(batch["feature_attention_mask"], served["feature_attention_mask"])


def test_examples_end_with_end_of_turn_and_encode_the_target(tiny_processor, examples):
    tokenizer = tiny_processor.tokenizer
    assert examples[0].target[-1] == tokenizer.convert_tokens_to_ids(fs.IM_END)
    assert tokenizer.decode(list(examples[0].target[:-1])) == TINY_TARGETS["de"][0]
    assert tokenizer.decode(list(examples[8].target[:-1])) == TINY_TARGETS["zh"][0]
    assert examples[0].prompt != examples[8].prompt  # German and Chinese instructions


def test_trimmed_audio_window_gives_the_full_window_loss(tiny_processor, store, examples):
    model = fresh_model(tiny_processor)
    batch = collate(examples[:8], store, pad_id(tiny_processor))
    with torch.no_grad():
        full = forward_loss(model, batch, trim_audio=False)
        trimmed = forward_loss(model, batch, trim_audio=True)
    assert math.isclose(float(full), float(trimmed), rel_tol=1e-5)


# --- schedule and batching --------------------------------------------------------

def test_learning_rate_schedule():
    settings = TrainSettings(lr=1.0, batch_size=1, steps=110, warmup_steps=10, schedule="cosine",
                                min_lr_ratio=0.1)
    rates = [lr_at(step, 110, settings) for step in range(110)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))
    assert rates[-1] == pytest.approx(0.1, abs=0.01)
    linear = TrainSettings(lr=2.0, batch_size=1, steps=4, schedule="linear")
    assert [lr_at(s, 4, linear) for s in range(4)] == pytest.approx([2.0, 1.5, 1.0, 0.5])
    constant = TrainSettings(lr=2.0, batch_size=1, steps=4, schedule="constant")
    assert {lr_at(s, 4, constant) for s in range(4)} == {2.0}


def test_settings_validation_and_presets():
    with pytest.raises(ValueError):
        TrainSettings(lr=1e-3, batch_size=4)  # neither steps nor epochs
    with pytest.raises(ValueError):
        TrainSettings(lr=1e-3, batch_size=4, steps=3, epochs=1)
    with pytest.raises(ValueError):
        TrainSettings(lr=1e-3, batch_size=4, steps=3, schedule="step")
    paper = ft.PAPER_TEACHER  # Moslem (IWSLT 2025), stage 1
    assert (paper.epochs, paper.batch_size, paper.lr, paper.weight_decay, paper.warmup_steps, paper.bf16) == \
        (3, 4, 1e-5, 0.001, 0, True)
    assert paper.total_steps(784) == 3 * 196
    assert with_overrides(paper, steps=7).steps == 7 and with_overrides(paper, steps=7).epochs is None
    assert with_overrides(paper, lr=None) == paper


def test_epoch_batches_cover_every_example_once_and_are_seeded(store, examples):
    first = epoch_batches(examples, store, 3, seed=1, epoch=0, bucket_batches=2)
    assert sorted(i for batch in first for i in batch) == list(range(len(examples)))
    assert max(len(batch) for batch in first) == 3
    assert first == epoch_batches(examples, store, 3, seed=1, epoch=0, bucket_batches=2)
    assert first != epoch_batches(examples, store, 3, seed=1, epoch=1, bucket_batches=2)
    assert first != epoch_batches(examples, store, 3, seed=2, epoch=0, bucket_batches=2)


# --- training -----------------------------------------------------------------------

SETTINGS = TrainSettings(lr=1e-2, batch_size=4, steps=60, warmup_steps=2, weight_decay=0.01, seed=3,
                            threads=None, log_every=4)


def run(processor, examples, store, settings=SETTINGS, model_seed=0):
    model = fresh_model(processor, model_seed)
    result = train(model, examples, store, settings, pad_id=pad_id(processor), progress=None)
    return model, result


def test_loss_goes_down(tiny_processor, store, examples):
    model, result = run(tiny_processor, examples, store)
    assert result.steps == 60 and not result.stopped_early
    assert result.examples_seen == 60 * 4 and result.epochs == pytest.approx(15.0)
    assert np.mean(result.losses[-4:]) < 0.75 * np.mean(result.losses[:4])
    assert not model.training  # handed back in eval mode
    assert not model.model.audio_tower.embed_positions.weight.requires_grad
    # The fixed sinusoids are still the sinusoids.
    table = model.model.audio_tower.embed_positions.weight
    assert torch.allclose(table, fs.whisper_sinusoids(*table.shape))
    json.dumps(result.summary())  # serialisable for training.json


def test_training_is_deterministic_for_a_seed(tiny_processor, store, examples):
    short = with_overrides(SETTINGS, steps=6)
    model_a, result_a = run(tiny_processor, examples, store, short)
    model_b, result_b = run(tiny_processor, examples, store, short)
    assert result_a.losses == result_b.losses
    state_b = model_b.state_dict()
    assert all(torch.equal(tensor, state_b[name]) for name, tensor in model_a.state_dict().items())
    _, result_c = run(tiny_processor, examples, store, with_overrides(short, seed=4))
    assert result_c.losses != result_a.losses


def test_checkpoints_and_time_limit(tiny_processor, store, examples):
    seen = []
    settings = with_overrides(SETTINGS, steps=6, checkpoint_every=2)
    train(fresh_model(tiny_processor), examples, store, settings, pad_id=pad_id(tiny_processor), progress=None,
             on_checkpoint=lambda step, model: seen.append((step, model.training)))
    assert seen == [(2, False), (4, False)]  # not at the final step: the caller saves that
    _, result = run(tiny_processor, examples, store, with_overrides(SETTINGS, time_limit_s=0.0))
    assert result.stopped_early and result.steps == 1


def test_stop_after_is_a_prefix_of_the_full_schedule(tiny_processor, store, examples):
    """A run stopped at step k (a curriculum's first stage) equals the full run's first k steps."""
    full_settings = with_overrides(SETTINGS, steps=8, checkpoint_every=4)
    states = {}
    train(fresh_model(tiny_processor), examples, store, full_settings, pad_id=pad_id(tiny_processor),
             progress=None, on_checkpoint=lambda step, model: states.update(
                 {step: {k: v.clone() for k, v in model.state_dict().items()}}))
    prefix_model, prefix = run(tiny_processor, examples, store, with_overrides(full_settings, stop_after=4))
    assert prefix.steps == 4 and prefix.planned_steps == 8 and not prefix.stopped_early
    assert all(torch.equal(v, states[4][k]) for k, v in prefix_model.state_dict().items())


def test_feature_cache_round_trip(tiny_processor, tiny_clips, store, tmp_path):
    audio = SimpleNamespace(audio=lambda clip=None: clip)
    utterances = tuple(SimpleNamespace(id=f"u{i}", audio=(lambda c=clip: c)) for i, clip in enumerate(tiny_clips))
    testset = SimpleNamespace(name="tiny", content_hash="sha256:tiny", utterances=utterances)
    del audio
    cached = cached_features(testset, tiny_processor.feature_extractor, tmp_path)
    assert np.array_equal(np.asarray(cached.features), store.features)
    assert np.array_equal(cached.frames, store.frames)
    again = cached_features(testset, tiny_processor.feature_extractor, tmp_path)  # read back, not recomputed
    assert isinstance(again.features, np.memmap) and again.folder == cached.folder
    assert len(list(tmp_path.iterdir())) == 1


def _tiny_set(clips, name: str):
    """A stand-in for a loaded segmented set: the tiny clips with their German and Chinese targets."""
    utterances = tuple(SimpleNamespace(id=f"u{i}", audio=(lambda c=clip: c),
                                       targets={"de": TINY_TARGETS["de"][i], "zh": TINY_TARGETS["zh"][i]})
                       for i, clip in enumerate(clips))
    return SimpleNamespace(name=name, content_hash="sha256:tiny", utterances=utterances)


def test_finetune_cli_on_a_system_folder(tiny_base_dir, tiny_clips, tmp_path, monkeypatch):
    """Fine-tunes a system folder on a set and writes a loadable system (as for the teachers)."""
    from harness.systems.models import load_system

    monkeypatch.setattr("harness.data.testsets.load_testset", lambda folder: _tiny_set(tiny_clips, "tiny_train"))
    monkeypatch.setattr("harness.training.features.FEATURES_ROOT", tmp_path / "features")
    settings = TrainSettings(lr=1e-3, batch_size=4, steps=3, threads=None)
    monkeypatch.setitem(ft.PRESETS, "test", settings)
    summary = ft.finetune_system(tiny_base_dir, "unused", tmp_path / "teacher", settings, log=None)
    assert summary["training"]["steps"] == 3
    system = load_system(tmp_path / "teacher", "zh")
    assert system.prompt_style == "instruct"
    assert json.loads((tmp_path / "teacher" / "finetune.json").read_text())["train_set"]["name"] == "tiny_train"


def test_lora_fine_tune_is_merged_into_a_plain_system(tiny_base_dir, tiny_clips, tmp_path, monkeypatch):
    """Diet-KIT's first step: LoRA on the frozen model, merged; the saved system is plain hf weights."""
    import torch
    from safetensors.torch import load_file

    from harness.systems.models import load_system
    from harness.training.lora import LoraSettings

    monkeypatch.setattr("harness.data.testsets.load_testset", lambda folder: _tiny_set(tiny_clips, "tiny_general"))
    settings = TrainSettings(lr=5e-2, batch_size=4, steps=3, threads=None)
    lora = LoraSettings(rank=2, alpha=4, dropout=0.0, rslora=False)
    summary = ft.finetune_system(tiny_base_dir, "unused", tmp_path / "merged", settings, lora=lora, prompt="base",
                                 log=None, features_root=tmp_path / "features")
    assert summary["method"] == "lora-merged" and summary["prompt"] == "base"
    assert 0 < summary["parameters"]["trainable"] < summary["parameters"]["total"]
    system = load_system(tmp_path / "merged", "de")  # strict: no adapter key is left over
    assert system.prompt_style == "base"
    before = load_file(str(tiny_base_dir / "model.safetensors"))
    after = load_file(str(tmp_path / "merged" / "model.safetensors"))
    assert set(before) == set(after)
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    linear = ("proj.weight", "fc1.weight", "fc2.weight", "linear.weight")  # the adapted Linear layers only
    assert changed and all(key.endswith(linear) for key in changed), sorted(changed)[:5]
    assert not any("embed" in key or "norm" in key or "lm_head" in key for key in changed)


def test_stacked_stores_read_rows_from_their_parts_without_loading_them(tmp_path):
    rng = np.random.default_rng(0)
    parts = []
    for i, rows in enumerate((3, 5)):
        array = np.lib.format.open_memmap(tmp_path / f"part{i}.npy", mode="w+", dtype=np.float16, shape=(rows, 4, 6))
        array[:] = rng.standard_normal((rows, 4, 6)).astype(np.float16)
        array.flush()
        parts.append(FeatureStore(features=np.load(tmp_path / f"part{i}.npy", mmap_mode="r"),
                                     frames=rng.integers(1, 7, rows)))
    stacked = stack_stores(parts)
    whole = FeatureStore(features=np.concatenate([np.asarray(p.features) for p in parts]),
                            frames=np.concatenate([p.frames for p in parts]))
    assert len(stacked) == 8 and stacked.features.shape == (8, 4, 6)
    assert all(isinstance(part, np.memmap) for part in stacked.features.parts)  # nothing read into memory
    for rows in ([0], [7, 0, 3], [4, 2, 6, 5], list(range(8))[::-1]):
        for got, expected in zip(stacked.batch(rows), whole.batch(rows)):
            assert torch.equal(got, expected)
    with pytest.raises(IndexError, match="within 0..7"):
        stacked.features[[8]]
