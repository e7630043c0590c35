"""Batched greedy decoding of a loaded system, with the papers' prompts and speed figures.

Prompts
  instruct  Moslem (IWSLT 2025, "Efficient Speech Translation through Model Compression
            and Knowledge Distillation"): system turn "You are a professional translator.",
            a user turn holding the audio and then "Translate the English speech into
            {German|Chinese}:", rendered with the processor's chat template (Qwen2-Audio-
            7B-Instruct's, Chu et al. 2024, "Qwen2-Audio Technical Report") with the
            generation prompt added.
  base      Liu, Koneru and Niehues (IWSLT 2026, "Post-Training Quantization for Speech
            LLMs", Diet-KIT) on Qwen2-Audio-7B:
            "<|audio_bos|><|AUDIO|><|audio_eos|>Translate this speech to {German|Chinese}: \\n".

Inference (Moslem 2025): greedy search, repetition penalty 1.0, no sampling; the paper
decodes one utterance at a time with ``max_length=1024``. Here utterances are batched,
and a batch gives exactly the token ids batch 1 gives (tests/test_decode.py proves it):

- Every clip's features are padded to the full window, as the processor does (the
  encoder accepts no other length), so the audio encoder sees the same input
  whatever the batch; ``feature_attention_mask`` marks the real frames.
- Each row is ``prefix + <|AUDIO|> x n + suffix`` with n from the real frames (the
  processor's rule), padded on the LEFT, so every row's last position is its own last
  prompt token and new tokens line up; ``generate`` derives position ids from the
  attention mask (cumsum - 1), so a left-padded row gets the positions it has alone.
- Utterances are sorted longest first (memory peaks in the first batch, so an
  out-of-memory error comes at once, not an hour in) and returned in input order.

Timing: ``Hypothesis.seconds`` is the wall time of the utterance's batch (feature
extraction, generation, detokenisation) divided by the batch size; with batch size 1
it is the utterance's latency. RTFx = audio seconds / decoding wall seconds (model
loading excluded), the definition the shared task's peers use. Speed figures for the
leaderboard come from harness.evaluation.speed's protocol, which times calls of ``decode``.

Audio longer than the model's window (30 s for Qwen2-Audio-7B) is cut to the window by
the feature extractor, as in the papers' processor calls; it is never cut silently:
each such hypothesis has ``truncated_audio=True``, the stats count them, and one
warning line gives the count and the longest duration.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from harness.data.audio import SAMPLE_RATE
from harness.systems.models import PROMPT_STYLES, LoadedSystem

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"de": "German", "zh": "Chinese"}
SYSTEM_PROMPT = "You are a professional translator."
INSTRUCT_TEXT = "Translate the English speech into {language}:"
BASE_PROMPT = "<|audio_bos|><|AUDIO|><|audio_eos|>Translate this speech to {language}: \n"


def build_prompt(processor, lang: str, style: str) -> str:
    """The prompt text with one ``<|AUDIO|>`` placeholder, before the processor expands it."""
    language = _language_name(lang)
    if style == "instruct":
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": [
                # The template only asks whether an audio entry is there; no file is read.
                {"type": "audio", "audio_url": "utterance.wav"},
                {"type": "text", "text": INSTRUCT_TEXT.format(language=language)},
            ]},
        ]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if style == "base":
        return BASE_PROMPT.format(language=language)
    raise ValueError(f"unknown prompt style {style!r}; known: {', '.join(PROMPT_STYLES)}")


def _language_name(lang: str) -> str:
    try:
        return LANGUAGE_NAMES[lang]
    except KeyError:
        raise ValueError(f"unknown target language {lang!r}; known: {', '.join(LANGUAGE_NAMES)}") from None


def peak_rss_bytes() -> int:
    """The process's peak resident memory so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


@dataclass(frozen=True)
class DecodeSettings:
    """How to decode; recorded with every result. Defaults are Moslem (2025)'s, batched.

    ``prompt_style`` None means the style the system declares in its system.json;
    ``resolved`` fills it in, and results record the resolved settings.
    """

    max_new_tokens: int
    batch_size: int = 16
    num_beams: int = 1
    do_sample: bool = False
    repetition_penalty: float = 1.0
    prompt_style: str | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be at least 1, got {self.num_beams}")
        if self.do_sample:
            # Sampled outputs differ run to run; a leaderboard score must be reproducible.
            raise ValueError("do_sample=True is not supported: the harness decodes deterministically")
        if not self.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be positive, got {self.repetition_penalty}")
        if self.prompt_style is not None and self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"unknown prompt style {self.prompt_style!r}; known: {', '.join(PROMPT_STYLES)}")

    def resolved(self, system: LoadedSystem) -> DecodeSettings:
        return self if self.prompt_style is not None else replace(self, prompt_style=system.prompt_style)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Hypothesis:
    text: str
    new_tokens: int  # generated tokens before the first end-of-sequence token; padding excluded
    seconds: float  # the batch's wall time / the batch size
    token_ids: tuple[int, ...]  # the new_tokens generated ids
    finished: bool  # an end-of-sequence token was generated (False: cut at max_new_tokens)
    audio_seconds: float
    truncated_audio: bool  # longer than the model's window: only the window was heard


@dataclass(frozen=True)
class DecodeStats:
    utterances: int
    audio_seconds: float
    wall_seconds: float  # decoding only: features, generation, detokenisation
    rtfx: float  # audio seconds / wall seconds
    seconds_per_utterance: float  # wall / utterances; the batch-1 latency when batch_size is 1
    new_tokens: int
    tokens_per_second: float
    batch_size: int
    batches: int
    truncated: int  # clips longer than the window
    longest_truncated_seconds: float | None
    unfinished: int  # hypotheses cut at max_new_tokens
    peak_rss_bytes: int  # the process's peak resident memory so far (getrusage: it cannot be reset)
    gpu_peak_bytes: int | None  # torch.cuda.max_memory_allocated during this call; None off CUDA
    device: str
    dtype: str
    torch_threads: int
    window_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DecodeOutput:
    hypotheses: list[Hypothesis]  # in input order
    stats: DecodeStats
    settings: DecodeSettings  # resolved: the prompt style actually used


def configure_threads() -> int:
    """Cap torch's intra-op threads at the CPUs this process may use; never raise them.

    torch counts the machine's cores, which in a container with a CPU limit
    oversubscribes. A user's OMP_NUM_THREADS / MKL_NUM_THREADS, or a lower
    torch.set_num_threads, is left alone.
    """
    if "OMP_NUM_THREADS" in os.environ or "MKL_NUM_THREADS" in os.environ:
        return torch.get_num_threads()
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    if torch.get_num_threads() > available:
        torch.set_num_threads(available)
    return torch.get_num_threads()


def model_device(model) -> torch.device:
    return next(model.parameters()).device


class Prompt:
    """One prompt tokenised once: the ids before and after its single audio placeholder."""

    def __init__(self, processor, text: str) -> None:
        tokenizer = processor.tokenizer
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        self.audio_id = tokenizer.convert_tokens_to_ids(processor.audio_token)
        positions = [i for i, token in enumerate(ids) if token == self.audio_id]
        if len(positions) != 1:
            raise ValueError(f"the prompt must hold one {processor.audio_token} placeholder, found {len(positions)}")
        self.prefix = ids[:positions[0]]
        self.suffix = ids[positions[0] + 1:]

    def row(self, audio_tokens: int) -> list[int]:
        return self.prefix + [self.audio_id] * audio_tokens + self.suffix


def audio_tokens_for_frames(frames: int) -> int:
    """The processor's expansion rule: stride-2 convolution, then stride-2 pooling."""
    return (((frames - 1) // 2 + 1) - 2) // 2 + 1


def cut_at_eos(rows: Sequence[Sequence[int]], eos: set[int]) -> list[tuple[list[int], bool]]:
    """Each generated row up to its first end-of-sequence token, and whether it had one."""
    cut_rows = []
    for row in rows:
        cut = next((k for k, token in enumerate(row) if token in eos), None)
        cut_rows.append((list(row) if cut is None else list(row[:cut]), cut is not None))
    return cut_rows


def check_audio(index: int, audio: np.ndarray, hop: int) -> np.ndarray:
    array = np.asarray(audio)
    if array.ndim != 1:
        raise ValueError(f"audio {index}: expected mono samples (1-D), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"audio {index}: expected float samples in [-1, 1], got dtype {array.dtype}")
    # Below three feature frames the encoder yields no audio token at all.
    if array.size < 2 * hop + 1:
        raise ValueError(f"audio {index}: {array.size} samples is too short (at least {2 * hop + 1} at 16 kHz)")
    return np.ascontiguousarray(array, dtype=np.float32)


def prepare_batch(processor, prompt: Prompt, audios: Sequence[np.ndarray], pad_id: int) -> dict[str, torch.Tensor]:
    """Model inputs for a batch: window-padded features, left-padded ids, both masks."""
    extractor = processor.feature_extractor
    features = extractor(list(audios), sampling_rate=extractor.sampling_rate, padding="max_length",
                         truncation=True, return_attention_mask=True, return_tensors="pt")
    feature_mask = features["attention_mask"]
    rows = [prompt.row(audio_tokens_for_frames(int(frames))) for frames in feature_mask.sum(-1).tolist()]
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, width - len(row):] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask,
            "input_features": features["input_features"], "feature_attention_mask": feature_mask}


def eos_ids(model, tokenizer) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("neither the generation config nor the tokenizer names an end-of-sequence token")
    return [eos] if isinstance(eos, int) else list(eos)


def generation_config_for(model, settings: DecodeSettings, eos: list[int], pad_id: int):
    config = model.generation_config.__class__.from_dict(model.generation_config.to_dict())
    config.update(max_new_tokens=settings.max_new_tokens, max_length=None, min_new_tokens=None, min_length=0,
                  do_sample=False, num_beams=settings.num_beams, repetition_penalty=settings.repetition_penalty,
                  temperature=None, top_p=None, top_k=None, eos_token_id=eos, pad_token_id=pad_id)
    return config


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of ``batch_size``, longest first; ties keep input order so a run is reproducible.

    Every path that must give ``decode``'s hypotheses batches this way (the pruning search's
    cached embeddings, the data-parallel coordinator), since left padding makes a
    hypothesis depend on its batch.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def decode(system: LoadedSystem, audios: Sequence[np.ndarray], lang: str, settings: DecodeSettings,
           progress: str | None = None,
           on_result: Callable[[int, Hypothesis], None] | None = None) -> DecodeOutput:
    """Translate ``audios`` (float32 mono 16 kHz) into ``lang``; hypotheses in input order.

    ``progress`` names a tqdm bar (None: no bar). ``on_result(index, hypothesis)`` is
    called for every utterance of a batch as soon as that batch finishes, in input
    order within the batch, so a caller can checkpoint and resume.
    """
    settings = settings.resolved(system)
    processor = system.processor
    extractor = processor.feature_extractor
    if extractor.sampling_rate != SAMPLE_RATE:
        raise ValueError(f"the feature extractor expects {extractor.sampling_rate} Hz; the harness feeds {SAMPLE_RATE} Hz")
    window_samples = int(extractor.n_samples)
    clips = [check_audio(i, audio, extractor.hop_length) for i, audio in enumerate(audios)]
    tokenizer = processor.tokenizer
    model = system.model
    device = model_device(model)
    prompt = Prompt(processor, build_prompt(processor, lang, settings.prompt_style))
    eos = eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    generation_config = generation_config_for(model, settings, eos, pad_id)
    eos_set = set(eos)
    threads = configure_threads()

    too_long = [len(clip) for clip in clips if len(clip) > window_samples]
    if too_long:
        log.warning("%d of %d clips are longer than the model's %.0f s window (longest %.1f s); "
                    "only their first %.0f s are translated (marked truncated_audio)",
                    len(too_long), len(clips), window_samples / SAMPLE_RATE, max(too_long) / SAMPLE_RATE,
                    window_samples / SAMPLE_RATE)

    batches = length_batches([len(clip) for clip in clips], settings.batch_size)
    results: list[Hypothesis | None] = [None] * len(clips)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)

    bar = None
    if progress is not None:
        from tqdm import tqdm

        bar = tqdm(total=len(clips), desc=progress, unit="utt")
    started = time.perf_counter()
    try:
        with torch.inference_mode():
            for batch in batches:
                batch_start = time.perf_counter()
                inputs = prepare_batch(processor, prompt, [clips[i] for i in batch], pad_id)
                inputs = {name: tensor.to(device) for name, tensor in inputs.items()}
                output = model.generate(**inputs, generation_config=generation_config)
                new = output[:, inputs["input_ids"].shape[1]:].tolist()
                token_lists = cut_at_eos(new, eos_set)
                texts = tokenizer.batch_decode([tokens for tokens, _ in token_lists], skip_special_tokens=True,
                                               clean_up_tokenization_spaces=False)
                if cuda:
                    torch.cuda.synchronize(device)
                share = (time.perf_counter() - batch_start) / len(batch)
                for position, index in enumerate(batch):
                    tokens, finished = token_lists[position]
                    results[index] = Hypothesis(
                        text=texts[position], new_tokens=len(tokens), seconds=share, token_ids=tuple(tokens),
                        finished=finished, audio_seconds=len(clips[index]) / SAMPLE_RATE,
                        truncated_audio=len(clips[index]) > window_samples)
                report_batch(batch, results, on_result, bar)
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - started

    hypotheses: list[Hypothesis] = results  # type: ignore[assignment]  # every slot is filled above
    stats = decode_stats(hypotheses, clips, wall, batch_size=settings.batch_size, batches=len(batches),
                         window_samples=window_samples, peak_rss_bytes=peak_rss_bytes(),
                         gpu_peak_bytes=torch.cuda.max_memory_allocated(device) if cuda else None,
                         device=str(device), dtype=str(system.dtype).removeprefix("torch."), threads=threads)
    return DecodeOutput(hypotheses=hypotheses, stats=stats, settings=settings)


def report_batch(batch: Sequence[int], results: Sequence, on_result, bar) -> None:
    """A finished batch: its hypotheses to ``on_result`` in input order (a checkpoint sees a
    reproducible order), and the progress bar advanced."""
    if on_result is not None:
        for index in sorted(batch):
            on_result(index, results[index])
    if bar is not None:
        bar.update(len(batch))


def decode_stats(hypotheses: Sequence[Hypothesis], clips: Sequence[np.ndarray], wall: float, *, batch_size: int,
                 batches: int, window_samples: int, peak_rss_bytes: int, gpu_peak_bytes: int | None, device: str,
                 dtype: str, threads: int) -> DecodeStats:
    """The statistics of one decoding call (every backend and the data-parallel coordinator report these)."""
    audio_total = sum(len(clip) for clip in clips) / SAMPLE_RATE
    new_tokens = sum(h.new_tokens for h in hypotheses)
    too_long = [len(clip) for clip in clips if len(clip) > window_samples]
    return DecodeStats(
        utterances=len(clips), audio_seconds=audio_total, wall_seconds=wall,
        rtfx=audio_total / wall if wall > 0 else math.inf,
        seconds_per_utterance=wall / len(clips) if clips else 0.0,
        new_tokens=new_tokens, tokens_per_second=new_tokens / wall if wall > 0 else math.inf,
        batch_size=batch_size, batches=batches, truncated=len(too_long),
        longest_truncated_seconds=max(too_long) / SAMPLE_RATE if too_long else None,
        unfinished=sum(not h.finished for h in hypotheses), peak_rss_bytes=peak_rss_bytes,
        gpu_peak_bytes=gpu_peak_bytes, device=device, dtype=dtype, torch_threads=threads,
        window_seconds=window_samples / SAMPLE_RATE)
