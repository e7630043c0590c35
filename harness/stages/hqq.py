"""HQQ post-training quantization at mixed bit widths, saved as an "hqq-mixed" system.

Half-Quadratic Quantization (HQQ; Badri & Shaji 2023, "Half-Quadratic Quantization of
Large Machine Learning Models", Mobius Labs) fits each weight group's scale and zero
point by minimising the weight error (an lp norm, p < 1, solved by half-quadratic
splitting), with no calibration data. Liu, Koneru & Niehues (IWSLT 2026, "Diet-KIT:
Post-Training Quantization for Speech LLMs") bring Qwen2-Audio-7B under the 4 GB limit
in sequential steps, each checked against the limit; the first four are plans here:

1. HQQ 4-bit, group size 64, on all linear layers (audio encoder, projector, decoder,
   LM head): ``PAPER_STEP1``. 3 bits everywhere is a cliff (COMET -10 and worse).
2. The input embedding at 2 bit; the LM head stays at 4 (at 2 bit it destroys
   generation): ``PAPER_4BIT_G64`` (4.26 GB).
3. Group size 128: ``PAPER_4BIT_G128`` (4.03 GB).
4. The n least sensitive decoder MLPs at 3 bit, n the smallest that fits (7B: layers
   4, 21, 22, 24; 3.98 GB): ``with_mlp3(plan, layers)``. The sensitivity ranking
   (teacher-forced cross-entropy with one layer's MLP at 3 bit) is another stage; it
   uses ``quantize_linear`` to quantize one MLP at a time.
5. AWQ calibration: not here.

A plan is an ordered list of (regular expression over transformers 5 module names,
``QuantSpec`` or None = keep full precision); the first full match wins, and only
``nn.Linear`` and ``nn.Embedding`` modules are candidates (convolutions, norms and the
audio encoder's position table stay as they are). A rule that matches nothing is an
error, so a typo or a layer index beyond the model does not silently quantize less.

HQQ groups along axis 1 (consecutive input weights, as transformers' HqqConfig does)
and packs 8 / bits groups per byte; a weight whose group count does not fill whole
bytes cannot be packed that way (the mini base's 1500 x 224 embedding has 5250 groups
of 64), so such a module is grouped along axis 0 instead: the same group size, number
of groups and bytes, recorded per module in quantization.json.

Scales and zeros are stored in the compute dtype (HQQ's design): bf16/fp16 for the 7B,
as the paper's sizes imply (g64 -> g128 saves 2 x 2 bytes per 128 weights, 0.23 GB);
fp32 on the CPU mini track by default, which costs 1 bit per weight at g64 instead of
0.5; ``--dtype bfloat16`` stores them as the 7B does. HQQ's optimizer itself works in
fp16 on CUDA and in fp32 on a CPU, so one plan gives slightly different packed weights
on the two (each reloads exactly as quantized on its own device).
"""

from __future__ import annotations

import copy
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from harness.systems.hqq_mixed import (
    BITS,
    COMPUTE_DTYPES,
    FORMAT,
    METHOD,
    QUANTIZATION_FILE,
    HQQEmbedding,
    dtype_name,
    packable,
    quant_config,
    weight_shape,
)

# ---------------------------------------------------------------- plans


@dataclass(frozen=True)
class QuantSpec:
    """How one module is stored: HQQ at ``bits`` with groups of ``group_size`` along ``axis``."""

    bits: int
    group_size: int
    axis: int = 1

    def __post_init__(self) -> None:
        if self.bits not in BITS:
            raise ValueError(f"bits must be one of {BITS}, got {self.bits!r}")
        # HQQ's own rule (BaseQuantizeConfig asserts it).
        if not isinstance(self.group_size, int) or self.group_size <= 0 or self.group_size % 8:
            raise ValueError(f"group_size must be a positive multiple of 8, got {self.group_size!r}")
        if self.axis not in (0, 1):
            raise ValueError(f"axis must be 0 or 1, got {self.axis!r}")

    def as_dict(self) -> dict:
        return {"bits": self.bits, "group_size": self.group_size, "axis": self.axis}


Rule = tuple[str, QuantSpec | None]
Plan = tuple[Rule, ...]

# Qwen2AudioForConditionalGeneration's module names under transformers 5.
EMBEDDING = r"model\.language_model\.embed_tokens"
LM_HEAD = r"lm_head"
ENCODER_LINEAR = r"model\.audio_tower\.layers\.\d+\.(self_attn\.(q|k|v|out)_proj|fc1|fc2)"
PROJECTOR = r"model\.multi_modal_projector\.linear"
# The projections of a decoder layer by kind (paths inside the layer): the one list the
# sensitivity stage (its KINDS), AWQ's groups and the regular expressions below are built from.
DECODER_PROJECTIONS = {"mlp": ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"),
                       "attention": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")}


def _alternatives(paths: Sequence[str]) -> str:
    r"""("mlp.gate_proj", "mlp.up_proj") -> r"mlp\.(gate|up)_proj": the paths share their owner."""
    owner = paths[0].rpartition(".")[0]
    stems = [path.rpartition(".")[2].removesuffix("_proj") for path in paths]
    return rf"{re.escape(owner)}\.({'|'.join(stems)})_proj"


# The projections of a decoder layer by kind, as regex alternatives.
LAYER_KINDS = {kind: _alternatives(paths) for kind, paths in DECODER_PROJECTIONS.items()}
DECODER_LINEAR = rf"model\.language_model\.layers\.\d+\.({LAYER_KINDS['attention']}|{LAYER_KINDS['mlp']})"

# Liu et al. (2026), step 4 on the 7B: the four least sensitive decoder MLPs.
PAPER_MLP3_LAYERS = (4, 21, 22, 24)


def paper_plan(group_size: int = 64, embedding_bits: int | None = 2) -> Plan:
    """All linear layers (LM head included) at 4 bit, the input embedding at ``embedding_bits``
    (None: full precision, the paper's step 1), one group size for everything."""
    linear = QuantSpec(4, group_size)
    embedding = None if embedding_bits is None else QuantSpec(embedding_bits, group_size)
    return ((EMBEDDING, embedding), (LM_HEAD, linear), (ENCODER_LINEAR, linear), (PROJECTOR, linear),
            (DECODER_LINEAR, linear))


PAPER_STEP1 = paper_plan(64, embedding_bits=None)
PAPER_4BIT_G64 = paper_plan(64)
PAPER_4BIT_G128 = paper_plan(128)
PLANS: dict[str, Plan] = {"paper-step1": PAPER_STEP1, "paper-g64": PAPER_4BIT_G64, "paper-g128": PAPER_4BIT_G128}


def spec_for(plan: Plan, name: str) -> QuantSpec | None:
    """The spec the first rule matching ``name`` gives (None: kept, or no rule matches)."""
    for pattern, spec in plan:
        if re.fullmatch(pattern, name):
            return spec
    return None


def with_bits(plan: Plan, layers: Sequence[int], bits: int, kind: str = "mlp", group_size: int | None = None) -> Plan:
    """``plan`` with the ``kind`` projections of decoder ``layers`` at ``bits``, ahead of its rules.

    ``group_size`` defaults to the group size ``plan`` gives those projections.
    """
    layers = sorted(set(layers))
    if not layers or any(not isinstance(i, int) or i < 0 for i in layers):
        raise ValueError(f"layers must be non-negative decoder layer indices, got {layers!r}")
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(LAYER_KINDS)}")
    if group_size is None:
        probe = DECODER_PROJECTIONS[kind][-1]  # down_proj, o_proj
        base = spec_for(plan, f"model.language_model.layers.{layers[0]}.{probe}")
        if base is None:
            raise ValueError(f"the plan does not quantize decoder {kind} projections; give group_size")
        group_size = base.group_size
    pattern = rf"model\.language_model\.layers\.({'|'.join(map(str, layers))})\.{LAYER_KINDS[kind]}"
    return ((pattern, QuantSpec(bits, group_size)),) + tuple(plan)


def with_mlp3(plan: Plan, layers: Sequence[int], group_size: int | None = None) -> Plan:
    """``plan`` with the MLPs (gate/up/down_proj) of decoder ``layers`` at 3 bit (Liu et al., step 4)."""
    return with_bits(plan, layers, 3, "mlp", group_size)


def plan_as_json(plan: Plan) -> list[dict]:
    return [{"pattern": pattern, "spec": None if spec is None else spec.as_dict()} for pattern, spec in plan]


# ---------------------------------------------------------------- quantizing


def group_axis(shape: tuple[int, ...], bits: int, group_size: int) -> int:
    """Axis 1 (HqqConfig's) where HQQ can pack it, else axis 0; a ValueError if neither can."""
    for axis in (1, 0):
        if packable(shape, bits, group_size, axis):
            return axis
    raise ValueError(f"a {list(shape)} weight does not split into groups of {group_size}")


def _to_hqq(cls, weight: torch.Tensor, bias, bits: int, group_size: int, compute_dtype: torch.dtype,
         axis: int | None, **extra):
    axis = group_axis(tuple(weight.shape), bits, group_size) if axis is None else axis
    if not packable(tuple(weight.shape), bits, group_size, axis):
        raise ValueError(f"HQQ cannot pack a {list(weight.shape)} weight at {bits} bits in groups of "
                         f"{group_size} along axis {axis}")
    # from_weights quantizes a stand-in Linear that shares the weight and is then emptied;
    # the module passed in keeps its weight (the sensitivity stage puts it back).
    with torch.no_grad():
        module = cls.from_weights(weight.detach(), bias, quant_config(bits, group_size, axis),
                                  compute_dtype=compute_dtype, device=str(weight.device))
    for key, value in extra.items():
        setattr(module, key, value)
    return module


def quantize_linear(linear: nn.Linear, bits: int, group_size: int, compute_dtype: torch.dtype,
                    axis: int | None = None):
    """An HQQLinear holding ``linear`` at ``bits`` (groups of ``group_size``), on the weight's device.

    ``linear`` is left unchanged. ``axis`` None: HqqConfig's axis 1 where HQQ can pack it, else 0.
    """
    from hqq.core.quantize import HQQLinear

    return _to_hqq(HQQLinear, linear.weight, linear.bias, bits, group_size, compute_dtype, axis)


def quantize_embedding(embedding: nn.Embedding, bits: int, group_size: int, compute_dtype: torch.dtype,
                       axis: int | None = None) -> HQQEmbedding:
    """An HQQEmbedding holding ``embedding``'s table at ``bits``; ``embedding`` is left unchanged."""
    return _to_hqq(HQQEmbedding, embedding.weight, None, bits, group_size, compute_dtype, axis,
                padding_idx=embedding.padding_idx)


def plan_modules(model: nn.Module, plan: Plan) -> dict[str, QuantSpec]:
    """The modules ``plan`` quantizes and how (axis decided per module), without changing the model.

    A ValueError for a rule that matches no Linear or Embedding (a typo in a pattern), or a
    module HQQ cannot pack. A rule every one of whose modules an earlier rule takes (a
    general rule shadowed by overrides, as ``with_bits`` prepends them) is fine.
    """
    compiled = [(re.compile(pattern), spec) for pattern, spec in plan]
    used = [False] * len(compiled)
    chosen: dict[str, QuantSpec] = {}
    for name, module in model.named_modules():
        # Exact types: bitsandbytes' Linear4bit subclasses nn.Linear and is already quantized.
        if type(module) not in (nn.Linear, nn.Embedding):
            continue
        taken = False
        for index, (pattern, spec) in enumerate(compiled):
            if not pattern.fullmatch(name):
                continue
            used[index] = True  # a later matching rule counts as used too (shadowed, not a typo)
            if taken:
                continue
            taken = True  # the first match wins
            if spec is not None:
                shape = weight_shape(module)
                try:
                    axis = group_axis(shape, spec.bits, spec.group_size)
                except ValueError as err:
                    raise ValueError(f"{name}: {err}") from None
                chosen[name] = QuantSpec(spec.bits, spec.group_size, axis)
    unused = [plan[i][0] for i, hit in enumerate(used) if not hit]
    if unused:
        raise ValueError(f"plan rule {unused[0]!r} matches no Linear or Embedding module of the model")
    return chosen


def quantize_model(model: nn.Module, plan: Plan, compute_dtype: torch.dtype, *,
                   progress: str | None = "hqq") -> dict[str, QuantSpec]:
    """Replace, in place, each module ``plan`` quantizes by its HQQ module; {module name: spec used}.

    Nothing changes if the plan does not fit the model (``plan_modules`` checks first).
    The model's other tensors should already be in ``compute_dtype``.
    """
    from tqdm.auto import tqdm

    chosen = plan_modules(model, plan)
    for name in tqdm(chosen, desc=progress, disable=progress is None, unit="module"):
        spec = chosen[name]
        original = model.get_submodule(name)
        make = quantize_embedding if isinstance(original, nn.Embedding) else quantize_linear
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child,
                make(original, spec.bits, spec.group_size, compute_dtype, spec.axis))
    return chosen


def untied_config(config):
    """A copy of ``config`` with the LM head and input embedding untied: the saved model
    stores both (packed separately, or as two copies), and a loader that tied them would
    drop one of them."""
    config = copy.deepcopy(config)
    for part in (config, getattr(config, "text_config", None)):
        if part is not None and getattr(part, "tie_word_embeddings", False):
            part.tie_word_embeddings = False
    return config


# ---------------------------------------------------------------- saving


def stored_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor of the model under its checkpoint name (transformers' renamings run
    backwards, as ``save_pretrained`` writes Qwen2-Audio: ``language_model.model.layers...``)."""
    from harness.systems.model_files import key_renamings, stored_name

    renamings = key_renamings(model)
    out: dict[str, torch.Tensor] = {}
    storages: set[tuple[str, int]] = set()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        storage = (str(tensor.device), tensor.untyped_storage().data_ptr())
        if tensor.numel() and storage in storages:
            tensor = tensor.clone()  # safetensors refuses aliases (a head tied to the embedding)
        storages.add(storage)
        out[stored_name(name, renamings)] = tensor
    return out


def quantization_manifest(modules: dict[str, QuantSpec], plan: Plan, compute_dtype: torch.dtype,
                          **extra) -> dict:
    """What quantization.json holds: harness.systems.storage checks ``modules`` against the weights."""
    import hqq as hqq_package

    return {"method": METHOD, "hqq_version": hqq_package.__version__, "compute_dtype": dtype_name(compute_dtype),
            "citation": "Badri & Shaji 2023 (HQQ); Liu, Koneru & Niehues, IWSLT 2026 (Diet-KIT)",
            "plan": plan_as_json(plan), **extra,
            "modules": {name: spec.as_dict() for name, spec in modules.items()}}


def save_hqq(model: nn.Module, processor, folder: str | os.PathLike, manifest: dict, *,
             languages: Sequence[str], prompt: str, base_model: str | None) -> Path:
    """Write a quantized model as an "hqq-mixed" system folder, atomically (temp folder + rename).

    ``manifest`` is ``quantization_manifest``'s output.
    """
    from safetensors.torch import save_file

    from harness.systems.models import check_no_pickles, write_manifest

    from harness.systems.model_files import WEIGHTS_FILE
    from harness.files import atomic_write_json, staged_folder

    folder = Path(folder)
    with staged_folder(folder) as staging:
        save_file(stored_state(model), str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        untied_config(model.config).save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        processor.save_pretrained(staging)
        atomic_write_json(staging / QUANTIZATION_FILE, manifest)
        write_manifest(staging, format=FORMAT, languages={lang: "." for lang in languages}, prompt=prompt,
                       base_model=base_model, built_by="stage:hqq")
        check_no_pickles(staging)
    return folder


# ---------------------------------------------------------------- the stage


def default_dtype(device: str | torch.device) -> torch.dtype:
    """bf16 on CUDA (the 7B's); fp32 on a CPU, where bf16 matmuls are slow (QLoRA's rule)."""
    from harness.stages.qlora import compute_dtype

    return compute_dtype(device)


@dataclass
class HqqOutput:
    folder: Path
    manifest: dict  # what quantization.json holds
    model: nn.Module  # the quantized model in memory, in eval mode
    processor: object


def quantize_system(system: str | os.PathLike, out: str | os.PathLike, plan: Plan = PAPER_4BIT_G64, *,
                    langs: Sequence[str] = ("de",), plan_name: str | None = None, device: str = "cpu",
                    compute_dtype: torch.dtype | None = None, progress: str | None = "hqq",
                    log: Callable[[str], None] | None = print) -> HqqOutput:
    """Quantize the full-precision model a built system uses for ``langs`` and save it as "hqq-mixed".

    ``compute_dtype`` (default ``default_dtype(device)``) is the dtype the model is
    loaded in, HQQ computes in, and scales and zeros are stored in.
    """
    from harness.systems.models import load_system, single_model_dir

    system, out = Path(system), Path(out)
    model_dir = single_model_dir(system, langs, action="HQQ-quantize")
    _check_out(system, out)
    check_plan(model_dir, plan)
    compute_dtype = compute_dtype or default_dtype(device)

    loaded = load_system(system, langs[0], device=device, dtype=compute_dtype)
    modules = quantize_model(loaded.model, plan, compute_dtype, progress=progress)
    payload = quantization_manifest(modules, plan, compute_dtype, plan_name=plan_name, input_system=str(system),
                                    input_content_hash=loaded.content_hash)
    save_hqq(loaded.model, loaded.processor, out, payload, languages=langs, prompt=loaded.prompt_style,
             base_model=str(system))
    if log is not None:
        counts = Counter(spec.bits for spec in modules.values())
        shown = ", ".join(f"{counts[bits]} at {bits} bit" for bits in sorted(counts, reverse=True))
        size = sum(p.stat().st_size for p in out.glob("*.safetensors"))
        log(f"{out}: {len(modules)} modules quantized ({shown}); weights {size:,} bytes")
    return HqqOutput(folder=out, manifest=payload, model=loaded.model, processor=loaded.processor)


def meta_model(model_dir: Path) -> nn.Module:
    """The model of ``model_dir`` built on the meta device: its modules and shapes, no weights."""
    from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration

    config = Qwen2AudioConfig.from_pretrained(str(model_dir), local_files_only=True)
    with torch.device("meta"):
        return Qwen2AudioForConditionalGeneration(config)


def check_plan(model_dir: Path, plan: Plan) -> dict[str, QuantSpec]:
    """``plan_modules`` on the model of ``model_dir`` built without weights: a plan that does
    not fit fails before the full model is loaded."""
    return plan_modules(meta_model(model_dir), plan)


def _check_out(system: Path, out: Path) -> None:
    """Never replace the input, a folder holding it, or a folder that is not a built system."""
    from harness.systems.models import SYSTEM_FILE

    system_path, out_path = system.resolve(), out.resolve()
    if out_path == system_path or system_path.is_relative_to(out_path) or out_path.is_relative_to(system_path):
        raise ValueError(f"{out}: the output must lie outside the input system {system} and not contain it")
    if out.exists() and not (out / SYSTEM_FILE).is_file():
        raise ValueError(f"{out}: exists and is not a built system (no {SYSTEM_FILE}); refusing to replace it")


# ---------------------------------------------------------------- command line


def parse_layers(text: str) -> list[int]:
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--mlp3 takes decoder layer indices like 4,21,22,24, got {text!r}") from None
    if not layers:
        raise ValueError(f"--mlp3 takes decoder layer indices like 4,21,22,24, got {text!r}")
    return layers


def main(argv: list[str] | None = None) -> int:
    import argparse

    from harness.errors import one_line

    parser = argparse.ArgumentParser(description="HQQ-quantize a full-precision system (Liu et al., IWSLT 2026); "
                                                 "saves an hqq-mixed system.")
    parser.add_argument("--system", required=True, help="the system folder to quantize (format hf)")
    parser.add_argument("--lang", required=True, help="direction(s) served by one model folder: de, zh or de,zh")
    parser.add_argument("--out", required=True)
    parser.add_argument("--plan", choices=sorted(PLANS), default="paper-g64")
    parser.add_argument("--mlp3", help="decoder layers whose MLPs go to 3 bit (the paper's 7B: 4,21,22,24)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=sorted(COMPUTE_DTYPES),
                        help="compute dtype, also of scales and zeros (default: bfloat16 on CUDA, float32 on a CPU)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        plan, name = PLANS[args.plan], args.plan
        if args.mlp3:
            plan = with_mlp3(plan, parse_layers(args.mlp3))
            name = f"{name}+mlp3:{args.mlp3}"
        dtype = COMPUTE_DTYPES[args.dtype] if args.dtype else None
        quantize_system(args.system, args.out, plan, langs=tuple(args.lang.split(",")), plan_name=name,
                        device=args.device, compute_dtype=dtype)
    except (ValueError, OSError) as err:  # ModelLoadError is a ValueError
        print(f"error: {one_line(str(err))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
