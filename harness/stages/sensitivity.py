"""Sensitivity-guided low-bit MLPs: which decoder layers' MLPs can go to 3 bit.

Liu, Koneru and Niehues (IWSLT 2026, "Post-Training Quantization for Speech LLMs",
Diet-KIT, step 4): for each decoder layer, put only that layer's MLP (gate, up and down
projections) at 3 bit and measure the change in teacher-forced cross-entropy on the
talks dev set; rank the layers from the least to the most sensitive; put the n least
sensitive MLPs at 3 bit, n the smallest number that brings the system under the size
limit (n = 4 on Qwen2-Audio-7B: layers 4, 21, 22, 24, 3.98 GB). Their Table 4 shows the
selection beats the first, last, middle or random n. The same measurement works for a
layer's attention projections (``kind="attention"``) and at other bit widths, which
harness.stages.diet_kit uses to extend the ladder where the MLPs alone cannot fit.

What the measurement costs: one teacher-forced pass of the dev set per decoder layer.
The audio encoder and the projector are not quantized here, so the input embeddings
(text embeddings with the projected audio scattered into the ``<|AUDIO|>`` positions)
are computed once (`embed_batches`) and every candidate runs the language model alone
on them; each candidate's MLP is swapped in place and put back (`mlp_swapped`), never
a copy of the model. The quantizer is a parameter (default: HQQ at the given bits and
group size, harness.stages.hqq.quantize_linear), so a test can pass a fake one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch

from harness.stages.hqq import DECODER_PROJECTIONS
from harness.training.examples import IGNORE_INDEX

# The module kinds a layer can be measured by (paths inside a decoder layer): the paper
# measures the MLP; the attention projections extend the ladder where the MLPs alone cannot fit.
KINDS = DECODER_PROJECTIONS
Quantizer = Callable[[torch.nn.Linear], torch.nn.Module]


@dataclass(frozen=True)
class EmbeddedBatch:
    """One dev batch as the language model sees it: embeddings with audio in place, and its labels."""

    inputs_embeds: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    labels: torch.Tensor

    @property
    def tokens(self) -> int:
        return int((self.labels[:, 1:] != IGNORE_INDEX).sum())


@dataclass(frozen=True)
class LayerSensitivity:
    layer: int
    loss: float  # mean teacher-forced cross-entropy with only this layer's modules (of the kind) quantized
    delta: float  # loss - the unquantized model's loss


@dataclass(frozen=True)
class SensitivityResult:
    baseline_loss: float
    layers: tuple[LayerSensitivity, ...]
    kind: str
    bits: int
    group_size: int
    examples: int
    tokens: int
    seconds: float

    def ranking(self) -> list[int]:
        """Layers from the least to the most sensitive (ties: the lower index first)."""
        return [s.layer for s in sorted(self.layers, key=lambda s: (s.delta, s.layer))]

    def as_dict(self) -> dict:
        row = asdict(self)
        row["ranking"] = self.ranking()
        return row


def decoder_layers(model) -> torch.nn.ModuleList:
    from harness.stages.prune import language_model
    from harness.training.forward import unwrapped

    return language_model(unwrapped(model)).layers


@torch.no_grad()
def embed_batches(model, batches: Sequence[dict[str, torch.Tensor]]) -> list[EmbeddedBatch]:
    """The language model's inputs for ``collate``d batches: the audio encoder runs once here."""
    from harness.training.forward import audio_states, input_embeddings, unwrapped

    core = unwrapped(model)
    device = next(core.parameters()).device
    out = []
    for batch in batches:
        batch = {name: tensor.to(device) for name, tensor in batch.items()}
        states, token_lengths = audio_states(core, batch["input_features"], batch["feature_attention_mask"])
        embeds = input_embeddings(core, batch["input_ids"], states, token_lengths)
        out.append(EmbeddedBatch(embeds, batch["attention_mask"], batch["position_ids"], batch["labels"]))
    return out


@torch.no_grad()
def teacher_forced_loss(model, batches: Sequence[EmbeddedBatch]) -> float:
    """Cross-entropy per target token over all batches (each batch weighted by its tokens)."""
    total, tokens = 0.0, 0
    for batch in batches:
        loss = model(inputs_embeds=batch.inputs_embeds, attention_mask=batch.attention_mask,
                     position_ids=batch.position_ids, labels=batch.labels, use_cache=False).loss
        total += float(loss) * batch.tokens
        tokens += batch.tokens
    if tokens == 0:
        raise ValueError("the dev batches hold no target token")
    return total / tokens


@contextmanager
def modules_swapped(model, layer: int, quantize: Quantizer, kind: str = "mlp") -> Iterator[None]:
    """Layer ``layer``'s projections of ``kind`` replaced by ``quantize(linear)``; put back afterwards, also on error."""
    if kind not in KINDS:
        raise ValueError(f"unknown module kind {kind!r}; known: {', '.join(KINDS)}")
    block = decoder_layers(model)[layer]
    owners = {path: block.get_submodule(path.rpartition(".")[0]) for path in KINDS[kind]}
    originals = {path: block.get_submodule(path) for path in KINDS[kind]}
    try:
        for path, linear in originals.items():
            setattr(owners[path], path.rpartition(".")[2], quantize(linear))
        yield
    finally:
        for path, linear in originals.items():
            setattr(owners[path], path.rpartition(".")[2], linear)


def hqq_quantizer(bits: int, group_size: int, compute_dtype: torch.dtype | None = None) -> Quantizer:
    from harness.stages.hqq import quantize_linear

    def quantize(linear: torch.nn.Linear) -> torch.nn.Module:
        return quantize_linear(linear, bits, group_size, compute_dtype or linear.weight.dtype)

    return quantize


def measure(model, batches: Sequence[EmbeddedBatch], *, bits: int = 3, group_size: int = 128, kind: str = "mlp",
            quantize: Quantizer | None = None, layers: Sequence[int] | None = None,
            progress: str | None = None, baseline: float | None = None) -> SensitivityResult:
    """Every (or each given) decoder layer's loss change with only its ``kind`` projections quantized.

    ``baseline``: the unquantized model's ``teacher_forced_loss`` on ``batches`` where the
    caller has it already (several measurements of one model); None computes it.
    """
    from tqdm.auto import tqdm

    started = time.time()
    quantize = quantize or hqq_quantizer(bits, group_size)
    was_training = model.training
    model.eval()
    try:
        if baseline is None:
            baseline = teacher_forced_loss(model, batches)
        chosen = list(range(len(decoder_layers(model)))) if layers is None else list(layers)
        results = []
        for layer in tqdm(chosen, desc=progress, disable=progress is None, unit="layer"):
            with modules_swapped(model, layer, quantize, kind):
                loss = teacher_forced_loss(model, batches)
            results.append(LayerSensitivity(layer=layer, loss=loss, delta=loss - baseline))
    finally:
        model.train(was_training)
    return SensitivityResult(baseline_loss=baseline, layers=tuple(results), kind=kind, bits=bits,
                             group_size=group_size,
                             examples=sum(int(b.labels.shape[0]) for b in batches),
                             tokens=sum(b.tokens for b in batches), seconds=time.time() - started)


def smallest_fitting(order: Sequence, fits: Callable[[list], bool]) -> list:
    """The shortest prefix of ``order`` (moves, least sensitive first) that ``fits``.

    ``fits(moves)`` says whether the system with those moves (e.g. layers whose MLPs go
    to low bit) is under the limit. Raises ValueError when even all of them do not fit.
    """
    for n in range(len(order) + 1):
        if fits(list(order[:n])):
            return list(order[:n])
    raise ValueError(f"the system is over the limit even with all {len(order)} moves")


def fixed_selection(kind: str, count: int, layers: int, seed: int = 0) -> list[int]:
    """The paper's Table 4 baselines: the first, last, middle or random ``count`` layers."""
    if not 0 <= count <= layers:
        raise ValueError(f"cannot choose {count} of {layers} layers")
    if kind == "first":
        return list(range(count))
    if kind == "last":
        return list(range(layers - count, layers))
    if kind == "middle":
        from harness.stages.prune import middle_layers

        return middle_layers(layers, count) if count else []
    if kind == "random":
        generator = torch.Generator().manual_seed(seed)
        return sorted(torch.randperm(layers, generator=generator)[:count].tolist())
    raise ValueError(f"unknown selection {kind!r}; known: first, last, middle, random")
