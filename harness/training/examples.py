"""Training examples and batches: what the model sees, exactly as ``harness.inference.decode`` feeds it at test time.

Each example is one utterance and one target language:

- the prompt is ``harness.inference.decode.build_prompt`` (Instruct by default), its single
  ``<|AUDIO|>`` expanded into n consecutive placeholders, n from the clip's real
  feature frames (the processor's rule), then the reference and ``<|im_end|>``;
- rows are padded on the LEFT and ``position_ids = cumsum(attention_mask) - 1`` (pads
  get 1), as ``generate`` builds them;
- every clip's log-mel features are padded to the full window (``harness.training.features``);
  ``feature_attention_mask`` marks the real frames;
- labels are the input ids with -100 on padding, prompt and audio positions: only the
  reference tokens and the closing ``<|im_end|>`` are learned.

``epoch_batches`` shuffles and buckets by length with a seeded generator, so the same
(seed, epoch) gives the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from harness.inference.decode import audio_tokens_for_frames, build_prompt
from harness.training.ctc import CtcObjective
from harness.training.features import FeatureStore

IGNORE_INDEX = -100  # torch's cross-entropy ignore_index, as transformers' models use it


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


def padding_id(processor) -> int:
    """The id batches are padded with: the tokenizer's pad token, else its end of text (Qwen2 has both)."""
    pad_id = processor.tokenizer.pad_token_id
    return processor.tokenizer.eos_token_id if pad_id is None else pad_id
