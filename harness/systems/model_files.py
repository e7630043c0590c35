"""A model folder's files, read and checked without loading the model: its config.json and
safetensors weights (one file or an index's shards), the one error every check raises, and the
names tensors have on disk (transformers' renamings run backwards; one module spelling under
transformers 4 and 5). Shared by the loaders (harness.systems.models, harness.systems.hqq_mixed)
and the size check (harness.systems.storage).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.errors import HarnessError, one_line

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
_SHOWN_KEYS = 3  # how many offending tensor names an error message lists


class ModelLoadError(HarnessError, ValueError):
    """A system folder that cannot be loaded as declared; the message is one line naming the file."""


def model_error(where: object, problem: object) -> ModelLoadError:
    return ModelLoadError(one_line(f"{where}: {problem}"))


def key_listing(keys) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:_SHOWN_KEYS])
    return shown + (f" (and {len(keys) - _SHOWN_KEYS} more)" if len(keys) > _SHOWN_KEYS else "")


def read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise model_error(path, f"unreadable JSON ({err})") from err
    if not isinstance(value, dict):
        raise model_error(path, "must hold a JSON object")
    return value


def _safetensors_keys(path: Path) -> list[str]:
    """The tensor names in a safetensors file, reading only its header; corrupt files raise."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return list(handle.keys())
    except Exception as err:  # safetensors raises its own SafetensorError, OSError, ValueError...
        raise model_error(path, f"not a readable safetensors file ({err})") from err


def weight_files(model_dir: Path) -> list[Path]:
    """The model's safetensors files (one file or the shards its index names), checked to be readable."""
    index = model_dir / WEIGHTS_INDEX_FILE
    single = model_dir / WEIGHTS_FILE
    if index.is_file():
        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise model_error(index, "has no weight_map")
        names = sorted(set(weight_map.values()))
        for name in names:
            if Path(name).name != name or not name.endswith(".safetensors"):
                raise model_error(index, f"names a shard outside the folder or not in safetensors: {name!r}")
        files = [model_dir / name for name in names]
        for path in files:
            if not path.is_file():
                raise model_error(path, "shard named in the index is missing")
    elif single.is_file():
        files = [single]
    else:
        raise model_error(model_dir, f"no weights ({WEIGHTS_FILE} or {WEIGHTS_INDEX_FILE})")
    for path in files:
        _safetensors_keys(path)
    return files


def check_config(model_dir: Path) -> dict:
    path = model_dir / CONFIG_FILE
    if not path.is_file():
        raise model_error(model_dir, f"no {CONFIG_FILE}")
    config = read_json(path)
    if config.get("model_type") != "qwen2_audio":
        raise model_error(path, f"model_type {config.get('model_type')!r} is not qwen2_audio")
    if "auto_map" in config:
        raise model_error(path, "auto_map asks for remote code, which is never run")
    return config


def key_renamings(model) -> list:
    from transformers.core_model_loading import WeightRenaming
    from transformers.conversion_mapping import get_model_conversion_mapping

    conversions = getattr(model, "_weight_conversions", None)
    if conversions is None:
        conversions = get_model_conversion_mapping(model)
    return [c for c in conversions if isinstance(c, WeightRenaming)]


def stored_name(model_key: str, renamings: list) -> str:
    """The name a model tensor has in a checkpoint, by transformers' renamings run backwards."""
    from transformers.core_model_loading import rename_source_key

    try:
        backwards = [renaming.reverse_transform() for renaming in renamings[::-1]]
        return rename_source_key(model_key, backwards, [], reverse=True)[0]
    except Exception:  # a renaming that cannot be reversed: the model's own name still identifies it
        return model_key


def canonical_module(name: str) -> str:
    """One spelling for a module under transformers 4 and 5 naming, with or without PEFT's prefix."""
    name = name.removeprefix("base_model.model.")
    name = re.sub(r"^model\.language_model\.", "language_model.model.", name)
    name = re.sub(r"^model\.(audio_tower|multi_modal_projector)\.", r"\1.", name)
    return re.sub(r"^lm_head(\.|$)", r"language_model.lm_head\1", name)
