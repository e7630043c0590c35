"""Load a built system from its folder: offline, safetensors only, and strictly.

A built system lives at ``build/<track>/<system>/`` and describes itself in
``system.json``::

    {
      "format":    "hf" | "bnb-4bit" | "bnb-4bit+lora" | "hqq-mixed",   # a key of LOADERS
      "languages": {"de": "<subfolder or .>", "zh": "<subfolder or .>"},
      "prompt":    "instruct" | "base",
      "base_model": "Qwen/Qwen2-Audio-7B-Instruct",        # provenance only, never loaded
      "built_by":   "submissions/modelA/build.py"          # provenance only
    }

``languages`` maps each target language to the folder (relative to the system
folder, ``.`` for the system folder itself) holding that direction's model: one
model may serve both directions, or each direction may have its own (Moslem,
IWSLT 2025, System B prunes different decoder layers for German and Chinese).
Every model folder is a complete Hugging Face folder: ``config.json``, safetensors
weights, the processor and tokenizer files, ``generation_config.json``.

Formats (``LOADERS``, a plain dict keyed by the manifest's format, never by a
system's name):

hf             full-precision weights (fp32/bf16/fp16), loaded in the saved dtype
               unless a ``dtype`` is given.
bnb-4bit       bitsandbytes 4-bit weights (nf4, double quantization in Moslem's
               QLoRA recipe) written by ``save_pretrained``; ``config.json`` carries
               the ``quantization_config``. Loads on the CPU with bitsandbytes >= 0.50.
bnb-4bit+lora  a bnb-4bit base plus a PEFT LoRA adapter (``adapter_config.json`` +
               ``adapter_model.safetensors``) in the model folder; the adapter's
               ``base_model_name_or_path`` must point inside the model folder (``.``
               when the base sits beside the adapter), never at a hub id.
hqq-mixed      HQQ-packed modules at mixed bit widths (Liu et al., IWSLT 2026), listed with
               their bits and group size in ``quantization.json``; the model is rebuilt
               from ``config.json`` and filled strictly by ``harness.systems.hqq_mixed`` (transformers
               5 cannot load HQQ checkpoints). Written by ``harness.stages.hqq``.

Strictness. transformers only logs missing and unexpected weights and leaves the
missing ones randomly initialised, so every load is verified twice: transformers'
own loading report must be empty, and, independently, every tensor in the weight
files is mapped (with transformers' Qwen2-Audio key renaming) to a tensor of the
loaded model and compared value for value, and every tensor of the model must come
from a file. Anything left over is a ``ModelLoadError`` naming the tensor.

Nothing is ever fetched: paths are checked to exist before transformers sees them
(a missing folder would otherwise be taken for a hub id), ``local_files_only`` is
always set, pickle weight files are refused, and remote code is never trusted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from harness.errors import one_line
from harness.files import content_hash
from harness.systems.model_files import (CONFIG_FILE, ModelLoadError, _safetensors_keys, check_config, key_listing,
                                         key_renamings, model_error, read_json, stored_name, weight_files)

SYSTEM_FILE = "system.json"
FORMATS = ("hf", "bnb-4bit", "bnb-4bit+lora", "hqq-mixed")
PROMPT_STYLES = ("instruct", "base")
LANGUAGES = ("de", "zh")

ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
# Pickle files run code when loaded; a leaderboard must not unpickle submissions.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


# ---------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class SystemManifest:
    """The parsed ``system.json`` of a system folder."""

    format: str
    languages: dict[str, str]
    prompt: str
    base_model: str | None
    built_by: str | None
    extra: dict = field(default_factory=dict)  # keys this harness does not interpret, kept for provenance

    def as_dict(self) -> dict:
        return {"format": self.format, "languages": dict(self.languages), "prompt": self.prompt,
                "base_model": self.base_model, "built_by": self.built_by, **self.extra}


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def read_manifest(folder: str | os.PathLike) -> SystemManifest:
    """Parse and check ``<folder>/system.json``; every problem is a ``ModelLoadError``."""
    folder = Path(folder)
    path = folder / SYSTEM_FILE
    if not path.is_file():
        raise model_error(path, "no system manifest (a built system names its format in system.json)")
    raw = read_json(path)
    for key in ("format", "languages", "prompt"):
        if key not in raw:
            raise model_error(path, f"missing key {key!r}")
    fmt = raw["format"]
    if fmt not in LOADERS:
        raise model_error(path, f"unknown format {fmt!r}; known: {', '.join(LOADERS)}")
    prompt = raw["prompt"]
    if prompt not in PROMPT_STYLES:
        raise model_error(path, f"unknown prompt {prompt!r}; known: {', '.join(PROMPT_STYLES)}")
    languages = raw["languages"]
    if not isinstance(languages, dict) or not languages:
        raise model_error(path, "'languages' must map each language to a model folder")
    root = folder.resolve()
    resolved: dict[str, Path] = {}
    for lang, sub in languages.items():
        if lang not in LANGUAGES:
            raise model_error(path, f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
        if not isinstance(sub, str) or not sub or Path(sub).is_absolute():
            raise model_error(path, f"languages.{lang} must be a relative folder ('.' for this folder), got {sub!r}")
        target = (folder / sub).resolve()
        if not _inside(target, root):
            raise model_error(path, f"languages.{lang} points outside the system folder: {sub!r}")
        if not target.is_dir():
            raise model_error(folder / sub, f"model folder for {lang!r} does not exist")
        resolved[lang] = target
    # A model folder inside another one would hash (and count) the other's files as its own.
    for lang, target in resolved.items():
        for other, other_target in resolved.items():
            if other_target != target and _inside(other_target, target):
                raise model_error(path, f"model folder of {other!r} lies inside the model folder of {lang!r}")
    for key in ("base_model", "built_by"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise model_error(path, f"{key!r} must be a string or null")
    known = {"format", "languages", "prompt", "base_model", "built_by"}
    return SystemManifest(format=fmt, languages=dict(languages), prompt=prompt, base_model=raw.get("base_model"),
                          built_by=raw.get("built_by"), extra={k: v for k, v in raw.items() if k not in known})


def write_manifest(folder: str | os.PathLike, *, format: str, languages: dict[str, str], prompt: str,
                   base_model: str | None, built_by: str | None, **extra) -> Path:
    """Write ``system.json`` (atomically) and check it reads back; for build stages and tests."""
    from harness.files import atomic_write_json

    folder = Path(folder)
    payload = {"format": format, "languages": dict(languages), "prompt": prompt, "base_model": base_model,
               "built_by": built_by, **extra}
    atomic_write_json(folder / SYSTEM_FILE, payload)
    read_manifest(folder)
    return folder / SYSTEM_FILE


# ---------------------------------------------------------------- folder checks


_BNB_STATE = ("absmax", "quant_map")
_BNB_NESTED = ("nested_absmax", "nested_quant_map")
_BNB_PACKED = "quant_state.bitsandbytes__"


def check_bnb_4bit_groups(files: list[Path], double_quant: bool) -> None:
    """Every 4-bit weight must come with its whole quantization state, and no state without a weight.

    transformers fails on an incomplete group with a report naming no file key, so this
    is checked on the file headers first.
    """
    keys = {key: path for path in files for key in _safetensors_keys(path)}
    groups: dict[str, set[str]] = {}
    for key in keys:
        head, _, tail = key.partition(".weight.")
        if tail:
            groups.setdefault(head + ".weight", set()).add(tail)
    for weight, parts in sorted(groups.items()):
        path = keys.get(weight) or keys[f"{weight}.{sorted(parts)[0]}"]
        if weight not in keys:
            raise model_error(path, f"quantization state without its weight: tensor {weight} is missing")
        required = {f"{weight}.{part}" for part in _BNB_STATE + (_BNB_NESTED if double_quant else ())}
        if not any(part.startswith(_BNB_PACKED) for part in parts):
            required.add(f"{weight}.{_BNB_PACKED}nf4")
        missing = sorted(required - set(keys))
        if missing:
            raise model_error(path, f"missing tensor(s) {key_listing(missing)} of the 4-bit weight {weight}")


def check_no_pickles(model_dir: Path) -> None:
    """Refuse a folder holding a pickle-based file: loading one runs code (also checked after every save)."""
    for path in sorted(Path(model_dir).rglob("*")):
        if path.is_file() and path.suffix in PICKLE_SUFFIXES:
            raise model_error(path, "pickle weight file refused (unpickling runs code); save with safetensors")


def single_model_dir(system: str | os.PathLike, langs: Sequence[str], *, action: str) -> Path:
    """The one full-precision ("hf") model folder a system uses for every direction of ``langs``.

    Stages that change a model (``action``: "fine-tune", "quantize"...) take a system
    whose directions share that model; a ValueError says in one line why not.
    """
    system = Path(system)
    manifest = read_manifest(system)
    if manifest.format != "hf":
        raise ValueError(f"{system / SYSTEM_FILE}: cannot {action} a {manifest.format!r} system; "
                         f"it needs full-precision weights ('hf')")
    missing = [lang for lang in langs if lang not in manifest.languages]
    if missing:
        raise ValueError(f"{system / SYSTEM_FILE}: no model for {', '.join(missing)}")
    folders = {(system / manifest.languages[lang]).resolve() for lang in langs}
    if len(folders) != 1:
        raise ValueError(f"{system}: the directions use different models; {action} each direction separately")
    return folders.pop()


def check_quantization(model_dir: Path, fmt: str) -> dict | None:
    """The config's quantization_config: absent for "hf", bitsandbytes 4-bit for the bnb formats."""
    path = model_dir / CONFIG_FILE
    quantization = check_config(model_dir).get("quantization_config")
    if fmt == "hf":
        if quantization is not None:
            raise model_error(path, f"format 'hf' but the config has a quantization_config "
                               f"({quantization.get('quant_method')!r})")
        return None
    if not isinstance(quantization, dict) or quantization.get("quant_method") != "bitsandbytes" \
            or not quantization.get("load_in_4bit"):
        raise model_error(path, f"format {fmt!r} needs a bitsandbytes 4-bit quantization_config")
    return quantization


def _check_processor_files(model_dir: Path) -> None:
    for name in ("preprocessor_config.json", "processor_config.json", "tokenizer_config.json"):
        path = model_dir / name
        if path.is_file() and "auto_map" in read_json(path):
            raise model_error(path, "auto_map asks for remote code, which is never run")


# ---------------------------------------------------------------- strict verification


def verify_weights(model, files: list[Path]) -> None:
    """Raise unless the model's tensors are exactly the files' tensors, value for value.

    File names are mapped to the model's names with transformers' own renaming rules
    (Qwen2-Audio checkpoints say ``language_model.model.layers...``, the v5 model
    ``model.language_model.layers...``). Tied weights are stored once and count once.
    A tensor whose value differs from its file (e.g. re-initialised) is an error too,
    which is what makes this independent of transformers' loading report.
    """
    from safetensors import safe_open
    from transformers.core_model_loading import rename_source_key
    from transformers.modeling_utils import remove_tied_weights_from_state_dict

    state = model.state_dict()
    expected = remove_tied_weights_from_state_dict(dict(state), model)
    renamings = key_renamings(model)
    seen: set[str] = set()
    for path in files:
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():
                    name, _ = rename_source_key(key, renamings, [], model.base_model_prefix, state)
                    if name not in expected:
                        raise model_error(path, f"tensor {key} is not a parameter of the model (unexpected)")
                    if name in seen:
                        raise model_error(path, f"tensor {key} is stored twice")
                    seen.add(name)
                    stored = handle.get_tensor(key)
                    loaded = expected[name]
                    if tuple(stored.shape) != tuple(loaded.shape):
                        raise model_error(path, f"tensor {key} has shape {tuple(stored.shape)}, "
                                           f"the model {tuple(loaded.shape)}")
                    same = stored.dtype == loaded.dtype or (stored.is_floating_point() and loaded.is_floating_point())
                    if not same or not torch.equal(stored.to(loaded.device, loaded.dtype), loaded):
                        raise model_error(path, f"tensor {key} differs from the loaded model's {name}")
        except ModelLoadError:
            raise
        except Exception as err:
            raise model_error(path, f"cannot read tensors ({err})") from err
    missing = set(expected) - seen
    if missing:
        where = files[0] if len(files) == 1 else files[0].parent
        names = [stored_name(name, renamings) for name in missing]
        raise model_error(where, f"missing tensor(s) {key_listing(names)} (the model would keep random weights)")


def check_loading_info(model_dir: Path, info: dict) -> None:
    problems = []
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = info.get(kind) or ()
        if keys:
            names = [k if isinstance(k, str) else str(k[0]) for k in keys]
            problems.append(f"{kind.replace('_', ' ')}: {key_listing(names)}")
    if info.get("error_msgs"):
        problems.append(f"errors: {one_line(info['error_msgs'][0])}")
    if problems:
        raise model_error(model_dir, "; ".join(problems))


# ---------------------------------------------------------------- loaders

# A Hugging Face folder that also holds adapter_config.json makes transformers load
# the adapter into the base by itself (and with peft < 0.22 only half supported).
# Pointing its adapter lookup at a subfolder that cannot exist keeps the base plain,
# so that the adapter is loaded once, by PEFT, and verified here.
NO_ADAPTER = {"subfolder": ".no-adapter-lookup"}


def _from_pretrained(model_dir: Path, *, device: str, dtype: torch.dtype | None):
    from transformers import Qwen2AudioForConditionalGeneration

    try:
        model, info = Qwen2AudioForConditionalGeneration.from_pretrained(
            str(model_dir.resolve()), dtype=dtype if dtype is not None else "auto", device_map={"": device},
            local_files_only=True, use_safetensors=True, trust_remote_code=False, output_loading_info=True,
            adapter_kwargs=dict(NO_ADAPTER))
    except ModelLoadError:
        raise
    except Exception as err:
        raise model_error(model_dir, f"cannot load the model ({type(err).__name__}: {err})") from err
    return model, info


def load_hf(model_dir: Path, *, device: str = "cpu", dtype: torch.dtype | None = None):
    """Full-precision weights, in the saved dtype unless ``dtype`` is given."""
    if (model_dir / ADAPTER_CONFIG_FILE).exists():
        raise model_error(model_dir / ADAPTER_CONFIG_FILE, "format 'hf' but the folder holds an adapter")
    check_quantization(model_dir, "hf")
    files = weight_files(model_dir)
    model, info = _from_pretrained(model_dir, device=device, dtype=dtype)
    # Our check first: it names the file and the tensor as stored; transformers' report
    # then catches anything else it noticed (e.g. conversion errors).
    verify_weights(model, files)
    check_loading_info(model_dir, info)
    return model


def prepare_4bit(model, dtype: torch.dtype | None) -> None:
    """Keep bitsandbytes' 4-bit layers as saved: no CPU repacking, optional compute dtype.

    On CPUs with AVX512-BF16, bitsandbytes 0.50 repacks each 4-bit weight in place on
    its first inference forward: it rounds the block scales to bf16, so outputs would
    depend on the CPU model, and it fails outright for layers whose input width is not
    a multiple of the quantization block (64), such as the mini models' 80 and 224.
    The portable path dequantizes with the saved fp32 scales, as on a GPU.
    """
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            if dtype is not None:
                module.compute_dtype = dtype
    if dtype is not None:
        # transformers keeps a bnb checkpoint's unquantized tensors (embedding, LM head,
        # norms, biases) as stored whatever dtype it is given; cast them here.
        for parameter in model.parameters():
            if parameter.is_floating_point() and not isinstance(parameter, bnb.nn.Params4bit):
                parameter.data = parameter.data.to(dtype)


def load_bnb_4bit(model_dir: Path, *, device: str = "cpu", dtype: torch.dtype | None = None):
    """bitsandbytes 4-bit weights as saved; ``dtype`` sets the unquantized tensors' and the compute dtype."""
    if (model_dir / ADAPTER_CONFIG_FILE).exists():
        raise model_error(model_dir / ADAPTER_CONFIG_FILE, "format 'bnb-4bit' but the folder holds an adapter")
    quantization = check_quantization(model_dir, "bnb-4bit")
    files = weight_files(model_dir)
    check_bnb_4bit_groups(files, bool(quantization.get("bnb_4bit_use_double_quant")))
    model, info = _from_pretrained(model_dir, device=device, dtype=dtype)
    # Our check first: it names the file and the tensor as stored; transformers' report
    # then catches anything else it noticed (e.g. conversion errors).
    verify_weights(model, files)
    check_loading_info(model_dir, info)
    prepare_4bit(model, dtype)
    return model


def _adapter_base_dir(model_dir: Path, adapter_config: dict) -> Path:
    path = model_dir / ADAPTER_CONFIG_FILE
    named = adapter_config.get("base_model_name_or_path")
    if not isinstance(named, str) or not named:
        raise model_error(path, "base_model_name_or_path must name the base inside the model folder ('.')")
    base = Path(named) if Path(named).is_absolute() else model_dir / named
    base = base.resolve()
    if not _inside(base, model_dir.resolve()) or not base.is_dir():
        raise model_error(path, f"base_model_name_or_path {named!r} does not point inside the model folder "
                           f"(a hub id or an outside path is never loaded)")
    return base


def load_bnb_4bit_lora(model_dir: Path, *, device: str = "cpu", dtype: torch.dtype | None = None):
    """A bnb-4bit base plus a PEFT LoRA adapter, both verified tensor by tensor."""
    from peft import PeftModel, get_peft_model_state_dict
    from safetensors import safe_open

    config_path = model_dir / ADAPTER_CONFIG_FILE
    adapter_path = model_dir / ADAPTER_WEIGHTS_FILE
    if not config_path.is_file():
        raise model_error(model_dir, f"format 'bnb-4bit+lora' but no {ADAPTER_CONFIG_FILE}")
    if not adapter_path.is_file():
        raise model_error(model_dir, f"no {ADAPTER_WEIGHTS_FILE} (adapters are loaded from safetensors only)")
    adapter_config = read_json(config_path)
    if adapter_config.get("peft_type") != "LORA":
        raise model_error(config_path, f"peft_type {adapter_config.get('peft_type')!r} is not LORA")
    base_dir = _adapter_base_dir(model_dir, adapter_config)
    quantization = check_quantization(base_dir, "bnb-4bit+lora")
    files = weight_files(base_dir)
    check_bnb_4bit_groups(files, bool(quantization.get("bnb_4bit_use_double_quant")))
    adapter_keys = _safetensors_keys(adapter_path)

    base, info = _from_pretrained(base_dir, device=device, dtype=dtype)
    verify_weights(base, files)
    check_loading_info(base_dir, info)
    prepare_4bit(base, dtype)
    try:
        model = PeftModel.from_pretrained(base, str(model_dir.resolve()), is_trainable=False,
                                          local_files_only=True)
    except Exception as err:
        raise model_error(model_dir, f"cannot load the adapter ({type(err).__name__}: {err})") from err

    # PEFT only warns about adapter tensors it could not place; check both directions.
    # save_embedding_layers=False: "auto" would look for the base's config.json at
    # base_model_name_or_path relative to the working directory, or on the hub.
    loaded = get_peft_model_state_dict(model, save_embedding_layers=False)
    unexpected = set(adapter_keys) - set(loaded)
    if unexpected:
        raise model_error(adapter_path, f"tensor(s) not used by the model: {key_listing(unexpected)}")
    missing = set(loaded) - set(adapter_keys)
    if missing:
        raise model_error(adapter_path, f"missing adapter tensor(s) {key_listing(missing)}")
    with safe_open(str(adapter_path), framework="pt") as handle:
        for key in adapter_keys:
            stored = handle.get_tensor(key)
            mine = loaded[key]
            if tuple(stored.shape) != tuple(mine.shape) or not torch.equal(stored.to(mine.device, mine.dtype), mine):
                raise model_error(adapter_path, f"tensor {key} differs from the loaded adapter")
    model.eval()
    return model


def load_hqq_mixed(model_dir: Path, *, device: str = "cpu", dtype: torch.dtype | None = None):
    """HQQ-packed modules at the bit widths ``quantization.json`` lists, every stored tensor used once.

    ``dtype`` (default: the manifest's compute dtype) is the HQQ compute dtype and the
    full-precision tensors' dtype. The format lives in harness.systems.hqq_mixed, imported here
    only when such a folder is loaded (it needs the hqq package).
    """
    from harness.systems.hqq_mixed import load_hqq_mixed as load

    return load(model_dir, device=device, dtype=dtype)


# Each loader: (model_dir, *, device, dtype) -> the model, or a ModelLoadError naming the
# file. A new format is one more entry: a function that checks its own files, loads
# offline from safetensors, and proves every stored tensor was used (verify_weights, or
# its own equivalent for tensors transformers does not manage, as hqq-mixed does).
Loader = Callable[..., torch.nn.Module]
LOADERS: dict[str, Loader] = {
    "hf": load_hf,
    "bnb-4bit": load_bnb_4bit,
    "bnb-4bit+lora": load_bnb_4bit_lora,
    "hqq-mixed": load_hqq_mixed,
}


# ---------------------------------------------------------------- processor


def load_processor(model_dir: Path, model=None):
    """The model folder's Qwen2AudioProcessor, checked against the model when given."""
    from transformers import Qwen2AudioProcessor

    _check_processor_files(model_dir)
    try:
        processor = Qwen2AudioProcessor.from_pretrained(str(model_dir.resolve()), local_files_only=True,
                                                        trust_remote_code=False)
    except Exception as err:
        raise model_error(model_dir, f"cannot load the processor ({type(err).__name__}: {err})") from err
    if model is not None:
        config = model.config
        audio_id = processor.tokenizer.convert_tokens_to_ids(processor.audio_token)
        if audio_id != config.audio_token_id:
            raise model_error(model_dir, f"the tokenizer's {processor.audio_token} is id {audio_id}, "
                                    f"the model's audio_token_id {config.audio_token_id}")
        if len(processor.tokenizer) > config.text_config.vocab_size:
            raise model_error(model_dir, f"the tokenizer has {len(processor.tokenizer)} tokens, "
                                    f"the model's vocabulary {config.text_config.vocab_size}")
        frames = processor.feature_extractor.nb_max_frames
        if frames != 2 * config.audio_config.max_source_positions:
            raise model_error(model_dir, f"the feature extractor gives {frames} frames, the audio encoder "
                                    f"takes {2 * config.audio_config.max_source_positions}")
    return processor


# ---------------------------------------------------------------- systems


@dataclass(frozen=True, eq=False)
class LoadedSystem:
    """A system's model for one direction, ready to decode."""

    model: torch.nn.Module
    processor: object  # transformers.Qwen2AudioProcessor
    prompt_style: str
    content_hash: str  # of the model folder (see content_hash)
    format: str
    folder: Path  # the system folder (holding system.json)
    lang: str
    model_folder: Path
    device: str
    manifest: SystemManifest

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    def provenance(self) -> dict:
        """What a results file records about the model."""
        return {"folder": str(self.folder), "model_folder": str(self.model_folder), "lang": self.lang,
                "format": self.format, "prompt": self.prompt_style, "content_hash": self.content_hash,
                "dtype": str(self.dtype).removeprefix("torch."), "device": self.device,
                "manifest": self.manifest.as_dict()}


def load_system(folder: str | os.PathLike, lang: str, device: str = "cpu",
                dtype: torch.dtype | None = None) -> LoadedSystem:
    """Load the model a built system uses for ``lang``, strictly and offline.

    ``dtype`` None keeps the saved dtype (on a CPU, bf16 works but is slow).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise model_error(folder, "system folder does not exist")
    manifest = read_manifest(folder)
    if lang not in manifest.languages:
        raise model_error(folder / SYSTEM_FILE, f"no model for language {lang!r} (has {', '.join(manifest.languages)})")
    model_dir = (folder / manifest.languages[lang]).resolve()
    check_no_pickles(model_dir)
    check_config(model_dir)
    model = LOADERS[manifest.format](model_dir, device=device, dtype=dtype)
    model.eval()
    processor = load_processor(model_dir, model)
    return LoadedSystem(model=model, processor=processor, prompt_style=manifest.prompt,
                        content_hash=content_hash(model_dir), format=manifest.format, folder=folder,
                        lang=lang, model_folder=model_dir, device=device, manifest=manifest)
