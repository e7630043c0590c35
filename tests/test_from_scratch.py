"""The from-scratch kit: tokenizer, processor, configs, initialisation, saving."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor

from harness.stages import from_scratch as fs

WINDOW_SECONDS = 4
SAMPLING_RATE = 16_000

CORPUS = [
    "the small dog sees the big cat .",
    "the old teacher reads a short book .",
    "a young woman opens the green door .",
    "der kleine Hund sieht die große Katze .",
    "der alte Lehrer liest ein kurzes Buch .",
    "eine junge Frau öffnet die grüne Tür .",
    "Die Größe der Straße überrascht Herrn Müller .",
    "小狗看见了那只大猫。",
    "老教师读一本短书。",
    "一位年轻的女人打开了绿色的门。",
    "You are a professional translator.",
    "Translate the English speech into German:",
    "Translate the English speech into Chinese:",
] * 4

EXPECTED_PROMPT = (
    "<|im_start|>system\nYou are a professional translator.<|im_end|>\n"
    "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "Translate the English speech into German:<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def messages(language: str = "German") -> list[dict]:
    return [
        {"role": "system", "content": "You are a professional translator."},
        {"role": "user", "content": [
            {"type": "audio", "audio": "clip.flac"},
            {"type": "text", "text": f"Translate the English speech into {language}:"},
        ]},
    ]


def clip(seconds: float, seed: int) -> np.ndarray:
    """A voiced-looking test signal: a few harmonics plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SAMPLING_RATE)) / SAMPLING_RATE
    wave = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 5))
    return (0.1 * wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def tokenizer():
    return fs.train_tokenizer(CORPUS, 420)


@pytest.fixture(scope="module")
def processor(tokenizer):
    return fs.build_processor(tokenizer, WINDOW_SECONDS)


@pytest.fixture(scope="module")
def tiny_config(tokenizer):
    return fs.model_config(len(tokenizer), window_seconds=WINDOW_SECONDS,
                           audio_token_id=tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN), size="tiny")


def batch_of_two(processor):
    processor.tokenizer.padding_side = "left"
    prompt = processor.apply_chat_template(messages(), tokenize=False, add_generation_prompt=True)
    return processor(text=[prompt, prompt], audio=[clip(2.3, 1), clip(1.7, 2)],
                     sampling_rate=SAMPLING_RATE, return_tensors="pt", padding=True)


# --- tokenizer ---------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "the small dog sees the big cat .",
    "Die Größe der Straße überrascht Herrn Müller; Äpfel, Öl und Übermut.",
    "小狗看见了那只大猫。没有见过的字：鑫龘",
    "the dog 小狗 der Hund — 3.5 km, \"quoted\" and  two  spaces\n",
])
def test_tokenizer_round_trip(tokenizer, text):
    ids = tokenizer(text).input_ids
    assert tokenizer.decode(ids) == text


def test_special_tokens_are_single_tokens_after_the_learned_vocabulary(tokenizer):
    ids = [tokenizer.convert_tokens_to_ids(token) for token in fs.SPECIAL_TOKENS]
    # Same order as Qwen2-Audio-7B's 151643..151648, at the end of the vocabulary.
    assert ids == list(range(len(tokenizer) - len(fs.SPECIAL_TOKENS), len(tokenizer)))
    for token, token_id in zip(fs.SPECIAL_TOKENS, ids):
        assert tokenizer(f"a{token}b").input_ids.count(token_id) == 1
        assert tokenizer(token).input_ids == [token_id]
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.pad_token == "<|endoftext|>"
    assert set(fs.SPECIAL_TOKENS) <= set(tokenizer.all_special_tokens)
    assert len(tokenizer) <= 420


def test_tokenizer_training_is_deterministic(tokenizer, tmp_path):
    again = fs.train_tokenizer(CORPUS, 420)
    tokenizer.save_pretrained(tmp_path / "a")
    again.save_pretrained(tmp_path / "b")
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()
    config = json.loads((tmp_path / "a" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "Qwen2Tokenizer"


# --- processor and prompt -------------------------------------------------------

def test_chat_template_is_the_installed_qwen2_audio_default():
    default = Qwen2AudioProcessor.default_chat_template
    if not isinstance(default, property):
        pytest.skip("transformers no longer carries Qwen2-Audio's default template")
    assert fs.INSTRUCT_CHAT_TEMPLATE == default.fget(None)


def test_instruct_prompt_renders_as_with_the_7b_processor(processor):
    rendered = processor.apply_chat_template(messages(), tokenize=False, add_generation_prompt=True)
    assert rendered == EXPECTED_PROMPT
    # The tokenizer carries the same template, as Qwen2-Audio-7B-Instruct's does.
    assert processor.tokenizer.apply_chat_template(messages(), tokenize=False,
                                                   add_generation_prompt=True) == EXPECTED_PROMPT


def test_audio_token_count_formula():
    assert fs.audio_token_count(3000) == 750  # Qwen2-Audio-7B's 30 s window
    assert fs.audio_token_count(400) == 100
    assert fs.audio_token_count(230) == 57
    # Exactly what the processor computes, down to clips too short for one output.
    assert [fs.audio_token_count(f) for f in (1, 2, 3, 4, 5, 6, 7)] == [0, 0, 1, 1, 1, 1, 2]


def test_processor_expands_audio_placeholder(processor, tokenizer):
    prompt = processor.apply_chat_template(messages(), tokenize=False, add_generation_prompt=True)
    inputs = processor(text=prompt, audio=[clip(2.3, 0)], sampling_rate=SAMPLING_RATE, return_tensors="pt")
    frames = int(inputs["feature_attention_mask"].sum())
    assert frames == 230
    audio_id = tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN)
    ids = inputs["input_ids"][0].tolist()
    assert ids.count(audio_id) == fs.audio_token_count(frames) == 57
    first = ids.index(audio_id)
    assert ids[first - 1] == tokenizer.convert_tokens_to_ids(fs.AUDIO_BOS)
    assert ids[first + 57] == tokenizer.convert_tokens_to_ids(fs.AUDIO_EOS)
    assert tuple(inputs["input_features"].shape) == (1, 128, 100 * WINDOW_SECONDS)


def test_fractional_window_is_refused(tokenizer):
    with pytest.raises(ValueError):
        fs.build_processor(tokenizer, 2.5)


# --- configs and initialisation ---------------------------------------------------

def test_tiny_model_runs_forward_and_greedy_generate_with_left_padding(processor, tiny_config):
    model = fs.init_model(tiny_config, seed=0)
    assert tiny_config.audio_config.max_source_positions * 2 == 100 * WINDOW_SECONDS
    assert 0.1e6 <= fs.parameter_counts(model)["total"] <= 0.3e6
    inputs = batch_of_two(processor)
    assert inputs["attention_mask"][1, 0] == 0  # the shorter clip is padded on the left

    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape == (2, inputs["input_ids"].shape[1], tiny_config.text_config.vocab_size)
    assert torch.isfinite(logits).all()

    config = fs.generation_config(processor.tokenizer)
    config.max_new_tokens = 6
    prompt_length = inputs["input_ids"].shape[1]
    batched = model.generate(**inputs, generation_config=config)[:, prompt_length:]
    # Each clip alone must decode the same: left padding changes nothing.
    for row, audio in enumerate([clip(2.3, 1), clip(1.7, 2)]):
        prompt = processor.apply_chat_template(messages(), tokenize=False, add_generation_prompt=True)
        single = processor(text=[prompt], audio=[audio], sampling_rate=SAMPLING_RATE, return_tensors="pt")
        alone = model.generate(**single, generation_config=config)[0, single["input_ids"].shape[1]:]
        assert batched[row, :alone.numel()].tolist() == alone.tolist()


def test_init_is_deterministic_and_fills_sinusoids(tiny_config):
    first, second, other = (fs.init_model(tiny_config, seed) for seed in (7, 7, 8))
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    assert not torch.equal(first.lm_head.weight, other.lm_head.weight)
    table = first.model.audio_tower.embed_positions.weight
    assert not table.requires_grad
    assert torch.allclose(table, fs.whisper_sinusoids(*table.shape))
    from transformers.models.whisper.modeling_whisper import sinusoids
    assert torch.allclose(table, sinusoids(*table.shape), atol=1e-6)


def test_mini_config_resembles_the_7b():
    config = fs.model_config(fs.MINI_DESIGN_VOCAB_SIZE, window_seconds=WINDOW_SECONDS,
                             audio_token_id=fs.MINI_DESIGN_VOCAB_SIZE - 3, size="mini")
    assert config.text_config.num_hidden_layers >= 12
    assert config.text_config.tie_word_embeddings is False
    counts = fs.parameter_counts(config)
    assert 4e6 <= counts["total"] <= 10e6
    shares = fs.parameter_shares(config)
    assert 0.12 <= shares["embedding+lm_head"] <= 0.18
    assert 0.06 <= shares["audio_encoder"] <= 0.10
    assert 0.72 <= shares["decoder_layers"] <= 0.82
    assert sum(shares.values()) == pytest.approx(1.0)
    # The placeholders of a full window, the prompt and the output fit the context.
    assert config.text_config.max_position_embeddings >= fs.audio_token_count(400) + fs.TEXT_TOKEN_BUDGET


def test_mini_model_is_untied(tokenizer):
    config = fs.model_config(len(tokenizer), window_seconds=WINDOW_SECONDS,
                             audio_token_id=tokenizer.convert_tokens_to_ids(fs.AUDIO_TOKEN), size="mini")
    with torch.device("meta"):
        model = Qwen2AudioForConditionalGeneration(config)
    assert model.lm_head.weight is not model.model.language_model.embed_tokens.weight


def test_config_rejects_audio_token_outside_vocabulary():
    with pytest.raises(ValueError):
        fs.model_config(500, window_seconds=WINDOW_SECONDS, audio_token_id=500, size="tiny")


def test_overrides_reach_the_right_sub_config():
    config = fs.model_config(500, window_seconds=WINDOW_SECONDS, audio_token_id=497, size="tiny",
                             d_model=48, encoder_layers=1, num_hidden_layers=3)
    assert (config.audio_config.d_model, config.audio_config.encoder_layers) == (48, 1)
    assert config.text_config.num_hidden_layers == 3


# --- saving -------------------------------------------------------------------------

def test_save_base_round_trip_offline(processor, tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    model = fs.init_model(tiny_config, seed=3)
    folder = tmp_path / "base"
    fs.save_base(model, processor, folder)
    fs.save_base(model, processor, folder)  # replacing an existing base works too

    assert [p.name for p in tmp_path.iterdir()] == ["base"]  # no staging folders left
    names = {p.name for p in folder.rglob("*")}
    assert "model.safetensors" in names and "generation_config.json" in names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))]

    loaded = Qwen2AudioForConditionalGeneration.from_pretrained(folder, local_files_only=True)
    loaded_processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    assert isinstance(loaded_processor, Qwen2AudioProcessor)
    assert loaded_processor.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    assert (loaded_processor.apply_chat_template(messages("Chinese"), tokenize=False, add_generation_prompt=True)
            == processor.apply_chat_template(messages("Chinese"), tokenize=False, add_generation_prompt=True))

    inputs = batch_of_two(processor)
    loaded_processor.tokenizer.padding_side = "left"
    reloaded_inputs = batch_of_two(loaded_processor)
    for key in inputs:
        assert torch.equal(inputs[key], reloaded_inputs[key]), key
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, loaded(**inputs).logits)

    generation = loaded.generation_config
    tokenizer = processor.tokenizer
    assert generation.do_sample is False and generation.num_beams == 1
    assert sorted(generation.eos_token_id) == sorted(
        [tokenizer.convert_tokens_to_ids(fs.IM_END), tokenizer.convert_tokens_to_ids(fs.ENDOFTEXT)])


def test_a_loaded_model_keeps_its_generation_config_when_saved(tiny_base_dir, tmp_path):
    """A stage's output keeps its input's generation config (a 7B's own); a model built here gets ours."""
    import copy

    from harness.systems.models import load_system

    system = load_system(tiny_base_dir, "de")
    system.model.generation_config.max_new_tokens = 77
    fs.save_base(system.model, system.processor, tmp_path / "kept")
    assert json.loads((tmp_path / "kept" / "generation_config.json").read_text())["max_new_tokens"] == 77
    config = copy.deepcopy(system.model.config)
    config._name_or_path = ""  # as model_config builds it: not loaded from anywhere
    fs.save_base(fs.init_model(config, seed=0), system.processor, tmp_path / "fresh")
    saved = json.loads((tmp_path / "fresh" / "generation_config.json").read_text())
    assert saved.get("max_new_tokens") != 77
    assert saved["eos_token_id"] == fs.generation_config(system.processor.tokenizer).eos_token_id
