"""Iterative greedy pruning of the language model's decoder layers (System B's first step).

Moslem (IWSLT 2025, "Efficient Speech Translation through Model Compression and
Knowledge Distillation") prunes 8 of Qwen2-Audio-7B-Instruct's 32 decoder layers one at
a time: in each round, every candidate layer still present is removed in turn, the
selection set is translated greedily and scored, and the layer whose removal leaves the
best score goes for good (chrF++ for German, chrF for Chinese; the first and last layers
are never candidates; the audio encoder is left whole). The paper scored its candidates
on the test split; here the selection set must be a dev split (the CLI refuses a
``*_test`` folder).

`layer_importance_search` runs that procedure without its two costs (DESIGN.md, lessons
from peers):

- no model copy per candidate: the candidate model is the same model with
  ``model.model.language_model.layers`` temporarily rebound to a ``ModuleList`` of the
  kept layers, each attention module's ``layer_idx`` renumbered so that the KV-cache
  slots stay consecutive, and the text config's ``num_hidden_layers`` / ``layer_types``
  cut to match (`layers_removed`); everything is put back exactly afterwards, also when
  decoding raises;
- no audio-encoder pass per candidate: pruning the decoder leaves the audio tower and
  the projector unchanged, so the prompt embeddings, with the projected audio features
  scattered into the ``<|AUDIO|>`` placeholder positions, are computed once per
  selection set (`encode_selection`) and every candidate decodes from ``inputs_embeds``
  (`decode_encoded`). The batches, their order, the left padding and the generation
  settings are harness.inference.decode's, and the embeddings are taken from the model's own
  forward (captured where it enters the language model), so the hypotheses equal
  ``harness.inference.decode.decode`` on the pruned model token for token (tests/test_prune.py).

The cached embeddings take ``utterances x prompt length x hidden size`` values on the
model's device (about 6.5 MB per 30 s utterance for the 7B in bf16).

`prune_layers` then removes the chosen layers for good, renumbers the rest and fixes the
config, so that ``save_pretrained`` + ``from_pretrained`` reloads strictly with the new
layer count. ``python -m harness.stages.prune`` runs search + pruning on a built system
and saves the pruned system with a ``pruning.json`` holding every round's scores.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from harness.data.audio import SAMPLE_RATE
from harness.inference.decode import (
    DecodeSettings,
    Hypothesis,
    Prompt,
    build_prompt,
    check_audio,
    cut_at_eos,
    eos_ids,
    generation_config_for,
    length_batches,
    model_device,
    prepare_batch,
)
from harness.scoring.metrics import METRICS

# Moslem (2025): chrF++ for German, plain chrF for Chinese.
DEFAULT_METRICS = {"de": "chrf++", "zh": "chrf"}
DEFAULT_PROMPT_STYLE = "instruct"  # Moslem (2025) prunes the Instruct model with its chat prompt
PRUNING_FILE = "pruning.json"

_ABSENT = object()


# ---------------------------------------------------------------- the decoder's layers


def language_model(model) -> torch.nn.Module:
    """The language model whose ``layers`` are pruned (Qwen2-Audio: ``model.model.language_model``)."""
    decoder = getattr(getattr(model, "model", None), "language_model", None)
    if decoder is None or not isinstance(getattr(decoder, "layers", None), torch.nn.ModuleList):
        raise ValueError(f"{type(model).__name__} has no decoder layer list at model.model.language_model.layers")
    return decoder


def num_decoder_layers(model) -> int:
    return len(language_model(model).layers)


def _configs(model, decoder) -> list:
    """The config objects that describe the decoder's layers (usually one shared object)."""
    found = [decoder.config]
    top = getattr(model, "config", None)
    if top is not None and hasattr(top, "get_text_config"):
        text = top.get_text_config(decoder=True)
        if all(text is not config for config in found):
            found.append(text)
    return found


def _check_indices(indices: Iterable[int], count: int) -> list[int]:
    chosen = [int(i) for i in indices]
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"layer indices repeat: {chosen}")
    bad = [i for i in chosen if not 0 <= i < count]
    if bad:
        raise ValueError(f"layer indices {bad} out of range: the decoder has {count} layers")
    if len(chosen) >= count:
        raise ValueError(f"cannot remove all {count} decoder layers")
    return chosen


def _layer_idx_owners(layer: torch.nn.Module) -> list[torch.nn.Module]:
    """The submodules of a decoder layer that carry its KV-cache index (the attention)."""
    return [module for module in layer.modules() if isinstance(getattr(module, "layer_idx", None), int)]


def _set_layers(model, decoder, kept: list[torch.nn.Module], layer_types: list | None) -> None:
    decoder.layers = torch.nn.ModuleList(kept)
    for new_index, layer in enumerate(kept):
        for module in _layer_idx_owners(layer):
            module.layer_idx = new_index
    for config in _configs(model, decoder):
        if layer_types is not None and getattr(config, "layer_types", None) is not None:
            config.layer_types = list(layer_types)
        config.num_hidden_layers = len(kept)
    if hasattr(decoder, "has_sliding_layers") and layer_types is not None:
        decoder.has_sliding_layers = "sliding_attention" in layer_types


@contextmanager
def layers_removed(model, remove: Iterable[int]) -> Iterator[None]:
    """Run the body with decoder layers ``remove`` (indices into the current list) taken out.

    No weight is copied: the layer list is rebound to the kept layers, their attention's
    ``layer_idx`` renumbered 0..k-1 (the KV cache has one slot per layer, in order), and
    ``num_hidden_layers`` / ``layer_types`` of the text config cut to match. On exit,
    normal or not, the original list object, every ``layer_idx``, the config values (the
    same objects) and ``has_sliding_layers`` are restored.
    """
    decoder = language_model(model)
    original = decoder.layers
    removed = set(_check_indices(remove, len(original)))
    configs = _configs(model, decoder)
    saved_configs = [(config, config.num_hidden_layers, getattr(config, "layer_types", _ABSENT))
                     for config in configs]
    saved_idx = [(module, module.layer_idx) for layer in original for module in _layer_idx_owners(layer)]
    saved_sliding = getattr(decoder, "has_sliding_layers", _ABSENT)
    layer_types = getattr(decoder.config, "layer_types", None)
    kept_types = None if layer_types is None else [t for i, t in enumerate(layer_types) if i not in removed]
    try:
        _set_layers(model, decoder, [layer for i, layer in enumerate(original) if i not in removed], kept_types)
        yield
    finally:
        decoder.layers = original
        for module, index in saved_idx:
            module.layer_idx = index
        for config, count, types in saved_configs:
            if types is not _ABSENT:
                config.layer_types = types
            config.num_hidden_layers = count
        if saved_sliding is not _ABSENT:
            decoder.has_sliding_layers = saved_sliding


def prune_layers(model, layers_to_remove: Iterable[int]):
    """Remove decoder layers (indices into the current list) for good; returns ``model``.

    The kept layers are renumbered (attention ``layer_idx``, and so the parameter names
    ``model.language_model.layers.<i>``) and the config's ``num_hidden_layers`` and
    ``layer_types`` follow, so that a saved copy reloads strictly with the new count.
    """
    decoder = language_model(model)
    original = decoder.layers
    removed = set(_check_indices(layers_to_remove, len(original)))
    layer_types = getattr(decoder.config, "layer_types", None)
    kept_types = None if layer_types is None else [t for i, t in enumerate(layer_types) if i not in removed]
    _set_layers(model, decoder, [layer for i, layer in enumerate(original) if i not in removed], kept_types)
    return model


# ---------------------------------------------------------------- decoding from cached embeddings


class _Captured(Exception):
    """Raised by the hook on the language model once the prompt embeddings are in hand."""


@dataclass(frozen=True, eq=False)
class EncodedBatch:
    indices: tuple[int, ...]  # positions in the selection set, in harness.inference.decode's batch order
    input_ids: torch.Tensor  # left-padded prompt ids (the <|AUDIO|> placeholders expanded)
    attention_mask: torch.Tensor
    inputs_embeds: torch.Tensor  # the prompt embeddings with the projected audio features scattered in


@dataclass(frozen=True, eq=False)
class EncodedSelection:
    """A selection set turned into decoder inputs once: the audio encoder is not run again."""

    batches: tuple[EncodedBatch, ...]
    samples: tuple[int, ...]  # per utterance, input order
    window_samples: int
    lang: str
    settings: DecodeSettings  # resolved prompt style

    def __len__(self) -> int:
        return len(self.samples)


def _prompt_embeddings(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The embeddings the model's own forward hands to its language model for ``inputs``.

    The forward is stopped where it enters the language model, so only the token
    embedding, the audio tower and the projector run; taking the tensor from the model
    itself (rather than re-implementing the merge) keeps it bit-identical to what
    ``generate`` computes from ``input_features``.
    """
    decoder = language_model(model)
    captured: dict = {}

    def hook(module, args, kwargs):
        captured.update(kwargs)
        raise _Captured

    handle = decoder.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        model.model(**inputs)
    except _Captured:
        pass
    finally:
        handle.remove()
    embeds = captured.get("inputs_embeds")
    if embeds is None or captured.get("position_ids") is not None \
            or tuple(embeds.shape[:2]) != tuple(inputs["input_ids"].shape):
        # Qwen2-Audio's legacy merge (one placeholder per clip, expanded inside the model)
        # reshapes the sequence; it happens only when every clip of a batch is < 70 ms.
        raise ValueError("the model merged the audio by its legacy path (clips under 70 ms?); "
                         "the cached-embedding decode needs expanded placeholders")
    return embeds


def encode_selection(model, processor, audios: Sequence[np.ndarray], lang: str,
                     settings: DecodeSettings) -> EncodedSelection:
    """Features, prompt ids and prompt embeddings of every batch, as harness.inference.decode.decode batches them."""
    if settings.prompt_style is None:
        settings = replace(settings, prompt_style=DEFAULT_PROMPT_STYLE)
    extractor = processor.feature_extractor
    if extractor.sampling_rate != SAMPLE_RATE:
        raise ValueError(f"the feature extractor expects {extractor.sampling_rate} Hz; the harness feeds {SAMPLE_RATE} Hz")
    clips = [check_audio(i, audio, extractor.hop_length) for i, audio in enumerate(audios)]
    if not clips:
        raise ValueError("the selection set is empty")
    tokenizer = processor.tokenizer
    prompt = Prompt(processor, build_prompt(processor, lang, settings.prompt_style))
    eos = eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    device = model_device(model)
    batches = []
    with torch.inference_mode():
        for chosen in length_batches([len(clip) for clip in clips], settings.batch_size):  # decode's batches
            inputs = prepare_batch(processor, prompt, [clips[i] for i in chosen], pad_id)
            inputs = {name: tensor.to(device) for name, tensor in inputs.items()}
            embeds = _prompt_embeddings(model, inputs)
            batches.append(EncodedBatch(indices=tuple(chosen), input_ids=inputs["input_ids"],
                                        attention_mask=inputs["attention_mask"], inputs_embeds=embeds))
    return EncodedSelection(batches=tuple(batches), samples=tuple(len(clip) for clip in clips),
                            window_samples=int(extractor.n_samples), lang=lang, settings=settings)


def decode_encoded(model, processor, encoded: EncodedSelection) -> list[Hypothesis]:
    """Translate a pre-encoded selection set with ``model`` as it is now; hypotheses in input order.

    Same batches, generation config, end-of-sequence handling and detokenisation as
    harness.inference.decode.decode; ``Hypothesis.seconds`` is the batch's generation time share.
    """
    settings = encoded.settings
    tokenizer = processor.tokenizer
    eos = eos_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    generation_config = generation_config_for(model, settings, eos, pad_id)
    eos_set = set(eos)
    results: list[Hypothesis | None] = [None] * len(encoded)
    with torch.inference_mode():
        for batch in encoded.batches:
            started = time.perf_counter()
            output = model.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                    inputs_embeds=batch.inputs_embeds, generation_config=generation_config)
            # With input_ids given beside inputs_embeds, generate returns prompt + new tokens.
            new = output[:, batch.input_ids.shape[1]:].tolist()
            token_lists = cut_at_eos(new, eos_set)
            texts = tokenizer.batch_decode([tokens for tokens, _ in token_lists], skip_special_tokens=True,
                                           clean_up_tokenization_spaces=False)
            share = (time.perf_counter() - started) / len(batch.indices)
            for position, index in enumerate(batch.indices):
                tokens, finished = token_lists[position]
                samples = encoded.samples[index]
                results[index] = Hypothesis(
                    text=texts[position], new_tokens=len(tokens), seconds=share, token_ids=tuple(tokens),
                    finished=finished, audio_seconds=samples / SAMPLE_RATE,
                    truncated_audio=samples > encoded.window_samples)
    return results  # type: ignore[return-value]  # every slot is filled above


# ---------------------------------------------------------------- the search


@dataclass(frozen=True)
class PruningRound:
    """One round: every candidate's score (original indices) and the layer removed."""

    round: int  # 1-based
    removed_before: tuple[int, ...]  # layers already gone at the start of the round (original indices)
    scores: dict[int, float]  # candidate (original index) -> score with it removed as well
    removed: int  # the best candidate (ties: the lowest original index)
    score: float  # its score
    seconds: float

    def as_dict(self) -> dict:
        return {"round": self.round, "removed_before": list(self.removed_before),
                "candidates": [{"layer": layer, "score": score} for layer, score in sorted(self.scores.items())],
                "removed": self.removed, "score": self.score, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class PruningResult:
    """The search's outcome, serialisable with ``as_dict`` / ``to_json``."""

    removed: tuple[int, ...]  # original indices, in removal order
    num_layers: int  # decoder layers before pruning
    candidates: tuple[int, ...]  # the layers that could be removed
    metric: str
    signature: str | None  # the metric's settings (sacreBLEU signature)
    lang: str
    baseline: float | None  # the score with no layer removed (None: not scored)
    rounds: tuple[PruningRound, ...]
    utterances: int
    settings: dict  # the decode settings
    exclude_first_last: bool
    seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def kept(self) -> list[int]:
        return [i for i in range(self.num_layers) if i not in self.removed]

    def as_dict(self) -> dict:
        row = asdict(self)
        row["removed"] = list(self.removed)
        row["kept"] = self.kept
        row["candidates"] = list(self.candidates)
        row["rounds"] = [r.as_dict() for r in self.rounds]
        row["seconds"] = round(self.seconds, 3)
        row.update(row.pop("extra"))
        return row

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)


def _scorer(metric: str, references: list[str], lang: str, sources, comet_model):
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    function = METRICS[metric]

    def score(hypotheses: list[Hypothesis]) -> tuple[float, str | None]:
        result = function([h.text for h in hypotheses], references, lang, sources=sources, comet_model=comet_model)
        if result.value is None:
            raise ValueError(f"metric {metric} cannot be computed: {result.absent_reason}")
        return float(result.value), result.signature

    return score


def layer_importance_search(model, processor, audios: Sequence[np.ndarray], references: Sequence[str], lang: str, *,
                            target_layers: int, metric: str | None = None, exclude_first_last: bool = True,
                            settings: DecodeSettings | None = None, batch_size: int = 16,
                            max_new_tokens: int = 256, score_baseline: bool = True, progress: str | None = None,
                            sources: Sequence[str] | None = None, comet_model: str | None = None) -> PruningResult:
    """Choose ``target_layers`` decoder layers to remove, greedily, one per round (Moslem 2025).

    Each round removes, in turn, every candidate still present (on top of the layers
    already chosen), translates ``audios`` greedily and scores against ``references``
    with ``metric`` (default chrF++ for German, chrF for Chinese; any name of
    harness.scoring.metrics.METRICS). The candidate whose removal leaves the best score is
    chosen; ties go to the lowest original index. ``exclude_first_last`` keeps the
    first and last layers out of the candidates, as the reference code does.

    ``settings`` (a DecodeSettings) decides batching, ``max_new_tokens`` and the prompt
    style (None: "instruct"); without it ``batch_size`` and ``max_new_tokens`` build
    one. With ``score_baseline`` the unpruned model is scored too (one more decode of the set).
    The model is left exactly as it was (see `layers_removed`); call `prune_layers`
    with ``result.removed`` to prune it.
    """
    if settings is None:
        settings = DecodeSettings(max_new_tokens=max_new_tokens, batch_size=batch_size)
    references = list(references)
    if len(references) != len(audios):
        raise ValueError(f"{len(audios)} clips but {len(references)} references")
    metric = metric or DEFAULT_METRICS.get(lang)
    if metric is None:
        raise ValueError(f"no default metric for language {lang!r}; pass metric=")
    score = _scorer(metric, references, lang, None if sources is None else list(sources), comet_model)
    count = num_decoder_layers(model)
    pool = list(range(1, count - 1)) if exclude_first_last else list(range(count))
    if target_layers < 0:
        raise ValueError(f"target_layers must be at least 0, got {target_layers}")
    if target_layers > len(pool) or target_layers >= count:
        raise ValueError(f"cannot remove {target_layers} of {count} decoder layers "
                         f"({len(pool)} candidates{' with the first and last excluded' if exclude_first_last else ''})")

    started = time.perf_counter()
    encoded = encode_selection(model, processor, audios, lang, settings)
    baseline, signature = score(decode_encoded(model, processor, encoded)) if score_baseline else (None, None)
    total = sum(len(pool) - r for r in range(target_layers))
    bar = None
    if progress is not None:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=progress, unit="candidate")
    removed: list[int] = []
    rounds: list[PruningRound] = []
    try:
        for number in range(1, target_layers + 1):
            round_started = time.perf_counter()
            scores: dict[int, float] = {}
            for candidate in (layer for layer in pool if layer not in removed):
                with layers_removed(model, removed + [candidate]):
                    scores[candidate], signature = score(decode_encoded(model, processor, encoded))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(round=number, best=f"{max(scores.values()):.2f}")
            best = max(scores, key=lambda layer: (scores[layer], -layer))
            rounds.append(PruningRound(round=number, removed_before=tuple(removed), scores=scores, removed=best,
                                       score=scores[best], seconds=time.perf_counter() - round_started))
            removed.append(best)
    finally:
        if bar is not None:
            bar.close()
    return PruningResult(removed=tuple(removed), num_layers=count, candidates=tuple(pool), metric=metric,
                         signature=signature, lang=lang, baseline=baseline, rounds=tuple(rounds),
                         utterances=len(encoded), settings=encoded.settings.as_dict(),
                         exclude_first_last=exclude_first_last, seconds=time.perf_counter() - started)


# ---------------------------------------------------------------- command line


def _refuse_test_split(folder: Path, name: str | None = None) -> None:
    from harness.stages.base import StageError

    for label in (folder.resolve().name, name):
        if label and label.endswith("_test"):
            raise StageError(f"{folder}: {label!r} is a test split; select the layers on a dev split "
                             f"(scoring candidates on the test set leaks it)")


def middle_layers(num_layers: int, remove: int) -> list[int]:
    """The contiguous middle block of ``remove`` layers: the paper's ablation (layers 12-19 of 32)."""
    if not 0 < remove < num_layers:
        raise ValueError(f"cannot remove {remove} of {num_layers} layers")
    start = (num_layers - remove) // 2
    return list(range(start, start + remove))


def fixed_pruning(num_layers: int, layers: Sequence[int], lang: str) -> PruningResult:
    """The record of a pruning chosen without search (an ablation): no rounds, no scores."""
    layers = _check_indices(layers, num_layers)
    return PruningResult(removed=tuple(layers), num_layers=num_layers, candidates=tuple(layers), metric="none",
                         signature=None, lang=lang, baseline=None, rounds=(), utterances=0, settings={},
                         exclude_first_last=False, seconds=0.0, extra={"search": "none: layers given"})


def prune_system(system_dir: str | os.PathLike, select_dir: str | os.PathLike | None, out_dir: str | os.PathLike, *,
                 lang: str, remove: int, metric: str | None = None, exclude_first_last: bool = True,
                 settings: DecodeSettings | None = None, device: str = "cpu", dtype: torch.dtype | None = None,
                 limit: int | None = None, progress: str | None = "pruning",
                 layers: Sequence[int] | None = None) -> PruningResult:
    """Search on a dev set, prune, and save the pruned system (safetensors) with ``pruning.json``.

    ``layers`` skips the search and removes exactly those (original indices): the
    middle-layer ablation. ``remove`` must then equal their count, and no selection set
    is read (``select_dir`` may be None).
    """
    from harness.systems.models import load_system, write_manifest
    from harness.files import atomic_write_json
    from harness.stages.base import StageError
    from harness.stages.from_scratch import save_base
    from harness.data.testsets import TestSet, load_testset

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise StageError(f"{out_dir}: output folder exists and is not empty; choose another or remove it")
    if layers is not None and len(set(layers)) != remove:
        raise StageError(f"remove={remove} but {len(set(layers))} layers given: {list(layers)}")
    selection = None
    if layers is None:
        select_dir = Path(select_dir)
        _refuse_test_split(select_dir)
        selection = load_testset(select_dir)
        if not isinstance(selection, TestSet):
            raise StageError(f"{select_dir}: a long-form set; the selection set must be segmented")
        _refuse_test_split(select_dir, selection.name)
    system = load_system(system_dir, lang, device=device, dtype=dtype)
    if system.format != "hf":
        raise StageError(f"{system_dir}: format {system.format!r}; pruning needs full-precision weights ('hf')")
    if selection is None:
        result = fixed_pruning(num_decoder_layers(system.model), layers, lang)
    else:
        utterances = list(selection.utterances)[:limit] if limit else list(selection.utterances)
        settings = (settings or DecodeSettings(max_new_tokens=256)).resolved(system)
        result = layer_importance_search(
            system.model, system.processor, [u.audio() for u in utterances], [u.targets[lang] for u in utterances],
            lang, target_layers=remove, metric=metric, exclude_first_last=exclude_first_last, settings=settings,
            progress=progress, sources=[u.en for u in utterances])
    prune_layers(system.model, result.removed)
    save_base(system.model, system.processor, out_dir)
    manifest = system.manifest
    write_manifest(out_dir, format="hf", languages={lang: "."}, prompt=system.prompt_style,
                   base_model=manifest.base_model, built_by="stage:prune",
                   pruned_from=Path(system_dir).name, pruned_layers=list(result.removed))
    record = result.as_dict()
    record.update(system=str(Path(system_dir)), source_content_hash=system.content_hash,
                  selection=None if selection is None else {
                      "folder": str(select_dir), "name": selection.name, "version": selection.version,
                      "content_hash": selection.content_hash, "utterances": len(utterances)})
    atomic_write_json(out_dir / PRUNING_FILE, record)
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    from harness.errors import one_line

    parser = argparse.ArgumentParser(description="Iterative greedy decoder-layer pruning (Moslem, IWSLT 2025).")
    parser.add_argument("--system", required=True, help="the system folder to prune (holds system.json, format hf)")
    parser.add_argument("--select", required=True, help="a segmented DEV set folder, e.g. testsets/mini/talks_dev")
    parser.add_argument("--lang", required=True, choices=sorted(DEFAULT_METRICS))
    parser.add_argument("--remove", type=int, required=True, help="how many decoder layers to remove")
    parser.add_argument("--out", required=True, help="the pruned system's folder (must not exist or be empty)")
    parser.add_argument("--metric", choices=sorted(METRICS), help="default: chrf++ for de, chrf for zh")
    parser.add_argument("--include-first-last", action="store_true",
                        help="let the first and last layers be candidates (the reference code never does)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--limit", type=int, help="use only the first N utterances of the selection set")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        settings = DecodeSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
        result = prune_system(args.system, args.select, args.out, lang=args.lang, remove=args.remove,
                              metric=args.metric, exclude_first_last=not args.include_first_last, settings=settings,
                              device=args.device, limit=args.limit)
    except (ValueError, RuntimeError, OSError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    final = result.rounds[-1].score if result.rounds else result.baseline
    print(f"{args.out}: removed decoder layers {list(result.removed)} of {result.num_layers}; "
          f"{result.metric} {result.baseline:.2f} -> {final:.2f} on the selection set ({result.seconds / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
