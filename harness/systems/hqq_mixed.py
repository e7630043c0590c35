"""The "hqq-mixed" format: HQQ-packed modules at mixed bit widths, loaded strictly and offline.

Half-Quadratic Quantization (HQQ; Badri & Shaji 2023, "Half-Quadratic Quantization of
Large Machine Learning Models", Mobius Labs) quantizes each group of weights with a
scale and a zero point that minimise the weight error, without calibration data.
Liu, Koneru & Niehues (IWSLT 2026, "Diet-KIT: Post-Training Quantization for Speech
LLMs") use it to bring Qwen2-Audio-7B under 4 GB with mixed bit widths: 4-bit linear
layers, a 2-bit input embedding, a 4-bit LM head, 3-bit MLPs in a few decoder layers.
harness.stages.hqq builds such systems; this module is what evaluation needs to read
them back (evaluation code never imports ``stages/``).

A model folder of this format holds::

    config.json             the plain model config (no quantization_config)
    model.safetensors       HQQ state of each quantized module, full-precision tensors
                            of the rest, under the checkpoint's (legacy) names
    quantization.json       {"method": "hqq", "hqq_version", "compute_dtype", "plan",
                             "modules": {module: {"bits", "group_size", "axis"}}}
    generation_config.json, processor and tokenizer files, system.json ("hqq-mixed")

A quantized module stores exactly what ``HQQLinear.state_dict`` gives, only tensors:
the packed ``W_q``, ``scale`` and ``zero`` (in the compute dtype) and small metadata
tensors (``nbits``, ``shape``, ``group_size``, ``axis``, strings as byte tensors).
harness.systems.storage reads the same tensors for the size check. The input embedding is an
``HQQEmbedding``: HQQLinear's storage, a table lookup as its forward.

transformers 5 cannot load HQQ checkpoints (``HqqConfig`` raises NotImplementedError,
and a 4.x HQQ checkpoint silently loads as random weights), so ``load_hqq_mixed``
rebuilds the model from config.json itself: every module the manifest lists becomes an
empty HQQ module filled from its stored tensors, every other tensor is copied into the
model, and anything missing, left over, or at another bit width than the manifest's is
a one-line ``ModelLoadError``. HQQ decodes stored dtype names with ``eval``; the loader
checks those strings against a fixed list first, so a folder cannot run code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from hqq.core.quantize import BaseQuantizeConfig, HQQLinear, Quantizer
from torch import nn

FORMAT = "hqq-mixed"
METHOD = "hqq"
QUANTIZATION_FILE = "quantization.json"  # the manifest harness.systems.storage checks (MANIFEST_NAME)
BITS = (1, 2, 3, 4, 8)  # HQQ's bit widths that pack into uint8 / int32 (5 and 6 would store 8)
COMPUTE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# What HQQLinear.state_dict stores for a module without bias (hqq 0.2.8), all tensors.
PACKED_KEYS = frozenset({
    "W_q", "scale", "zero", "nbits", "group_size", "shape", "axis", "packing", "unpack_view_dtype",
    "view_as_float", "quant_scale", "quant_zero", "compute_dtype", "offload_meta", "encoded_state_dict",
    "stores_quant_config", "channel_wise", "optimize", "round_zero",
})
# HQQLinear.load_state_dict eval()s these strings; nothing else may reach it.
_DTYPE_STRINGS = {"compute_dtype": {f"torch.{name}" for name in COMPUTE_DTYPES},
                  "unpack_view_dtype": {"torch.uint8", "torch.int32"}}
# Flags that must hold for the packed layout checked here (no quantized scales or zeros,
# no float view of W_q, HQQ's encoded state dict).
_FLAGS = {"quant_scale": 0, "quant_zero": 0, "view_as_float": 0, "offload_meta": 0, "encoded_state_dict": 1,
          "stores_quant_config": 1, "channel_wise": 1}


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def quant_config(bits: int, group_size: int, axis: int) -> dict:
    return BaseQuantizeConfig(nbits=bits, group_size=group_size, axis=axis)


def packed_shape(shape: tuple[int, ...], bits: int, group_size: int, axis: int) -> tuple[int, int]:
    """The shape of HQQ's ``W_q`` for a weight of ``shape``.

    HQQ reshapes the weight to (numel / g, g) for axis 1 or (g, numel / g) for axis 0 and
    packs along the first dimension: 8 / bits values per byte, 3 bits as 10 per int32.
    """
    numel = math.prod(shape)
    grouped = (numel // group_size, group_size) if axis == 1 else (group_size, numel // group_size)
    rows = math.ceil(grouped[0] / 10) if bits == 3 else grouped[0] * bits // 8
    return rows, grouped[1]


def packable(shape: tuple[int, ...], bits: int, group_size: int, axis: int) -> bool:
    """Whether HQQ can pack a weight of ``shape``: whole groups, and (but at 3 bits, which
    pads) a first dimension that fills whole bytes, else its packing fails or drops rows."""
    numel = math.prod(shape)
    if numel % group_size:
        return False
    first = numel // group_size if axis == 1 else group_size
    return bits in (3, 8) or first % (8 // bits) == 0


# ---------------------------------------------------------------- the embedding


class HQQEmbedding(HQQLinear):
    """An embedding table stored HQQ-packed, looked up with ``F.embedding``.

    It is an HQQLinear in storage only (same tensors, names and (de)serialisation, so
    harness.systems.storage and the loader treat it like any packed module); its forward looks
    rows up instead of multiplying. The table is dequantized once, on first use, and
    kept: decoding embeds at every step, and dequantizing a vocabulary-sized table each
    time would cost more than the step; the memory is what the unquantized table took,
    and only the disk size is constrained.
    """

    def __init__(self, *args, padding_idx: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.padding_idx = padding_idx
        self._table = None

    @classmethod
    def set_backend(cls, backend) -> None:
        # HQQLinear.__init__ points ``cls.forward`` at a matmul backend; a table keeps its lookup.
        return None

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if self._table is None:
            self._table = self.dequantize()
        return F.embedding(input_ids, self._table, self.padding_idx)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._table = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def extra_repr(self) -> str:
        if self.meta is None:
            return ""
        rows, dim = self.meta["shape"]
        return f"num_embeddings={rows}, embedding_dim={dim}, nbits={self.meta['nbits']}"


def empty_module(original: nn.Module, spec: dict, *, device: str, dtype: torch.dtype) -> HQQLinear:
    """An uninitialised HQQ module to hold ``original``'s packed weights (Linear or Embedding)."""
    config = quant_config(spec["bits"], spec["group_size"], spec.get("axis", 1))
    if isinstance(original, nn.Embedding):
        return HQQEmbedding(None, config, compute_dtype=dtype, device=device, initialize=False,
                            padding_idx=original.padding_idx)
    return HQQLinear(None, config, compute_dtype=dtype, device=device, initialize=False)


def weight_shape(module: nn.Module) -> tuple[int, int]:
    if isinstance(module, nn.Embedding):
        return module.num_embeddings, module.embedding_dim
    return module.out_features, module.in_features


# ---------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class Quantization:
    """``quantization.json`` as the loader uses it."""

    compute_dtype: torch.dtype
    modules: dict[str, dict]  # module name -> {"bits", "group_size", "axis"}


def read_quantization(model_dir: Path) -> Quantization:
    from harness.systems.model_files import model_error, read_json

    path = Path(model_dir) / QUANTIZATION_FILE
    if not path.is_file():
        raise model_error(model_dir, f"format {FORMAT!r} but no {QUANTIZATION_FILE}")
    raw = read_json(path)
    if raw.get("method") != METHOD:
        raise model_error(path, f"method {raw.get('method')!r} is not {METHOD!r}")
    dtype = COMPUTE_DTYPES.get(raw.get("compute_dtype"))
    if dtype is None:
        raise model_error(path, f"compute_dtype {raw.get('compute_dtype')!r} is not one of {', '.join(COMPUTE_DTYPES)}")
    modules = raw.get("modules")
    if not isinstance(modules, dict) or not modules:
        raise model_error(path, "'modules' must map each quantized module to {bits, group_size}")
    for name, spec in modules.items():
        if not isinstance(spec, dict) or spec.get("bits") not in BITS or not _positive_int(spec.get("group_size")) \
                or spec.get("axis", 1) not in (0, 1):
            raise model_error(path, f"module {name}: expected {{bits in {BITS}, group_size > 0, axis 0 or 1}}, got {spec!r}")
    return Quantization(dtype, {name: {"bits": s["bits"], "group_size": s["group_size"], "axis": s.get("axis", 1)}
                                for name, s in modules.items()})


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# ---------------------------------------------------------------- loading


@dataclass
class _Stored:
    key: str  # the name in the file
    path: Path
    tensor: torch.Tensor


def load_hqq_mixed(model_dir: Path, *, device: str = "cpu", dtype: torch.dtype | None = None):
    """The model of an "hqq-mixed" folder, rebuilt from config.json and filled strictly.

    ``dtype`` (default: the manifest's compute dtype) is the HQQ compute dtype and the
    dtype of the full-precision tensors.
    """
    from harness.systems.model_files import check_config, model_error, weight_files
    from harness.systems.model_files import canonical_module

    model_dir = Path(model_dir)
    config = check_config(model_dir)
    if "quantization_config" in config:
        raise model_error(model_dir / "config.json", f"format {FORMAT!r} keeps its quantization in {QUANTIZATION_FILE}, "
                                                f"but the config has a quantization_config")
    quantization = read_quantization(model_dir)
    dtype = dtype or quantization.compute_dtype
    files = weight_files(model_dir)
    model = _empty_model(model_dir, dtype=dtype)
    stored = _read_tensors(model, files)
    _check_untied(model, quantization, model_dir)
    # Built once: an HQQ module has no submodules, so replacing one leaves the names as they are.
    targets = {canonical_module(n): n for n, _ in model.named_modules()}
    replaced = [_place(model, model_dir, name, spec, stored, targets, device=device, dtype=dtype)
                for name, spec in quantization.modules.items()]
    _load_plain(model, stored, replaced, files)
    _load_generation_config(model, model_dir)
    # The HQQ modules are already on ``device`` (their .to() does nothing); the rest moves now.
    model.to(device)
    model.eval()
    return model


def _empty_model(model_dir: Path, *, dtype: torch.dtype):
    from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration
    from transformers.initialization import no_init_weights

    from harness.systems.model_files import model_error

    try:
        config = Qwen2AudioConfig.from_pretrained(str(model_dir.resolve()), local_files_only=True)
        # No random initialisation (minutes for the 7B): every persistent tensor is
        # overwritten from the files below, which _load_plain proves. Built on the CPU, as
        # from_pretrained computes the non-persistent rotary frequencies: computed on a GPU
        # they differ in the last bits, and so would the logits.
        with no_init_weights(), torch.device("cpu"):
            return Qwen2AudioForConditionalGeneration._from_config(config, dtype=dtype)
    except Exception as err:
        raise model_error(model_dir, f"cannot build the model from its config ({type(err).__name__}: {err})") from err


def _read_tensors(model, files: list[Path]) -> dict[str, _Stored]:
    """Every stored tensor under the model's (transformers 5) name."""
    from safetensors.torch import load_file
    from transformers.core_model_loading import rename_source_key

    from harness.systems.model_files import model_error, key_renamings

    renamings = key_renamings(model)
    state = model.state_dict()
    stored: dict[str, _Stored] = {}
    for path in files:
        try:
            tensors = load_file(str(path))
        except Exception as err:
            raise model_error(path, f"cannot read tensors ({err})") from err
        for key, tensor in tensors.items():
            name, _ = rename_source_key(key, renamings, [], model.base_model_prefix, state)
            if name in stored:
                raise model_error(path, f"tensor {key} is stored twice")
            stored[name] = _Stored(key, path, tensor)
    return stored


def _check_untied(model, quantization: Quantization, model_dir: Path) -> None:
    from harness.systems.model_files import model_error
    from harness.systems.model_files import canonical_module

    embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
    if head is None or getattr(head, "weight", None) is not getattr(embedding, "weight", None):
        return
    names = {canonical_module(name) for name, module in model.named_modules() if module is embedding or module is head}
    if names & {canonical_module(name) for name in quantization.modules}:
        raise model_error(model_dir / "config.json", "the config ties the LM head to the input embedding, but "
                                                f"{QUANTIZATION_FILE} quantizes them separately")


def _place(model, model_dir: Path, name: str, spec: dict, stored: dict[str, _Stored], targets: dict[str, str], *,
           device: str, dtype: torch.dtype) -> str:
    """Replace the manifest's module ``name`` by an HQQ module holding its stored state; its model name.

    ``targets``: the model's module names by ``harness.systems.model_files.canonical_module`` name.
    """
    from harness.systems.model_files import model_error, key_listing
    from harness.systems.model_files import canonical_module

    where = model_dir / QUANTIZATION_FILE
    target = targets.get(canonical_module(name))
    if target is None:
        raise model_error(where, f"module {name} is not a module of the model")
    original = model.get_submodule(target)
    if not isinstance(original, (nn.Linear, nn.Embedding)):
        raise model_error(where, f"module {name} is a {type(original).__name__}; only Linear and Embedding are quantized")
    expected = set(PACKED_KEYS) | ({"bias"} if getattr(original, "bias", None) is not None else set())
    prefix = target + "."
    own = {key[len(prefix):]: key for key in stored if key.startswith(prefix)}
    path = stored[own["W_q"]].path if "W_q" in own else model_dir
    missing = expected - set(own)
    if missing:
        raise model_error(path, f"missing tensor(s) {key_listing(missing)} of the HQQ module {name}")
    extra = set(own) - expected
    if extra:
        extra_keys = key_listing(stored[own[k]].key for k in extra)
        raise model_error(path, f"tensor(s) {extra_keys} are not part of the HQQ module {name}")
    state = {key: stored.pop(own[key]).tensor for key in expected}
    _check_packed(path, name, state, spec, weight_shape(original))
    module = empty_module(original, spec, device=device, dtype=dtype)
    try:
        module.load_state_dict(state)
    except Exception as err:
        raise model_error(path, f"HQQ module {name} does not load ({type(err).__name__}: {err})") from err
    parent, _, child = target.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)
    return target


def _string(tensor: torch.Tensor) -> str | None:
    if tensor.dtype != torch.uint8 or tensor.dim() != 1:
        return None
    return bytes(tensor.tolist()).decode("ascii", errors="replace")


def _integer(tensor: torch.Tensor) -> int | None:
    if tensor.is_floating_point() or tensor.numel() != 1:
        return None
    return int(tensor.item())


def _check_packed(path: Path, name: str, state: dict, spec: dict, shape: tuple[int, int]) -> None:
    """The stored HQQ state must be the manifest's bits and group size, the module's shape,
    and a layout HQQ's loader handles safely, before HQQ's own load_state_dict sees it."""
    from harness.systems.model_files import model_error

    def fail(problem: str):
        return model_error(path, f"HQQ module {name}: {problem}")

    bits, group, axis = (_integer(state[k]) for k in ("nbits", "group_size", "axis"))
    if bits != spec["bits"]:
        raise fail(f"stored at {bits} bits, but {QUANTIZATION_FILE} says {spec['bits']}")
    if group != spec["group_size"]:
        raise fail(f"stored with group size {group}, but {QUANTIZATION_FILE} says {spec['group_size']}")
    if axis != spec["axis"]:
        raise fail(f"grouped along axis {axis}, but {QUANTIZATION_FILE} says {spec['axis']}")
    stored_shape = tuple(state["shape"].tolist()) if not state["shape"].is_floating_point() else None
    if stored_shape != tuple(shape):
        raise fail(f"stored shape {stored_shape}, the model's weight is {tuple(shape)}")
    for key, allowed in _DTYPE_STRINGS.items():
        if _string(state[key]) not in allowed:
            raise fail(f"{key} {_string(state[key])!r} is not one of {sorted(allowed)}")
    packing = _string(state["packing"])
    if packing != Quantizer.bit_to_packing[bits]:
        raise fail(f"packing {packing!r} is not HQQ's {Quantizer.bit_to_packing[bits]!r} for {bits} bits")
    for key, value in _FLAGS.items():
        if _integer(state[key]) != value:
            raise fail(f"{key} is {_integer(state[key])}, expected {value}")
    w_q = state["W_q"]
    view = Quantizer.unpack_view_dtype[packing]
    if w_q.dtype != view or _string(state["unpack_view_dtype"]) != str(view) \
            or tuple(w_q.shape) != packed_shape(shape, bits, group, axis):
        raise fail(f"W_q is {w_q.dtype} {tuple(w_q.shape)}, expected {view} {packed_shape(shape, bits, group, axis)}")
    groups = math.prod(shape) // group
    for key in ("scale", "zero"):
        if not state[key].is_floating_point() or state[key].numel() != groups:
            raise fail(f"{key} holds {state[key].numel()} {state[key].dtype} values, expected {groups} floats")


def _load_plain(model, stored: dict[str, _Stored], replaced: list[str], files: list[Path]) -> None:
    """Copy the full-precision tensors: exactly the model's persistent tensors, none left over."""
    from transformers.modeling_utils import remove_tied_weights_from_state_dict

    from harness.systems.model_files import model_error, key_listing, key_renamings, stored_name

    prefixes = tuple(name + "." for name in replaced)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(prefixes)}
    expected = remove_tied_weights_from_state_dict(state, model)
    for name, item in sorted(stored.items()):
        if name not in expected:
            hint = f" (HQQ-packed, but {QUANTIZATION_FILE} does not list its module)" if name.endswith(".W_q") else ""
            raise model_error(item.path, f"tensor {item.key} is not a parameter of the model (unexpected){hint}")
    missing = set(expected) - set(stored)
    if missing:
        renamings = key_renamings(model)
        where = files[0] if len(files) == 1 else files[0].parent
        raise model_error(where, f"missing tensor(s) {key_listing(stored_name(n, renamings) for n in missing)} "
                            f"(the model would keep uninitialised memory)")
    with torch.no_grad():
        for name in expected:
            item, target = stored[name], model.get_parameter_or_buffer(name)
            if tuple(item.tensor.shape) != tuple(target.shape) \
                    or item.tensor.is_floating_point() != target.is_floating_point():
                raise model_error(item.path, f"tensor {item.key} is {item.tensor.dtype} {tuple(item.tensor.shape)}, "
                                        f"the model's {target.dtype} {tuple(target.shape)}")
            target.copy_(item.tensor)


def _load_generation_config(model, model_dir: Path) -> None:
    from transformers import GenerationConfig

    from harness.systems.model_files import model_error

    if not (model_dir / "generation_config.json").is_file():
        return
    try:
        model.generation_config = GenerationConfig.from_pretrained(str(model_dir.resolve()), local_files_only=True)
    except Exception as err:
        raise model_error(model_dir / "generation_config.json", f"unreadable ({type(err).__name__}: {err})") from err

