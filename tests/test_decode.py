"""harness.inference.decode: prompts, batch inputs, batched greedy decoding equal to batch 1, truncation, stats.

The central claim: batching (length-sorted, left-padded) gives the token ids that
decoding one utterance at a time gives, for batch sizes 1, 2, 3 and 8 on eight clips
of different lengths, in float32; and both equal the paper's own loop (Moslem, IWSLT
2025: processor per utterance, ``generate(max_length=1024)``), written independently in
conftest.py.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import torch

from conftest import TINY_DE, TINY_ZH, TINY_WINDOW_SECONDS, make_clip, paper_reference_decode
from harness.data.audio import SAMPLE_RATE
from harness.inference.decode import (
    DecodeSettings,
    Hypothesis,
    Prompt,
    audio_tokens_for_frames,
    build_prompt,
    configure_threads,
    decode,
    prepare_batch,
)
from harness.systems.models import load_system

SETTINGS = DecodeSettings(max_new_tokens=48, batch_size=4)


@pytest.fixture(scope="module")
def fp32_system(tiny_base_dir):
    return load_system(tiny_base_dir, "de")


@pytest.fixture(scope="module")
def lora_system(tiny_lora_dir):
    return load_system(tiny_lora_dir, "de")


# ---------------------------------------------------------------- prompts


def test_instruct_prompt_is_the_papers(tiny_processor):
    assert build_prompt(tiny_processor, "de", "instruct") == (
        "<|im_start|>system\nYou are a professional translator.<|im_end|>\n"
        "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
        "Translate the English speech into German:<|im_end|>\n"
        "<|im_start|>assistant\n")
    assert "Translate the English speech into Chinese:" in build_prompt(tiny_processor, "zh", "instruct")


def test_base_prompt_is_diet_kits(tiny_processor):
    assert build_prompt(tiny_processor, "zh", "base") == \
        "<|audio_bos|><|AUDIO|><|audio_eos|>Translate this speech to Chinese: \n"
    assert build_prompt(tiny_processor, "de", "base").endswith("to German: \n")


@pytest.mark.parametrize("lang, style, message", [
    ("fr", "instruct", "unknown target language 'fr'"),
    ("de", "chat", "unknown prompt style 'chat'"),
])
def test_prompt_errors(tiny_processor, lang, style, message):
    with pytest.raises(ValueError, match=message):
        build_prompt(tiny_processor, lang, style)


def test_audio_token_rule_matches_the_model():
    from harness.stages.from_scratch import audio_token_count

    assert [audio_tokens_for_frames(f) for f in range(3, 3001)] == [audio_token_count(f) for f in range(3, 3001)]


@pytest.mark.parametrize("style", ["instruct", "base"])
def test_batch_inputs_equal_the_processors(tiny_processor, tiny_clips, style):
    text = build_prompt(tiny_processor, "de", style)
    ours = prepare_batch(tiny_processor, Prompt(tiny_processor, text), tiny_clips,
                         tiny_processor.tokenizer.pad_token_id)
    tokenizer = tiny_processor.tokenizer
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    try:
        theirs = tiny_processor(text=[text] * len(tiny_clips), audio=tiny_clips, sampling_rate=SAMPLE_RATE,
                                return_tensors="pt", padding=True)
    finally:
        tokenizer.padding_side = side
    assert set(ours) == {"input_ids", "attention_mask", "input_features", "feature_attention_mask"}
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name
    # Left padding: every row ends with its own prompt's last token.
    assert (ours["attention_mask"][:, -1] == 1).all()
    assert ours["attention_mask"].sum(-1).unique().numel() == len(tiny_clips)


# ---------------------------------------------------------------- batch == batch 1


@pytest.mark.parametrize("system_fixture", ["fp32_system", "lora_system"])
@pytest.mark.parametrize("lang", ["de", "zh"])
def test_batched_equals_batch_one(request, system_fixture, lang, tiny_clips):
    system = request.getfixturevalue(system_fixture)
    assert system.dtype == torch.float32
    one_by_one = [decode(system, [clip], lang, dataclasses.replace(SETTINGS, batch_size=1)).hypotheses[0]
                  for clip in tiny_clips]
    reference_ids = [h.token_ids for h in one_by_one]
    # Non-trivial: the clips get different, non-empty translations.
    assert all(ids for ids in reference_ids)
    assert len(set(reference_ids)) >= 6
    for batch_size in (1, 2, 3, 8):
        batched = decode(system, tiny_clips, lang, dataclasses.replace(SETTINGS, batch_size=batch_size))
        assert [h.token_ids for h in batched.hypotheses] == reference_ids, f"batch size {batch_size}"
        assert [h.text for h in batched.hypotheses] == [h.text for h in one_by_one]
        assert batched.stats.batches == -(-len(tiny_clips) // batch_size)


def test_trained_tiny_model_translates_and_matches_the_papers_loop(fp32_system, tiny_clips):
    for lang, references in (("de", TINY_DE), ("zh", TINY_ZH)):
        ours = decode(fp32_system, tiny_clips, lang, dataclasses.replace(SETTINGS, batch_size=8)).hypotheses
        theirs = paper_reference_decode(fp32_system.model, fp32_system.processor, tiny_clips, lang)
        assert [h.text for h in ours] == [text for text, _ in theirs]
        eos = set(fp32_system.model.generation_config.eos_token_id)
        for hypothesis, (_, ids) in zip(ours, theirs):
            assert hypothesis.finished and ids[-1] in eos
            assert list(hypothesis.token_ids) == ids[:-1]
        # The fixture trained clip i -> sentence i; most must come out right.
        assert sum(h.text == ref for h, ref in zip(ours, references)) >= 6


# ---------------------------------------------------------------- order, callbacks, counts


def test_results_in_input_order_and_callback_per_batch(fp32_system, tiny_clips):
    seen = []
    output = decode(fp32_system, tiny_clips, "de", dataclasses.replace(SETTINGS, batch_size=3),
                    on_result=lambda index, hypothesis: seen.append((index, hypothesis)))
    assert sorted(index for index, _ in seen) == list(range(len(tiny_clips)))
    assert all(output.hypotheses[index] is hypothesis for index, hypothesis in seen)
    # Longest first: the first batch holds the three longest clips.
    lengths = [len(clip) for clip in tiny_clips]
    first_batch = {index for index, _ in seen[:3]}
    assert first_batch == set(np.argsort(lengths)[::-1][:3].tolist())
    # Each batch's utterances share its wall time equally.
    for batch in (seen[:3], seen[3:6], seen[6:]):
        assert len({hypothesis.seconds for _, hypothesis in batch}) == 1


def test_unfinished_hypotheses_count_only_real_tokens(lora_system, fp32_system, tiny_clips):
    output = decode(fp32_system, tiny_clips, "de", DecodeSettings(max_new_tokens=3, batch_size=8))
    assert all(h.new_tokens == 3 == len(h.token_ids) and not h.finished for h in output.hypotheses)
    assert output.stats.unfinished == len(tiny_clips) and output.stats.new_tokens == 3 * len(tiny_clips)
    # Finished rows in a batch with unfinished ones: padding after the end is not counted.
    # The cap is set from an uncapped run (the tiny model's lengths vary with the CPU's float
    # arithmetic): one more than the shortest output lets it end while longer ones are cut.
    free = decode(lora_system, tiny_clips, "zh", DecodeSettings(max_new_tokens=64, batch_size=8)).hypotheses
    shortest = min(h.new_tokens for h in free if h.finished)
    assert any(h.new_tokens > shortest for h in free)
    mixed = decode(lora_system, tiny_clips, "zh", DecodeSettings(max_new_tokens=shortest + 1, batch_size=8)).hypotheses
    finished = [h for h in mixed if h.finished]
    assert finished and len(finished) < len(mixed)
    pad = lora_system.processor.tokenizer.pad_token_id
    eos = set(lora_system.model.generation_config.eos_token_id)
    for hypothesis in mixed:
        assert hypothesis.new_tokens == len(hypothesis.token_ids) <= 24
        assert not eos.intersection(hypothesis.token_ids) and pad not in hypothesis.token_ids


def test_long_audio_is_truncated_visibly(fp32_system, tiny_clips, caplog):
    long_clip = make_clip(3, TINY_WINDOW_SECONDS + 1.5)
    clips = [tiny_clips[0], long_clip, tiny_clips[1], make_clip(4, TINY_WINDOW_SECONDS + 0.5)]
    with caplog.at_level(logging.WARNING, logger="harness.inference.decode"):
        output = decode(fp32_system, clips, "de", SETTINGS)
    warnings = [r.getMessage() for r in caplog.records if r.name == "harness.inference.decode"]
    assert len(warnings) == 1
    assert "2 of 4 clips are longer than the model's 4 s window (longest 5.5 s)" in warnings[0]
    assert [h.truncated_audio for h in output.hypotheses] == [False, True, False, True]
    assert output.stats.truncated == 2 and output.stats.longest_truncated_seconds == pytest.approx(5.5)
    assert output.hypotheses[1].audio_seconds == pytest.approx(5.5)
    # What happens: the window's first seconds are translated, exactly as the cut clip.
    cut = decode(fp32_system, [long_clip[: TINY_WINDOW_SECONDS * SAMPLE_RATE]], "de", SETTINGS).hypotheses[0]
    assert cut.token_ids == output.hypotheses[1].token_ids and not cut.truncated_audio


def test_base_prompt_style_override(fp32_system, tiny_clips):
    settings = DecodeSettings(max_new_tokens=8, batch_size=8, prompt_style="base")
    output = decode(fp32_system, tiny_clips[:2], "de", settings)
    assert output.settings.prompt_style == "base"
    default = decode(fp32_system, tiny_clips[:2], "de", DecodeSettings(max_new_tokens=8))
    assert default.settings.prompt_style == "instruct" == fp32_system.prompt_style
    assert default.settings.as_dict()["prompt_style"] == "instruct"


def test_bf16_system_decodes(tiny_bf16_dir, tiny_clips):
    system = load_system(tiny_bf16_dir, "de")
    output = decode(system, tiny_clips[:3], "de", SETTINGS)
    assert output.stats.dtype == "bfloat16" and all(h.new_tokens > 0 for h in output.hypotheses)


# ---------------------------------------------------------------- settings, stats, inputs


def test_settings_are_frozen_and_validated():
    settings = DecodeSettings(max_new_tokens=10)
    assert settings.as_dict() == {"max_new_tokens": 10, "batch_size": 16, "num_beams": 1, "do_sample": False,
                                  "repetition_penalty": 1.0, "prompt_style": None}
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.batch_size = 2
    for bad in (dict(max_new_tokens=0), dict(max_new_tokens=5, batch_size=0), dict(max_new_tokens=5, do_sample=True),
                dict(max_new_tokens=5, prompt_style="chat"), dict(max_new_tokens=5, repetition_penalty=0.0)):
        with pytest.raises(ValueError):
            DecodeSettings(**bad)


def test_stats(fp32_system, tiny_clips):
    output = decode(fp32_system, tiny_clips, "de", dataclasses.replace(SETTINGS, batch_size=3), progress="test")
    stats = output.stats
    assert stats.utterances == len(tiny_clips) and stats.batches == 3 and stats.batch_size == 3
    assert stats.audio_seconds == pytest.approx(sum(len(c) for c in tiny_clips) / SAMPLE_RATE)
    assert stats.rtfx == pytest.approx(stats.audio_seconds / stats.wall_seconds)
    assert sum(h.seconds for h in output.hypotheses) == pytest.approx(stats.wall_seconds, rel=0.05)
    assert stats.new_tokens == sum(h.new_tokens for h in output.hypotheses)
    assert stats.peak_rss_bytes > 50 * 2**20 and stats.gpu_peak_bytes is None
    assert stats.device == "cpu" and stats.dtype == "float32" and stats.window_seconds == TINY_WINDOW_SECONDS
    assert isinstance(output.hypotheses[0], Hypothesis)
    assert set(stats.as_dict()) >= {"rtfx", "seconds_per_utterance", "peak_rss_bytes", "gpu_peak_bytes"}


def test_speed_protocol_times_the_real_decoder(fp32_system, tiny_clips):
    from harness.evaluation import speed

    block = speed.measure(fp32_system, decode, tiny_clips[:4], "de", DecodeSettings(max_new_tokens=8, batch_size=4),
                          backend="transformers")
    assert block["status"] == "measured" and block["rtfx"]["median"] > 0
    assert 0 < block["batch1_latency_seconds"]["min"] <= block["batch1_latency_seconds"]["median"]
    assert block["comparability"]["device"] == "cpu" and block["comparability"]["dtype"] == "float32"


@pytest.mark.parametrize("audio, message", [
    (np.zeros((2, 16000), dtype=np.float32), "audio 1: expected mono samples"),
    (np.zeros(16000, dtype=np.int16), "audio 1: expected float samples"),
    (np.zeros(100, dtype=np.float32), "audio 1: 100 samples is too short"),
])
def test_bad_audio(fp32_system, tiny_clips, audio, message):
    with pytest.raises(ValueError, match=message):
        decode(fp32_system, [tiny_clips[0], audio], "de", SETTINGS)


def test_empty_input(fp32_system):
    output = decode(fp32_system, [], "de", SETTINGS)
    assert output.hypotheses == [] and output.stats.utterances == 0


def test_threads_are_capped_never_raised(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
        torch.set_num_threads(1)
        assert configure_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "64")
        torch.set_num_threads(3)
        assert configure_threads() == 3  # the user's choice stands
    finally:
        torch.set_num_threads(before)
