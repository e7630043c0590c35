"""Activation-aware weight quantization (AWQ): per-input-channel scales searched on calibration audio.

Lin et al. (MLSys 2024, "AWQ: Activation-aware Weight Quantization for LLM Compression
and Acceleration") observe that a small share of a linear layer's input channels carry
large activations, and that the weights multiplying them matter most. Scaling such a
weight column up by s before quantization (and its input down by s) shrinks its relative
rounding error without changing the float function. Per group of linear layers that read
the same input X (Section 3.2, Eq. 4-5):

    s = s_X ** alpha,   s_X = mean |X| per input channel,
    alpha* = argmin_alpha || Q(W diag(s)) (diag(s)^-1 X) - W X ||^2,

with alpha on a grid of 20 points in [0, 1) (alpha = 0 is plain round-to-nearest) and s
normalised by sqrt(max s * min s). The chosen s is then folded into the model: the
linears' input columns are multiplied by s and the op that produces their input is
divided by s, so the float model computes the same function (`apply_scales`) and a later
quantization stage sees the scaled weights.

Liu, Koneru and Niehues (IWSLT 2026, "Post-Training Quantization for Speech LLMs",
Diet-KIT) calibrate AWQ on the dev set with the source audio only, no references, as the
fifth step of their HQQ pipeline (../shared/reference/papers.md). `calibrate` does that:
prompt + audio, exactly as harness.inference.decode builds them, run through the decoder; no
target tokens.

Groups in each Qwen2 decoder layer (`scale_groups`), the layer's previous op in brackets:
  qkv      q/k/v_proj            [input_layernorm: RMSNorm weight / s]
  o        o_proj                [v_proj: rows and bias / s], only where v_proj's outputs
                                 are o_proj's inputs one to one (no grouped-query head
                                 sharing: a shared v head would need one scale for
                                 several o columns); the mini base and the tiny test
                                 model share heads, Qwen2-Audio-7B does not
  gate_up  gate/up_proj          [post_attention_layernorm]
  down     down_proj             [up_proj: rows / s; act(gate) * up is linear in up]

Design choices, each for a reason:
- The quantizer Q is round-to-nearest, asymmetric, per group of ``group_size``
  consecutive weights of the row-major weight (`pseudo_quantize`): the grid HQQ starts
  from before its half-quadratic optimisation (hqq ``Quantizer.quantize`` with
  ``optimize=False``, axis 1, zero rounded at 4 bits as hqq's ``BaseQuantizeConfig``
  does), so the scales are searched for the grid the later HQQ stage uses. Where the
  input width is not a multiple of the group size (the mini base: 224 and 240 inputs,
  groups of 64) such groups span two rows, exactly as in hqq.
- No activations are kept: the loss is a quadratic form in the weight error,
  ||dW X||^2 = trace(dW G dW^T) with G = sum_t x_t x_t^T, so calibration keeps only G,
  sum |x| and the token count per group (`InputStats`, float64). Memory does not grow
  with the calibration set (Diet-KIT uses all 468 dev utterances; for the 7B, G takes
  in^2 x 8 bytes per group: about 1.4 GB per decoder layer, so `awq_scale_model`
  can calibrate a few layers per pass), and the 20 grid points cost no pass over the data.
- Searches see the weights they will quantize: a linear that is also the previous op of
  another group (v_proj before o_proj, up_proj before down_proj) gets its rows divided by
  that group's scales, so the downstream group is searched first and its row scales are
  applied to the upstream search's weights; the error is measured back in the original
  output coordinates. With groups inside rows, row scaling commutes with Q and this
  changes nothing; with hqq's row-spanning groups it is what Q will see.
- The error of a group is the summed squared error of its linears' outputs over
  (tokens x outputs): the paper's objective per linear, summed over the linears sharing X.
- ``plan`` gives per-module (bits, group_size) (e.g. Diet-KIT's 3-bit MLPs of a few
  layers), so the search quantizes each linear as the later stage will.

Public API: `calibrate`, `search_scales` (and `search_details` with the losses),
`apply_scales`, `pseudo_quantize`, `pseudo_quantize_model`, `output_error`,
`awq_scale_model` (calibrate + search + fold, a few layers per pass).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from harness.inference.decode import DecodeSettings
from harness.stages.hqq import DECODER_PROJECTIONS
from harness.stages.prune import EncodedSelection, encode_selection, language_model

N_GRID = 20  # Lin et al. (2024): alpha on 20 points of [0, 1)
SCALE_FLOOR = 1e-4  # a dead input channel (mean |x| = 0) would get s = 0, and the fold would divide by it
DEFAULT_PROMPT_STYLE = "instruct"

Setting = tuple[int, int]  # (bits, group_size)
Plan = Mapping[str, "Setting | None"] | Callable[[str], "Setting | None"]


# ---------------------------------------------------------------- groups


@dataclass(frozen=True)
class ScaleGroup:
    """Linear layers that read one input, and the op that produces it (full module names)."""

    layer: int
    kind: str  # "qkv", "o", "gate_up", "down"
    prev: str  # RMSNorm or Linear whose output is the linears' input
    linears: tuple[str, ...]

    def __str__(self) -> str:
        return f"layer {self.layer} {self.kind}"


# The projections that read the layer norm's output: each kind's but its last (o_proj and
# down_proj read the others' outputs, groups of their own).
_ATTENTION = DECODER_PROJECTIONS["attention"][:-1]
_MLP_IN = DECODER_PROJECTIONS["mlp"][:-1]


def _module_names(model) -> dict[int, str]:
    return {id(module): name for name, module in model.named_modules()}


def scale_groups(model, layers: Iterable[int] | None = None) -> list[ScaleGroup]:
    """The AWQ groups of the decoder layers (all, or ``layers``), in layer order."""
    decoder = language_model(model)
    prefix = _module_names(model)[id(decoder.layers)]
    count = len(decoder.layers)
    chosen = range(count) if layers is None else sorted(set(int(i) for i in layers))
    groups = []
    for index in chosen:
        if not 0 <= index < count:
            raise ValueError(f"layer {index} out of range: the decoder has {count} layers")
        base = f"{prefix}.{index}"
        layer = decoder.layers[index]
        v_proj, o_proj = layer.self_attn.v_proj, layer.self_attn.o_proj
        groups.append(ScaleGroup(index, "qkv", f"{base}.input_layernorm", tuple(f"{base}.{n}" for n in _ATTENTION)))
        if v_proj.out_features == o_proj.in_features:  # one o column per v row: the fold is exact
            groups.append(ScaleGroup(index, "o", f"{base}.self_attn.v_proj", (f"{base}.self_attn.o_proj",)))
        groups.append(ScaleGroup(index, "gate_up", f"{base}.post_attention_layernorm",
                                 tuple(f"{base}.{n}" for n in _MLP_IN)))
        groups.append(ScaleGroup(index, "down", f"{base}.mlp.up_proj", (f"{base}.mlp.down_proj",)))
    return groups


def decoder_linears(model, layers: Iterable[int] | None = None) -> list[str]:
    """Every Linear of the decoder layers that AWQ groups cover (o_proj also where it is not scaled)."""
    decoder = language_model(model)
    prefix = _module_names(model)[id(decoder.layers)]
    chosen = range(len(decoder.layers)) if layers is None else sorted(set(int(i) for i in layers))
    names = DECODER_PROJECTIONS["attention"] + DECODER_PROJECTIONS["mlp"]
    return [f"{prefix}.{index}.{name}" for index in chosen for name in names]


# ---------------------------------------------------------------- the quantizer


def pseudo_quantize(weight: torch.Tensor, bits: int, group_size: int, *,
                    round_zero: bool | None = None) -> torch.Tensor:
    """Round-to-nearest asymmetric quantization per group, dequantized again (same shape and dtype).

    Groups are ``group_size`` consecutive values of the row-major weight, as in hqq with
    axis 1; the arithmetic is hqq's without the optimisation step: inverse scale
    (2^bits - 1) / (max - min) (1 where max - min <= 1e-4, at most 2e4), zero point
    -min x inverse scale (rounded when ``round_zero``; None: at 4 bits, hqq's default),
    q = clamp(round(w x inverse scale + zero)), w' = (q - zero) / inverse scale.
    """
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be 1..8, got {bits}")
    if group_size < 1 or weight.numel() % group_size:
        raise ValueError(f"a weight of shape {tuple(weight.shape)} ({weight.numel()} values) "
                         f"does not split into groups of {group_size}")
    if round_zero is None:
        round_zero = bits == 4
    values = weight.float().reshape(-1, group_size)
    low = values.min(dim=1, keepdim=True).values
    high = values.max(dim=1, keepdim=True).values
    top = float(2 ** bits - 1)
    span = high - low
    inverse = top / span
    inverse = torch.where(span.abs() <= 1e-4, torch.ones_like(inverse), inverse).clamp(max=2e4)
    zero = -low * inverse
    if round_zero:
        zero = zero.round()
    codes = (values * inverse + zero).round().clamp(0.0, top)
    return ((codes - zero) * (1.0 / inverse)).reshape(weight.shape).to(weight.dtype)


def resolve_setting(plan: Plan | None, name: str, bits: int, group_size: int) -> Setting | None:
    """(bits, group_size) for module ``name``; None: the module stays in full precision.

    A dict plan: a missing name takes the defaults, a value None keeps the module in
    float. A callable plan returns the setting (or None) for every name itself.
    """
    if plan is None:
        return bits, group_size
    setting = plan(name) if callable(plan) else plan.get(name, (bits, group_size))
    if setting is None:
        return None
    plan_bits, plan_group = (int(v) for v in setting)
    return plan_bits, plan_group


def pseudo_quantize_model(model, bits: int, group_size: int, plan: Plan | None = None, *,
                          modules: Iterable[str] | None = None, round_zero: bool | None = None):
    """Replace each decoder linear's weight by its quantize-dequantize (in place); returns ``model``.

    ``modules``: the Linear names to quantize (default `decoder_linears`), each at its
    ``plan`` setting. The model stays a float model that computes with the quantized values.
    """
    names = list(modules) if modules is not None else decoder_linears(model)
    with torch.no_grad():
        for name in names:
            setting = resolve_setting(plan, name, bits, group_size)
            if setting is None:
                continue
            linear = model.get_submodule(name)
            linear.weight.copy_(pseudo_quantize(linear.weight, *setting, round_zero=round_zero))
    return model


# ---------------------------------------------------------------- calibration statistics


@dataclass
class InputStats:
    """What the search needs of a group's inputs X (tokens x channels): G = X^T X, sum |X|, the token count."""

    gram: torch.Tensor  # (in, in) float64
    abs_sum: torch.Tensor  # (in,) float64
    tokens: int = 0

    @classmethod
    def empty(cls, channels: int, device=None, dtype: torch.dtype = torch.float64) -> InputStats:
        return cls(gram=torch.zeros(channels, channels, dtype=dtype, device=device),
                   abs_sum=torch.zeros(channels, dtype=dtype, device=device))

    @classmethod
    def from_inputs(cls, inputs: torch.Tensor, dtype: torch.dtype = torch.float64) -> InputStats:
        flat = inputs.reshape(-1, inputs.shape[-1])
        stats = cls.empty(flat.shape[1], flat.device, dtype)
        stats.add(flat)
        return stats

    def add(self, rows: torch.Tensor) -> None:
        rows = rows.reshape(-1, rows.shape[-1]).to(self.gram.dtype)
        self.gram += rows.T @ rows
        self.abs_sum += rows.abs().sum(0)
        self.tokens += rows.shape[0]

    @property
    def mean_abs(self) -> torch.Tensor:
        """s_X: the mean magnitude of each input channel."""
        if self.tokens == 0:
            raise ValueError("no calibration tokens")
        return self.abs_sum / self.tokens

    def __repr__(self) -> str:
        return f"InputStats(channels={self.abs_sum.shape[0]}, tokens={self.tokens}, dtype={self.gram.dtype})"

    def to(self, device) -> InputStats:
        return replace(self, gram=self.gram.to(device), abs_sum=self.abs_sum.to(device))


def _as_stats(value) -> InputStats:
    if isinstance(value, InputStats):
        return value
    if isinstance(value, torch.Tensor):
        return InputStats.from_inputs(value)
    raise TypeError(f"calibration inputs must be InputStats or a tensor of inputs, got {type(value).__name__}")


class _Stop(Exception):
    """Raised after the last decoder layer whose inputs are wanted: the rest need not run."""


def encode_calibration(model, processor, audios: Sequence[np.ndarray], lang: str | Sequence[str], *,
                       prompt_style: str = DEFAULT_PROMPT_STYLE, batch_size: int = 8,
                       max_utterances: int | None = None) -> list[EncodedSelection]:
    """Prompt + audio embeddings of the calibration clips, once per language (no targets).

    The prompt is the translation prompt harness.inference.decode builds (``prompt_style``), batched
    and left-padded as decode does; the audio encoder runs once here, not once per pass.
    """
    langs = [lang] if isinstance(lang, str) else list(lang)
    if not langs:
        raise ValueError("no language given")
    if max_utterances is not None and max_utterances < 1:
        raise ValueError(f"max_utterances must be at least 1, got {max_utterances}")
    clips = list(audios)[:max_utterances]
    # max_new_tokens is unused: nothing is generated, only the prompt is run.
    settings = DecodeSettings(max_new_tokens=1, batch_size=batch_size, prompt_style=prompt_style)
    return [encode_selection(model, processor, clips, code, settings) for code in langs]


def _kept_positions(masks: list[torch.Tensor], max_tokens: int | None) -> list[torch.Tensor]:
    """Per batch, the (row, column) positions whose activations are kept: real tokens, thinned evenly."""
    positions = [mask.bool().nonzero() for mask in masks]  # row-major: batch order, then time
    total = sum(len(p) for p in positions)
    if max_tokens is None or max_tokens >= total:
        return positions
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    # Evenly spaced over all tokens of all utterances: every utterance contributes, deterministically.
    keep = torch.linspace(0, total - 1, max_tokens, dtype=torch.float64).round().long().unique()
    kept, offset = [], 0
    for pos in positions:
        local = keep[(keep >= offset) & (keep < offset + len(pos))] - offset
        kept.append(pos[local.to(pos.device)])
        offset += len(pos)
    return kept


def collect_stats(model, encoded: Sequence[EncodedSelection], *, layers: Iterable[int] | None = None,
                  max_tokens: int | None = None, dtype: torch.dtype = torch.float64,
                  progress: str | None = None) -> dict[ScaleGroup, InputStats]:
    """Run the decoder on encoded prompts and accumulate each group's input statistics.

    Forward pre-hooks on the first linear of every group see the input the model computes;
    padding positions are dropped, and ``max_tokens`` (per language set) thins the rest
    evenly. Position ids are cumsum(attention_mask) - 1, as ``generate`` builds them for
    left-padded rows, so the activations are those of decoding.
    """
    groups = scale_groups(model, layers)
    decoder = language_model(model)
    stats: dict[ScaleGroup, InputStats] = {}
    current: dict[str, torch.Tensor] = {}
    handles = []

    def recorder(group: ScaleGroup):
        def hook(module, args):
            x = args[0]
            rows = x[current["rows"], current["cols"]]
            if group not in stats:
                stats[group] = InputStats.empty(x.shape[-1], x.device, dtype)
            stats[group].add(rows)
        return hook

    def stop(module, args, output):
        raise _Stop

    last = max(group.layer for group in groups)
    bar = None
    if progress is not None:
        from tqdm import tqdm

        bar = tqdm(total=sum(len(e.batches) for e in encoded), desc=progress, unit="batch")
    try:
        for group in groups:
            handles.append(model.get_submodule(group.linears[0]).register_forward_pre_hook(recorder(group)))
        if last + 1 < len(decoder.layers):
            handles.append(decoder.layers[last].register_forward_hook(stop))
        # no_grad, not inference_mode: the statistics must be ordinary tensors, usable beside
        # parameters that require grad.
        with torch.no_grad():
            for selection in encoded:
                masks = [batch.attention_mask for batch in selection.batches]
                for batch, kept in zip(selection.batches, _kept_positions(masks, max_tokens)):
                    current["rows"], current["cols"] = kept[:, 0], kept[:, 1]
                    mask = batch.attention_mask
                    position_ids = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
                    try:
                        decoder(inputs_embeds=batch.inputs_embeds, attention_mask=mask, position_ids=position_ids,
                                use_cache=False)
                    except _Stop:
                        pass
                    if bar is not None:
                        bar.update(1)
    finally:
        for handle in handles:
            handle.remove()
        if bar is not None:
            bar.close()
    return {group: stats[group] for group in groups if group in stats}


def calibrate(model, processor, audios: Sequence[np.ndarray], lang: str | Sequence[str], *,
              prompt_style: str = DEFAULT_PROMPT_STYLE, batch_size: int = 8, max_utterances: int | None = None,
              max_tokens: int | None = None, layers: Iterable[int] | None = None,
              progress: str | None = None) -> dict[ScaleGroup, InputStats]:
    """Calibration statistics from source audio only (Diet-KIT step 5): prompt + audio, no targets.

    ``prompt_style``: the system's (``LoadedSystem.prompt_style``; Diet-KIT's base model
    uses "base"). ``lang``: one language or several (statistics add up over each
    language's prompt).
    ``max_utterances``: the first N clips; ``max_tokens``: at most N tokens per language,
    spread evenly over all clips; ``layers``: only these decoder layers (the forward stops
    after the last of them).
    """
    encoded = encode_calibration(model, processor, audios, lang, prompt_style=prompt_style, batch_size=batch_size,
                                 max_utterances=max_utterances)
    return collect_stats(model, encoded, layers=layers, max_tokens=max_tokens, progress=progress)


# ---------------------------------------------------------------- the search


@dataclass(frozen=True)
class GroupSearch:
    """One group's search: the chosen alpha and scales, and the error at every grid point."""

    group: ScaleGroup | None
    alpha: float
    scales: torch.Tensor  # (in,) float32, CPU
    losses: tuple[float, ...]  # MSE of the group's outputs at alpha = i / n_grid
    tokens: int

    @property
    def loss(self) -> float:
        return self.losses[round(self.alpha * len(self.losses))]

    @property
    def rtn_loss(self) -> float:
        """alpha = 0: s = 1, plain round-to-nearest."""
        return self.losses[0]


def grid_scales(mean_abs: torch.Tensor, alpha: float) -> torch.Tensor:
    """s = s_X ** alpha, floored, normalised by sqrt(max x min) (Lin et al. 2024)."""
    scales = mean_abs.float().pow(alpha).clamp(min=SCALE_FLOOR)
    return scales / (scales.max() * scales.min()).sqrt()


def _quantized_error(weight: torch.Tensor, scales: torch.Tensor, setting: Setting | None,
                     row_scales: torch.Tensor | None, round_zero: bool | None) -> torch.Tensor | None:
    """dW with Q(W s) / s - W = dW: the error the quantized linear adds to its output, dW @ x."""
    if setting is None:
        return None
    effective = weight if row_scales is None else weight / row_scales[:, None]
    error = pseudo_quantize(effective * scales[None, :], *setting, round_zero=round_zero) / scales[None, :] - effective
    # Back to the original output coordinates, where the row-scaled linear's outputs live.
    return error if row_scales is None else error * row_scales[:, None]


def group_loss(weights: Sequence[torch.Tensor], stats: InputStats, scales: torch.Tensor,
               settings: Sequence[Setting | None], *, row_scales: Sequence[torch.Tensor | None] | None = None,
               round_zero: bool | None = None) -> float:
    """|| Q(W s)(X / s) - W X ||^2 / (tokens x outputs), summed over the group's linears, from G = X^T X."""
    row_scales = row_scales or [None] * len(weights)
    total, outputs = 0.0, 0
    gram = stats.gram
    for weight, setting, rows in zip(weights, settings, row_scales):
        outputs += weight.shape[0]
        error = _quantized_error(weight, scales, setting, rows, round_zero)
        if error is None:
            continue
        error = error.to(gram.dtype)
        total += float(((error @ gram) * error).sum())  # sum_t ||dW x_t||^2 = trace(dW G dW^T)
    return total / (stats.tokens * outputs)


def search_linear_group(weights: Sequence[torch.Tensor], stats: InputStats, settings: Sequence[Setting | None], *,
                        row_scales: Sequence[torch.Tensor | None] | None = None, n_grid: int = N_GRID,
                        round_zero: bool | None = None) -> tuple[float, torch.Tensor, tuple[float, ...]]:
    """alpha, scales and the loss per grid point for linears sharing one input (ties: the smaller alpha)."""
    if stats.tokens == 0:
        raise ValueError("no calibration tokens for this group")
    device = weights[0].device
    stats = stats.to(device)
    mean_abs = stats.mean_abs
    weights = [w.detach().float() for w in weights]
    rows = None if row_scales is None else [None if r is None else r.to(device).float() for r in row_scales]
    losses = []
    for step in range(n_grid):
        alpha = step / n_grid
        losses.append(group_loss(weights, stats, grid_scales(mean_abs, alpha), settings, row_scales=rows,
                                 round_zero=round_zero))
    best = min(range(n_grid), key=lambda i: (losses[i], i))
    return best / n_grid, grid_scales(mean_abs, best / n_grid).cpu(), tuple(losses)


def _ordered(groups: Iterable[ScaleGroup]) -> list[ScaleGroup]:
    """Per layer, groups fed by a linear (o, down) first: their scales divide that linear's rows."""
    return sorted(groups, key=lambda g: (g.layer, g.kind not in ("o", "down"), g.kind))


def search_details(model, calibration_inputs: Mapping[ScaleGroup, InputStats | torch.Tensor], bits: int,
                   group_size: int, plan: Plan | None = None, *, n_grid: int = N_GRID,
                   round_zero: bool | None = None, progress: str | None = None) -> dict[ScaleGroup, GroupSearch]:
    """`search_scales` with every group's alpha and losses; the model is not changed."""
    row_scales: dict[str, torch.Tensor] = {}  # linear name -> the scales that will divide its rows
    results: dict[ScaleGroup, GroupSearch] = {}
    order = _ordered(calibration_inputs)
    bar = None
    if progress is not None:
        from tqdm import tqdm

        bar = tqdm(total=len(order), desc=progress, unit="group")
    try:
        for group in order:
            stats = _as_stats(calibration_inputs[group])
            linears = [model.get_submodule(name) for name in group.linears]
            settings = [resolve_setting(plan, name, bits, group_size) for name in group.linears]
            alpha, scales, losses = search_linear_group(
                [linear.weight for linear in linears], stats, settings,
                row_scales=[row_scales.get(name) for name in group.linears], n_grid=n_grid, round_zero=round_zero)
            results[group] = GroupSearch(group=group, alpha=alpha, scales=scales, losses=losses, tokens=stats.tokens)
            if isinstance(model.get_submodule(group.prev), torch.nn.Linear):
                row_scales[group.prev] = scales
            if bar is not None:
                bar.update(1)
                bar.set_postfix(group=str(group), alpha=alpha)
    finally:
        if bar is not None:
            bar.close()
    return {group: results[group] for group in calibration_inputs}


def search_scales(model, calibration_inputs: Mapping[ScaleGroup, InputStats | torch.Tensor], bits: int,
                  group_size: int, plan: Plan | None = None, **options) -> dict[ScaleGroup, torch.Tensor]:
    """AWQ scales per group for quantization at ``bits`` / ``group_size`` (``plan``: per module).

    ``calibration_inputs``: `calibrate`'s statistics, or raw inputs (tokens x channels)
    per group. Returns {group: scales (in,) float32}; fold them with `apply_scales`.
    """
    return {group: found.scales for group, found in
            search_details(model, calibration_inputs, bits, group_size, plan, **options).items()}


# ---------------------------------------------------------------- folding


def apply_scales(model, scales: Mapping[ScaleGroup, torch.Tensor]):
    """Fold the scales into the model in place (function-preserving); returns ``model``.

    Each group's linears get their input columns multiplied by s; the previous op is
    divided by s: an RMSNorm's (or LayerNorm's) weight and bias, or a Linear's output
    rows and bias. Arithmetic in float32, stored back in each parameter's dtype.
    """
    with torch.no_grad():
        for group, value in scales.items():
            prev = model.get_submodule(group.prev)
            linears = [model.get_submodule(name) for name in group.linears]
            s = torch.as_tensor(value).detach().float()
            width = linears[0].in_features
            if s.shape != (width,):
                raise ValueError(f"{group}: scales of shape {tuple(s.shape)}, the linears take {width} inputs")
            if not bool(torch.isfinite(s).all()) or not bool((s > 0).all()):
                raise ValueError(f"{group}: scales must be finite and positive")
            if isinstance(prev, torch.nn.Linear):
                if prev.out_features != width:
                    raise ValueError(f"{group}: {group.prev} has {prev.out_features} outputs, not {width}")
                _scale_(prev.weight, 1.0 / s[:, None])
            elif getattr(prev, "weight", None) is not None and tuple(prev.weight.shape) == (width,):
                _scale_(prev.weight, 1.0 / s)
            else:
                raise ValueError(f"{group}: cannot fold scales into {group.prev} ({type(prev).__name__})")
            if getattr(prev, "bias", None) is not None:
                _scale_(prev.bias, 1.0 / s)
            for linear in linears:
                _scale_(linear.weight, s[None, :])
    return model


def _scale_(parameter: torch.Tensor, factor: torch.Tensor) -> None:
    parameter.copy_((parameter.float() * factor.to(parameter.device)).to(parameter.dtype))


# ---------------------------------------------------------------- measurement and the whole stage


def output_error(model, calibration_inputs: Mapping[ScaleGroup, InputStats | torch.Tensor], bits: int,
                 group_size: int, plan: Plan | None = None, scales: Mapping[ScaleGroup, torch.Tensor] | None = None,
                 *, round_zero: bool | None = None) -> dict[ScaleGroup, float]:
    """Each group's output MSE after quantization, with ``scales`` folded first (None: plain RTN).

    The model is not changed; row scales of downstream groups are taken into account as
    `search_details` does, so the numbers are those of the model quantized after `apply_scales`.
    """
    row_scales = {} if scales is None else {
        group.prev: scales[group] for group in scales
        if isinstance(model.get_submodule(group.prev), torch.nn.Linear)}
    errors = {}
    for group, value in calibration_inputs.items():
        stats = _as_stats(value)
        weights = [model.get_submodule(name).weight.detach().float() for name in group.linears]
        device = weights[0].device
        s = torch.ones(weights[0].shape[1], device=device) if scales is None or group not in scales \
            else scales[group].to(device).float()
        errors[group] = group_loss(weights, stats.to(device), s,
                                   [resolve_setting(plan, name, bits, group_size) for name in group.linears],
                                   row_scales=[None if name not in row_scales else row_scales[name].to(device).float()
                                               for name in group.linears], round_zero=round_zero)
    return errors


def awq_scale_model(model, processor, audios: Sequence[np.ndarray], lang: str | Sequence[str], *,
                    bits: int | None = None, group_size: int | None = None, plan: Plan | None = None,
                    prompt_style: str = DEFAULT_PROMPT_STYLE,
                    batch_size: int = 8, max_utterances: int | None = None, max_tokens: int | None = None,
                    layers_per_pass: int | None = None, n_grid: int = N_GRID, round_zero: bool | None = None,
                    progress: str | None = None) -> dict[ScaleGroup, GroupSearch]:
    """Calibrate, search and fold, ``layers_per_pass`` decoder layers at a time (None: all at once).

    The prompt embeddings (audio encoder) are computed once; each pass runs the decoder up
    to its last layer. Folding keeps the float function, so later passes see the
    activations of the unscaled model. The model is changed in place; quantize it next.
    ``bits`` and ``group_size`` (the setting of every module a dict plan leaves out, or of
    all without a plan) are needed unless ``plan`` is a callable, which answers for each module.
    """
    if not callable(plan) and (bits is None or group_size is None):
        raise ValueError("bits and group_size are needed unless the plan is a callable giving every module's setting")
    encoded = encode_calibration(model, processor, audios, lang, prompt_style=prompt_style, batch_size=batch_size,
                                 max_utterances=max_utterances)
    count = len(language_model(model).layers)
    step = layers_per_pass or count
    if step < 1:
        raise ValueError(f"layers_per_pass must be at least 1, got {layers_per_pass}")
    found: dict[ScaleGroup, GroupSearch] = {}
    passes = math.ceil(count / step)
    for number, start in enumerate(range(0, count, step), 1):
        label = None if progress is None else f"{progress} {number}/{passes}"
        stats = collect_stats(model, encoded, layers=range(start, min(start + step, count)), max_tokens=max_tokens,
                              progress=None if label is None else f"{label} calibrate")
        details = search_details(model, stats, bits, group_size, plan, n_grid=n_grid, round_zero=round_zero,
                                 progress=None if label is None else f"{label} search")
        apply_scales(model, {group: result.scales for group, result in details.items()})
        found.update(details)
    return found
