"""The from-scratch model kit of the mini track: a small but real Qwen2-Audio.

The mini track (DESIGN.md) stands in for Qwen2-Audio-7B-Instruct (Chu et al. 2024,
"Qwen2-Audio Technical Report", arXiv:2407.10759) with a model that uses the same
classes and the same code path, small enough to train on two CPU cores:

- `train_tokenizer`: a byte-level BPE in Qwen2's format (Qwen2's pre-tokenizer regex,
  ByteLevel, the NFC normaliser that transformers' `Qwen2Tokenizer` always installs),
  trained on the given English, German and Chinese texts, with Qwen2-Audio's special
  tokens appended after the learned vocabulary in the 7B's id order.
- `build_processor`: a `Qwen2AudioProcessor` (Whisper log-mel features, 128 bins, 10 ms
  hop) whose window is a few seconds instead of 30, and the Instruct chat template.
- `model_config` / `init_model`: a `Qwen2AudioConfig` ("tiny" for unit tests, "mini" for
  the mini base) and a seeded random initialisation. The audio encoder's frozen
  position table is filled with the sinusoids of Whisper (Radford et al. 2022, "Robust
  Speech Recognition via Large-Scale Weak Supervision", arXiv:2212.04356): the encoder
  never trains it, and a random table would stay random for good.
- `parameter_counts` / `parameter_shares`: where the parameters are, so that the mini
  base's shares can be compared with the 7B's (embedding + LM head ~15 %, audio encoder
  ~8 %, decoder layers ~77 %).
- `save_base`: the model, processor and a greedy generation config, safetensors only,
  published atomically.
- `audio_token_count`: how many `<|AUDIO|>` placeholders a clip of F feature frames
  expands into.

Shares of the "mini" config at the design vocabulary of 1,500 tokens and a 4 s window
(`python -m harness.stages.from_scratch` prints them for any vocabulary and window):
4.52 M parameters; embedding + LM head 14.9 %, audio encoder 8.4 %, projector 0.4 %,
decoder layers 76.4 %.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable

import torch
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
from tokenizers.models import BPE
from transformers import (
    GenerationConfig,
    PreTrainedTokenizerFast,
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
    WhisperFeatureExtractor,
)
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX, Qwen2Tokenizer

# Qwen2-Audio-7B(-Instruct)'s added tokens in the order of their ids there (151643 ...
# 151648: endoftext, im_start, im_end, AUDIO, audio_bos, audio_eos; transformers'
# Qwen2-Audio processor test expects <|audio_bos|> = 151647, <|AUDIO|> = 151646,
# <|audio_eos|> = 151648). Here they follow the small learned vocabulary in that order.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|AUDIO|>",
    "<|audio_bos|>",
    "<|audio_eos|>",
)
ENDOFTEXT, IM_START, IM_END, AUDIO_TOKEN, AUDIO_BOS, AUDIO_EOS = SPECIAL_TOKENS

# Qwen2-Audio-7B-Instruct's chat template, character for character as transformers'
# Qwen2AudioProcessor.default_chat_template (kept there because the hub config relies
# on it). Copied rather than read from transformers because that property is marked
# for removal; the tests check the two still agree.
INSTRUCT_CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n"
    "{% else %}"
    "{% for content in message['content'] %}"
    "{% if 'audio' in content or 'audio_url' in content or message['type'] == 'audio' or content['type'] == 'audio' %}"
    "{% set audio_count.value = audio_count.value + 1 %}"
    "Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% elif 'text' in content %}"
    "{{ content['text'] }}"
    "{% endif %}"
    "{% endfor %}"
    "<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "<|im_start|>assistant\n"
    "{% endif %}"
)

SAMPLING_RATE = 16_000
HOP_LENGTH = 160  # 10 ms: 100 feature frames per second
N_FFT = 400
NUM_MEL_BINS = 128  # Qwen2-Audio uses Whisper-large-v3's 128 mel bins

# The vocabulary the "mini" dimensions were chosen for (byte-level BPE over ~600
# English word types plus their German and Chinese translations).
MINI_DESIGN_VOCAB_SIZE = 1500

# Room in the decoder's context beyond the audio placeholders: the chat prompt (about
# 40 tokens with the mini tokenizer, more where its words are not in the vocabulary)
# plus the translation. RoPE positions cost no parameters, so generosity is free.
TEXT_TOKEN_BUDGET = 256
DEFAULT_MAX_NEW_TOKENS = 128

# Each size: (audio encoder fields, Qwen2 decoder fields).
# "mini": with a 1,500-token vocabulary an embedding + untied head of 2 x 1500 x 224
# is 15 % of the model when the 12 decoder layers hold 77 %; that leaves each layer
# about 1,280 parameters per hidden unit, so attention uses one key/value head (the
# query and output projections alone take 2 x 224 per unit) and the MLP gets the rest
# (intermediate 240), keeping the MLP the larger half of each layer as in the 7B. The
# encoder (4 layers of width 80) is sized to the 7B's ~8 %.
# "tiny": the smallest model that still has every part, for fast unit tests.
_SIZES: dict[str, tuple[dict, dict]] = {
    "mini": (
        dict(d_model=80, encoder_layers=4, encoder_attention_heads=2, encoder_ffn_dim=320),
        dict(hidden_size=224, intermediate_size=240, num_hidden_layers=12,
             num_attention_heads=4, num_key_value_heads=1),
    ),
    "tiny": (
        dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=128),
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=2, num_key_value_heads=1),
    ),
}


def audio_token_count(num_frames: int) -> int:
    """Placeholders for a clip of `num_frames` real feature frames.

    The encoder's stride-2 convolution gives l = (F - 1) // 2 + 1 positions and its
    stride-2 average pooling n = (l - 2) // 2 + 1 outputs; the processor expands one
    <|AUDIO|> into exactly n copies, and the model refuses any other count.
    """
    from harness.inference.decode import audio_tokens_for_frames

    if num_frames < 1:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    return audio_tokens_for_frames(num_frames)


def window_frames(window_seconds: float) -> int:
    """Feature frames in one window: the length every input must be padded to."""
    return _whole_seconds(window_seconds) * SAMPLING_RATE // HOP_LENGTH


def _whole_seconds(window_seconds: float) -> int:
    # WhisperFeatureExtractor derives its sample count from chunk_length and pads with
    # it; a fractional chunk_length makes that count a float, which numpy refuses.
    if window_seconds <= 0 or window_seconds != int(window_seconds):
        raise ValueError(f"window_seconds must be a positive whole number of seconds, got {window_seconds}")
    return int(window_seconds)


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A Qwen2-format byte-level BPE tokenizer with Qwen2-Audio's special tokens.

    `vocab_size` counts the special tokens; the BPE stops earlier when the texts offer
    no pair seen at least twice, so use len(tokenizer) for the model's vocabulary.
    Training is deterministic for the same texts in the same order.
    """
    min_vocab = 256 + len(SPECIAL_TOKENS)
    if vocab_size <= min_vocab:
        raise ValueError(f"vocab_size must exceed {min_vocab} (the byte alphabet plus special tokens)")
    texts = list(texts)
    if not texts:
        raise ValueError("train_tokenizer needs at least one text")

    # The same pipeline transformers' Qwen2Tokenizer builds in __init__; a saved
    # tokenizer is rebuilt through that __init__ on load, so training with anything
    # else would make the loaded tokenizer split text differently.
    backend = Tokenizer(BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix="",
                            fuse_unk=False, byte_fallback=False))
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIAL_TOKENS),
        # A pair seen once is an accident of the sample, not a unit of the language.
        min_frequency=2,
        show_progress=False,
        # Every byte is in the vocabulary, so no text is ever out of vocabulary.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    backend.train_from_iterator(texts, trainer=trainer)

    model = json.loads(backend.to_str())["model"]
    vocab = dict(model["vocab"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    # Fixed ids right after the learned vocabulary, in the 7B's order; putting them in
    # the BPE vocabulary too keeps the ids stable however a loader re-adds them.
    for offset, token in enumerate(SPECIAL_TOKENS):
        vocab[token] = len(model["vocab"]) + offset

    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,  # byte-level BPE has nothing unknown; Qwen2-Audio's unk is null
        bos_token=None,
        eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT,
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
    tokenizer.chat_template = INSTRUCT_CHAT_TEMPLATE
    for token in SPECIAL_TOKENS:
        if tokenizer.convert_tokens_to_ids(token) != vocab[token]:
            raise RuntimeError(f"special token {token} did not keep its id {vocab[token]}")
    return tokenizer


def build_processor(tokenizer: PreTrainedTokenizerFast, window_seconds: float) -> Qwen2AudioProcessor:
    """Qwen2-Audio's processor with a `window_seconds` audio window.

    The window fixes the feature length at 100 * window_seconds frames, which must be
    2 * max_source_positions of the model (see `model_config`).
    """
    feature_extractor = WhisperFeatureExtractor(
        feature_size=NUM_MEL_BINS,
        sampling_rate=SAMPLING_RATE,
        hop_length=HOP_LENGTH,
        n_fft=N_FFT,
        chunk_length=_whole_seconds(window_seconds),
        padding_value=0.0,
        return_attention_mask=True,
    )
    return Qwen2AudioProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer,
                               chat_template=INSTRUCT_CHAT_TEMPLATE)


def model_config(vocab_size: int, *, window_seconds: float, audio_token_id: int,
                 size: str = "mini", **overrides) -> Qwen2AudioConfig:
    """A Qwen2AudioConfig of the given size.

    `overrides` replace fields of the presets: `d_model` and names starting with
    `encoder_` go to the audio encoder, everything else to the Qwen2 decoder.
    """
    if size not in _SIZES:
        raise ValueError(f"size must be one of {sorted(_SIZES)}, got {size!r}")
    if not 0 <= audio_token_id < vocab_size:
        # The model looks the placeholder up in the text embedding before replacing it.
        raise ValueError(f"audio_token_id {audio_token_id} must be below vocab_size {vocab_size}")
    audio_fields, text_fields = (dict(part) for part in _SIZES[size])
    for key, value in overrides.items():
        if key == "d_model" or key.startswith("encoder_"):
            audio_fields[key] = value
        else:
            text_fields[key] = value

    max_source_positions = window_frames(window_seconds) // 2
    audio_tokens = audio_token_count(window_frames(window_seconds))
    max_positions = 2 ** math.ceil(math.log2(audio_tokens + TEXT_TOKEN_BUDGET))
    audio_config = dict(model_type="qwen2_audio_encoder", num_mel_bins=NUM_MEL_BINS,
                        max_source_positions=max_source_positions)
    audio_config.update(audio_fields)
    text_config = dict(model_type="qwen2", vocab_size=vocab_size, max_position_embeddings=max_positions,
                       tie_word_embeddings=False)  # Qwen2-Audio-7B's head is untied
    text_config.update(text_fields)
    return Qwen2AudioConfig(audio_config=audio_config, text_config=text_config,
                            audio_token_index=audio_token_id)


def whisper_sinusoids(length: int, channels: int, max_timescale: float = 10_000.0) -> torch.Tensor:
    """Whisper's fixed position table: sines in the first half of the channels, cosines in the second."""
    if channels % 2:
        raise ValueError(f"channels must be even, got {channels}")
    log_timescale_increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2, dtype=torch.float32))
    scaled_time = torch.arange(length, dtype=torch.float32)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


def init_model(config: Qwen2AudioConfig, seed: int) -> Qwen2AudioForConditionalGeneration:
    """A randomly initialised model, the same for the same seed and config."""
    # fork_rng keeps the caller's random stream untouched by our seeding.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2AudioForConditionalGeneration(config)
    positions = model.model.audio_tower.embed_positions
    with torch.no_grad():
        positions.weight.copy_(whisper_sinusoids(*positions.weight.shape))
    model.eval()
    return model


def _group_of(parameter_name: str) -> str:
    if parameter_name.startswith("lm_head.") or ".embed_tokens." in parameter_name:
        return "embedding+lm_head"
    if parameter_name.startswith("model.audio_tower."):
        return "audio_encoder"
    if parameter_name.startswith("model.multi_modal_projector."):
        return "projector"
    if parameter_name.startswith("model.language_model.layers."):
        return "decoder_layers"
    return "other"  # the decoder's final norm


def parameter_counts(model_or_config: Qwen2AudioForConditionalGeneration | Qwen2AudioConfig) -> dict[str, int]:
    """Parameters per group (tied tensors counted once), plus "total".

    A config is measured by building its model on the meta device: no memory, no init.
    The encoder's frozen position table counts, as it is stored with the weights.
    """
    model = model_or_config
    if isinstance(model_or_config, Qwen2AudioConfig):
        with torch.device("meta"):
            model = Qwen2AudioForConditionalGeneration(model_or_config)
    counts = dict.fromkeys(("embedding+lm_head", "audio_encoder", "projector", "decoder_layers", "other"), 0)
    for name, parameter in model.named_parameters():
        counts[_group_of(name)] += parameter.numel()
    counts["total"] = sum(counts.values())
    return counts


def parameter_shares(model_or_config: Qwen2AudioForConditionalGeneration | Qwen2AudioConfig) -> dict[str, float]:
    """Fractions of all parameters: embedding+lm_head, audio_encoder, projector, decoder_layers, other."""
    counts = parameter_counts(model_or_config)
    total = counts.pop("total")
    return {group: count / total for group, count in counts.items()}


def generation_config(tokenizer: PreTrainedTokenizerFast) -> GenerationConfig:
    """Greedy decoding that stops at <|im_end|> or <|endoftext|>, as the papers decode."""
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    endoftext = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    return GenerationConfig(
        do_sample=False,
        num_beams=1,
        repetition_penalty=1.0,
        max_new_tokens=DEFAULT_MAX_NEW_TOKENS,
        # Qwen2-Audio-7B-Instruct stops on both: <|im_end|> closes a chat turn,
        # <|endoftext|> ends a plain continuation.
        eos_token_id=[im_end, endoftext],
        pad_token_id=endoftext,
        bos_token_id=endoftext,
    )


def save_base(model: Qwen2AudioForConditionalGeneration, processor: Qwen2AudioProcessor,
              folder: str | os.PathLike) -> None:
    """Write model (safetensors), processor, tokenizer and generation config to `folder`.

    Written into a temporary sibling and renamed into place, so a reader never sees a
    half-written base; an existing folder is replaced only once the new one is complete.
    A model built here from scratch gets `generation_config(processor.tokenizer)`, so the
    model in memory decodes as the saved one will; a model loaded from a folder (a stage's
    input, e.g. Qwen2-Audio-7B) keeps the generation config it came with.
    """
    from harness.systems.models import check_no_pickles
    from harness.files import staged_folder

    with staged_folder(folder) as staging:
        if not getattr(model.config, "_name_or_path", ""):  # built from a config, not loaded
            model.generation_config = generation_config(processor.tokenizer)
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        check_no_pickles(staging)  # pickles execute code when loaded; a shipped base must not contain any


def _print_sizes(vocab_size: int, window_seconds: float) -> None:
    for size in _SIZES:
        config = model_config(vocab_size, window_seconds=window_seconds, audio_token_id=vocab_size - 3, size=size)
        counts = parameter_counts(config)
        shares = parameter_shares(config)
        text = config.text_config
        print(f"{size}: {counts['total']:,} parameters; hidden {text.hidden_size}, "
              f"{text.num_hidden_layers} decoder layers, encoder width {config.audio_config.d_model} "
              f"x {config.audio_config.encoder_layers} layers")
        for group, share in shares.items():
            print(f"  {group:18s} {counts[group]:>10,}  {100 * share:5.1f} %")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Parameter counts and shares of the from-scratch configs.")
    parser.add_argument("--vocab-size", type=int, default=MINI_DESIGN_VOCAB_SIZE)
    parser.add_argument("--window-seconds", type=int, default=4)
    arguments = parser.parse_args()
    _print_sizes(arguments.vocab_size, arguments.window_seconds)
