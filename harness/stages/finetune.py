"""The training stage: full fine-tuning of a Qwen2-Audio model on speech translation pairs.

One plain PyTorch loop serves two jobs:

- the mini base (``harness.stages.mini_base``): a small Qwen2-Audio trained from random
  initialisation on the mini track's general domain, both directions, with the Instruct
  prompt; ``FROM_SCRATCH`` holds its schedule (AdamW, peak lr 2e-3, warm-up, cosine);
- the teachers: Moslem (IWSLT 2025, "Efficient Speech Translation through Model
  Compression and Knowledge Distillation"), stage 1, fully fine-tunes Qwen2-Audio-7B-
  Instruct on the 784 ACL 60/60 training utterances: 3 epochs, batch 4, lr 1e-5, weight
  decay 0.001, no warm-up, bf16 (``PAPER_TEACHER``; the Hugging Face Trainer it ran
  decays the lr linearly). ``MINI_TEACHER`` is the same recipe scaled to the mini base.

Each example is one utterance and one target language; the model sees exactly what
``harness.decode`` feeds it at test time:

- the prompt is ``harness.decode.build_prompt`` (Instruct by default), its single
  ``<|AUDIO|>`` expanded into n consecutive placeholders, n from the clip's real
  feature frames (the processor's rule), then the reference and ``<|im_end|>``;
- rows are padded on the LEFT and ``position_ids = cumsum(attention_mask) - 1`` (pads
  get 1), as ``generate`` builds them;
- every clip's log-mel features are padded to the full window (the encoder accepts no
  other length); ``feature_attention_mask`` marks the real frames;
- labels are the input ids with -100 on padding, prompt and audio positions: only the
  reference tokens and the closing ``<|im_end|>`` are learned.

Log-mel features are computed once per test set and feature extractor and kept as an
fp16 memmap under ``build/features/`` (``FeatureStore``), not recomputed per step.

Determinism: for the same data, settings and seed, the batches, the dropout stream and
hence the weights are the same (on the same hardware, thread count and torch build).
A ``time_limit_s`` stops a run early and says so in the result (``stopped_early``): a
safety net for a busy machine, not part of a reproducible recipe.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from harness.decode import audio_tokens_for_frames, build_prompt
from harness.stages.ctc import CtcObjective

IGNORE_INDEX = -100  # torch's cross-entropy ignore_index, as transformers' models use it
FEATURES_ROOT = Path("build") / "features"


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class TrainSettings:
    """How to train. Exactly one of ``steps`` / ``epochs`` fixes the length of a run."""

    lr: float
    batch_size: int
    epochs: float | None = None
    steps: int | None = None
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "cosine"  # cosine | linear | constant (after the warm-up)
    min_lr_ratio: float = 0.0  # the schedule's floor, as a fraction of lr
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 1.0
    bf16: bool = False  # autocast the forward pass to bfloat16 (the weights stay in their dtype)
    seed: int = 0
    threads: int | None = 2  # torch intra-op threads on the CPU; None leaves torch's choice
    log_every: int = 25
    checkpoint_every: int | None = None  # steps between on_checkpoint calls
    time_limit_s: float | None = None  # stop early (and say so) after this much training time
    stop_after: int | None = None  # stop (as planned) after this many steps of the `steps`/`epochs` schedule
    bucket_batches: int = 50  # sort this many batches' worth of examples by length, then batch
    trim_audio: bool = True  # run the encoder on a window cut past the batch's longest clip (same result)
    ctc_weight: float = 0.0  # weight of the encoder's CTC transcription loss (needs a CtcObjective)
    encoder_only: bool = False  # train only the audio encoder and the CTC head, on the CTC loss alone

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of steps and epochs")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be positive, got {self.steps}")
        if self.epochs is not None and not self.epochs > 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.schedule not in ("cosine", "linear", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}; known: cosine, linear, constant")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must not be negative, got {self.warmup_steps}")
        if self.ctc_weight < 0:
            raise ValueError(f"ctc_weight must not be negative, got {self.ctc_weight}")

    def total_steps(self, examples: int) -> int:
        if self.steps is not None:
            return self.steps
        return max(1, math.ceil(self.epochs * math.ceil(examples / self.batch_size)))

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainSettings:
        """The settings ``as_dict`` gave, after a trip through JSON or TOML (which turn ``betas`` into a list)."""
        values = dict(values)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)


# Moslem (IWSLT 2025), stage 1, the teacher: 3 epochs, batch 4, lr 1e-5, weight decay
# 0.001, no warm-up, bf16, Hugging Face Trainer defaults otherwise (linear decay,
# AdamW betas 0.9/0.999, gradient clipping at 1.0).
PAPER_TEACHER = TrainSettings(lr=1e-5, batch_size=4, epochs=3, weight_decay=0.001, warmup_steps=0,
                              schedule="linear", bf16=True, threads=None)

# The mini base from scratch: the pilot's recipe (qwen2audio-notes.md), AdamW at peak
# 2e-3 with warm-up and cosine; the step count is set in harness.stages.mini_base.
FROM_SCRATCH = TrainSettings(lr=2e-3, batch_size=32, steps=2000, weight_decay=0.01, warmup_steps=150,
                             schedule="cosine", min_lr_ratio=0.05, betas=(0.9, 0.98), checkpoint_every=250)

# The mini teacher: the paper's recipe (3 epochs, no warm-up, weight decay 0.001, linear
# decay) on the 784 mini talks_train utterances; the lr is scaled to a 4.5 M parameter
# model trained at 2e-3 (the 7B's 1e-5 would barely move it). One thread: on two shared
# cores two OpenMP threads stall on each other (see harness.stages.mini_base).
MINI_TEACHER = TrainSettings(lr=5e-4, batch_size=16, epochs=3, weight_decay=0.001, warmup_steps=0,
                              schedule="linear", betas=(0.9, 0.98), threads=1)


def lr_at(step: int, total: int, settings: TrainSettings) -> float:
    """The learning rate of optimizer step ``step`` (0-based) in a run of ``total`` steps."""
    peak = settings.lr
    if settings.warmup_steps and step < settings.warmup_steps:
        return peak * (step + 1) / settings.warmup_steps
    if settings.schedule == "constant":
        return peak
    span = max(1, total - settings.warmup_steps)
    progress = min(1.0, (step - settings.warmup_steps) / span)
    floor = settings.min_lr_ratio
    if settings.schedule == "linear":
        shape = 1.0 - progress
    else:
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    return peak * (floor + (1.0 - floor) * shape)


# ---------------------------------------------------------------- features


def _extractor_fingerprint(extractor) -> dict:
    return {"class": type(extractor).__name__, "feature_size": extractor.feature_size,
            "sampling_rate": extractor.sampling_rate, "hop_length": extractor.hop_length,
            "n_fft": getattr(extractor, "n_fft", None), "n_samples": int(extractor.n_samples),
            "padding_value": extractor.padding_value}


@dataclass
class FeatureStore:
    """Window-padded log-mel features of a list of clips: fp16 (N, mel, frames) plus real frame counts."""

    features: np.ndarray | StackedFeatures  # float16, possibly a read-only memmap
    frames: np.ndarray  # int64 (N,): real frames per clip (the feature attention mask's sum)
    folder: Path | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_features float32, feature_attention_mask long) for these clips."""
        index = np.asarray(indices)
        features = torch.from_numpy(np.ascontiguousarray(self.features[index], dtype=np.float32))
        frames = torch.from_numpy(self.frames[index])
        mask = (torch.arange(self.features.shape[-1])[None, :] < frames[:, None]).long()
        return features, mask


class StackedFeatures:
    """Feature arrays (memmaps) indexed as one array, without reading them into memory.

    A QLoRA run on ACL + KD plus a 100 k general sample (Moslem 2025, System B) would
    otherwise concatenate 72 GiB of cached 7B features in RAM; batches read their rows
    from the parts instead.
    """

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        if not parts or len({part.shape[1:] for part in parts}) != 1:
            raise ValueError("stacked features need at least one part, all of the same (mel, frames) shape")
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(part) for part in parts])
        self.shape = (int(self.offsets[-1]), *parts[0].shape[1:])
        self.dtype = parts[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        if index.ndim != 1 or (len(index) and (index.min() < 0 or index.max() >= len(self))):
            raise IndexError(f"stacked features: rows must be a 1-d array within 0..{len(self) - 1}")
        out = np.empty((len(index), *self.shape[1:]), dtype=self.dtype)
        part_of = np.searchsorted(self.offsets, index, side="right") - 1
        for part in np.unique(part_of):
            rows = part_of == part
            out[rows] = self.parts[part][index[rows] - self.offsets[part]]
        return out


def stack_stores(stores: Sequence[FeatureStore]) -> FeatureStore:
    """One store over several (clip i of the second store is clip len(first) + i), nothing copied."""
    return FeatureStore(features=StackedFeatures([store.features for store in stores]),
                        frames=np.concatenate([store.frames for store in stores]))


def compute_features(extractor, audios: Sequence[np.ndarray], chunk: int = 64,
                     out: np.ndarray | None = None) -> FeatureStore:
    """Log-mel features as ``harness.decode.prepare_batch`` computes them (padding to the window, truncation)."""
    total = len(audios)
    frames = np.zeros(total, dtype=np.int64)
    features = out
    for start in range(0, total, chunk):
        batch = [np.asarray(a, dtype=np.float32) for a in audios[start:start + chunk]]
        result = extractor(batch, sampling_rate=extractor.sampling_rate, padding="max_length", truncation=True,
                           return_attention_mask=True, return_tensors="np")
        values = result["input_features"]
        if features is None:
            features = np.zeros((total, *values.shape[1:]), dtype=np.float16)
        features[start:start + len(batch)] = values.astype(np.float16)
        frames[start:start + len(batch)] = result["attention_mask"].sum(-1)
    if features is None:
        raise ValueError("no audio to compute features for")
    return FeatureStore(features=features, frames=frames)


def cached_features(testset, extractor, root: str | os.PathLike | None = None,
                    progress: bool = False) -> FeatureStore:
    """The features of every utterance of ``testset``, computed once and kept as an fp16 memmap.

    The cache folder is keyed by the set's content hash and the extractor's settings, so
    a regenerated set or another window never reuses stale features. Written to a
    temporary name and renamed, so an interrupted computation leaves nothing half-done.
    """
    set_hash = str(getattr(testset, "content_hash", None)
                   or hashlib.sha256("\n".join(u.id for u in testset.utterances).encode()).hexdigest())
    fingerprint = _extractor_fingerprint(extractor)
    key = hashlib.sha256(json.dumps({"set": set_hash, "extractor": fingerprint}, sort_keys=True).encode()).hexdigest()
    folder = Path(FEATURES_ROOT if root is None else root) / f"{getattr(testset, 'name', 'set')}-{key[:16]}"
    data_path, frames_path = folder / "features.f16.npy", folder / "frames.npy"
    if data_path.is_file() and frames_path.is_file():
        return FeatureStore(features=np.load(data_path, mmap_mode="r"), frames=np.load(frames_path), folder=folder)

    utterances = testset.utterances
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.staging-{os.getpid()}"
    staging.mkdir(parents=True, exist_ok=True)
    shape = (len(utterances), extractor.feature_size, int(extractor.n_samples) // extractor.hop_length)
    memmap = np.lib.format.open_memmap(staging / data_path.name, mode="w+", dtype=np.float16, shape=shape)
    frames = np.zeros(len(utterances), dtype=np.int64)
    chunk = 256
    iterator = range(0, len(utterances), chunk)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=f"features {getattr(testset, 'name', '')}", unit="chunk")
    for start in iterator:
        part = utterances[start:start + chunk]
        store = compute_features(extractor, [u.audio() for u in part])
        if store.features.shape[1:] != shape[1:]:
            raise ValueError(f"feature shape {store.features.shape[1:]} differs from the window's {shape[1:]}")
        memmap[start:start + len(part)] = store.features
        frames[start:start + len(part)] = store.frames
    memmap.flush()
    del memmap
    np.save(staging / frames_path.name, frames)
    (staging / "key.json").write_text(json.dumps({"set": set_hash, "extractor": fingerprint}, indent=1))
    if folder.exists():  # another process finished first; theirs is as good as ours
        import shutil

        shutil.rmtree(staging)
    else:
        staging.rename(folder)
    return FeatureStore(features=np.load(data_path, mmap_mode="r"), frames=np.load(frames_path), folder=folder)


# ---------------------------------------------------------------- examples and batches


@dataclass(frozen=True)
class PromptIds:
    """A prompt's ids before and after its single ``<|AUDIO|>`` placeholder."""

    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    audio_id: int

    @classmethod
    def from_text(cls, processor, text: str) -> PromptIds:
        tokenizer = processor.tokenizer
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        audio_id = tokenizer.convert_tokens_to_ids(processor.audio_token)
        positions = [i for i, token in enumerate(ids) if token == audio_id]
        if len(positions) != 1:
            raise ValueError(f"the prompt must hold one {processor.audio_token} placeholder, found {len(positions)}")
        return cls(prefix=tuple(ids[:positions[0]]), suffix=tuple(ids[positions[0] + 1:]), audio_id=audio_id)


@dataclass(frozen=True)
class Example:
    """One training row: which clip of the feature store, the prompt, and the target ids."""

    clip: int
    prompt: PromptIds
    target: tuple[int, ...]  # the reference's ids plus the closing end-of-turn token

    def length(self, frames: int) -> int:
        return len(self.prompt.prefix) + audio_tokens_for_frames(frames) + len(self.prompt.suffix) + len(self.target)


def end_of_turn_id(processor) -> int:
    """The token that closes the assistant's turn: ``<|im_end|>`` for chat prompts."""
    tokenizer = processor.tokenizer
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if im_end is None or im_end == tokenizer.unk_token_id:
        return tokenizer.eos_token_id
    return im_end


def make_examples(processor, targets: Sequence[str], lang: str, style: str = "instruct",
                  clips: Sequence[int] | None = None, prompt_text: str | None = None) -> list[Example]:
    """Examples for one direction: clip i (or clips[i]) with target text i.

    ``prompt_text`` replaces the direction's prompt (one ``<|AUDIO|>``; e.g. a
    transcription task), ``style`` still choosing how the answer is closed.
    """
    prompt = PromptIds.from_text(processor, prompt_text or build_prompt(processor, lang, style))
    # The base prompt ends a plain continuation; the chat prompt closes the assistant turn.
    stop = end_of_turn_id(processor) if style == "instruct" else processor.tokenizer.eos_token_id
    encoded = processor.tokenizer(list(targets), add_special_tokens=False)["input_ids"]
    indices = range(len(targets)) if clips is None else clips
    return [Example(clip=int(c), prompt=prompt, target=tuple(ids) + (stop,)) for c, ids in zip(indices, encoded)]


def testset_examples(processor, testset, langs: Sequence[str] = ("de", "zh"), style: str = "instruct") -> list[Example]:
    """Every utterance of ``testset`` once per target language (clip index = utterance index)."""
    examples: list[Example] = []
    for lang in langs:
        examples += make_examples(processor, [u.targets[lang] for u in testset.utterances], lang, style)
    return examples


def collate(examples: Sequence[Example], store: FeatureStore, pad_id: int,
            ctc: CtcObjective | None = None) -> dict[str, torch.Tensor]:
    """Left-padded ids, attention mask, generate-style positions, labels, window-padded features
    (and with ``ctc`` each clip's transcript ids)."""
    rows, label_rows = [], []
    for example in examples:
        frames = int(store.frames[example.clip])
        prompt = list(example.prompt.prefix) + [example.prompt.audio_id] * audio_tokens_for_frames(frames) \
            + list(example.prompt.suffix)
        rows.append(prompt + list(example.target))
        label_rows.append([IGNORE_INDEX] * len(prompt) + list(example.target))
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row, label_row) in enumerate(zip(rows, label_rows)):
        input_ids[i, width - len(row):] = torch.tensor(row)
        labels[i, width - len(row):] = torch.tensor(label_row)
        attention_mask[i, width - len(row):] = 1
    position_ids = (attention_mask.cumsum(-1) - 1).masked_fill_(attention_mask == 0, 1)
    features, feature_mask = store.batch([example.clip for example in examples])
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids,
             "labels": labels, "input_features": features, "feature_attention_mask": feature_mask}
    if ctc is not None:
        batch.update(ctc.targets([example.clip for example in examples]))
    return batch


def epoch_batches(examples: Sequence[Example], store: FeatureStore, batch_size: int, seed: int, epoch: int,
                  bucket_batches: int = 50) -> list[list[int]]:
    """One epoch's batches (indices into ``examples``), shuffled and bucketed by length.

    A seeded permutation is cut into pools of ``bucket_batches`` batches; each pool is
    sorted by length (less padding) and cut into batches; the batch order is shuffled.
    The same (seed, epoch) gives the same batches.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(examples))
    lengths = np.array([examples[i].length(int(store.frames[examples[i].clip])) for i in range(len(examples))])
    pool = max(1, bucket_batches) * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        part = order[start:start + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[k:k + batch_size].tolist() for k in range(0, len(part), batch_size)]
    shuffled = rng.permutation(len(batches))
    return [batches[i] for i in shuffled]


# ---------------------------------------------------------------- the forward pass


def unwrapped(model):
    """The transformers model inside a PEFT wrapper (its adapter layers stay in it); any other model as is.

    ``peft.PeftModel.get_base_model`` gives the ``Qwen2AudioForConditionalGeneration``
    whose ``.model`` holds the audio tower, so the trimmed audio path and the frozen
    position table are found for a QLoRA model too (harness.stages.qlora).
    """
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):  # distributed hook: DDP's model
        model = model.module
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


def audio_states(model, features: torch.Tensor, feature_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The audio encoder's pooled, normalised states (batch, tokens, d_model) and each clip's token count.

    Computed on a trimmed window; see ``_audio_embeddings``.
    """
    from transformers.masking_utils import create_bidirectional_mask

    core = model.model
    tower = core.audio_tower
    frames = feature_mask.sum(-1)
    conv_lengths, token_lengths = tower._get_feat_extract_output_lengths(frames)
    full = features.shape[-1]
    keep = min(full, int(math.ceil((int(frames.max()) + 8) / 16) * 16))
    hidden = features[..., :keep].to(dtype=tower.conv1.weight.dtype)
    hidden = torch.nn.functional.gelu(tower.conv1(hidden))
    hidden = torch.nn.functional.gelu(tower.conv2(hidden)).permute(0, 2, 1)
    length = hidden.shape[1]
    hidden = hidden + tower.embed_positions.weight[:length]
    hidden = torch.nn.functional.dropout(hidden, p=tower.dropout, training=tower.training)
    mask_2d = (torch.arange(length, device=hidden.device)[None, :] < conv_lengths[:, None]).long()
    mask = create_bidirectional_mask(config=tower.config, inputs_embeds=hidden[..., :1], attention_mask=mask_2d)
    for layer in tower.layers:
        hidden = layer(hidden, mask)
    hidden = tower.avg_pooler(hidden.permute(0, 2, 1)).permute(0, 2, 1)
    return tower.layer_norm(hidden), token_lengths


def _audio_embeddings(model, states: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
    """The projected audio embeddings of every clip's real tokens, concatenated, from a trimmed window.

    Equal (up to float rounding) to what ``Qwen2AudioForConditionalGeneration.forward``
    computes on the full window: the encoder masks every padded position out of
    attention, the position table is indexed from 0, and the convolutions near the end
    of a clip read at most two frames past it, so a window cut a few frames after the
    batch's longest clip gives the same outputs at the kept positions. Padding takes
    most of a short clip's window, so this saves most of the encoder's work.
    """
    audio = model.model.multi_modal_projector(states)
    wanted = torch.arange(audio.shape[1], device=audio.device)[None, :] < token_lengths[:, None]
    return audio[wanted]


def input_embeddings(core, input_ids: torch.Tensor, states: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
    """The language model's input: text embeddings with the projected audio in the ``<|AUDIO|>`` slots."""
    embeds = core.get_input_embeddings()(input_ids)
    audio = _audio_embeddings(core, states, token_lengths)
    slots = input_ids == core.config.audio_token_id
    if int(slots.sum()) != audio.shape[0]:
        raise ValueError(f"audio features and audio tokens do not match: {int(slots.sum())} tokens, "
                         f"{audio.shape[0]} features")
    return embeds.masked_scatter(slots.unsqueeze(-1), audio.to(embeds.dtype))


def forward_losses(model, batch: dict[str, torch.Tensor], trim_audio: bool = True,
                   ctc: CtcObjective | None = None, encoder_only: bool = False) -> dict[str, torch.Tensor]:
    """The losses of ``batch`` (as ``collate`` builds it): "lm", the mean next-token loss, and
    "ctc" when ``ctc`` is given (the batch then holds ``ctc_targets``); ``encoder_only`` skips "lm".

    ``trim_audio`` runs the audio encoder on a window cut just past the batch's longest
    clip (see ``_audio_embeddings``); False runs the model's own forward on the full
    window. Both give the same loss up to float rounding (tests/test_finetune.py).
    """
    batch = dict(batch)
    targets, target_lengths = batch.pop("ctc_targets", None), batch.pop("ctc_target_lengths", None)
    core = unwrapped(model)  # a PEFT model's own forward still runs below, on inputs_embeds
    has_audio = hasattr(getattr(core, "model", None), "audio_tower")
    if (ctc is not None or encoder_only) and (targets is None or not has_audio):
        raise ValueError("the CTC loss needs an audio model and a batch collated with a CtcObjective")
    if not trim_audio and ctc is None:
        return {"lm": model(**batch, use_cache=False).loss}
    if not has_audio:
        return {"lm": model(**batch, use_cache=False).loss}
    states, token_lengths = audio_states(core, batch["input_features"], batch["feature_attention_mask"])
    losses = {}
    if ctc is not None:
        losses["ctc"] = ctc.loss(states, token_lengths, targets, target_lengths)
    if encoder_only:
        return losses
    if not trim_audio:
        losses["lm"] = model(**batch, use_cache=False).loss
        return losses
    embeds = input_embeddings(core, batch["input_ids"], states, token_lengths)
    losses["lm"] = model(inputs_embeds=embeds, attention_mask=batch["attention_mask"],
                         position_ids=batch["position_ids"], labels=batch["labels"], use_cache=False).loss
    return losses


def forward_loss(model, batch: dict[str, torch.Tensor], trim_audio: bool = True) -> torch.Tensor:
    """The mean next-token loss of ``batch`` (see ``forward_losses``)."""
    return forward_losses(model, batch, trim_audio)["lm"]


# ---------------------------------------------------------------- the loop


@dataclass
class TrainResult:
    steps: int  # optimizer steps taken
    planned_steps: int
    examples_seen: int
    epochs: float
    seconds: float
    examples_per_second: float
    first_loss: float
    final_loss: float  # mean over the last log window
    losses: list[float] = field(default_factory=list)  # per step
    stopped_early: bool = False
    settings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("losses")
        data["loss_curve"] = _loss_curve(self.losses)
        return data


def _loss_curve(losses: list[float], points: int = 40) -> list[tuple[int, float]]:
    if not losses:
        return []
    width = max(1, len(losses) // points)
    return [(start + width, round(float(np.mean(losses[start:start + width])), 4))
            for start in range(0, len(losses), width)]


def _decay_groups(model, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases, norms and the encoder's frozen positions."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "norm" in name else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _freeze_fixed_positions(model) -> None:
    # Whisper's (and Qwen2-Audio's) encoder position table is fixed sinusoids.
    core = unwrapped(model)
    tower = getattr(getattr(core, "model", core), "audio_tower", None)
    if tower is not None and hasattr(tower, "embed_positions"):
        tower.embed_positions.weight.requires_grad_(False)


def train(model, examples: Sequence[Example], store: FeatureStore, settings: TrainSettings, *, pad_id: int,
          progress: str | None = "train", log: Callable[[str], None] | None = None,
          on_checkpoint: Callable[[int, object], None] | None = None,
          ctc: CtcObjective | None = None) -> TrainResult:
    """Train ``model`` in place on ``examples``; returns the loss history and throughput.

    ``on_checkpoint(step, model)`` is called every ``settings.checkpoint_every`` steps
    (the model is in eval mode during the call). ``log`` receives one line per
    ``settings.log_every`` steps (step, loss, lr, examples/s).

    With ``ctc`` the loss is lm + ``settings.ctc_weight`` x ctc, and the CTC head is
    trained too; ``settings.encoder_only`` trains just the encoder and the head on ctc.
    """
    if not examples:
        raise ValueError("no training examples")
    if (settings.ctc_weight > 0 or settings.encoder_only) and ctc is None:
        raise ValueError("ctc_weight / encoder_only need a CtcObjective")
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    _freeze_fixed_positions(model)
    # --- distributed hook (issue 11): in a multi-process launch, accelerate's DDP/FSDP (harness/distributed.py) ---
    from harness.distributed import TrainContext, launched

    dist = None
    if launched():
        dist = TrainContext(model, settings)
        settings = dist.settings(settings)
    forward_model = model if dist is None else dist.wrapped
    main_process = dist is None or dist.is_main
    # --- end of the distributed hook ---
    device = next(model.parameters()).device
    total = settings.total_steps(len(examples))
    last = total if settings.stop_after is None else min(total, settings.stop_after)
    trained = unwrapped(model).model.audio_tower if settings.encoder_only else model
    groups = _decay_groups(trained, settings.weight_decay)
    if ctc is not None:
        groups += _decay_groups(ctc.head, settings.weight_decay)
    parameters = [p for group in groups for p in group["params"]]
    optimizer = torch.optim.AdamW(groups, lr=settings.lr, betas=settings.betas, eps=1e-8)
    if dist is not None:  # distributed hook
        optimizer = dist.optimizer(optimizer)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=settings.bf16)

    bar = None
    if progress is not None and main_process:
        from tqdm import tqdm

        bar = tqdm(total=last, desc=progress, unit="step", mininterval=5.0)
    losses: list[float] = []
    ctc_losses: list[float] = []
    seen = 0
    step = 0
    epoch = 0
    stopped_early = False
    started = time.perf_counter()
    model.train()
    if ctc is not None:
        ctc.head.train()
    try:
        while step < last and not stopped_early:
            for batch_indices in epoch_batches(examples, store, settings.batch_size, settings.seed, epoch,
                                               settings.bucket_batches):
                if step >= last:
                    break
                share, weights = batch_indices, None
                if dist is not None:  # distributed hook: this process's share of the global batch
                    share, *weights = dist.share(examples, batch_indices)
                batch = collate([examples[i] for i in share], store, pad_id, ctc)
                batch = {name: tensor.to(device) for name, tensor in batch.items()}
                rate = lr_at(step, total, settings)
                for group in optimizer.param_groups:
                    group["lr"] = rate
                with autocast:
                    parts = forward_losses(forward_model, batch, settings.trim_audio, ctc, settings.encoder_only)
                if weights is not None:  # distributed hook: weight by the share's tokens / examples
                    parts = {k: v * (weights[0] if k == "lm" else weights[1]) for k, v in parts.items()}
                if settings.encoder_only:
                    loss = parts["ctc"]
                else:
                    loss = parts["lm"] + settings.ctc_weight * parts["ctc"] if "ctc" in parts else parts["lm"]
                optimizer.zero_grad(set_to_none=True)
                reduced = loss.backward() if dist is None else dist.backward(loss, parameters)
                if settings.grad_clip:
                    (torch.nn.utils.clip_grad_norm_ if dist is None else dist.clip)(parameters, settings.grad_clip)
                optimizer.step()
                value = float(loss.detach()) if dist is None else reduced
                if not math.isfinite(value):
                    raise FloatingPointError(f"loss became {value} at step {step}")
                losses.append(value)
                if "ctc" in parts:
                    ctc_losses.append(float(parts["ctc"].detach()))
                seen += len(batch_indices)
                step += 1
                elapsed = time.perf_counter() - started
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{np.mean(losses[-settings.log_every:]):.3f}", lr=f"{rate:.2e}",
                                    refresh=False)
                if log is not None and main_process and (step % settings.log_every == 0 or step == last):
                    ctc_part = f" (ctc {np.mean(ctc_losses[-settings.log_every:]):.4f})" if ctc_losses else ""
                    log(f"step {step}/{total} epoch {seen / len(examples):.2f} "
                        f"loss {np.mean(losses[-settings.log_every:]):.4f}{ctc_part} lr {rate:.3e} "
                        f"{seen / elapsed:.1f} ex/s {elapsed / 60:.1f} min")
                if on_checkpoint is not None and main_process and settings.checkpoint_every \
                        and step % settings.checkpoint_every == 0 and step < last:
                    model.eval()
                    on_checkpoint(step, model)
                    model.train()
                over = settings.time_limit_s is not None and elapsed > settings.time_limit_s and step < last
                if dist is not None and settings.time_limit_s is not None:  # distributed hook: stop together
                    over = dist.any(over)
                if over:
                    stopped_early = True
                    if log is not None:
                        log(f"time limit {settings.time_limit_s:.0f} s reached at step {step}/{total}: stopping early")
                    break
            epoch += 1
    finally:
        if bar is not None:
            bar.close()
        model.eval()
        if ctc is not None:
            ctc.head.eval()
    seconds = time.perf_counter() - started
    window = losses[-settings.log_every:]
    return TrainResult(steps=step, planned_steps=total, examples_seen=seen, epochs=seen / len(examples),
                       seconds=seconds, examples_per_second=seen / seconds if seconds > 0 else math.inf,
                       first_loss=losses[0], final_loss=float(np.mean(window)), losses=losses,
                       stopped_early=stopped_early, settings=settings.as_dict())


def padding_id(processor) -> int:
    """The id batches are padded with: the tokenizer's pad token, else its end of text (Qwen2 has both)."""
    pad_id = processor.tokenizer.pad_token_id
    return processor.tokenizer.eos_token_id if pad_id is None else pad_id


def with_overrides(settings: TrainSettings, **overrides) -> TrainSettings:
    """``settings`` with the given fields replaced (None values are ignored)."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "steps" in changes:
        changes["epochs"] = None
    elif "epochs" in changes:
        changes["steps"] = None
    return replace(settings, **changes)


# ---------------------------------------------------------------- command line

PRESETS = {"mini-teacher": MINI_TEACHER, "paper-teacher": PAPER_TEACHER, "from-scratch": FROM_SCRATCH}


def finetune_system(system_folder: str | os.PathLike, train_folder: str | os.PathLike, out: str | os.PathLike,
                    settings: TrainSettings, *, langs: Sequence[str] = ("de", "zh"), device: str = "cpu",
                    lora=None, prompt: str | None = None, features_root: str | os.PathLike | None = None,
                    kd: str | os.PathLike | None = None, base_model: str | None = None,
                    progress: str | None = "train", log: Callable[[str], None] | None = print) -> dict:
    """Fine-tune the one model a system uses for both directions; save it as a new system.

    Full fine-tuning by default. ``lora`` (a ``qlora.LoraSettings``) trains a LoRA adapter
    on the frozen full-precision model instead and merges it into the weights before
    saving, as Diet-KIT (Liu et al., IWSLT 2026) does before quantizing. ``prompt`` trains
    (and records) another prompt style than the input system's (Diet-KIT: "base").
    ``kd`` (a KD file of harness.stages.distill, whose rows point at ``train_folder``'s
    utterances) trains on its rows of ``langs``, the authentic and the teacher's
    translations (Moslem 2025, System B step 2), instead of the set's references.
    The output folder gets the model (safetensors), processor, ``system.json`` (format hf;
    ``base_model`` defaults to the input system's folder; a pruned input's layer list is
    carried over) and ``finetune.json`` (settings, loss curve, the training set's content
    hash and the input system's content hash).
    """
    from harness.models import load_system, single_model_dir, write_manifest
    from harness.stages.from_scratch import save_base
    from harness.testsets import load_testset

    # --- distributed hook (issue 11): several processes when the build asks for them (harness/distributed.py) ---
    from harness.distributed import finetune_in_processes, fsdp_wanted, launched, local_device, requested_processes

    if launched():
        if lora is not None and fsdp_wanted():
            raise ValueError("LoRA trains under DDP, not FSDP (its frozen base fits one GPU); unset HARNESS_FSDP")
        device = local_device(device)
    elif requested_processes() > 1:
        return finetune_in_processes(requested_processes(), system_folder, train_folder, out, settings, langs=langs,
                                     device=device, lora=lora, prompt=prompt, features_root=features_root, kd=kd,
                                     base_model=base_model)
    # --- end of the distributed hook ---
    single_model_dir(system_folder, langs, action="fine-tune")  # every direction uses one model: load it once
    system = load_system(system_folder, langs[0], device=device)
    model, processor = system.model, system.processor
    testset = load_testset(train_folder)
    style = prompt or system.prompt_style
    store = cached_features(testset, processor.feature_extractor, features_root)
    kd_data = {}
    if kd is None:
        examples = testset_examples(processor, testset, langs, style)
    else:
        from harness.stages.distill import kd_examples, read_rows

        rows = [row for row in read_rows(kd) if row.lang in langs]
        examples = kd_examples(processor, rows, style, 1, ids=testset.ids)
        kd_data = {"kd_rows": len(rows), "examples": len(examples)}
    if lora is not None:
        from harness.stages.qlora import add_lora, trainable_parameters

        model = add_lora(model, lora)  # PEFT freezes every weight but the adapter's
        counts = trainable_parameters(model)
    result = train(model, examples, store, settings, pad_id=padding_id(processor), progress=progress, log=log)
    if lora is not None:
        model = model.merge_and_unload()
    if launched():  # distributed hook: rank 0 alone saves
        from harness.distributed import full_state_dict, is_sharded, rank

        if is_sharded(model):  # FSDP: gather the shards, into a fresh copy of the input model on rank 0
            state = full_state_dict(model)
            model = None
            if rank() == 0:
                model = load_system(system_folder, langs[0], device="cpu").model
                model.load_state_dict(state, strict=True)
        if rank() != 0:  # (DDP: every rank holds the same weights)
            return {"training": result.summary()}
    out = Path(out)
    save_base(model, processor, out)
    pruned = {k: v for k, v in system.manifest.extra.items() if k == "pruned_layers"}
    write_manifest(out, format="hf", languages={lang: "." for lang in langs}, prompt=style,
                   base_model=str(system_folder) if base_model is None else base_model,
                   built_by="harness/stages/finetune.py", **pruned)
    summary = {"input_system": str(system_folder), "input_content_hash": system.content_hash,
               "method": "full" if lora is None else "lora-merged", "prompt": style,
               **({} if lora is None else {"lora": lora.as_dict(), "parameters": counts}),
               "train_set": {"name": testset.name, "content_hash": testset.content_hash,
                             "utterances": len(testset.utterances), "directions": list(langs)},
               **kd_data, "training": result.summary()}
    (out / "finetune.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def add_train_arguments(parser) -> None:
    """The command-line options that override a preset's TrainSettings (see ``train_overrides``)."""
    import argparse

    parser.add_argument("--epochs", type=float)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None)


def train_overrides(args) -> dict:
    """``with_overrides`` keywords from the options ``add_train_arguments`` defined (None: keep the preset's)."""
    return dict(epochs=args.epochs, steps=args.steps, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                bf16=args.bf16)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Full fine-tuning of a system on a segmented training set.")
    parser.add_argument("--system", required=True, help="the system folder to start from (holds system.json)")
    parser.add_argument("--train", required=True, help="a segmented set folder, e.g. testsets/mini/talks_train")
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="mini-teacher")
    parser.add_argument("--langs", default="de,zh")
    add_train_arguments(parser)
    parser.add_argument("--settings-json", help="every TrainSettings field as JSON (replaces --preset and its overrides)")
    parser.add_argument("--lora-json", help="train a LoRA adapter (qlora.LoraSettings as JSON) and merge it")
    parser.add_argument("--prompt", help="the prompt style to train and record (default: the input system's)")
    parser.add_argument("--features-root", help="where log-mel features are cached")
    parser.add_argument("--kd", help="train on this KD file's rows (harness.stages.distill) instead of the references")
    parser.add_argument("--base-model", help="the base_model recorded in system.json (default: --system)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        if args.settings_json:
            settings = TrainSettings.from_dict(json.loads(args.settings_json))
        else:
            settings = with_overrides(PRESETS[args.preset], **train_overrides(args))
        lora = None
        if args.lora_json:
            from harness.stages.qlora import LoraSettings

            lora = LoraSettings(**json.loads(args.lora_json))
    except (TypeError, ValueError) as err:
        parser.error(f"bad settings: {err}")
    summary = finetune_system(args.system, args.train, args.out, settings, langs=tuple(args.langs.split(",")),
                              device=args.device, lora=lora, prompt=args.prompt, features_root=args.features_root,
                              kd=args.kd, base_model=args.base_model)
    training = summary["training"]
    print(f"{args.out}: {training['steps']} steps, {training['seconds'] / 60:.1f} min, "
          f"loss {training['first_loss']:.3f} -> {training['final_loss']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
